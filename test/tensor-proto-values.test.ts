/**
 * TensorProto -> values (src/graphdef/tensor.ts `tensorFromProto`, `float32Content`): the
 * shapes, the short forms of tensor.proto ("if the tensor has fewer values than elements, the
 * last one repeats; no value at all means zeros"), little-endian `tensor_content` of every
 * integer width and sign (two's complement, worked out by hand below), the element limit, what
 * is charged before an allocation, and when float32 content is a view of the file's bytes.
 */
import protobuf from 'protobufjs/minimal.js'
import { describe, expect, it } from 'vitest'
import { DataType, int64ToNumber, type Int64, type TensorProto } from '../src/graphdef/schema.js'
import { float32Content, MAX_TENSOR_ELEMENTS, tensorFromProto } from '../src/graphdef/tensor.js'
import { expectRefusal } from './helpers/refusal.js'

/** protobufjs' Long (the `long` package it loads). */
const Long = protobuf.util.Long as unknown as { fromNumber(n: number): Int64; fromBits(low: number, high: number, unsigned: boolean): Int64 }

const dims = (...d: number[]) => ({ dim: d.map((size) => ({ size })) })
const values = (t: TensorProto) => Array.from(tensorFromProto(t, 'm.pb', 'c').data)
const shapeOf = (t: TensorProto) => tensorFromProto(t, 'm.pb', 'c').shape

/** A Uint8Array of `n` bytes at `offset` in a fresh buffer. */
function placed(content: number[] | Uint8Array, offset: number): Uint8Array {
  const buf = new ArrayBuffer(offset + content.length + 8)
  const at = new Uint8Array(buf, offset, content.length)
  at.set(content)
  return at
}

/** float32 little-endian bytes of `v` (every value below is exact in float32). */
function f32Bytes(v: number[]): Uint8Array {
  const out = new Uint8Array(v.length * 4)
  const dv = new DataView(out.buffer)
  v.forEach((x, i) => dv.setFloat32(i * 4, x, true))
  return out
}

describe('shapes', () => {
  it('no tensor_shape, or an unknown rank, is a scalar', () => {
    expect(shapeOf({ dtype: DataType.DT_FLOAT, floatVal: [2.5] })).toEqual([])
    expect(values({ dtype: DataType.DT_FLOAT, floatVal: [2.5] })).toEqual([2.5])
    expect(shapeOf({ dtype: DataType.DT_FLOAT, tensorShape: { unknownRank: true }, floatVal: [1] })).toEqual([])
  })

  it('a dimension of 0, or one with no size (proto3 default 0), holds no element', () => {
    expect(shapeOf({ dtype: DataType.DT_FLOAT, tensorShape: dims(2, 0) })).toEqual([2, 0])
    expect(shapeOf({ dtype: DataType.DT_FLOAT, tensorShape: { dim: [{ name: 'batch' }] } })).toEqual([0])
    expect(values({ dtype: DataType.DT_FLOAT, tensorShape: dims(0) })).toEqual([])
  })
})

describe('the short forms', () => {
  const noValues: [string, number][] = [
    ['float32', DataType.DT_FLOAT], ['float64', DataType.DT_DOUBLE], ['float16', DataType.DT_HALF],
    ['bfloat16', DataType.DT_BFLOAT16], ['int32', DataType.DT_INT32], ['int64', DataType.DT_INT64],
  ]

  it.each(noValues)('%s with no value at all is zeros', (_, dtype) => {
    expect(values({ dtype, tensorShape: dims(3) })).toEqual([0, 0, 0])
    expect(values({ dtype, tensorShape: dims(0) })).toEqual([])
  })

  it('fewer values than elements: the last one repeats', () => {
    expect(values({ dtype: DataType.DT_FLOAT, tensorShape: dims(4), floatVal: [1, -2] })).toEqual([1, -2, -2, -2])
    expect(values({ dtype: DataType.DT_DOUBLE, tensorShape: dims(2, 2), doubleVal: [0.1] })).toEqual([0.1, 0.1, 0.1, 0.1])
    expect(values({ dtype: DataType.DT_INT64, tensorShape: dims(3), int64Val: [5, -7] })).toEqual([5, -7, -7])
    // 0x3c00 is 1.0 in float16, 0xc000 is -2.0
    expect(values({ dtype: DataType.DT_HALF, tensorShape: dims(3), halfVal: [0x3c00, 0xc000] })).toEqual([1, -2, -2])
  })

  it('more values than elements: BAD_SHAPE naming the node', () => {
    const e = expectRefusal(() => tensorFromProto({ dtype: DataType.DT_FLOAT, tensorShape: dims(2), floatVal: [1, 2, 3] }, 'm.pb', 'w'), 'BAD_SHAPE', 'm.pb', [
      /node "w": constant has 3 values but its shape holds 2/,
      /The graph is damaged; export it again/,
    ])
    expect(e.node).toBe('w')
  })
})

describe('integer tensor_content, little-endian', () => {
  // 4 bytes: FF FF FF FF = -1, 00 00 00 80 = -2^31, 01 02 03 04 = 0x04030201.
  const b4 = [0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x80, 0x01, 0x02, 0x03, 0x04]
  // 2 bytes: FE FF = -2 / 65534, 2C 01 = 300, 01 80 = -32767 / 32769.
  const b2 = [0xfe, 0xff, 0x2c, 0x01, 0x01, 0x80]
  // 1 byte: FF = -1 / 255, 7F = 127, 80 = -128 / 128.
  const b1 = [0xff, 0x7f, 0x80]
  const cases: [string, number, number[], number[]][] = [
    ['DT_INT32', DataType.DT_INT32, b4, [-1, -(2 ** 31), 0x04030201]],
    ['DT_QINT32', DataType.DT_QINT32, b4, [-1, -(2 ** 31), 0x04030201]],
    ['DT_INT16', DataType.DT_INT16, b2, [-2, 300, -32767]],
    ['DT_QINT16', DataType.DT_QINT16, b2, [-2, 300, -32767]],
    ['DT_UINT16', DataType.DT_UINT16, b2, [65534, 300, 32769]],
    ['DT_QUINT16', DataType.DT_QUINT16, b2, [65534, 300, 32769]],
    ['DT_INT8', DataType.DT_INT8, b1, [-1, 127, -128]],
    ['DT_QINT8', DataType.DT_QINT8, b1, [-1, 127, -128]],
    ['DT_UINT8', DataType.DT_UINT8, b1, [255, 127, 128]],
    ['DT_QUINT8', DataType.DT_QUINT8, b1, [255, 127, 128]],
  ]

  it.each(cases)('%s', (_, dtype, content, want) => {
    for (const offset of [0, 1]) {
      const t = tensorFromProto({ dtype, tensorShape: dims(3), tensorContent: placed(content, offset) }, 'm.pb', 'c')
      expect(t.data).toBeInstanceOf(Float64Array)
      expect(Array.from(t.data)).toEqual(want)
    }
  })

  it('DT_INT64: 8 bytes each, two\'s complement', () => {
    // FF x 8 = -1; 03 00 00 00 00 01 00 00 = 2^40 + 3; 00 .. 00 F0 FF = -(2^52)... the top 12 bits set.
    const content = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0xff]
    expect(values({ dtype: DataType.DT_INT64, tensorShape: dims(3), tensorContent: placed(content, 1) })).toEqual([-1, 2 ** 40 + 3, -(2 ** 52)])
  })

  it('DT_INT64 int64_val as numbers or Longs', () => {
    expect(values({ dtype: DataType.DT_INT64, tensorShape: dims(2), int64Val: [Long.fromNumber(-(2 ** 40)), Long.fromNumber(9)] })).toEqual([-(2 ** 40), 9])
  })
})

describe('the element limit and the allocation charge', () => {
  const refusedAlloc = new Error('charge refused')
  const refuse = () => {
    throw refusedAlloc
  }

  it('2^28 elements are allowed up to the allocation, charged 4 bytes each; one more is BAD_SHAPE', () => {
    expect(MAX_TENSOR_ELEMENTS).toBe(2 ** 28)
    const charged: number[] = []
    const charge = (b: number) => {
      charged.push(b)
      refuse()
    }
    expect(() => tensorFromProto({ dtype: DataType.DT_FLOAT, tensorShape: dims(2 ** 14, 2 ** 14), floatVal: [1] }, 'm.pb', 'c', charge)).toThrow(refusedAlloc)
    expect(charged).toEqual([2 ** 30])
    expectRefusal(() => tensorFromProto({ dtype: DataType.DT_FLOAT, tensorShape: dims(2 ** 28 + 1), floatVal: [1] }, 'm.pb', 'big', refuse), 'BAD_SHAPE', 'm.pb', [
      /node "big": constant claims 268435457 elements/,
    ])
  })

  it('float32 arrays are charged 4 bytes an element, float64 ones 8', () => {
    const charged: number[] = []
    const charge = (b: number) => void charged.push(b)
    tensorFromProto({ dtype: DataType.DT_FLOAT, tensorShape: dims(6), floatVal: [1] }, 'm.pb', 'c', charge)
    tensorFromProto({ dtype: DataType.DT_HALF, tensorShape: dims(6), halfVal: [0x3c00] }, 'm.pb', 'c', charge)
    tensorFromProto({ dtype: DataType.DT_DOUBLE, tensorShape: dims(6), doubleVal: [1] }, 'm.pb', 'c', charge)
    tensorFromProto({ dtype: DataType.DT_INT32, tensorShape: dims(6), intVal: [1] }, 'm.pb', 'c', charge)
    expect(charged).toEqual([24, 24, 48, 48])
  })
})

describe('float tensor_content: a view of the file when aligned', () => {
  const vals = (n: number) => Array.from({ length: n }, (_, i) => (i % 1000) * 0.5 - 3)
  /** The first index where `d` differs from `vals(n)`, or -1 (a loop: toEqual on 65537 values is slow). */
  const firstDifference = (d: ArrayLike<number>, n: number) => {
    const want = vals(n)
    if (d.length !== n) return d.length
    for (let i = 0; i < n; i++) if (d[i] !== want[i]) return i
    return -1
  }

  it('float32 at a 4-byte aligned offset: the file\'s own bytes, read once', () => {
    for (const n of [4, 65537]) {
      const raw = placed(f32Bytes(vals(n)), 8)
      const t = tensorFromProto({ dtype: DataType.DT_FLOAT, tensorShape: dims(n), tensorContent: raw }, 'm.pb', 'c')
      const d = t.data
      expect(d.buffer === raw.buffer, 'a view of the file').toBe(true)
      expect(d.byteOffset).toBe(8)
      expect(firstDifference(d, n)).toBe(-1)
      expect(t.data === d, 'the same array').toBe(true)
    }
  })

  it('float32 unaligned: a copy, kept for up to 65536 values, made again on each read past that', () => {
    for (const n of [4, 65536]) {
      const raw = placed(f32Bytes(vals(n)), 1)
      const t = float32Content([n], raw)
      const d = t.data
      expect(d.buffer === raw.buffer, 'a view of the file').toBe(false)
      expect(firstDifference(d, n)).toBe(-1)
      expect(t.data === d, 'the same array').toBe(true)
    }
    const raw = placed(f32Bytes(vals(65537)), 3)
    const t = float32Content([65537], raw)
    const d = t.data
    expect(firstDifference(d, 65537)).toBe(-1)
    expect(t.data === d, 'the same array').toBe(false)
    expect(firstDifference(t.data, 65537)).toBe(-1)
  })

  it('float32Content is a float32 tensor of the content\'s values', () => {
    const t = float32Content([2, 1], placed(f32Bytes([1.5, -4]), 4))
    expect(t.dtype).toBe(DataType.DT_FLOAT)
    expect(t.shape).toEqual([2, 1])
    expect(Array.from(t.data)).toEqual([1.5, -4])
  })

  it('float64 at an 8-byte aligned offset is a view, elsewhere a copy', () => {
    const content = new Uint8Array(Float64Array.of(Math.PI, -1e300).buffer)
    const aligned = placed(content, 16)
    const a = tensorFromProto({ dtype: DataType.DT_DOUBLE, tensorShape: dims(2), tensorContent: aligned }, 'm.pb', 'c').data
    expect(a.buffer).toBe(aligned.buffer)
    expect(Array.from(a)).toEqual([Math.PI, -1e300])
    const unaligned = placed(content, 4)
    const u = tensorFromProto({ dtype: DataType.DT_DOUBLE, tensorShape: dims(2), tensorContent: unaligned }, 'm.pb', 'c').data
    expect(u.buffer).not.toBe(unaligned.buffer)
    expect(Array.from(u)).toEqual([Math.PI, -1e300])
  })
})

describe('int64ToNumber', () => {
  it('absent is 0, a number is itself', () => {
    expect(int64ToNumber(undefined)).toBe(0)
    expect(int64ToNumber(null)).toBe(0)
    expect(int64ToNumber(-5)).toBe(-5)
  })

  it('{ low, high } is high * 2^32 + low as unsigned 32 bits', () => {
    expect(int64ToNumber({ low: 1, high: 1 })).toBe(2 ** 32 + 1)
    expect(int64ToNumber({ low: -1, high: -1 })).toBe(-1) // FFFFFFFF FFFFFFFF
    expect(int64ToNumber({ low: 0, high: -2 })).toBe(-(2 ** 33))
  })

  it('a Long converts itself, signed or unsigned', () => {
    expect(int64ToNumber(Long.fromBits(-1, -1, true))).toBe(2 ** 64)
    expect(int64ToNumber(Long.fromBits(5, -1, false))).toBe(-(2 ** 32) + 5)
  })
})
