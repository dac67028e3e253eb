/**
 * The reference (src/execute): small graphs run by tfjs-converter through createReference,
 * checked against TensorFlow's formulas computed independently in float64 (helpers/tf64.ts),
 * for each op and attribute the reference meets, on the cpu and the wasm backend; the 2015
 * Inception graph's first layer on cpu, and all of it on wasm.
 */
import { describe, expect, it } from 'vitest'
import { MpscnnError } from '../src/base/errors.js'
import { createReference, type ReferenceBackend, type ReferenceTensor } from '../src/execute/reference.js'
import { parseModel } from '../src/fold/convert.js'
import { GraphBuilder, attr } from './helpers/graph-builder.js'
import type { AttrValue } from '../src/graphdef/schema.js'
import { tensorFromProto } from '../src/graphdef/tensor.js'
import { makeInceptionV3_2015 } from './helpers/inception.js'
import {
  conv2d,
  conv2dBackpropInput,
  depthwise,
  matmul,
  perChannel,
  pool,
  relDiff,
  seeded,
  softmax,
  t64,
  toNCHW,
  toNHWC,
  type T64,
} from './helpers/tf64.js'

const TOL = 1e-5
const F = attr.type('DT_FLOAT')

/** Runs `b`'s graph fed at `input` with `x`; the outputs by name. */
async function run(b: GraphBuilder, x: T64, outputs: string[], backend: ReferenceBackend = 'cpu', input = 'x'): Promise<Map<string, ReferenceTensor>> {
  const ref = await createReference(parseModel(b.encode(), 'case.pb'), { input, outputs, backend, file: 'case.pb' })
  try {
    return await ref.run(Float32Array.from(x.data), x.shape)
  } finally {
    ref.dispose()
  }
}

/** A graph with placeholder `x` of `shape`. */
function graph(shape: number[]): GraphBuilder {
  const b = new GraphBuilder()
  b.placeholder('x', shape)
  return b
}

/** One op, `y = op(x, w)`, fed `x`, with the constant `w` as its second input. */
async function oneOp(op: string, x: T64, w: T64, attrs: Record<string, AttrValue>, backend: ReferenceBackend = 'cpu'): Promise<ReferenceTensor> {
  const b = graph(x.shape)
  b.constF32('w', w.shape, f32(w))
  b.op('y', op, ['x', 'w'], { T: F, ...attrs })
  return (await run(b, x, ['y'], backend)).get('y')!
}

/** The error a promise rejects with (an MpscnnError with code NONE if it resolves). */
const refusal = (p: Promise<unknown>): Promise<MpscnnError> => p.then(() => new MpscnnError('NONE', '', 'resolved'), (e: unknown) => e as MpscnnError)

const image = (shape: number[], seed: number): T64 => t64(seeded(shape.reduce((a, c) => a * c, 1), seed), shape)
const weights = (shape: number[], seed: number, lo = -1, hi = 1): T64 => t64(seeded(shape.reduce((a, c) => a * c, 1), seed, lo, hi), shape)
const f32 = (t: T64) => Float32Array.from(t.data)

describe.each(['cpu', 'wasm'] as const)('reference on %s: convolutions', (backend) => {
  it('Conv2D NHWC, SAME, stride 2, with dilations, data_format and explicit_paddings left out (TF defaults)', async () => {
    const x = image([1, 7, 6, 3], 1)
    const w = weights([3, 3, 3, 4], 2)
    const y = await oneOp('Conv2D', x, w, { strides: attr.ints([1, 2, 2, 1]), padding: attr.s('SAME') }, backend)
    expect(relDiff(y, conv2d(x, w, [2, 2], 'SAME'))).toBeLessThan(TOL)
  })

  it('Conv2D NCHW (strides [1,1,2,1], VALID): transposed around an NHWC conv, strides read at NCHW positions', async () => {
    const xh = image([1, 6, 5, 2], 3)
    const w = weights([3, 2, 2, 3], 4)
    const y = await oneOp('Conv2D', toNCHW(xh), w, { strides: attr.ints([1, 1, 2, 1]), padding: attr.s('VALID'), data_format: attr.s('NCHW') }, backend)
    expect(relDiff(y, toNCHW(conv2d(xh, w, [2, 1], 'VALID')))).toBeLessThan(TOL)
  })

  it('DepthwiseConv2dNative, multiplier 2, NHWC SAME and NCHW VALID', async () => {
    const xh = image([1, 5, 5, 3], 5)
    const w = weights([3, 3, 3, 2], 6)
    const y = await oneOp('DepthwiseConv2dNative', xh, w, { strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') }, backend)
    expect(relDiff(y, depthwise(xh, w, [1, 1], 'SAME'))).toBeLessThan(TOL)
    const yc = await oneOp('DepthwiseConv2dNative', toNCHW(xh), w, { strides: attr.ints([1, 1, 2, 2]), padding: attr.s('VALID'), data_format: attr.s('NCHW') }, backend)
    expect(relDiff(yc, toNCHW(depthwise(xh, w, [2, 2], 'VALID')))).toBeLessThan(TOL)
  })

  it('BiasAdd NCHW adds along C (tfjs-converter would add along W)', async () => {
    const xh = image([1, 3, 4, 4], 7)
    const bias = weights([4], 8)
    const y = await oneOp('BiasAdd', toNCHW(xh), bias, { data_format: attr.s('NCHW') }, backend)
    expect(relDiff(y, perChannel(toNCHW(xh), 1, (v, c) => v + bias.data[c]))).toBeLessThan(TOL)
  })

  it('FusedBatchNormV3 NCHW normalises C, with epsilon left out (TF: 0.0001, tfjs-converter: 0.001)', async () => {
    const xh = image([1, 3, 3, 4], 9)
    const [scale, offset, mean] = [weights([4], 10), weights([4], 11), weights([4], 12)]
    const variance = weights([4], 13, 0.0001, 0.001) // small, so that the epsilon matters
    const b = graph([1, 4, 3, 3])
    for (const [n, v] of [['scale', scale], ['offset', offset], ['mean', mean], ['variance', variance]] as const) b.constF32(n, [4], f32(v))
    b.op('bn', 'FusedBatchNormV3', ['x', 'scale', 'offset', 'mean', 'variance'], { T: F, U: F, data_format: attr.s('NCHW'), is_training: attr.b(false) })
    const out = await run(b, toNCHW(xh), ['bn'], backend)
    const expected = perChannel(toNCHW(xh), 1, (v, c) => ((v - mean.data[c]) / Math.sqrt(variance.data[c] + 0.0001)) * scale.data[c] + offset.data[c])
    expect(relDiff(out.get('bn')!, expected)).toBeLessThan(TOL)
  })

  it('BatchNormWithGlobalNormalization, scale_after_normalization true and false', async () => {
    const x = image([1, 2, 3, 4], 14)
    const [m, beta, gamma] = [weights([4], 15), weights([4], 16), weights([4], 17, 0.5, 1.5)]
    const v = weights([4], 18, 0.25, 1.25)
    const eps = Math.fround(0.001)
    for (const scaleAfter of [true, false]) {
      const b = graph(x.shape)
      for (const [n, t] of [['m', m], ['v', v], ['beta', beta], ['gamma', gamma]] as const) b.constF32(n, [4], f32(t))
      b.op('bn', 'BatchNormWithGlobalNormalization', ['x', 'm', 'v', 'beta', 'gamma'], {
        T: F,
        scale_after_normalization: attr.b(scaleAfter),
        variance_epsilon: attr.f(0.001),
      })
      const out = await run(b, x, ['bn'], backend)
      const expected = perChannel(x, 3, (t, c) => ((t - m.data[c]) / Math.sqrt(v.data[c] + eps)) * (scaleAfter ? gamma.data[c] : 1) + beta.data[c])
      expect(relDiff(out.get('bn')!, expected)).toBeLessThan(TOL)
    }
  })

  it('AvgPool SAME excludes the padding from the count, NHWC and NCHW; MaxPool SAME NHWC, VALID NCHW', async () => {
    const xh = image([1, 5, 4, 3], 19)
    const b = graph(xh.shape)
    b.op('avg', 'AvgPool', ['x'], { T: F, ksize: attr.ints([1, 3, 3, 1]), strides: attr.ints([1, 2, 1, 1]), padding: attr.s('SAME') })
    b.op('max', 'MaxPool', ['x'], { T: F, ksize: attr.ints([1, 2, 3, 1]), strides: attr.ints([1, 2, 2, 1]), padding: attr.s('SAME') })
    const out = await run(b, xh, ['avg', 'max'], backend)
    expect(relDiff(out.get('avg')!, pool(xh, 'avg', [3, 3], [2, 1], 'SAME'))).toBeLessThan(TOL)
    expect(relDiff(out.get('max')!, pool(xh, 'max', [2, 3], [2, 2], 'SAME'))).toBeLessThan(TOL)

    const c = graph([1, 3, 5, 4])
    c.op('avg', 'AvgPool', ['x'], { T: F, ksize: attr.ints([1, 1, 3, 3]), strides: attr.ints([1, 1, 2, 1]), padding: attr.s('SAME'), data_format: attr.s('NCHW') })
    c.op('max', 'MaxPool', ['x'], { T: F, ksize: attr.ints([1, 1, 2, 3]), strides: attr.ints([1, 1, 2, 2]), padding: attr.s('VALID'), data_format: attr.s('NCHW') })
    const outc = await run(c, toNCHW(xh), ['avg', 'max'], backend)
    expect(relDiff(outc.get('avg')!, toNCHW(pool(xh, 'avg', [3, 3], [2, 1], 'SAME')))).toBeLessThan(TOL)
    expect(relDiff(outc.get('max')!, toNCHW(pool(xh, 'max', [2, 3], [2, 2], 'VALID')))).toBeLessThan(TOL)
  })
})

describe.each(['cpu', 'wasm'] as const)('reference on %s: the other ops', (backend) => {
  it('Conv2D NHWC with dilations 2 (VALID, SAME), NCHW with EXPLICIT paddings given in NCHW order; DepthwiseConv2dNative EXPLICIT', async () => {
    const xh = image([1, 7, 7, 2], 20)
    const w = weights([3, 2, 2, 3], 21)
    for (const padding of ['VALID', 'SAME'] as const) {
      const y = await oneOp('Conv2D', xh, w, { strides: attr.ints([1, 1, 1, 1]), padding: attr.s(padding), dilations: attr.ints([1, 2, 2, 1]) }, backend)
      expect(relDiff(y, conv2d(xh, w, [1, 1], padding, [2, 2]))).toBeLessThan(TOL)
    }
    const yd = await oneOp('DepthwiseConv2dNative', xh, w, { strides: attr.ints([1, 2, 1, 1]), padding: attr.s('EXPLICIT'), explicit_paddings: attr.ints([0, 0, 1, 2, 0, 1, 0, 0]) }, backend)
    expect(relDiff(yd, depthwise(xh, w, [2, 1], [[1, 2], [0, 1]]))).toBeLessThan(TOL)
    const yc = await oneOp('Conv2D', toNCHW(xh), w, {
      strides: attr.ints([1, 1, 2, 1]),
      padding: attr.s('EXPLICIT'),
      explicit_paddings: attr.ints([0, 0, 0, 0, 1, 2, 0, 1]),
      data_format: attr.s('NCHW'),
    }, backend)
    expect(relDiff(yc, toNCHW(conv2d(xh, w, [2, 1], [[1, 2], [0, 1]])))).toBeLessThan(TOL)
  })

  it('Conv2D with a stride and a dilation above 1 together (tfjs refuses them in one op): SAME, VALID, EXPLICIT, NCHW', async () => {
    const xh = image([1, 9, 8, 2], 22)
    const w = weights([3, 2, 2, 3], 23)
    const both = { strides: attr.ints([1, 2, 3, 1]), dilations: attr.ints([1, 2, 2, 1]) }
    for (const padding of ['SAME', 'VALID'] as const) {
      const y = await oneOp('Conv2D', xh, w, { ...both, padding: attr.s(padding) }, backend)
      expect(relDiff(y, conv2d(xh, w, [2, 3], padding, [2, 2]))).toBeLessThan(TOL)
    }
    const ye = await oneOp('Conv2D', xh, w, { ...both, padding: attr.s('EXPLICIT'), explicit_paddings: attr.ints([0, 0, 2, 1, 0, 3, 0, 0]) }, backend)
    expect(relDiff(ye, conv2d(xh, w, [2, 3], [[2, 1], [0, 3]], [2, 2]))).toBeLessThan(TOL)
    const yc = await oneOp('Conv2D', toNCHW(xh), w, { strides: attr.ints([1, 1, 2, 3]), dilations: attr.ints([1, 1, 2, 2]), padding: attr.s('SAME'), data_format: attr.s('NCHW') }, backend)
    expect(relDiff(yc, toNCHW(conv2d(xh, w, [2, 3], 'SAME', [2, 2])))).toBeLessThan(TOL)
  })

  it('Conv2DBackpropInput, NHWC SAME and NCHW VALID', async () => {
    const w = weights([3, 3, 2, 3], 22)
    const dy = image([1, 3, 3, 3], 23)
    const b = graph(dy.shape)
    b.constF32('w', w.shape, f32(w))
    b.constI32('sizes', [4], [1, 5, 6, 2])
    b.op('dx', 'Conv2DBackpropInput', ['sizes', 'w', 'x'], { T: F, strides: attr.ints([1, 2, 2, 1]), padding: attr.s('SAME') })
    expect(relDiff((await run(b, dy, ['dx'], backend)).get('dx')!, conv2dBackpropInput([1, 5, 6, 2], w, dy, [2, 2], 'SAME'))).toBeLessThan(TOL)

    const dyv = image([1, 2, 2, 3], 24)
    const c = graph([1, 3, 2, 2])
    c.constF32('w', w.shape, f32(w))
    c.constI32('sizes', [4], [1, 2, 5, 5])
    c.op('dx', 'Conv2DBackpropInput', ['sizes', 'w', 'x'], { T: F, strides: attr.ints([1, 1, 2, 2]), padding: attr.s('VALID'), data_format: attr.s('NCHW') })
    expect(relDiff((await run(c, toNCHW(dyv), ['dx'], backend)).get('dx')!, toNCHW(conv2dBackpropInput([1, 5, 5, 2], w, dyv, [2, 2], 'VALID')))).toBeLessThan(TOL)
  })

  it('FusedBatchNorm without is_training (TF: true) normalises with the batch statistics; is_training false with the given ones', async () => {
    const x = image([2, 3, 2, 3], 25)
    const [scale, offset] = [weights([3], 26), weights([3], 27)]
    const b = graph(x.shape)
    b.constF32('scale', [3], f32(scale))
    b.constF32('offset', [3], f32(offset))
    b.constF32('empty', [0], [])
    b.op('bn', 'FusedBatchNorm', ['x', 'scale', 'offset', 'empty', 'empty'], { T: F, epsilon: attr.f(0.01) })
    const out = await run(b, x, ['bn'], backend)
    const n = x.data.length / 3
    const mean = [0, 1, 2].map((c) => x.data.filter((_, i) => i % 3 === c).reduce((a, v) => a + v, 0) / n)
    const variance = [0, 1, 2].map((c) => x.data.filter((_, i) => i % 3 === c).reduce((a, v) => a + (v - mean[c]) ** 2, 0) / n)
    const eps = Math.fround(0.01)
    expect(relDiff(out.get('bn')!, perChannel(x, 3, (v, c) => ((v - mean[c]) / Math.sqrt(variance[c] + eps)) * scale.data[c] + offset.data[c]))).toBeLessThan(TOL)

    const given = graph(x.shape)
    for (const [n, v] of [['scale', scale], ['offset', offset], ['mean', weights([3], 35)], ['variance', weights([3], 36, 0.5, 1)]] as const) given.constF32(n, [3], f32(v))
    given.op('bn', 'FusedBatchNormV2', ['x', 'scale', 'offset', 'mean', 'variance'], { T: F, U: F, is_training: attr.b(false), epsilon: attr.f(0.01) })
    const [m, v] = [weights([3], 35).data, weights([3], 36, 0.5, 1).data]
    const outg = await run(given, x, ['bn'], backend)
    expect(relDiff(outg.get('bn')!, perChannel(x, 3, (t, c) => ((t - m[c]) / Math.sqrt(v[c] + eps)) * scale.data[c] + offset.data[c]))).toBeLessThan(TOL)
  })

  it('MatMul (transpose_b), Add/AddV2/Sub/Mul/RealDiv with broadcasting, Relu, Relu6, Softmax', async () => {
    const x = image([2, 5], 28)
    const w = weights([3, 5], 29)
    const k = weights([3], 30, 0.5, 2)
    const b = graph(x.shape)
    b.constF32('w', w.shape, f32(w))
    b.constF32('k', [3], f32(k))
    b.constF32('two', [], [2], { encoding: 'floatVal' })
    b.op('mm', 'MatMul', ['x', 'w'], { T: F, transpose_b: attr.b(true) })
    b.op('add', 'Add', ['mm', 'k'], { T: F })
    b.op('addv2', 'AddV2', ['add', 'two'], { T: F })
    b.op('sub', 'Sub', ['addv2', 'k'], { T: F })
    b.op('mul', 'Mul', ['sub', 'k'], { T: F })
    b.op('div', 'RealDiv', ['mul', 'two'], { T: F })
    b.op('relu', 'Relu', ['div'], { T: F })
    b.op('relu6', 'Relu6', ['mm'], { T: F })
    b.op('sm', 'Softmax', ['mm'], { T: F })
    const out = await run(b, x, ['div', 'relu', 'relu6', 'sm'], backend)
    const mm = matmul(x, w, false, true)
    const div = perChannel(mm, 1, (v, c) => ((v + k.data[c] + 2 - k.data[c]) * k.data[c]) / 2)
    expect(relDiff(out.get('div')!, div)).toBeLessThan(TOL)
    expect(relDiff(out.get('relu')!, { data: div.data.map((v) => Math.max(v, 0)), shape: div.shape })).toBeLessThan(TOL)
    expect(relDiff(out.get('relu6')!, { data: mm.data.map((v) => Math.min(Math.max(v, 0), 6)), shape: mm.shape })).toBeLessThan(TOL)
    expect(relDiff(out.get('sm')!, softmax(mm))).toBeLessThan(TOL)
  })

  it('Mean (keep_dims left out, and true), ConcatV2 and Concat, Pad, Squeeze (squeeze_dims left out), Transpose, Identity', async () => {
    const x = image([1, 2, 3, 2], 31)
    const b = graph(x.shape)
    b.constI32('hw', [2], [1, 2])
    b.op('mean', 'Mean', ['x', 'hw'], { T: F, Tidx: attr.type('DT_INT32') })
    b.op('meank', 'Mean', ['x', 'hw'], { T: F, Tidx: attr.type('DT_INT32'), keep_dims: attr.b(true) })
    b.constI32('axis', [], [3])
    b.constI32('pads', [4, 2], [0, 0, 1, 0, 0, 2, 0, 0])
    b.op('pad', 'Pad', ['x', 'pads'], { T: F })
    b.op('sq', 'Squeeze', ['meank'], { T: F })
    b.constI32('perm', [4], [0, 3, 1, 2])
    b.op('tr', 'Transpose', ['x', 'perm'], { T: F })
    b.op('id', 'Identity', ['tr'], { T: F })
    b.op('cat0', 'Concat', ['axis', 'x', 'x'], { T: F, N: attr.i(2) })
    const out = await run(b, x, ['mean', 'meank', 'pad', 'sq', 'id', 'cat0'], backend)
    const mean = [0, 1].map((c) => x.data.filter((_, i) => i % 2 === c).reduce((a, v) => a + v, 0) / 6)
    expect(relDiff(out.get('mean')!, t64(mean, [1, 2]))).toBeLessThan(TOL)
    expect(relDiff(out.get('meank')!, t64(mean, [1, 1, 1, 2]))).toBeLessThan(TOL)
    expect(relDiff(out.get('sq')!, t64(mean, [2]))).toBeLessThan(TOL)
    const pad = new Float64Array(1 * 3 * 5 * 2)
    for (let y = 0; y < 2; y++) for (let z = 0; z < 3; z++) for (let c = 0; c < 2; c++) pad[((y + 1) * 5 + z) * 2 + c] = x.data[(y * 3 + z) * 2 + c]
    expect(relDiff(out.get('pad')!, t64(pad, [1, 3, 5, 2]))).toBeLessThan(TOL)
    expect(relDiff(out.get('id')!, toNCHW(x))).toBeLessThan(TOL)
    const cat0 = new Float64Array(24)
    for (let p = 0; p < 6; p++) for (let c = 0; c < 4; c++) cat0[p * 4 + c] = x.data[p * 2 + (c % 2)]
    expect(relDiff(out.get('cat0')!, t64(cat0, [1, 2, 3, 4]))).toBeLessThan(TOL)
  })

  it('a control input is not a data input: ConcatV2 with ^dep still takes its axis from its last data input', async () => {
    const x = image([1, 2, 2, 2], 32)
    const b = graph(x.shape)
    b.constI32('axis', [], [3])
    b.op('dep', 'Relu', ['x'], { T: F })
    b.op('cat', 'ConcatV2', ['x', 'x', 'axis', '^dep'], { T: F, N: attr.i(2) })
    const out = await run(b, x, ['cat'], backend)
    const cat = new Float64Array(16)
    for (let p = 0; p < 4; p++) for (let c = 0; c < 4; c++) cat[p * 4 + c] = x.data[p * 2 + (c % 2)]
    expect(relDiff(out.get('cat')!, t64(cat, [1, 2, 2, 4]))).toBeLessThan(TOL)
  })

  it("Keras' Flatten: Shape, StridedSlice (masks left out but shrink_axis_mask), Pack, Reshape", async () => {
    const x = image([1, 2, 2, 3], 37)
    const b = graph(x.shape)
    b.op('shape', 'Shape', ['x'], { T: F, out_type: attr.type('DT_INT32') })
    b.constI32('begin', [1], [0])
    b.constI32('end', [1], [1])
    b.constI32('one', [1], [1])
    b.op('batch', 'StridedSlice', ['shape', 'begin', 'end', 'one'], { T: attr.type('DT_INT32'), Index: attr.type('DT_INT32'), shrink_axis_mask: attr.i(1) })
    b.constI32('minus1', [], [-1])
    b.op('dims', 'Pack', ['batch', 'minus1'], { T: attr.type('DT_INT32'), N: attr.i(2) })
    b.op('flat', 'Reshape', ['x', 'dims'], { T: F })
    const out = await run(b, x, ['flat'], backend)
    expect(relDiff(out.get('flat')!, t64(x.data, [1, 12]))).toBeLessThan(TOL)
  })

  it('a Reshape that flattens NCHW feeds MatMul in C, H, W order', async () => {
    const xh = image([1, 2, 2, 3], 33)
    const w = weights([12, 2], 34)
    const b = graph([1, 3, 2, 2])
    b.constI32('shape', [2], [-1, 12])
    b.op('flat', 'Reshape', ['x', 'shape'], { T: F, Tshape: attr.type('DT_INT32') })
    b.constF32('w', w.shape, f32(w))
    b.op('fc', 'MatMul', ['flat', 'w'], { T: F })
    const xc = toNCHW(xh)
    const out = await run(b, xc, ['fc'], backend)
    expect(relDiff(out.get('fc')!, matmul({ data: xc.data, shape: [1, 12] }, w))).toBeLessThan(TOL)
  })

  it('Dequantize quint8 MIN_FIRST, qint8 MIN_COMBINED and SCALED (narrow_range), as TF defines them', async () => {
    const q8 = [0, 1, 17, 128, 254, 255]
    const s8 = [-128, -127, -1, 0, 1, 127]
    const b = graph([6])
    b.constTensor('qu8', { dtype: 12, tensorShape: { dim: [{ size: 6 }] }, tensorContent: Uint8Array.from(q8) })
    b.constTensor('qs8', { dtype: 11, tensorShape: { dim: [{ size: 6 }] }, tensorContent: Uint8Array.from(s8.map((v) => v & 0xff)) })
    b.constF32('min', [], [-1.5], { encoding: 'floatVal' })
    b.constF32('max', [], [2.5], { encoding: 'floatVal' })
    const T8 = (t: 'DT_QUINT8' | 'DT_QINT8') => ({ T: attr.type(t) })
    b.op('first', 'Dequantize', ['qu8', 'min', 'max'], { ...T8('DT_QUINT8'), mode: attr.s('MIN_FIRST') })
    b.op('combined', 'Dequantize', ['qs8', 'min', 'max'], T8('DT_QINT8')) // mode left out: MIN_COMBINED
    b.op('scaled', 'Dequantize', ['qs8', 'min', 'max'], { ...T8('DT_QINT8'), mode: attr.s('SCALED'), narrow_range: attr.b(true) })
    for (const n of ['first', 'combined', 'scaled']) b.op(`${n}/out`, 'Mul', [n, 'x'], { T: F })
    const ones = t64([1, 1, 1, 1, 1, 1], [6])
    const out = await run(b, ones, ['first/out', 'combined/out', 'scaled/out'], backend)
    const [min, max] = [-1.5, 2.5]
    const rangeScale = ((max - min) * (256 / 255)) / 256
    expect(relDiff(out.get('first/out')!, t64(q8.map((q) => min + q * rangeScale), [6]))).toBeLessThan(TOL)
    expect(relDiff(out.get('combined/out')!, t64(s8.map((q) => min + ((q + 128) * (max - min)) / 255), [6]))).toBeLessThan(TOL)
    const s = Math.max(min / -127, max / 127)
    expect(relDiff(out.get('scaled/out')!, t64(s8.map((q) => q * s), [6]))).toBeLessThan(TOL)
  })

  it('Dequantize per slice along an axis (SCALED, qint8), and ranges that do not fit its axis refused', async () => {
    const s8 = [-128, -5, 0, 3, 64, 127]
    const b = graph([2, 3])
    b.constTensor('q', { dtype: 11, tensorShape: { dim: [{ size: 2 }, { size: 3 }] }, tensorContent: Uint8Array.from(s8.map((v) => v & 0xff)) })
    b.constF32('mins', [2], [-1, -0.5])
    b.constF32('maxs', [2], [2, 0.25])
    b.op('deq', 'Dequantize', ['q', 'mins', 'maxs'], { T: attr.type('DT_QINT8'), mode: attr.s('SCALED'), axis: attr.i(0) })
    b.op('out', 'Mul', ['deq', 'x'], { T: F })
    b.op('bad', 'Dequantize', ['q', 'mins', 'maxs'], { T: attr.type('DT_QINT8'), mode: attr.s('SCALED') }) // axis -1: one range expected
    const out = await run(b, t64([1, 1, 1, 1, 1, 1], [2, 3]), ['out'], backend)
    const scale = [Math.max(-1 / -128, 2 / 127), Math.max(-0.5 / -128, 0.25 / 127)]
    expect(relDiff(out.get('out')!, t64(s8.map((q, i) => q * scale[Math.floor(i / 3)]), [2, 3]))).toBeLessThan(TOL)
    const bad = await refusal(run(b, t64([1, 1, 1, 1, 1, 1], [2, 3]), ['bad'], backend))
    expect([bad.code, bad.node, bad.message]).toEqual(['SHAPE_MISMATCH', 'bad', 'case.pb: node "bad": Dequantize has 2 ranges for the whole tensor (axis -1)'])
  })

  it('FakeQuantWithMinMaxArgs (min, max left out: -6, 6) and FakeQuantWithMinMaxVars (narrow_range) nudge and round as TF does', async () => {
    const x = t64([-7, -5.9, -0.03, 0, 0.02, 0.024, 1.5, 5.99, 6.5], [9]) // none on a rounding edge
    const b = graph(x.shape)
    b.op('args', 'FakeQuantWithMinMaxArgs', ['x'], {})
    b.constF32('vmin', [], [-0.4], { encoding: 'floatVal' })
    b.constF32('vmax', [], [1.1], { encoding: 'floatVal' })
    b.op('vars', 'FakeQuantWithMinMaxVars', ['x', 'vmin', 'vmax'], { num_bits: attr.i(4), narrow_range: attr.b(true) })
    const out = await run(b, x, ['args', 'vars'], backend)
    // fake_quant_ops_functor.h: nudge the range so that zero is a quantization level, clamp, round to the grid.
    const fq = (min: number, max: number, qmin: number, qmax: number) => {
      const scale = (max - min) / (qmax - qmin)
      const zf = qmin - min / scale
      const zp = zf < qmin ? qmin : zf > qmax ? qmax : Math.round(zf)
      const [lo, hi] = [(qmin - zp) * scale, (qmax - zp) * scale]
      return t64(x.data.map((v) => Math.floor((Math.min(Math.max(v, lo), hi) - lo) / scale + 0.5) * scale + lo), [9])
    }
    expect(relDiff(out.get('args')!, fq(-6, 6, 0, 255))).toBeLessThan(TOL)
    expect(relDiff(out.get('vars')!, fq(Math.fround(-0.4), Math.fround(1.1), 1, 15))).toBeLessThan(TOL)
  })

  it('CheckNumerics (and V2, and PreventGradient) pass their input through; on a NaN it fails naming its node and message (run through a control input)', async () => {
    const b = graph([3])
    b.op('check', 'CheckNumerics', ['x'], { T: F, message: attr.s('Input is NOT finite') })
    b.op('out', 'Identity', ['x', '^check'], { T: F })
    b.op('v2', 'CheckNumericsV2', ['x'], { T: F, message: attr.s('v2') })
    b.op('pg', 'PreventGradient', ['v2'], { T: F, message: attr.s('no gradient') })
    const ok = await run(b, t64([1, 2, 3], [3]), ['out', 'pg'], backend)
    expect(Array.from(ok.get('out')!.data)).toEqual([1, 2, 3])
    expect(Array.from(ok.get('pg')!.data)).toEqual([1, 2, 3])
    // Under another file name than the references before it: the error names this one.
    const ref = await createReference(parseModel(b.encode(), 'checked.pb'), { input: 'x', outputs: ['out'], backend, file: 'checked.pb' })
    const err = await refusal(ref.run(Float32Array.of(1, NaN, 3), [3]))
    ref.dispose()
    expect(err).toBeInstanceOf(MpscnnError)
    expect(err.code).toBe('NON_FINITE')
    expect(err.message).toBe('checked.pb: node "check": CheckNumerics: Input is NOT finite : Tensor had NaN values')
  })
})

describe('reference: graph handling', () => {
  it('is fed at an inner node: what is upstream of it (ops tfjs lacks included) is pruned; runAll gives every TF node by name', async () => {
    const b = new GraphBuilder()
    b.placeholder('DecodeJpeg/contents', [], 'DT_STRING')
    b.op('DecodeJpeg', 'DecodeJpeg', ['DecodeJpeg/contents'], { channels: attr.i(3) })
    b.op('Cast', 'Cast', ['DecodeJpeg'], { DstT: F, SrcT: attr.type('DT_UINT8') })
    b.constF32('Mul/y', [], [0.5], { encoding: 'floatVal' })
    b.op('Mul', 'Mul', ['Cast', 'Mul/y'], { T: F })
    b.op('relu', 'Relu', ['Mul'], { T: F })
    b.constF32('two', [], [2], { encoding: 'floatVal' })
    b.op('out', 'Mul', ['relu', 'two'], { T: F })
    const ref = await createReference(parseModel(b.encode(), 'm.pb'), { input: 'Mul', outputs: ['out'], file: 'm.pb' })
    expect(ref.nodes).toEqual(['Mul', 'relu', 'out'])
    const all = await ref.runAll(Float32Array.of(-1, 3), [2])
    expect([...all.keys()]).toEqual(['Mul', 'relu', 'out'])
    expect(Array.from(all.get('relu')!.data)).toEqual([0, 3])
    expect(Array.from(all.get('out')!.data)).toEqual([0, 6])
    ref.dispose()
  })

  it('refuses, with one MpscnnError naming the node: an op tfjs lacks after the input, another placeholder, unknown names', async () => {
    const b = graph([2])
    b.op('odd', 'Bucketize', ['x'], { T: F, boundaries: attr.floats([0]) })
    b.placeholder('other', [2])
    b.op('sum', 'Add', ['x', 'other'], { T: F })
    const def = parseModel(b.encode(), 'm.pb')
    const fail = (outputs: string[], input = 'x') => refusal(createReference(def, { input, outputs, file: 'm.pb' }))
    const odd = await fail(['odd'])
    expect([odd.code, odd.node, odd.message]).toEqual([
      'UNSUPPORTED',
      'odd',
      'm.pb: node "odd": op Bucketize is not supported by the reference (TensorFlow.js has no kernel for it). Feed the reference after it, or export the graph without it',
    ])
    const other = await fail(['sum'])
    expect([other.code, other.node]).toEqual(['BAD_GRAPH', 'other'])
    // What the reference cannot run as TF defines it is refused, not run the tfjs way.
    b.op('pool', 'MaxPool', ['x'], { T: F, ksize: attr.ints([1, 1, 1, 1]), strides: attr.ints([1, 1, 1, 1]), padding: attr.s('EXPLICIT') })
    b.op('d2s', 'DepthToSpace', ['x'], { T: F, block_size: attr.i(2), data_format: attr.s('NCHW') })
    b.op('deq', 'Dequantize', ['x', 'x', 'x'], {})
    const def2 = parseModel(b.encode(), 'm.pb')
    const refused = async (out: string) => {
      const e = await refusal(createReference(def2, { input: 'x', outputs: [out], file: 'm.pb' }))
      return `${e.code} ${e.node}: ${e.message.slice(e.message.indexOf(': ', 6) + 2)}`
    }
    expect(await refused('pool')).toBe('UNSUPPORTED pool: MaxPool with EXPLICIT padding is not supported by the reference. Pad explicitly with a Pad node')
    expect(await refused('d2s')).toBe('UNSUPPORTED d2s: DepthToSpace with data_format NCHW is not supported by the reference. Export the graph in NHWC')
    expect(await refused('deq')).toBe('BAD_GRAPH deq: Dequantize has no T attribute, which TensorFlow requires. The graph is damaged; export it again')
    expect((await fail(['nope'])).message).toBe('m.pb: no node named "nope" (a reference output). Name existing output nodes')
    expect((await fail(['sum'], 'nope')).message).toBe('m.pb: no node named "nope" (the reference\'s input). Name the node whose output is the network input')
  })

  it('validates its options; names the input when it is fed the wrong size, and the node that fails on a shape it cannot take', async () => {
    const b = graph([1, 4, 4, 2])
    b.constF32('w', [1, 1, 2, 1], [1, 1])
    b.op('relu', 'Relu', ['x'], { T: F })
    b.op('conv', 'Conv2D', ['relu', 'w'], { T: F, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
    b.op('out', 'Relu', ['conv'], { T: F })
    const def = parseModel(b.encode(), 'm.pb')
    await expect(createReference(def, { input: 'x', outputs: ['out'], backend: 'gpu' as 'cpu' })).rejects.toThrow(
      new TypeError(`unplugin-mpscnn: option backend must be 'cpu' or 'wasm', got "gpu"`),
    )
    await expect(createReference(def, { input: 'x', outputs: [] })).rejects.toThrow(/option outputs must be a non-empty array of node names, got \[\]/)
    const ref = await createReference(def, { input: 'x', outputs: ['out'], file: 'm.pb' })
    const size = await refusal(ref.run(new Float32Array(5), [1, 4, 4, 2]))
    expect([size.code, size.message]).toEqual(['SHAPE_MISMATCH', 'm.pb: node "x": the input has 5 values but shape [1, 4, 4, 2] holds 32'])
    const depth = await refusal(ref.run(new Float32Array(48), [1, 4, 4, 3]))
    expect([depth.code, depth.node]).toEqual(['REFERENCE_FAILED', 'conv'])
    expect(depth.message).toMatch(/^m\.pb: node "conv": TensorFlow\.js could not run the graph: .*depth of input \(3\) must match input depth for filter 2/)
    ref.dispose()
  })
})

describe('reference: the 2015 Inception graph (scale 16), fed at Mul', () => {
  const { bytes } = makeInceptionV3_2015({ scale: 16, expected: false })
  const def = parseModel(bytes, 'inception_2015.pb')
  const constant = (name: string): T64 => {
    const node = def.node.find((n) => n.name === name)!
    const t = tensorFromProto(node.attr.value.tensor!, 'inception_2015.pb', name)
    return t64(t.data, t.shape)
  }
  /** conv + BatchNormWithGlobalNormalization (scale_after_normalization) + Relu of layer `prefix`, from the graph's constants. */
  const layer = (prefix: string, x: T64, stride: number, padding: 'SAME' | 'VALID'): T64 => {
    const [beta, gamma, mean, variance] = ['beta', 'gamma', 'moving_mean', 'moving_variance'].map((k) => constant(`${prefix}/batchnorm/${k}`).data)
    const eps = Math.fround(0.001)
    const y = conv2d(x, constant(`${prefix}/conv2d_params`), [stride, stride], padding)
    return perChannel(y, 3, (v, c) => Math.max(0, ((v - mean[c]) / Math.sqrt(variance[c] + eps)) * gamma[c] + beta[c]))
  }
  const x = image([1, 299, 299, 3], 40)

  it('cpu: the first conv + batch norm + relu layer, against float64', async () => {
    const ref = await createReference(def, { input: 'Mul', outputs: ['conv'], backend: 'cpu', file: 'inception_2015.pb' })
    expect(ref.nodes).toEqual(['Mul', 'conv/Conv2D', 'conv/batchnorm', 'conv/CheckNumerics', 'conv/control_dependency', 'conv'])
    const out = await ref.run(Float32Array.from(x.data), x.shape)
    expect(relDiff(out.get('conv')!, layer('conv', x, 2, 'VALID'))).toBeLessThan(TOL)
    ref.dispose()
  })

  it('wasm, every tensor: conv_1 from conv, a join of four branches, the classifier from pool_3, against float64', async () => {
    const ref = await createReference(def, { input: 'Mul', outputs: ['softmax'], backend: 'wasm', file: 'inception_2015.pb' })
    const all = await ref.runAll(Float32Array.from(x.data), x.shape)
    expect([...all.keys()]).toEqual(ref.nodes)
    expect(all.get('softmax')!.shape).toEqual([1, 1008])
    const get = (n: string): T64 => ({ data: Float64Array.from(all.get(n)!.data), shape: all.get(n)!.shape })
    expect(relDiff(all.get('conv_1')!, layer('conv_1', get('conv'), 1, 'VALID'))).toBeLessThan(TOL)
    const branches = ['mixed/conv', 'mixed/tower/conv_1', 'mixed/tower_1/conv_2', 'mixed/tower_2/conv'].map(get)
    const [n, h, w] = branches[0].shape
    const C = branches.reduce((a, b) => a + b.shape[3], 0)
    const join = new Float64Array(n * h * w * C)
    for (let p = 0; p < n * h * w; p++) {
      let at = 0
      for (const b of branches) {
        const c = b.shape[3]
        for (let k = 0; k < c; k++) join[p * C + at + k] = b.data[p * c + k]
        at += c
      }
    }
    expect(relDiff(all.get('mixed/join')!, t64(join, [n, h, w, C]))).toBeLessThan(TOL)
    const biases = constant('softmax/biases').data
    const logits = perChannel(matmul(get('pool_3/_reshape'), constant('softmax/weights')), 1, (v, c) => v + biases[c])
    expect(relDiff(all.get('softmax')!, softmax(logits))).toBeLessThan(TOL)
    ref.dispose()
  })
})
