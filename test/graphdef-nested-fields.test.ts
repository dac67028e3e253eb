/**
 * The NodeDef decoders (src/graphdef/binary.ts) on bytes written by hand: an unknown field
 * inside each message is skipped whole (here each holds bytes that would read as a real field
 * of that message if it were not), a nested message may not run past its node, and an attr
 * named `__proto__` is an ordinary key. Field numbers from tensorflow/core/framework/
 * {node_def,attr_value,tensor,tensor_shape,versions}.proto.
 */
import { describe, expect, it } from 'vitest'
import { decodeGraphDef } from '../src/graphdef/decode.js'
import { concatBytes } from './helpers/graph-builder.js'
import { expectRefusal } from './helpers/refusal.js'
import { key, lenField, nodeField, strField, varintField } from './helpers/wire.js'

/** An attr map entry (NodeDef field 5): key 1, value 2, then `more` entry fields. */
const attrEntry = (name: string, value: Uint8Array, ...more: Uint8Array[]) => lenField(5, strField(1, name), lenField(2, value), ...more)
const attrOf = (...entries: Uint8Array[]) => decodeGraphDef(nodeField('n', 'Op', ...entries), 'g.pb').node[0].attr

/** float32 little-endian bytes. */
const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer)

describe('an unknown field inside each message is skipped whole', () => {
  it('TensorShapeProto.Dim', () => {
    // Dim { size: 3, (field 3) { size: 7 } }
    const shape = lenField(7, lenField(2, varintField(1, 3), lenField(3, varintField(1, 7))))
    expect(attrOf(attrEntry('s', shape)).s).toEqual({ shape: { dim: [{ size: 3 }] } })
  })

  it('TensorShapeProto', () => {
    // { dim { size: 2 }, (field 4) { unknown_rank: true } }
    const shape = lenField(7, lenField(2, varintField(1, 2)), lenField(4, varintField(3, 1)))
    expect(attrOf(attrEntry('s', shape)).s).toEqual({ shape: { dim: [{ size: 2 }] } })
  })

  it('TensorProto, and its version_number', () => {
    // { dtype: DT_FLOAT, version_number: 1, (field 15) { dtype: 2 }, float_val: [1.5, 2] }
    const tensor = lenField(8, varintField(1, 1), varintField(3, 1), lenField(15, varintField(1, 2)), lenField(5, f32(1.5, 2)))
    expect(attrOf(attrEntry('t', tensor)).t).toEqual({ tensor: { dtype: 1, floatVal: [1.5, 2] } })
  })

  it('AttrValue.ListValue', () => {
    // list { i: [4], (field 9) { i: 5 } }
    const list = lenField(1, varintField(3, 4), lenField(9, varintField(3, 5)))
    expect(attrOf(attrEntry('l', list)).l).toEqual({ list: { i: [4] } })
  })

  it('AttrValue', () => {
    // { b: true, (field 10) { i: 5 } }
    const value = concatBytes([varintField(5, 1), lenField(10, varintField(3, 5))])
    expect(attrOf(attrEntry('v', value)).v).toEqual({ b: true })
  })

  it('the attr map entry', () => {
    // { key: "k", value { i: 1 }, (field 3) { key: "x" } }
    expect(attrOf(attrEntry('k', varintField(3, 1), lenField(3, strField(1, 'x'))))).toEqual({ k: { i: 1 } })
  })

  it('VersionDef (bad_consumers, field 3, is not read)', () => {
    // { producer: 27, bad_consumers: [8, 7] packed, min_consumer: 12 }
    const versions = lenField(4, varintField(1, 27), lenField(3, Uint8Array.of(8, 7)), varintField(2, 12))
    expect(decodeGraphDef(concatBytes([nodeField('n', 'Op'), versions]), 'g.pb').versions).toEqual({ producer: 27, minConsumer: 12 })
  })
})

describe('nested lengths', () => {
  it('an attr that runs past the end of its node is CORRUPT as soon as its length is read', () => {
    // The node (bytes 2-12) ends after the entry's key, but the entry says 7 bytes from byte 7,
    // ending at 14: the error says so, rather than failing later on the bytes after the node
    // (30 01: an unknown top-level field 6 = 1).
    const entry = concatBytes([key(5, 2), Uint8Array.of(7), strField(1, 'k'), key(2, 2), Uint8Array.of(2)])
    const node = lenField(1, strField(1, 'n'), entry)
    const file = concatBytes([node, varintField(6, 1)])
    expectRefusal(() => decodeGraphDef(file, 'g.pb'), 'CORRUPT', 'g.pb', [/node #0 \(bytes 2-12\) is corrupt: index out of range: 14 > 12/])
  })
})

describe('an attr named __proto__', () => {
  it('is an own, enumerable, writable, configurable key; the prototype stays Object.prototype', () => {
    const attr = attrOf(attrEntry('__proto__', varintField(3, 1)), attrEntry('k', varintField(5, 1)))
    expect(Object.getPrototypeOf(attr)).toBe(Object.prototype)
    expect(Object.keys(attr)).toEqual(['__proto__', 'k'])
    expect(Object.getOwnPropertyDescriptor(attr, '__proto__')).toEqual({ value: { i: 1 }, enumerable: true, writable: true, configurable: true })
    expect(attr.k).toEqual({ b: true })
  })
})
