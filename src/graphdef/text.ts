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
import { reflection, type GraphDef } from './schema.js'
import { defaultValue, lookupField, messageInfo, type FieldInfo, type Kind, type MessageInfo, type Msg } from './text-schema.js'
import { COLON, COMMA, DQUOTE, SQUOTE, GT, INT_BOUNDS, LBRACE, LBRACKET, LT, MINUS, RBRACE, RBRACKET, SEMI, TextLexer, isDigit, isIdentStart, utf8 } from './text-lexer.js'

/** Deepest message nesting accepted (known and unknown fields alike). */
const MAX_DEPTH = 100

class TextParser extends TextLexer {
  private depth = 0

  parse(info: MessageInfo, msg: Msg): void {
    if (this.s.charCodeAt(0) === 0xfeff) this.pos = 1 // BOM
    this.parseFields(info, msg, -1, '', 0)
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
