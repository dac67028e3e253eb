/**
 * Quantized weights fold like any constant: Dequantize (each mode, quint8 and qint8) and
 * FakeQuantWithMinMaxArgs/Vars, checked against TensorFlow's formulas written out here in
 * float64 (the converter computes them in float32, as TF's kernels do), and a TF-slim
 * MobileNet after TF's `quantize_weights` transform.
 */
import { describe, expect, it } from 'vitest'
import { convertModel } from '../src/fold/convert.js'
import { buildNetwork } from '../src/network/index.js'
import { createReference } from '../src/execute/reference.js'
import { parseModel } from '../src/fold/convert.js'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import { quantConst, quantizedMobilenet } from './helpers/graphs.js'
import { silentlyDropped } from './helpers/no-silent-drops.js'
import { dequantize64, fakeQuant64, type QuantizedType } from './helpers/tf64.js'

const T = { T: attr.type('DT_FLOAT') }

/**
 * A 1 x 1 convolution (cin 2 -> cout 3) whose weights are `weights(b)`; returns its layer's
 * weights as TF's [cin][cout] (MPS lays them out [cout][cin]).
 */
function foldedWeights(build: (b: GraphBuilder) => string): number[] {
  const b = new GraphBuilder()
  b.placeholder('input', [1, 4, 4, 2])
  const w = build(b)
  b.op('conv/Conv2D', 'Conv2D', ['input', w], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  expect(silentlyDropped(b.encode(), 'q.pb')).toEqual([])
  const m = convertModel(b.encode(), { file: 'q.pb' })
  expect(m.layers.map((l) => l.name)).toEqual(['conv'])
  const mps = m.layOut(0).weights as Float32Array
  const out: number[] = []
  for (let i = 0; i < 2; i++) for (let o = 0; o < 3; o++) out.push(mps[o * 2 + i])
  return out
}

function dequantizeGraph(type: 'DT_QUINT8' | 'DT_QINT8', mode: string, values: number[], min: number, max: number, extra = {}) {
  return (b: GraphBuilder) => {
    quantConst(b, 'w_quantized_const', type, [1, 1, 2, 3], values)
    b.constF32('w_quantized_min', [], [min])
    b.constF32('w_quantized_max', [], [max])
    return b.op('w', 'Dequantize', ['w_quantized_const', 'w_quantized_min', 'w_quantized_max'], { T: attr.type(type), mode: attr.s(mode), ...extra })
  }
}

const closeTo = (got: number[], want: number[]) => {
  expect(got.length).toBe(want.length)
  got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 5))
}

describe('Dequantize folds as TensorFlow computes it', () => {
  const u8 = [0, 1, 77, 128, 200, 255]
  const s8 = [-128, -1, 0, 1, 64, 127]
  // The op definition's formulas (array_ops.cc), in float64.
  const minCombined = (t: QuantizedType, min: number, max: number) => dequantize64(t, 'MIN_COMBINED', min, max)
  const minFirst = (t: QuantizedType, min: number, max: number) => dequantize64(t, 'MIN_FIRST', min, max)
  const scaled = (t: QuantizedType, min: number, max: number, narrow: boolean) => dequantize64(t, 'SCALED', min, max, narrow)

  it.each([
    ['DT_QUINT8', u8],
    ['DT_QINT8', s8],
  ] as const)('MIN_COMBINED, %s', (t, v) => {
    closeTo(foldedWeights(dequantizeGraph(t, 'MIN_COMBINED', v, -1.5, 2.25)), v.map(minCombined(t, -1.5, 2.25)))
  })

  it.each([
    ['DT_QUINT8', u8],
    ['DT_QINT8', s8],
  ] as const)('MIN_FIRST, %s', (t, v) => {
    closeTo(foldedWeights(dequantizeGraph(t, 'MIN_FIRST', v, -0.75, 3)), v.map(minFirst(t, -0.75, 3)))
  })

  it.each([
    ['DT_QUINT8', u8, false],
    ['DT_QINT8', s8, false],
    ['DT_QINT8', s8, true],
  ] as const)('SCALED, %s, narrow_range %s', (t, v, narrow) => {
    closeTo(foldedWeights(dequantizeGraph(t, 'SCALED', v, -2, 1.5, { narrow_range: attr.b(narrow) })), v.map(scaled(t, -2, 1.5, narrow)))
  })

  it('per-slice ranges along an axis (MIN_COMBINED, one range per output channel)', () => {
    const v = [0, 51, 102, 153, 204, 255]
    const mins = [-1, 0, 2]
    const maxs = [1, 4, 3]
    const got = foldedWeights((b) => {
      quantConst(b, 'q', 'DT_QUINT8', [1, 1, 2, 3], v)
      b.constF32('mins', [3], mins)
      b.constF32('maxs', [3], maxs)
      return b.op('w', 'Dequantize', ['q', 'mins', 'maxs'], { T: attr.type('DT_QUINT8'), mode: attr.s('MIN_COMBINED'), axis: attr.i(3) })
    })
    closeTo(got, v.map((x, i) => minCombined('DT_QUINT8', mins[i % 3], maxs[i % 3])(x)))
  })

  it('a Dequantize of a float constant is one error naming the node', () => {
    const b = new GraphBuilder()
    b.placeholder('input', [1, 4, 4, 2])
    b.constF32('q', [1, 1, 2, 3], [1, 2, 3, 4, 5, 6])
    b.constF32('min', [], [0])
    b.constF32('max', [], [1])
    b.op('w', 'Dequantize', ['q', 'min', 'max'], { T: attr.type('DT_QUINT8'), mode: attr.s('MIN_FIRST') })
    b.op('conv/Conv2D', 'Conv2D', ['input', 'w'], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
    expect(() => convertModel(b.encode(), { file: 'q.pb' })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE', node: 'w', file: 'q.pb' }))
  })
})

describe('FakeQuant folds as TensorFlow computes it', () => {
  const fakeQuant = fakeQuant64
  const x = [-7, -0.31, 0, 0.123, 0.52, 9] // no value on a rounding tie, where float32 and float64 may differ

  it.each([
    [8, false],
    [8, true],
    [4, false],
  ] as const)('FakeQuantWithMinMaxArgs, num_bits %i, narrow_range %s (min -1.1, max 2.3 nudged)', (bits, narrow) => {
    const got = foldedWeights((b) => {
      b.constF32('w_float', [1, 1, 2, 3], x)
      return b.op('w', 'FakeQuantWithMinMaxArgs', ['w_float'], { min: attr.f(-1.1), max: attr.f(2.3), num_bits: attr.i(bits), narrow_range: attr.b(narrow) })
    })
    closeTo(got, x.map((v) => fakeQuant(v, Math.fround(-1.1), Math.fround(2.3), bits, narrow)))
  })

  it('FakeQuantWithMinMaxArgs with its default range [-6, 6] and 8 bits', () => {
    const got = foldedWeights((b) => {
      b.constF32('w_float', [1, 1, 2, 3], x)
      return b.op('w', 'FakeQuantWithMinMaxArgs', ['w_float'], {})
    })
    closeTo(got, x.map((v) => fakeQuant(v, -6, 6, 8, false)))
  })

  it('FakeQuantWithMinMaxVars, min and max from constants', () => {
    const got = foldedWeights((b) => {
      b.constF32('w_float', [1, 1, 2, 3], x)
      b.constF32('min', [], [-0.4])
      b.constF32('max', [], [0.6])
      return b.op('w', 'FakeQuantWithMinMaxVars', ['w_float', 'min', 'max'], { num_bits: attr.i(8), narrow_range: attr.b(false) })
    })
    closeTo(got, x.map((v) => fakeQuant(v, Math.fround(-0.4), Math.fround(0.6), 8, false)))
  })
})

describe('a TF-slim MobileNet after quantize_weights', () => {
  it('converts every convolution whose kernel comes through Dequantize MIN_FIRST to a layer and a network node', () => {
    const b = quantizedMobilenet()
    expect(silentlyDropped(b.encode(), 'mobilenet_quantized.pb')).toEqual([])
    const m = convertModel(b.encode(), { file: 'mobilenet_quantized.pb' })
    expect(m.warnings).toEqual([])
    expect(m.layers.map((l) => [l.name, l.kind, l.activation])).toEqual([
      ['MobilenetV1_Conv2d_0', 'conv', 'relu6'],
      ['MobilenetV1_Conv2d_1_depthwise', 'depthwise', 'relu6'],
      ['MobilenetV1_Conv2d_1_pointwise', 'conv', 'relu6'],
    ])
    // The first weight: quint8 value q, MIN_FIRST over [-0.5, 0.5], times the folded BN scale 0.5 / sqrt(1 + 0.001).
    const first = m.layOut(0).weights as Float32Array
    const q0 = (3 * 97 + 13) % 256
    expect(first[0]).toBeCloseTo((-0.5 + q0 * (1 / 255)) * (0.5 / Math.sqrt(1.001)), 5)
    const net = buildNetwork(m.graph, 'mobilenet_quantized.pb', m.plans)
    expect(net.nodes.map((n) => [n.kind, n.layer, n.neuron?.type])).toEqual([
      ['convolution', 'MobilenetV1_Conv2d_0', 'relu6'],
      ['depthwiseConvolution', 'MobilenetV1_Conv2d_1_depthwise', 'relu6'],
      ['convolution', 'MobilenetV1_Conv2d_1_pointwise', 'relu6'],
    ])
  })
})

describe('cross-checked against the reference (src/execute/custom-ops.ts, independent code run by TensorFlow.js)', () => {
  it('each Dequantize mode and FakeQuant op: the folded weights are the reference\'s convolution of one-hot pixels', async () => {
    const b = new GraphBuilder()
    b.placeholder('x', [1, 1, 2, 2])
    b.constF32('min', [], [-0.7])
    b.constF32('max', [], [1.9])
    quantConst(b, 'qu8', 'DT_QUINT8', [1, 1, 2, 3], [0, 3, 99, 128, 201, 255])
    quantConst(b, 'qs8', 'DT_QINT8', [1, 1, 2, 3], [-128, -3, 0, 1, 77, 127])
    b.constF32('f', [1, 1, 2, 3], [-2, -0.33, 0, 0.41, 0.9, 3])
    const weights: Record<string, string> = {
      first: b.op('w_first', 'Dequantize', ['qu8', 'min', 'max'], { T: attr.type('DT_QUINT8'), mode: attr.s('MIN_FIRST') }),
      combined: b.op('w_combined', 'Dequantize', ['qs8', 'min', 'max'], { T: attr.type('DT_QINT8'), mode: attr.s('MIN_COMBINED') }),
      scaled: b.op('w_scaled', 'Dequantize', ['qs8', 'min', 'max'], { T: attr.type('DT_QINT8'), mode: attr.s('SCALED'), narrow_range: attr.b(true) }),
      args: b.op('w_args', 'FakeQuantWithMinMaxArgs', ['f'], { min: attr.f(-1.3), max: attr.f(2.1), num_bits: attr.i(6), narrow_range: attr.b(true) }),
      vars: b.op('w_vars', 'FakeQuantWithMinMaxVars', ['f', 'min', 'max'], { num_bits: attr.i(8), narrow_range: attr.b(false) }),
    }
    for (const [k, w] of Object.entries(weights)) b.op(`${k}/Conv2D`, 'Conv2D', ['x', w], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('VALID') })
    const bytes = b.encode()
    const m = convertModel(bytes, { file: 'q.pb' })
    const outputs = Object.keys(weights).map((k) => `${k}/Conv2D`)
    const ref = await createReference(parseModel(bytes, 'q.pb'), { input: 'x', outputs, backend: 'cpu', file: 'q.pb' })
    // Pixel 0 is (1, 0), pixel 1 is (0, 1): the output is the filter's rows, [in][out].
    const out = await ref.run(Float32Array.from([1, 0, 0, 1]), [1, 1, 2, 2])
    for (const [i, name] of outputs.entries()) {
      const mps = m.layOut(i).weights as Float32Array // [out][in]
      const want = out.get(name)!.data
      for (let c = 0; c < 2; c++) for (let o = 0; o < 3; o++) expect(mps[o * 2 + c]).toBeCloseTo(want[c * 3 + o], 6)
    }
  })
})
