/**
 * String and bytes literals of the text format: C-style escapes (protobuf's text format takes
 * `\x` with one or two hex digits, `\` with one to three octal digits, `\u` with four and `\U`
 * with eight hex digits, encoded as UTF-8) and raw characters encoded as UTF-8, a lone surrogate
 * as U+FFFD the way TextEncoder (the WHATWG encoder) does. Expected bytes are worked out by hand
 * from RFC 3629 or come from TextEncoder.
 */
import { describe, expect, it } from 'vitest'
import { attrValue, parsePbtxt, pbtxtError } from './helpers/pbtxt-parse.js'

/** The bytes of `s: <literal>`, a bytes field. */
function bytesOf(literal: string): number[] {
  return Array.from(attrValue(`s: ${literal}`).s!)
}

const utf8 = (s: string) => Array.from(new TextEncoder().encode(s))

describe('pbtxt: \\x escapes', () => {
  it('reads one or two hex digits of either case', () => {
    expect(bytesOf(String.raw`"\x0\x9\x99\x90"`)).toEqual([0, 9, 0x99, 0x90])
    expect(bytesOf(String.raw`"\xa\xf\xA\xF\xaf\xFA"`)).toEqual([10, 15, 10, 15, 0xaf, 0xfa])
  })

  it('stops at the first character that is not a hex digit', () => {
    // "g" follows "f", "G" follows "F", ":" to "@" lie between "9" and "A", "/" is before "0".
    expect(bytesOf(String.raw`"\x4g\x4G\x4:\x4?\x4@\x4/"`)).toEqual([4, 0x67, 4, 0x47, 4, 0x3a, 4, 0x3f, 4, 0x40, 4, 0x2f])
  })

  it('needs at least one hex digit, reported at the backslash', () => {
    const e = pbtxtError(String.raw`node { name: "ab\xZ" }`)
    expect(e).toMatchObject({ line: 1, column: 17, problem: 'expected hex digits after "\\x" in string' })
  })
})

describe('pbtxt: octal escapes', () => {
  it('reads up to three octal digits and stops at anything else', () => {
    expect(bytesOf(String.raw`"\7\1/\18\19\0010\1"`)).toEqual([7, 1, 0x2f, 1, 0x38, 1, 0x39, 1, 0x30, 1])
  })
})

describe('pbtxt: \\u and \\U escapes', () => {
  it('encode each code point as UTF-8 at every length boundary', () => {
    expect(bytesOf(String.raw`"\u0041\u007f"`)).toEqual([0x41, 0x7f])
    expect(bytesOf(String.raw`"\u0080\u07ff"`)).toEqual([0xc2, 0x80, 0xdf, 0xbf])
    expect(bytesOf(String.raw`"\u0800\u20ac\uffff"`)).toEqual([0xe0, 0xa0, 0x80, 0xe2, 0x82, 0xac, 0xef, 0xbf, 0xbf])
    expect(bytesOf(String.raw`"\U00010000\U0010FFFF"`)).toEqual([0xf0, 0x90, 0x80, 0x80, 0xf4, 0x8f, 0xbf, 0xbf])
  })

  it('reject a code point past U+10FFFF and too few digits, at the backslash', () => {
    expect(pbtxtError(String.raw`node { name: "ab\U00110000" }`)).toMatchObject({ line: 1, column: 17, problem: 'unicode escape out of range in string' })
    expect(pbtxtError(String.raw`node { name: "ab\u12" }`)).toMatchObject({ line: 1, column: 17, problem: 'expected 4 hex digits after "\\u" in string' })
    expect(pbtxtError(String.raw`node { name: "ab\U0001F64" }`)).toMatchObject({ line: 1, column: 17, problem: 'expected 8 hex digits after "\\U" in string' })
  })
})

describe('pbtxt: invalid escapes', () => {
  it('shows a printable character as is and any other as its code, at the backslash', () => {
    expect(pbtxtError('node { name: "ab\\q" }')).toMatchObject({ line: 1, column: 17, problem: 'invalid escape sequence "\\q" in string' })
    expect(pbtxtError('node { name: "\\!" }').problem).toBe('invalid escape sequence "\\!" in string')
    expect(pbtxtError('node { name: "\\~" }').problem).toBe('invalid escape sequence "\\~" in string')
    expect(pbtxtError('node { name: "\\ " }').problem).toBe('invalid escape sequence "\\x20" in string')
    expect(pbtxtError('node { name: "\\\x7f" }').problem).toBe('invalid escape sequence "\\x7f" in string')
    expect(pbtxtError('node { name: "\\\x80" }').problem).toBe('invalid escape sequence "\\x80" in string')
    expect(pbtxtError('node { name: "\\é" }').problem).toBe('invalid escape sequence "\\xe9" in string')
  })
})

describe('pbtxt: raw characters in strings', () => {
  it('are encoded as UTF-8 at every length boundary', () => {
    expect(bytesOf('"A\x7f\u0080\u07ff"')).toEqual([0x41, 0x7f, 0xc2, 0x80, 0xdf, 0xbf])
    expect(bytesOf('"\u0800€\ue000\uffff"')).toEqual([0xe0, 0xa0, 0x80, 0xe2, 0x82, 0xac, 0xee, 0x80, 0x80, 0xef, 0xbf, 0xbf])
    expect(bytesOf('"\ud800\udc00\udbff\udfff"')).toEqual([0xf0, 0x90, 0x80, 0x80, 0xf4, 0x8f, 0xbf, 0xbf])
  })

  it('turn each lone surrogate into U+FFFD, as TextEncoder does', () => {
    for (const s of ['\ud83dx', 'x\ud83d', '\ud800a', '\udbff', '\udc00', 'a\udc00', 'é\udc00', '€\udfff', '\udc00\udc00', '\udfff\ud800', '\ud83d\ud83d\ude42']) {
      expect(bytesOf(`"${s}"`), JSON.stringify(s)).toEqual(utf8(s))
    }
    expect(bytesOf('"\udc00"')).toEqual([0xef, 0xbf, 0xbd])
  })

  it('keep every byte of a literal longer than the first scratch buffer, and of a short one after it', () => {
    // Four-byte characters and escapes straddling the buffer's growth points.
    for (const pad of [250, 251, 252, 253, 254, 255, 256, 509, 510, 511]) {
      const text = 'a'.repeat(pad) + '🙂é' + 'b'.repeat(300)
      const g = parsePbtxt(`node { name: "${text}" op: "${'c'.repeat(pad)}\\U0001F642\\u00e9" input: "x" }`)
      expect(g.node[0].name).toBe(text)
      expect(g.node[0].op).toBe('c'.repeat(pad) + '🙂é')
      expect(g.node[0].input).toEqual(['x'])
    }
  })
})
