/**
 * Map fields and field names in the text format: a map entry is a message of key and value
 * (either may be left out: the default, "" or an empty message), given one by one or as a [...]
 * list; "__proto__" is a key like any other; a field is named by the proto's snake_case name or
 * protobufjs' camelCase one, case-sensitively, and any other name is an unknown field, skipped.
 */
import { describe, expect, it } from 'vitest'
import { parsePbtxt } from './helpers/pbtxt-parse.js'

describe('pbtxt: map fields', () => {
  it('keeps "__proto__" as an own, ordinary key', () => {
    const attr = parsePbtxt('node { attr { key: "__proto__" value { i: 1 } } attr { key: "a" value { i: 2 } } }').node[0].attr
    expect(Object.getPrototypeOf(attr)).toBe(Object.prototype)
    expect(Object.keys(attr)).toEqual(['__proto__', 'a'])
    const own = Object.getOwnPropertyDescriptor(attr, '__proto__')!
    const ordinary = Object.getOwnPropertyDescriptor(attr, 'a')!
    expect(own.value.i).toBe(1)
    expect({ ...own, value: undefined }).toEqual({ ...ordinary, value: undefined })
  })

  it('reads entries given as a list, in either bracket form', () => {
    const attr = parsePbtxt('node { attr [ { key: "a" value { i: 1 } }, < key: "b" value { i: 2 } > ] attr: [] }').node[0].attr
    expect(Object.keys(attr)).toEqual(['a', 'b'])
    expect([attr.a.i, attr.b.i]).toEqual([1, 2])
  })

  it('gives a left-out key "" and a left-out value an empty message', () => {
    const attr = parsePbtxt('node { attr { value { i: 3 } } attr { key: "k" } }').node[0].attr
    expect(Object.keys(attr)).toEqual(['', 'k'])
    expect(attr[''].i).toBe(3)
    expect(typeof attr.k).toBe('object')
    expect(Object.keys(attr.k)).toEqual([])
  })
})

describe('pbtxt: field names', () => {
  it('resolves snake_case and camelCase names alike', () => {
    for (const text of [
      'node { attr { key: "k" value { tensor { tensor_shape { dim { size: 2 } } int64_val: 5 } } } }',
      'node { attr { key: "k" value { tensor { tensorShape { dim { size: 2 } } int64Val: 5 } } } }',
    ]) {
      const t = parsePbtxt(text).node[0].attr.k.tensor!
      expect(t.tensorShape!.dim!.map((d) => Number(d.size))).toEqual([2])
      expect(t.int64Val).toEqual([5])
    }
  })

  it('skips any other spelling as an unknown field', () => {
    for (const name of ['tensor_Shape', 'Tensor_shape', 'TensorShape', 'tensorshape', 'TENSOR_SHAPE', 'tensor__shape']) {
      const t = parsePbtxt(`node { attr { key: "k" value { tensor { ${name} { dim { size: 2 } } dtype: DT_FLOAT } } } }`).node[0].attr.k.tensor!
      expect(Object.hasOwn(t, 'tensorShape'), name).toBe(false)
      expect(t.dtype).toBe(1)
    }
  })
})
