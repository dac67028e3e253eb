/**
 * What the text-format parser's syntax errors say: the token found where something else was
 * expected (up to 30 characters of one word or number, or one character, a whole surrogate pair
 * included), the line and column of the fault (1-based; a fault at a line break belongs to the
 * line it ends), and the structural faults: extension names, stray closing brackets, nesting.
 */
import { describe, expect, it } from 'vitest'
import { parsePbtxt, pbtxtError } from './helpers/pbtxt-parse.js'

/** What `node { name: <value> }` reports finding instead of a string. */
function foundForName(value: string): string {
  const { problem } = pbtxtError(`node { name: ${value} }`)
  const prefix = 'expected a string for "name", found '
  expect(problem.startsWith(prefix)).toBe(true)
  return problem.slice(prefix.length)
}

describe('pbtxt errors: the token found', () => {
  it('is a whole word or number, with its dots, signs and dashes', () => {
    expect(foundForName('abc')).toBe('"abc"')
    expect(foundForName('abc-1.5+e7 x')).toBe('"abc-1.5+e7"')
    expect(foundForName('-5')).toBe('"-5"')
    expect(foundForName('.5')).toBe('".5"')
    expect(foundForName('a.b')).toBe('"a.b"')
    expect(foundForName('a+b')).toBe('"a+b"')
    expect(foundForName('a-b')).toBe('"a-b"')
    expect(foundForName('_9Zz')).toBe('"_9Zz"')
  })

  it('is cut at 30 characters', () => {
    expect(foundForName('x'.repeat(29))).toBe(`"${'x'.repeat(29)}"`)
    expect(foundForName('y'.repeat(30))).toBe(`"${'y'.repeat(30)}"`)
    expect(foundForName('z'.repeat(45))).toBe(`"${'z'.repeat(30)}"`)
  })

  it('is one character when that is not part of a word', () => {
    expect(foundForName('@abc')).toBe('"@"')
    expect(foundForName('{}')).toBe('"{"')
    expect(foundForName('€x')).toBe('"€"')
    expect(foundForName('\ue000x')).toBe('"\ue000"')
  })

  it('is a whole surrogate pair, and a lone low surrogate alone', () => {
    expect(foundForName('🙂x')).toBe('"🙂"')
    expect(foundForName('\ud800\udc00x')).toBe('"\ud800\udc00"')
    expect(foundForName('\udc00x')).toBe(JSON.stringify('\udc00'))
  })

  it('is "the end of the file" there', () => {
    expect(pbtxtError('node { name:').problem).toBe('expected a string for "name", found the end of the file')
    expect(pbtxtError('node { name: abc').problem).toBe('expected a string for "name", found "abc"')
  })
})

describe('pbtxt errors: line and column', () => {
  it('puts a fault at a line break on the line the break ends', () => {
    const text = 'node { attr { value { f: 1e\n} } }'
    expect(pbtxtError(text)).toMatchObject({ line: 1, column: text.indexOf('\n') + 1, problem: 'expected digits after the exponent "e" of a number' })
    const text2 = 'versions { producer: 1 }\nnode { attr { value { f: 2e\n} } }'
    expect(pbtxtError(text2)).toMatchObject({ line: 2, column: text2.lastIndexOf('\n') - text2.indexOf('\n') })
  })
})

describe('pbtxt errors: structure', () => {
  it('names the extension of an unknown field and refuses an empty one', () => {
    expect(pbtxtError('[a.b/c] 5').problem).toBe('expected ":" or "{" after the field name "[a.b/c]", found "5"')
    expect(pbtxtError('x: 1\n  [ ] { }')).toMatchObject({ line: 2, column: 3, problem: 'expected an extension or type name inside "[...]"' })
    expect(parsePbtxt('[ a.b / c ] { x: 1 } node { name: "n" }').node[0].name).toBe('n')
  })

  it('refuses a closing bracket with nothing open, "}" or ">"', () => {
    expect(pbtxtError('node { name: "a" }\n>')).toMatchObject({ line: 2, column: 1, problem: 'unexpected ">" with no matching opening bracket' })
    expect(pbtxtError('}').problem).toBe('unexpected "}" with no matching opening bracket')
  })

  it('accepts 100 levels of messages and refuses 101', () => {
    expect(parsePbtxt('x {'.repeat(100) + '}'.repeat(100)).node).toEqual([])
    expect(parsePbtxt('x <'.repeat(100) + '>'.repeat(100)).node).toEqual([])
    expect(pbtxtError('x {'.repeat(101) + '}'.repeat(101)).problem).toBe('messages are nested more than 100 levels deep')
  })

  it('reads a comment that ends the file without a line break', () => {
    expect(parsePbtxt('node { name: "a" } # the end').node[0].name).toBe('a')
    expect(parsePbtxt('#').node).toEqual([])
  })

  it('reads field names of any letter, digit and underscore, with or without blanks around brackets', () => {
    const g = parsePbtxt('a: 1 z: 1 A: 1 Z: 1 _: 1 _a0: 1 a9: 1 aZ: 1 zz_Z9 { } node{name:"n"op:"Relu"}')
    expect(g.node.map((n) => [n.name, n.op])).toEqual([['n', 'Relu']])
  })
})
