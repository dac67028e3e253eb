/**
 * Protobuf text format (`.pbtxt`, what `tf.io.write_graph(..., as_text=True)` writes)
 * -> GraphDef. protobufjs has no text-format parser, so this is a hand-written
 * character scanner driven by the protobufjs reflection of the schema in
 * `schema.ts`: every message is created with the type's own constructor, so the result
 * has exactly the shape `GraphDefType.decode` gives (camelCase fields, defaults on the
 * prototype, repeated fields and maps always present as `[]` / `{}`, bytes as
 * Uint8Array, enums as numbers), except that int64 values are plain JS numbers.
 *
 * Fields the schema does not know (function libraries, debug info, ...) are skipped,
 * however deeply nested. Positions in errors are computed only when an error is
 * thrown, so the scanner itself does no line bookkeeping.
 */
import type { Field as PbField, MapField as PbMapField, Type as PbType } from 'protobufjs'
import { MpscnnError } from '../base/errors.js'
import { reflection, type GraphDef } from './schema.js'

/** Deepest message nesting accepted (known and unknown fields alike). */
const MAX_DEPTH = 100

const HINT = 'Fix the text-format GraphDef or export it again with as_text=True'

type Kind = 'message' | 'enum' | 'string' | 'bytes' | 'bool' | 'float' | 'double' | 'int32' | 'uint32' | 'int64' | 'uint64'
type Msg = Record<string, unknown>

interface FieldInfo {
  /** Property name on the message object (protobufjs' camelCase name). */
  prop: string
  kind: Kind
  /** Repeated or map: accepts several occurrences and `[...]` list syntax. */
  repeated: boolean
  /** For message fields: the message type. For map fields: the synthetic entry type. */
  message?: MessageInfo
  /** Map fields only. */
  isMap?: boolean
  enumName?: string
  enumValues?: Map<string, number>
}

interface MessageInfo {
  create: () => Msg
  fields: Map<string, FieldInfo>
}

// ---------------------------------------------------------------------------
// Schema reflection

const SCALAR_KINDS: Record<string, Kind> = {
  double: 'double',
  float: 'float',
  int32: 'int32',
  sint32: 'int32',
  sfixed32: 'int32',
  uint32: 'uint32',
  fixed32: 'uint32',
  int64: 'int64',
  sint64: 'int64',
  sfixed64: 'int64',
  uint64: 'uint64',
  fixed64: 'uint64',
  bool: 'bool',
  string: 'string',
  bytes: 'bytes',
}

const infos = new Map<PbType, MessageInfo>()

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (m) => '_' + m.toLowerCase())
}

function valueField(prop: string, field: PbField, typeName: string, repeated: boolean): FieldInfo {
  const resolved = field.resolvedType
  const { protobuf } = reflection()
  if (resolved instanceof protobuf.Type) return { prop, kind: 'message', repeated, message: messageInfo(resolved) }
  if (resolved instanceof protobuf.Enum) {
    return { prop, kind: 'enum', repeated, enumName: resolved.name, enumValues: new Map(Object.entries(resolved.values)) }
  }
  const kind = SCALAR_KINDS[typeName]
  if (kind === undefined) throw new Error(`pbtxt: unsupported field type ${typeName} for ${field.fullName}`)
  return { prop, kind, repeated }
}

function messageInfo(type: PbType): MessageInfo {
  const cached = infos.get(type)
  if (cached) return cached
  // protobufjs generates the constructor (and puts the defaults on its prototype) on first access.
  const Ctor = type.ctor as unknown as new () => Msg
  const info: MessageInfo = { create: () => new Ctor(), fields: new Map() }
  infos.set(type, info) // before the fields, for recursive types
  for (const field of type.fieldsArray) {
    field.resolve()
    let fi: FieldInfo
    if (field.map) {
      const keyType = (field as unknown as PbMapField).keyType
      const keyKind = SCALAR_KINDS[keyType]
      if (keyKind === undefined) throw new Error(`pbtxt: unsupported map key type ${keyType} for ${field.fullName}`)
      const entry: MessageInfo = {
        create: () => ({}),
        fields: new Map([
          ['key', { prop: 'key', kind: keyKind, repeated: false }],
          ['value', valueField('value', field, field.type, false)],
        ]),
      }
      fi = { prop: field.name, kind: 'message', repeated: true, isMap: true, message: entry }
    } else {
      fi = valueField(field.name, field, field.type, field.repeated)
    }
    info.fields.set(field.name, fi)
    info.fields.set(snakeCase(field.name), fi)
  }
  return info
}

function lookupField(info: MessageInfo, name: string): FieldInfo | undefined {
  return info.fields.get(name) ?? (name.includes('_') ? info.fields.get(reflection().protobuf.util.camelCase(name)) : undefined)
}

// ---------------------------------------------------------------------------
// Characters

/** `\n` -> 10 and the like: the byte each one-character escape stands for (0: not one). */
const SIMPLE_ESCAPES = new Uint8Array(128)
for (const [ch, byte] of [['n', 10], ['t', 9], ['r', 13], ['a', 7], ['b', 8], ['f', 12], ['v', 11], ['\\', 92], ['"', 34], ["'", 39], ['?', 63]] as const) {
  SIMPLE_ESCAPES[ch.charCodeAt(0)] = byte
}

const TAB = 9
const LF = 10
const VT = 11
const FF = 12
const CR = 13
const SPACE = 32
const DQUOTE = 34
const HASH = 35
const SQUOTE = 39
const COMMA = 44
const MINUS = 45
const DOT = 46
const SLASH = 47
const COLON = 58
const SEMI = 59
const LT = 60
const GT = 62
const LBRACKET = 91
const BACKSLASH = 92
const RBRACKET = 93
const LBRACE = 123
const RBRACE = 125

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}
function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95
}
function isIdentChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (c >= 48 && c <= 57)
}
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

const INT_BOUNDS: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
}

const utf8 = new TextDecoder('utf-8')

// ---------------------------------------------------------------------------
// Parser

class TextParser {
  private pos = 0
  private readonly n: number
  private depth = 0
  /** Scratch buffer the bytes of string literals are decoded into; grows by doubling. */
  private buf: Uint8Array = new Uint8Array(256)
  private blen = 0
  // The last number token (see readNumber).
  private numText = ''
  private numFloat = false
  private numRadix = 10

  constructor(
    private readonly s: string,
    private readonly file: string,
  ) {
    this.n = s.length
  }

  parse(info: MessageInfo, msg: Msg): void {
    if (this.s.charCodeAt(0) === 0xfeff) this.pos = 1 // BOM
    this.parseFields(info, msg, -1, '', 0)
  }

  // --- errors -------------------------------------------------------------

  private lineOf(at: number): { line: number; column: number } {
    const s = this.s
    let line = 1
    let lineStart = 0
    let i = s.indexOf('\n')
    while (i !== -1 && i < at) {
      line++
      lineStart = i + 1
      i = s.indexOf('\n', lineStart)
    }
    return { line, column: at - lineStart + 1 }
  }

  private fail(problem: string, at: number = this.pos): never {
    const { line, column } = this.lineOf(Math.min(at, this.n))
    throw new MpscnnError('PBTXT_SYNTAX', this.file, `line ${line}, column ${column}: ${problem}`, { hint: HINT })
  }

  /** The token at the cursor, for "found ..." in messages. */
  private found(): string {
    const s = this.s
    const p = this.pos
    if (p >= this.n) return 'the end of the file'
    const c = s.charCodeAt(p)
    let e = p + 1
    if (isIdentChar(c) || c === MINUS || c === DOT) {
      while (e < this.n && e - p < 30) {
        const d = s.charCodeAt(e)
        if (!(isIdentChar(d) || d === DOT || d === MINUS || d === 43)) break
        e++
      }
    } else if (c >= 0xd800 && c < 0xdc00) {
      e++
    }
    return JSON.stringify(s.slice(p, e))
  }

  // --- lexing ---------------------------------------------------------------

  /** Skips whitespace and `#` comments; returns the next character code, or -1 at the end. */
  private skipWs(): number {
    const s = this.s
    const n = this.n
    let p = this.pos
    while (p < n) {
      const c = s.charCodeAt(p)
      if (c === SPACE || c === LF || c === TAB || c === CR || c === VT || c === FF) {
        p++
      } else if (c === HASH) {
        const nl = s.indexOf('\n', p)
        p = nl < 0 ? n : nl + 1
      } else {
        this.pos = p
        return c
      }
    }
    this.pos = p
    return -1
  }

  private peek(): number {
    return this.pos < this.n ? this.s.charCodeAt(this.pos) : -1
  }

  private readIdent(): string {
    const s = this.s
    const start = this.pos
    let p = start + 1
    while (p < this.n && isIdentChar(s.charCodeAt(p))) p++
    this.pos = p
    return s.slice(start, p)
  }

  /** `[pkg.ext]` or `[type.googleapis.com/pkg.Msg]`: only ever an unknown field here. */
  private readBracketName(): string {
    const openAt = this.pos
    this.pos++
    let name = ''
    for (;;) {
      const c = this.skipWs()
      if (c === RBRACKET) {
        this.pos++
        break
      }
      if (isIdentChar(c) || c === DOT || c === SLASH) {
        name += this.s[this.pos++]
      } else {
        this.fail(`expected "]" to close the extension name opened at line ${this.lineOf(openAt).line}, found ${this.found()}`)
      }
    }
    if (name === '') this.fail('expected an extension or type name inside "[...]"', openAt)
    return `[${name}]`
  }

  /**
   * Reads a number token at the cursor (which is a digit, or "." followed by a digit)
   * into numText / numFloat / numRadix. numText has no "0x" prefix, leading octal 0,
   * or "f" suffix.
   */
  private readNumber(): void {
    const s = this.s
    const start = this.pos
    let p = start
    let isFloat = false
    let radix = 10
    let digitsStart = p
    let end: number
    const c0 = s.charCodeAt(p)
    const c1 = s.charCodeAt(p + 1)
    if (c0 === 48 && (c1 === 120 || c1 === 88)) {
      p += 2
      digitsStart = p
      while (p < this.n && hexValue(s.charCodeAt(p)) >= 0) p++
      if (p === digitsStart) this.fail('expected hex digits after "0x"', p)
      radix = 16
      end = p
    } else if (c0 === 48 && isDigit(c1)) {
      p++
      digitsStart = p
      while (p < this.n && isDigit(s.charCodeAt(p))) {
        if (s.charCodeAt(p) > 55) this.fail('invalid octal number (a number starting with 0 is octal)', start)
        p++
      }
      radix = 8
      end = p
    } else {
      while (p < this.n && isDigit(s.charCodeAt(p))) p++
      if (s.charCodeAt(p) === DOT) {
        isFloat = true
        p++
        while (p < this.n && isDigit(s.charCodeAt(p))) p++
      }
      const e = s.charCodeAt(p)
      if (e === 101 || e === 69) {
        isFloat = true
        p++
        const sign = s.charCodeAt(p)
        if (sign === 43 || sign === MINUS) p++
        if (!isDigit(s.charCodeAt(p))) this.fail('expected digits after the exponent "e" of a number', p)
        while (p < this.n && isDigit(s.charCodeAt(p))) p++
      }
      end = p
      const f = s.charCodeAt(p)
      if (f === 102 || f === 70) {
        isFloat = true
        p++
      }
    }
    if (p < this.n) {
      const next = s.charCodeAt(p)
      if (isIdentChar(next) || next === DOT) {
        while (p < this.n && (isIdentChar(s.charCodeAt(p)) || s.charCodeAt(p) === DOT)) p++
        this.fail(`invalid number ${JSON.stringify(s.slice(start, p))}`, start)
      }
    }
    this.pos = p
    this.numText = s.slice(digitsStart, end)
    this.numFloat = isFloat
    this.numRadix = radix
  }

  /** The integer value of the last number token: exact (a bigint) when it may exceed 2^53. */
  private intValue(): number | bigint {
    let t = this.numText
    const r = this.numRadix
    if (t.length <= (r === 10 ? 15 : r === 16 ? 12 : 17)) return parseInt(t, r)
    t = t.replace(/^0+/, '')
    if (t.length > 24) return Infinity // beyond any 64-bit range; spares BigInt a huge literal
    return BigInt(r === 16 ? '0x' + t : r === 8 ? '0o' + t : t || '0')
  }

  private startsNumber(c: number): boolean {
    return isDigit(c) || (c === DOT && isDigit(this.s.charCodeAt(this.pos + 1)))
  }

  // --- strings ----------------------------------------------------------------

  private grow(need: number, len: number): Uint8Array {
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const nb = new Uint8Array(size)
    nb.set(this.buf.subarray(0, len))
    this.buf = nb
    return nb
  }

  /**
   * Reads one or more adjacent string literals into buf[0..blen), unescaping C-style
   * escapes into raw bytes and encoding other characters as UTF-8.
   */
  private readStrings(name: string): number {
    let c = this.peek()
    if (c !== DQUOTE && c !== SQUOTE) this.fail(`expected a string for "${name}", found ${this.found()}`)
    this.blen = 0
    do {
      this.readLiteral(c)
      c = this.skipWs()
    } while (c === DQUOTE || c === SQUOTE)
    return this.blen
  }

  private readLiteral(quote: number): void {
    const s = this.s
    const n = this.n
    const start = this.pos
    let p = start + 1
    let buf = this.buf
    let len = this.blen
    const unterminated = (): never =>
      this.fail(`unterminated string: expected a closing ${String.fromCharCode(quote)} on the same line`, start)
    for (;;) {
      if (p >= n) unterminated()
      if (len + 4 > buf.length) buf = this.grow(len + 4, len)
      const c = s.charCodeAt(p++)
      if (c === quote) break
      if (c === BACKSLASH) {
        if (p >= n) unterminated()
        const e = s.charCodeAt(p++)
        const simple = e < 128 ? SIMPLE_ESCAPES[e] : 0
        if (simple) {
          buf[len++] = simple
          continue
        }
        switch (e) {
          case 48:
          case 49:
          case 50:
          case 51:
          case 52:
          case 53:
          case 54:
          case 55: {
            let v = e - 48
            for (let k = 0; k < 2 && p < n; k++) {
              const d = s.charCodeAt(p)
              if (d < 48 || d > 55) break
              v = v * 8 + (d - 48)
              p++
            }
            buf[len++] = v & 0xff
            break
          }
          case 120: // x
          case 88: {
            let v = hexValue(s.charCodeAt(p))
            if (v < 0) this.fail('expected hex digits after "\\x" in string', p - 2)
            p++
            const d = hexValue(s.charCodeAt(p))
            if (d >= 0) {
              v = v * 16 + d
              p++
            }
            buf[len++] = v
            break
          }
          case 117: // u
          case 85: {
            const digits = e === 117 ? 4 : 8
            let cp = 0
            for (let k = 0; k < digits; k++) {
              const d = hexValue(s.charCodeAt(p + k))
              if (d < 0) this.fail(`expected ${digits} hex digits after "\\${String.fromCharCode(e)}" in string`, p - 2)
              cp = cp * 16 + d
            }
            if (cp > 0x10ffff) this.fail('unicode escape out of range in string', p - 2)
            p += digits
            if (len + 4 > buf.length) buf = this.grow(len + 4, len)
            len = putCodePoint(buf, len, cp)
            break
          }
          default:
            // A printable character is shown as is; anything else (a line break) as its code, to keep the message on one line.
            this.fail(`invalid escape sequence "\\${e > 0x20 && e < 0x7f ? String.fromCharCode(e) : `x${e.toString(16).padStart(2, '0')}`}" in string`, p - 2)
        }
      } else if (c < 0x80) {
        if (c === LF) unterminated()
        buf[len++] = c
      } else if (c >= 0xd800 && c < 0xdc00 && p < n && (s.charCodeAt(p) & 0xfc00) === 0xdc00) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(p++) - 0xdc00)
        len = putCodePoint(buf, len, cp)
      } else {
        len = putCodePoint(buf, len, c >= 0xd800 && c < 0xe000 ? 0xfffd : c)
      }
    }
    this.pos = p
    this.buf = buf
    this.blen = len
  }

  // --- values ---------------------------------------------------------------

  private readScalar(field: FieldInfo, name: string): unknown {
    switch (field.kind) {
      case 'string': {
        const len = this.readStrings(name) // may replace this.buf
        return utf8.decode(this.buf.subarray(0, len))
      }
      case 'bytes': {
        const len = this.readStrings(name)
        return this.buf.slice(0, len)
      }
      case 'bool':
        return this.readBool(name)
      case 'enum':
        return this.readEnum(field, name)
      case 'float':
      case 'double':
        return this.readFloat(field.kind, name)
      default:
        return this.readInt(field.kind, name)
    }
  }

  /** Consumes a leading minus sign (and the blanks after it); true when there was one. */
  private readMinus(): boolean {
    if (this.peek() !== MINUS) return false
    this.pos++
    this.skipWs()
    return true
  }

  private readInt(kind: Kind, name: string): number {
    const at = this.pos
    const neg = this.readMinus()
    const c = this.peek()
    if (!this.startsNumber(c)) this.fail(`expected an integer for "${name}", found ${this.found()}`)
    const numAt = this.pos
    this.readNumber()
    if (this.numFloat) this.fail(`expected an integer for "${name}", found ${JSON.stringify(this.s.slice(numAt, this.pos))}`, numAt)
    const v = this.intValue()
    const [lo, hi] = INT_BOUNDS[kind]
    const outOfRange =
      typeof v === 'bigint' ? (neg ? -v < lo : v > hi) : neg ? -v < Number(lo) : v > Number(hi)
    if (outOfRange) {
      this.fail(`integer ${JSON.stringify(this.s.slice(at, this.pos))} is out of range for "${name}" (${kind})`, at)
    }
    const num = Number(v)
    return neg && num !== 0 ? -num : num
  }

  private readFloat(kind: 'float' | 'double', name: string): number {
    const neg = this.readMinus()
    const c = this.peek()
    let v: number
    if (isIdentStart(c)) {
      const at = this.pos
      const id = this.readIdent()
      const lower = id.toLowerCase()
      if (lower === 'inf' || lower === 'infinity' || lower === 'inff' || lower === 'infinityf') v = Infinity
      else if (lower === 'nan' || lower === 'nanf') v = NaN
      else this.fail(`expected a number for "${name}", found ${JSON.stringify(id)}`, at)
    } else if (this.startsNumber(c)) {
      this.readNumber()
      v = this.numFloat || this.numRadix === 10 ? Number(this.numText) : parseInt(this.numText, this.numRadix)
    } else {
      this.fail(`expected a number for "${name}", found ${this.found()}`)
    }
    if (neg) v = -v
    return kind === 'float' ? Math.fround(v) : v
  }

  private readBool(name: string): boolean {
    const at = this.pos
    const c = this.peek()
    if (isIdentStart(c)) {
      const id = this.readIdent()
      if (id === 'true' || id === 'True' || id === 't') return true
      if (id === 'false' || id === 'False' || id === 'f') return false
      this.fail(`expected true or false for "${name}", found ${JSON.stringify(id)}`, at)
    }
    if (isDigit(c)) {
      this.readNumber()
      if (!this.numFloat && (this.numText === '0' || this.numText === '1')) return this.numText === '1'
      this.fail(`expected true or false for "${name}", found ${JSON.stringify(this.s.slice(at, this.pos))}`, at)
    }
    this.fail(`expected true or false for "${name}", found ${this.found()}`)
  }

  private readEnum(field: FieldInfo, name: string): number {
    const c = this.peek()
    if (isIdentStart(c)) {
      const at = this.pos
      const id = this.readIdent()
      const v = field.enumValues!.get(id)
      if (v === undefined) this.fail(`unknown ${field.enumName} value ${JSON.stringify(id)} for "${name}"`, at)
      return v
    }
    if (c === MINUS || isDigit(c)) return this.readInt('int32', name)
    this.fail(`expected a ${field.enumName} name or number for "${name}", found ${this.found()}`)
  }

  // --- structure ------------------------------------------------------------

  /**
   * Reads `name [:] value [,;]` pairs into msg until `close` (or the end of the file when
   * close is -1). With info null every field is unknown and only validated.
   */
  private parseFields(info: MessageInfo | null, msg: Msg | null, close: number, openName: string, openAt: number): void {
    for (;;) {
      const c = this.skipWs()
      if (c === -1) {
        if (close < 0) return
        this.fail(
          `unexpected end of file: expected "${String.fromCharCode(close)}" to close "${openName}" opened at line ${this.lineOf(openAt).line}`,
        )
      }
      if (c === close) {
        this.pos++
        return
      }
      let name: string
      let field: FieldInfo | undefined
      if (isIdentStart(c)) {
        name = this.readIdent()
        field = info === null ? undefined : lookupField(info, name)
      } else if (c === LBRACKET) {
        name = this.readBracketName()
      } else if (close < 0 && (c === RBRACE || c === GT)) {
        this.fail(`unexpected ${this.found()} with no matching opening bracket`)
      } else {
        this.fail(
          close < 0
            ? `expected a field name, found ${this.found()}`
            : `expected a field name or "${String.fromCharCode(close)}" to close "${openName}" (opened at line ${this.lineOf(openAt).line}), found ${this.found()}`,
        )
      }
      let colon = false
      if (this.skipWs() === COLON) {
        colon = true
        this.pos++
        this.skipWs()
      }
      if (field === undefined) this.skipValue(name, colon)
      else this.parseField(field, msg!, name, colon)
      const d = this.skipWs()
      if (d === COMMA || d === SEMI) this.pos++
    }
  }

  private parseField(field: FieldInfo, msg: Msg, name: string, colon: boolean): void {
    const c = this.peek()
    if (field.kind === 'message') {
      if (c === LBRACKET) {
        if (!field.repeated) this.fail(`"${name}" is not a repeated field, so it cannot take a [...] list`)
        this.parseList(name, () => this.storeMessage(field, msg, name))
      } else {
        this.storeMessage(field, msg, name)
      }
      return
    }
    if (!colon) this.fail(`expected ":" after the field name "${name}", found ${this.found()}`)
    if (c === LBRACKET) {
      if (!field.repeated) this.fail(`"${name}" is not a repeated field, so it cannot take a [...] list`)
      const arr = msg[field.prop] as unknown[]
      this.parseList(name, () => arr.push(this.readScalar(field, name)))
    } else if (field.repeated) {
      ;(msg[field.prop] as unknown[]).push(this.readScalar(field, name))
    } else {
      msg[field.prop] = this.readScalar(field, name)
    }
  }

  private storeMessage(field: FieldInfo, msg: Msg, name: string): void {
    const info = field.message!
    if (field.isMap) {
      const entry = this.parseMessage(info, info.create(), name)
      const keyField = info.fields.get('key')!
      const valueField = info.fields.get('value')!
      const key = String(entry.key ?? defaultValue(keyField))
      const value = entry.value ?? defaultValue(valueField)
      const map = msg[field.prop] as Msg
      if (key === '__proto__') Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true })
      else map[key] = value
    } else if (field.repeated) {
      ;(msg[field.prop] as unknown[]).push(this.parseMessage(info, info.create(), name))
    } else {
      // A singular message given twice is merged, as when decoding the binary format.
      const cur = Object.prototype.hasOwnProperty.call(msg, field.prop) ? msg[field.prop] : undefined
      msg[field.prop] = this.parseMessage(info, cur != null && typeof cur === 'object' ? (cur as Msg) : info.create(), name)
    }
  }

  private parseMessage(info: MessageInfo | null, msg: Msg | null, name: string): Msg {
    const c = this.peek()
    if (c !== LBRACE && c !== LT) this.fail(`expected "{" to start the "${name}" message, found ${this.found()}`)
    const openAt = this.pos
    if (++this.depth > MAX_DEPTH) this.fail(`messages are nested more than ${MAX_DEPTH} levels deep`)
    this.pos++
    this.parseFields(info, msg, c === LBRACE ? RBRACE : GT, name, openAt)
    this.depth--
    return msg as Msg
  }

  /** `[item, item, ...]` at the cursor; item() reads one element. */
  private parseList(name: string, item: () => void): void {
    const openAt = this.pos
    this.pos++
    if (this.skipWs() === RBRACKET) {
      this.pos++
      return
    }
    for (;;) {
      item()
      const c = this.skipWs()
      if (c === COMMA) {
        this.pos++
        this.skipWs()
      } else if (c === RBRACKET) {
        this.pos++
        return
      } else {
        this.fail(`expected "," or "]" in the list of "${name}" opened at line ${this.lineOf(openAt).line}, found ${this.found()}`)
      }
    }
  }

  /** Skips the value of a field the schema does not have, checking its syntax. */
  private skipValue(name: string, colon: boolean): void {
    const c = this.peek()
    if (c === LBRACE || c === LT) {
      this.parseMessage(null, null, name)
    } else if (!colon) {
      this.fail(`expected ":" or "{" after the field name "${name}", found ${this.found()}`)
    } else if (c === LBRACKET) {
      this.parseList(name, () => {
        const d = this.peek()
        if (d === LBRACE || d === LT) this.parseMessage(null, null, name)
        else this.skipScalar(name)
      })
    } else {
      this.skipScalar(name)
    }
  }

  private skipScalar(name: string): void {
    let c = this.peek()
    if (c === DQUOTE || c === SQUOTE) {
      this.readStrings(name)
      return
    }
    if (c === MINUS) {
      this.pos++
      c = this.skipWs()
    }
    if (this.startsNumber(c)) this.readNumber()
    else if (isIdentStart(c)) this.readIdent()
    else this.fail(`expected a value for "${name}", found ${this.found()}`)
  }
}

function putCodePoint(buf: Uint8Array, len: number, cp: number): number {
  if (cp < 0x80) {
    buf[len++] = cp
  } else if (cp < 0x800) {
    buf[len++] = 0xc0 | (cp >> 6)
    buf[len++] = 0x80 | (cp & 0x3f)
  } else if (cp < 0x10000) {
    buf[len++] = 0xe0 | (cp >> 12)
    buf[len++] = 0x80 | ((cp >> 6) & 0x3f)
    buf[len++] = 0x80 | (cp & 0x3f)
  } else {
    buf[len++] = 0xf0 | (cp >> 18)
    buf[len++] = 0x80 | ((cp >> 12) & 0x3f)
    buf[len++] = 0x80 | ((cp >> 6) & 0x3f)
    buf[len++] = 0x80 | (cp & 0x3f)
  }
  return len
}

function defaultValue(field: FieldInfo): unknown {
  switch (field.kind) {
    case 'message':
      return field.message!.create()
    case 'string':
      return ''
    case 'bytes':
      return new Uint8Array(0)
    case 'bool':
      return false
    default:
      return 0
  }
}

/**
 * Parses a text-format (`.pbtxt`) GraphDef. The result has the shape `GraphDefType.decode`
 * gives for the same graph in binary, with int64 values as JS numbers. Any syntax error
 * throws an MpscnnError with code PBTXT_SYNTAX and the line and column. `file` is only
 * used in messages.
 */
export function parseGraphDefText(text: string, file: string): GraphDef {
  const info = messageInfo(reflection().GraphDefType)
  const graph = info.create()
  new TextParser(text, file).parse(info, graph)
  return graph as unknown as GraphDef
}
