/**
 * The character level of the text-format parser: a cursor over the text that skips white
 * space and comments and reads identifiers, numbers and string literals (escapes decoded
 * into a reused byte buffer). Positions are turned into lines and columns only when an
 * error is thrown.
 */
import { MpscnnError } from '../base/errors.js'

const HINT = 'Fix the text-format GraphDef or export it again with as_text=True'

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
export const DQUOTE = 34
const HASH = 35
export const SQUOTE = 39
export const COMMA = 44
export const MINUS = 45
const DOT = 46
const SLASH = 47
export const COLON = 58
export const SEMI = 59
export const LT = 60
export const GT = 62
export const LBRACKET = 91
const BACKSLASH = 92
export const RBRACKET = 93
export const LBRACE = 123
export const RBRACE = 125

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}
export function isIdentStart(c: number): boolean {
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

export const INT_BOUNDS: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
}

export const utf8 = new TextDecoder('utf-8')


export class TextLexer {
  protected pos = 0
  protected readonly n: number
  /** Scratch buffer the bytes of string literals are decoded into; grows by doubling. */
  protected buf: Uint8Array = new Uint8Array(256)
  protected blen = 0
  // The last number token (see readNumber).
  protected numText = ''
  protected numFloat = false
  protected numRadix = 10

  constructor(
    protected readonly s: string,
    protected readonly file: string,
  ) {
    this.n = s.length
  }

  // --- errors -------------------------------------------------------------

  protected lineOf(at: number): { line: number; column: number } {
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

  protected fail(problem: string, at: number = this.pos): never {
    const { line, column } = this.lineOf(Math.min(at, this.n))
    throw new MpscnnError('PBTXT_SYNTAX', this.file, `line ${line}, column ${column}: ${problem}`, { hint: HINT })
  }

  /** The token at the cursor, for "found ..." in messages. */
  protected found(): string {
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
  protected skipWs(): number {
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

  protected peek(): number {
    return this.pos < this.n ? this.s.charCodeAt(this.pos) : -1
  }

  protected readIdent(): string {
    const s = this.s
    const start = this.pos
    let p = start + 1
    while (p < this.n && isIdentChar(s.charCodeAt(p))) p++
    this.pos = p
    return s.slice(start, p)
  }

  /** `[pkg.ext]` or `[type.googleapis.com/pkg.Msg]`: only ever an unknown field here. */
  protected readBracketName(): string {
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
  protected readNumber(): void {
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
  protected intValue(): number | bigint {
    let t = this.numText
    const r = this.numRadix
    if (t.length <= (r === 10 ? 15 : r === 16 ? 12 : 17)) return parseInt(t, r)
    t = t.replace(/^0+/, '') || '0' // all zeros: BigInt('0x') would throw
    if (t.length > 24) return Infinity // beyond any 64-bit range; spares BigInt a huge literal
    return BigInt(r === 16 ? '0x' + t : r === 8 ? '0o' + t : t)
  }

  protected startsNumber(c: number): boolean {
    return isDigit(c) || (c === DOT && isDigit(this.s.charCodeAt(this.pos + 1)))
  }

  // --- strings ----------------------------------------------------------------

  protected grow(need: number, len: number): Uint8Array {
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
  protected readStrings(name: string): number {
    let c = this.peek()
    if (c !== DQUOTE && c !== SQUOTE) this.fail(`expected a string for "${name}", found ${this.found()}`)
    this.blen = 0
    do {
      this.readLiteral(c)
      c = this.skipWs()
    } while (c === DQUOTE || c === SQUOTE)
    return this.blen
  }

  protected readLiteral(quote: number): void {
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
