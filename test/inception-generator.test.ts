import { existsSync, readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { decodeGraphDef } from '../src/graphdef/decode.js'
import { DataType, reflection, type GraphDef, type NodeDef, type TensorProto } from '../src/graphdef/schema.js'
import {
  attr,
  bfloat16BitsToFloat32,
  encodeGraphDef,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  GraphBuilder,
  makeTensor,
} from './helpers/graph-builder.js'
import {
  INCEPTION_BN_EPSILON,
  inceptionLayerTable,
  makeInceptionV3_2015,
  referenceFoldConv,
  referenceFullyConnected,
  scaleChannels,
  type ExpectedLayer,
} from './helpers/inception.js'

const { root } = reflection()

const SHARED = new URL('../../shared/fixtures/', import.meta.url)
const MINI_PB = new URL('inception_v3_2015_mini.pb', SHARED)
const MINI_EXPECTED = new URL('inception_v3_2015_mini.expected/', SHARED)
const haveShared = existsSync(MINI_PB) && existsSync(new URL('layers.json', MINI_EXPECTED))
if (!haveShared) console.warn('../shared is absent: skipping the comparison of the generated Inception graph with ../shared/fixtures/inception_v3_2015_mini.pb')

const NodeDefType = root.lookupType('tensorflow.NodeDef')

/** A copy of a typed view's bytes as Float32Array (tensor_content may be unaligned). */
function f32(bytes: Uint8Array): Float32Array {
  return new Float32Array(Uint8Array.from(bytes).buffer)
}

function tensorOf(g: GraphDef, name: string): TensorProto {
  const n = g.node.find((x) => x.name === name)
  if (!n?.attr.value?.tensor) throw new Error(`no Const ${name}`)
  return n.attr.value.tensor
}

function dims(t: TensorProto): number[] {
  return (t.tensorShape?.dim ?? []).map((d) => Number(d.size))
}

/** The top-level `node` records of a GraphDef file, as byte ranges. */
function nodeRecords(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  let p = 0
  const varint = () => {
    let r = 0
    let m = 1
    for (;;) {
      const x = b[p++]
      r += (x & 0x7f) * m
      if (x < 0x80) return r
      m *= 128
    }
  }
  while (p < b.length) {
    const key = varint()
    if ((key & 7) !== 2) throw new Error(`unexpected wire type at ${p}`)
    const len = varint()
    if (key >>> 3 === 1) out.push(b.subarray(p, p + len))
    p += len
  }
  return out
}

/** Names of the Const nodes that hold random values (weights, BN parameters, classifier). */
const RANDOM_CONST = /\/(conv2d_params|batchnorm\/(beta|gamma|moving_mean|moving_variance))$|^softmax\/(weights|biases)$/

/** Recomputes the expected layers from the decoded graph with the reference fold. */
function refoldFromGraph(g: GraphDef, layers: ExpectedLayer[]): ExpectedLayer[] {
  return layers.map((l) => {
    if (l.kind === 'fullyConnected') {
      const w = tensorOf(g, `${l.node}/weights`)
      const r = referenceFullyConnected(f32(w.tensorContent!), dims(w) as [number, number], f32(tensorOf(g, `${l.node}/biases`).tensorContent!))
      return { ...l, ...r }
    }
    const w = tensorOf(g, `${l.node}/conv2d_params`)
    const bn = (k: string) => f32(tensorOf(g, `${l.node}/batchnorm/${k}`).tensorContent!)
    const r = referenceFoldConv(
      f32(w.tensorContent!),
      dims(w) as [number, number, number, number],
      { beta: bn('beta'), gamma: bn('gamma'), mean: bn('moving_mean'), variance: bn('moving_variance') },
      INCEPTION_BN_EPSILON,
    )
    return { ...l, ...r }
  })
}

describe.skipIf(!haveShared)('generated Inception v3 (scale 8) against ../shared mini fixture', () => {
  let mini: Uint8Array
  let miniGraph: GraphDef
  let gen: ReturnType<typeof makeInceptionV3_2015>
  let genGraph: GraphDef
  beforeAll(() => {
    mini = readFileSync(MINI_PB)
    miniGraph = decodeGraphDef(mini, 'mini.pb')
    gen = makeInceptionV3_2015({ scale: 8, seed: 1 })
    genGraph = decodeGraphDef(gen.bytes, 'generated.pb')
  })

  it('has the same node names, ops, inputs and attr keys, in the same order', () => {
    const summary = (g: GraphDef) => g.node.map((n) => ({ name: n.name, op: n.op, input: n.input, attr: Object.keys(n.attr) }))
    expect(genGraph.node.length).toBe(miniGraph.node.length)
    expect(summary(genGraph)).toEqual(summary(miniGraph))
    expect(genGraph.versions?.producer).toBe(miniGraph.versions?.producer)
  })

  it('encodes every node as the reference encoder does; random tensors differ only in values', () => {
    expect(gen.bytes.length).toBe(mini.length)
    const a = nodeRecords(gen.bytes)
    const b = nodeRecords(mini)
    expect(a.length).toBe(b.length)
    let random = 0
    for (let k = 0; k < a.length; k++) {
      const name = genGraph.node[k].name
      if (RANDOM_CONST.test(name)) {
        random++
        expect(a[k].length, name).toBe(b[k].length)
        const strip = (n: NodeDef) => {
          const t = n.attr.value.tensor!
          return { name: n.name, op: n.op, dtype: t.dtype, shape: dims(t), content: t.tensorContent?.length, other: Object.keys(t) }
        }
        expect(strip(NodeDefType.decode(a[k]) as unknown as NodeDef), name).toEqual(strip(NodeDefType.decode(b[k]) as unknown as NodeDef))
      } else {
        expect(Buffer.from(a[k]).equals(Buffer.from(b[k])), `node ${name} bytes`).toBe(true)
      }
    }
    expect(random).toBe(94 * 5 + 2)
  })

  it("gives the 95 layers the mini's shapes and kinds (layers.json)", () => {
    const expected = JSON.parse(readFileSync(new URL('layers.json', MINI_EXPECTED), 'utf8')) as Record<string, { shape: number[]; kind: string }>
    expect(gen.layers.map((l) => l.name)).toEqual(Object.keys(expected))
    for (const l of gen.layers) expect({ shape: l.shape, kind: l.kind }, l.name).toEqual(expected[l.name])
  })

  it("the reference fold reproduces the mini's expected .dat files (checks the oracle)", () => {
    const layers = refoldFromGraph(miniGraph, gen.layers)
    let worst = 0
    for (const l of layers) {
      const w = f32(readFileSync(new URL(`weights_${l.name}.dat`, MINI_EXPECTED)))
      const b = f32(readFileSync(new URL(`bias_${l.name}.dat`, MINI_EXPECTED)))
      expect(w.length, l.name).toBe(l.weights.length)
      expect(b.length, l.name).toBe(l.bias.length)
      for (let k = 0; k < w.length; k++) worst = Math.max(worst, Math.abs(w[k] - l.weights[k]) / Math.max(1, Math.abs(w[k])))
      for (let k = 0; k < b.length; k++) worst = Math.max(worst, Math.abs(b[k] - l.bias[k]) / Math.max(1, Math.abs(b[k])))
    }
    expect(worst).toBeLessThan(1e-6)
  })
})

describe('Inception v3 2015 generator', () => {
  it('expected layers are the reference fold of the tensors in the bytes', () => {
    const { bytes, layers } = makeInceptionV3_2015({ scale: 8, seed: 7 })
    const g = decodeGraphDef(bytes, 'generated.pb')
    const again = refoldFromGraph(g, layers)
    for (let k = 0; k < layers.length; k++) {
      expect(Buffer.from(again[k].weights.buffer).equals(Buffer.from(layers[k].weights.buffer)), layers[k].name).toBe(true)
      expect(Buffer.from(again[k].bias.buffer).equals(Buffer.from(layers[k].bias.buffer)), layers[k].name).toBe(true)
    }
    for (const n of g.node.filter((x) => x.name.endsWith('/batchnorm/moving_variance'))) {
      expect(Math.min(...f32(n.attr.value.tensor!.tensorContent!))).toBeGreaterThan(0)
    }
    const bn = g.node.find((n) => n.op === 'BatchNormWithGlobalNormalization')!
    expect(bn.attr.variance_epsilon.f).toBe(INCEPTION_BN_EPSILON)
    expect(bn.attr.scale_after_normalization.b).toBe(true)
  })

  it('is deterministic for a seed and differs across seeds', () => {
    const a = makeInceptionV3_2015({ scale: 16, seed: 3, expected: false }).bytes
    const b = makeInceptionV3_2015({ scale: 16, seed: 3, expected: false }).bytes
    const c = makeInceptionV3_2015({ scale: 16, seed: 4, expected: false }).bytes
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true)
    expect(a.length).toBe(c.length)
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false)
  })

  it('scales channels with max(4, round(c / scale)) and keeps kernels, strides and padding of the table', () => {
    const table = inceptionLayerTable()
    const { layers } = makeInceptionV3_2015({ scale: 8, expected: false })
    expect(layers).toHaveLength(95)
    for (let k = 0; k < table.length; k++) {
      const r = table[k]
      const l = layers[k]
      expect(l.name).toBe(r.name)
      expect(l.kind).toBe(r.op === 'MatMul' ? 'fullyConnected' : 'conv')
      expect(l.shape[0]).toBe(r.op === 'MatMul' ? r.shape[0] : scaleChannels(r.shape[0], 8))
      expect(l.shape.slice(1, 3)).toEqual(r.shape.slice(1, 3))
      if (r.op === 'Conv2D') {
        expect(l.stride).toBe(r.stride)
        expect(l.padding).toBe(r.padding!.toLowerCase())
      }
    }
    expect(layers.at(-1)!.shape).toEqual([1008, 1, 1, 256])
  })

  it('at scale 1 has the real model shapes and size (~95.7 MB)', () => {
    const table = inceptionLayerTable()
    const { bytes, layers } = makeInceptionV3_2015({ scale: 1, expected: false })
    expect(layers.map((l) => [l.name, l.shape])).toEqual(table.map((r) => [r.name, r.shape]))
    expect(bytes.length).toBeGreaterThan(95.5e6)
    expect(bytes.length).toBeLessThan(95.9e6)
    const g = decodeGraphDef(bytes, 'full.pb')
    expect(g.node).toHaveLength(1002)
    expect(dims(tensorOf(g, 'softmax/weights'))).toEqual([2048, 1008])
    expect(dims(tensorOf(g, 'mixed_10/tower_1/conv_1/conv2d_params'))).toEqual([3, 3, 448, 384])
  })
})

describe('GraphBuilder', () => {
  it('converts float32 to float16 bits (round to nearest even) on known patterns', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00], // halfway to the next binade: rounds up to Infinity
      [1e6, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // tie between 0 and 2^-24: even is 0
      [2 ** -25 * 1.5, 0x0001],
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 ulp: even is 2
      [2 ** -14 - 2 ** -25, 0x0400], // tie between the largest subnormal (odd) and the smallest normal
      [1e-8, 0x0000],
      [1 + 2 ** -11, 0x3c00], // tie, even is 1.0
      [1 + 3 * 2 ** -11, 0x3c02], // tie, even is 1 + 2^-9
      [1 + 2 ** -11 + 2 ** -20, 0x3c01],
    ]
    for (const [v, bits] of cases) expect(float32ToFloat16Bits(v).toString(16), `${v}`).toBe(bits.toString(16))
    expect(float32ToFloat16Bits(NaN) & 0x7e00).toBe(0x7e00)
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true)
  })

  it('float16: every finite pattern round-trips and random values go to the nearest (ties to even)', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue
      expect(float32ToFloat16Bits(float16BitsToFloat32(h))).toBe(h)
    }
    let seed = 12345
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
    for (let k = 0; k < 20000; k++) {
      const v = Math.fround((rnd() - 0.5) * 2 ** (rnd() * 44 - 28))
      const h = float32ToFloat16Bits(v)
      const mag = h & 0x7fff
      if (mag === 0x7c00) continue
      const err = Math.abs(float16BitsToFloat32(h) - v)
      for (const nb of [mag - 1, mag + 1]) {
        if (nb < 0 || nb > 0x7bff) continue
        const e2 = Math.abs(float16BitsToFloat32((h & 0x8000) | nb) - v)
        expect(err <= e2).toBe(true)
        if (err === e2) expect(h & 1).toBe(0)
      }
    }
  })

  it('converts float32 to bfloat16 bits (round to nearest even) on known patterns', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3f80],
      [-1, 0xbf80],
      [Math.PI, 0x4049],
      [0.1, 0x3dcd],
      [1 + 2 ** -8, 0x3f80], // tie, even
      [1 + 3 * 2 ** -8, 0x3f82], // tie, even
      [1 + 2 ** -8 + 2 ** -16, 0x3f81],
      [3.4028234663852886e38, 0x7f80], // float32 max rounds up to Infinity
      [Infinity, 0x7f80],
      [2 ** -133, 0x0001], // float32 subnormal
    ]
    for (const [v, bits] of cases) expect(float32ToBfloat16Bits(v).toString(16), `${v}`).toBe(bits.toString(16))
    expect(float32ToBfloat16Bits(NaN) & 0x7fc0).toBe(0x7fc0)
    for (let b = 0; b < 0x10000; b++) {
      if ((b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0) continue
      expect(float32ToBfloat16Bits(bfloat16BitsToFloat32(b))).toBe(b)
    }
  })

  it('writes float_val unpacked by hand and it decodes the same as packed', () => {
    const values = [1.5, -2.25, 3, 0.1, 1e-3]
    const build = (unpacked: boolean) => {
      const b = new GraphBuilder({ producer: 21 })
      b.constF32('w', [5], values, { encoding: 'floatVal', unpacked })
      b.const('h', { dtype: 'float16', shape: [2], values: [1, -2], encoding: 'floatVal', unpacked })
      b.const('d', { dtype: 'float64', shape: [2], values: [0.1, 0.2], encoding: 'floatVal', unpacked })
      return b.encode()
    }
    const packed = build(false)
    const unpacked = build(true)
    expect(unpacked.length).toBeGreaterThan(packed.length)
    const p = decodeGraphDef(packed, 'packed.pb')
    const u = decodeGraphDef(unpacked, 'unpacked.pb')
    for (const name of ['w', 'h', 'd']) {
      const tp = tensorOf(p, name)
      const tu = tensorOf(u, name)
      expect({ f: tu.floatVal, h: tu.halfVal, d: tu.doubleVal }).toEqual({ f: tp.floatVal, h: tp.halfVal, d: tp.doubleVal })
    }
    expect(tensorOf(u, 'w').floatVal).toEqual(values.map(Math.fround))
    expect(tensorOf(u, 'h').halfVal).toEqual([0x3c00, 0xc000])
    expect(tensorOf(u, 'd').doubleVal).toEqual([0.1, 0.2])
    // Field 5, wire type 5 (fixed32): one tag per float.
    const t = encodeGraphDef({ node: [] }) // empty graph is empty bytes
    expect(t.length).toBe(0)
    let tags = 0
    for (const byte of unpacked) if (byte === 0x2d) tags++
    expect(tags).toBeGreaterThanOrEqual(values.length)
  })

  it('the hand encoder writes the same bytes as protobufjs when nothing is unpacked', () => {
    const b = new GraphBuilder({ producer: 27 })
    b.placeholder('input', [1, -1, 8, 3])
    b.placeholder('any', null, 'DT_STRING')
    b.constF32('w', [3, 3, 3, 4], Float32Array.from({ length: 108 }, (_, k) => k / 7 - 3))
    b.const('h', { dtype: 'bfloat16', shape: [4], values: [1, 2, 3, 3], encoding: 'short' })
    b.const('s', { dtype: 'float32', shape: [2, 2], values: [0.5], encoding: 'splat' })
    b.const('i', { dtype: 'int32', shape: [2], values: [-1, 7], encoding: 'floatVal' })
    b.op('conv/Conv2D', 'Conv2D', ['input', 'w', '^any'], {
      strides: attr.ints([1, 2, 2, 1]),
      padding: attr.s('SAME'),
      T: attr.type('DT_FLOAT'),
      dilations: attr.ints([1, 1, 1, 1]),
      eps: attr.f(0.001),
      flag: attr.b(false),
      fs: attr.floats([0.5, -1]),
      names: attr.strings(['a', 'b']),
      ts: attr.types(['DT_FLOAT', 'DT_HALF']),
      shapes: attr.shapes([[1, 2], null]),
      n: attr.i(-3),
      t: attr.tensor(makeTensor({ shape: [], values: [2], encoding: 'floatVal' })),
    }, '/device:CPU:0')
    const g = b.graph()
    const viaProtobufjs = encodeGraphDef(g)
    const viaHand = encodeGraphDef(g, { encoder: 'manual' })
    expect(Buffer.from(viaHand).equals(Buffer.from(viaProtobufjs))).toBe(true)
    const d = decodeGraphDef(viaHand, 'x.pb')
    expect(Object.keys(d.node[6].attr)).toEqual(Object.keys(d.node[6].attr).slice().sort())
    expect(d.node[6].device).toBe('/device:CPU:0')
    expect(d.versions?.producer).toBe(27)
  })

  it('stores each dtype and encoding where TensorFlow does', () => {
    const b = new GraphBuilder()
    b.const('f16c', { dtype: 'float16', shape: [3], values: [1, -2, 0.1], encoding: 'content' })
    b.const('bf16v', { dtype: 'bfloat16', shape: [2], values: [1, Math.PI], encoding: 'floatVal' })
    b.const('f64c', { dtype: 'float64', shape: [2], values: [0.1, -3], encoding: 'content' })
    b.const('splat', { dtype: 'float16', shape: [2, 3], values: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5], encoding: 'splat' })
    b.const('short', { dtype: 'float32', shape: [5], values: [1, 2, 3, 3, 3], encoding: 'short' })
    const g = decodeGraphDef(b.encode(), 'x.pb')
    const f16c = tensorOf(g, 'f16c')
    expect(f16c.dtype).toBe(DataType.DT_HALF)
    expect(Array.from(Uint8Array.from(f16c.tensorContent!))).toEqual([0x00, 0x3c, 0x00, 0xc0, 0x66, 0x2e])
    const bf = tensorOf(g, 'bf16v')
    expect(bf.dtype).toBe(DataType.DT_BFLOAT16)
    expect(bf.halfVal).toEqual([0x3f80, 0x4049])
    const f64 = tensorOf(g, 'f64c')
    expect(Array.from(new Float64Array(Uint8Array.from(f64.tensorContent!).buffer))).toEqual([0.1, -3])
    expect(tensorOf(g, 'splat').halfVal).toEqual([0x3800])
    expect(dims(tensorOf(g, 'splat'))).toEqual([2, 3])
    expect(tensorOf(g, 'short').floatVal).toEqual([1, 2, 3])
    expect(g.node.map((n) => Object.keys(n.attr))).toEqual(g.node.map(() => ['dtype', 'value']))
    expect(() => b.const('f16c', { shape: [1], values: [1] })).toThrow(/duplicate/)
    expect(() => makeTensor({ shape: [2], values: [1, 2], encoding: 'splat' })).toThrow(/equal/)
    expect(() => makeTensor({ shape: [2, 2], values: [1, 2, 3] })).toThrow(/needs 4/)
  })
})
