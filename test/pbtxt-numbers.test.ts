/**
 * Numbers in the text format: integers in decimal, hex (0x/0X) and octal (leading 0), floats with
 * exponents, an "f" suffix and the spellings of infinity and NaN that protobuf's Python
 * text_format accepts (`-?inf(inity)?f?` and `nanf?`, any case), booleans as true/false/t/f/1/0
 * and enums by name or number. Expected values are the numbers' own arithmetic.
 */
import { describe, expect, it } from 'vitest'
import { attrValue, parsePbtxt, pbtxtError } from './helpers/pbtxt-parse.js'

const int = (token: string) => attrValue(`i: ${token}`).i
const float = (token: string) => attrValue(`f: ${token}`).f

describe('pbtxt: integers', () => {
  it('bounds an int32 field at -2^31 and 2^31 - 1', () => {
    expect(parsePbtxt('versions { producer: 2147483647 }').versions!.producer).toBe(2147483647)
    expect(parsePbtxt('versions { producer: -2147483648 }').versions!.producer).toBe(-2147483648)
    expect(pbtxtError('version: 2147483648').problem).toBe('integer "2147483648" is out of range for "version" (int32)')
  })

  it('takes vertical tab and form feed as white space, like the other C isspace characters', () => {
    expect(parsePbtxt('versions\v{\fproducer:\v7\f}\v').versions!.producer).toBe(7)
  })

  it('reads hex digits of either case, and an upper-case 0X', () => {
    expect(['0x9', '0xa', '0xf', '0xA', '0xF', '0XfF', '0X10'].map(int)).toEqual([9, 10, 15, 10, 15, 255, 16])
  })

  it('reads zero written with any number of leading zeros, in hex and octal', () => {
    for (const zeros of [1, 2, 11, 12, 13, 16, 17, 18, 19, 30]) {
      expect(int('0x' + '0'.repeat(zeros)), `0x + ${zeros} zeros`).toBe(0)
      expect(int('0'.repeat(zeros + 1)), `${zeros + 1} zeros`).toBe(0)
    }
    expect(int('0x' + '0'.repeat(24) + '1')).toBe(1)
    expect(int('0' + '0'.repeat(24) + '17')).toBe(15)
  })

  it('reads -0 as 0', () => {
    expect(Object.is(int('-0'), 0)).toBe(true)
    expect(Object.is(parsePbtxt('versions { producer: -0 }').versions!.producer, 0)).toBe(true)
  })

  it('refuses a float where an integer goes, quoting the token', () => {
    for (const token of ['1.5', '1e5', '5f', '.5', '2E-3']) {
      expect(pbtxtError(`node { attr { value { i: ${token} } } }`).problem).toBe(`expected an integer for "i", found "${token}"`)
    }
    expect(pbtxtError('node { attr { value { i: x1 } } }').problem).toBe('expected an integer for "i", found "x1"')
    expect(pbtxtError('node { attr { value { i: .x } } }').problem).toBe('expected an integer for "i", found ".x"')
  })

  it('quotes the whole token of an out-of-range integer, with its sign', () => {
    expect(pbtxtError('versions { producer: 1 }\nversion: 3000000000')).toMatchObject({
      line: 2,
      column: 10,
      problem: 'integer "3000000000" is out of range for "version" (int32)',
    })
    expect(pbtxtError('version: -2147483649').problem).toBe('integer "-2147483649" is out of range for "version" (int32)')
  })

  it('refuses letters glued to a number, naming the whole token', () => {
    expect(pbtxtError('node { attr { value { i: 0x1g } } }').problem).toBe('invalid number "0x1g"')
    expect(pbtxtError('node { attr { value { i: 1x5 } } }').problem).toBe('invalid number "1x5"')
    expect(pbtxtError('node { attr { value { f: 1.2.3 } } }').problem).toBe('invalid number "1.2.3"')
    expect(pbtxtError('node { attr { value { f: 1.5e3x.y } } }').problem).toBe('invalid number "1.5e3x.y"')
  })
})

describe('pbtxt: floats', () => {
  it('reads every spelling of infinity and NaN, with the f suffix and in any case', () => {
    expect(['inf', 'inff', 'infinity', 'infinityf', 'INFF', 'InfinityF'].map(float)).toEqual(Array(6).fill(Infinity))
    expect(['-inff', '-infinityf'].map(float)).toEqual([-Infinity, -Infinity])
    expect(['nan', 'nanf', 'NANF', '-nanf'].map(float)).toEqual(Array(4).fill(NaN))
  })

  it('reads decimal, hex and octal integers as floats', () => {
    expect(['5', '0x10', '017', '1e2', '.25'].map(float)).toEqual([5, 16, 15, 100, 0.25])
  })

  it('refuses anything that is not a number, quoting what it found', () => {
    expect(pbtxtError('node { attr { value { f: "1" } } }').problem).toBe('expected a number for "f", found "\\""')
    expect(pbtxtError('node { attr { value { f: @ } } }').problem).toBe('expected a number for "f", found "@"')
    expect(pbtxtError('node { attr { value { f: } } }').problem).toBe('expected a number for "f", found "}"')
  })
})

describe('pbtxt: booleans and enums', () => {
  it('reads 1 and 0, and refuses other numbers and symbols, quoting them', () => {
    expect([attrValue('b: 1').b, attrValue('b: 0').b, attrValue('b: t').b, attrValue('b: False').b]).toEqual([true, false, true, false])
    expect(pbtxtError('node { attr { value { b: 2 } } }').problem).toBe('expected true or false for "b", found "2"')
    expect(pbtxtError('node { attr { value { b: 1.0 } } }').problem).toBe('expected true or false for "b", found "1.0"')
    expect(pbtxtError('node { attr { value { b: @ } } }').problem).toBe('expected true or false for "b", found "@"')
  })

  it('reads an enum by a negative or positive number', () => {
    expect(attrValue('type: -1').type).toBe(-1)
    expect(attrValue('type: 19').type).toBe(19)
  })
})
