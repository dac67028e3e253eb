/**
 * Every graph spelling the converter folds, each built here as a small GraphDef and
 * checked against values computed straight from the formulas, in float64.
 */
import { describe, expect, it } from 'vitest'
import { convertModel, type OutputLayer } from '../src/fold/convert.js'
import { attr, encodeGraphDef, float32ToFloat16Bits, GraphBuilder, roundToBfloat16, roundToFloat16 } from './helpers/graph-builder.js'
import { formatGraphDefText } from './helpers/pbtxt-writer.js'

function rng(seed: number) {
  return () => {
    seed |= 0
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const rand = rng(42)
const randn = (n: number, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * rand()))

function convert(b: GraphBuilder, opts: { precision?: 'float32' | 'float16'; text?: boolean } = {}) {
  const g = b.graph()
  const bytes = opts.text ? new TextEncoder().encode(formatGraphDefText(g)) : encodeGraphDef(g)
  const m = convertModel(bytes, { file: opts.text ? 'test.pbtxt' : 'test.pb', precision: opts.precision })
  return { model: m, outputs: [...m.outputs()] }
}

/** Expected MPSCNN weights of a Conv2D filter [kh][kw][in][out], each output row scaled. */
function convOracle(w: Float32Array, kh: number, kw: number, cin: number, cout: number, s: ArrayLike<number>): Float32Array {
  const out = new Float32Array(w.length)
  for (let o = 0; o < cout; o++)
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let i = 0; i < cin; i++) out[((o * kh + y) * kw + x) * cin + i] = w[((y * kw + x) * cin + i) * cout + o] * s[o]
  return out
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5) {
  expect(actual.length).toBe(expected.length)
  let max = 0
  for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(actual[i] - expected[i]))
  expect(max).toBeLessThanOrEqual(tol)
}

interface Conv {
  b: GraphBuilder
  w: Float32Array
  kh: number
  kw: number
  cin: number
  cout: number
  out: string
}

/** input -> Conv2D with weights `scope/weights` (with `read`, through an Identity `scope/weights/read`, as TF 1 froze variables). */
function conv(opts: { kh?: number; kw?: number; cin?: number; cout?: number; nchw?: boolean; scope?: string; b?: GraphBuilder; input?: string; read?: boolean } = {}): Conv {
  const { kh = 3, kw = 2, cin = 3, cout = 5, nchw = false, scope = 'conv1' } = opts
  const b = opts.b ?? new GraphBuilder()
  const input = opts.input ?? 'input'
  if (!b.has(input)) b.placeholder(input, nchw ? [1, cin, 8, 8] : [1, 8, 8, cin])
  const w = randn(kh * kw * cin * cout)
  const weights = b.const(`${scope}/weights`, { shape: [kh, kw, cin, cout], values: w })
  const filter = opts.read ? b.op(`${weights}/read`, 'Identity', [weights]) : weights
  const out = b.op(`${scope}/Conv2D`, 'Conv2D', [input, filter], {
    T: attr.type('DT_FLOAT'),
    strides: attr.ints(nchw ? [1, 1, 2, 1] : [1, 2, 1, 1]),
    padding: attr.s('SAME'),
    data_format: attr.s(nchw ? 'NCHW' : 'NHWC'),
  })
  return { b, w, kh, kw, cin, cout, out }
}

function bnParams(c: number) {
  return {
    gamma: randn(c, 0.5, 2),
    beta: randn(c),
    mean: randn(c),
    variance: randn(c, 0.1, 3),
  }
}

function vec(b: GraphBuilder, name: string, v: Float32Array, shape: number[] = [v.length]) {
  return b.const(name, { shape, values: v })
}

function expectBn(l: OutputLayer, c: Conv, p: ReturnType<typeof bnParams>, eps: number, opts: { useGamma?: boolean; convBias?: Float32Array } = {}) {
  const useGamma = opts.useGamma ?? true
  const s = Array.from({ length: c.cout }, (_, o) => (useGamma ? p.gamma[o] : 1) / Math.sqrt(p.variance[o] + eps))
  const bias = s.map((so, o) => p.beta[o] + ((opts.convBias?.[o] ?? 0) - p.mean[o]) * so)
  close(l.weights, convOracle(c.w, c.kh, c.kw, c.cin, c.cout, s))
  close(l.bias, bias)
}

describe('BatchNormWithGlobalNormalization', () => {
  for (const sa of [true, false]) {
    it(`folds with scale_after_normalization ${sa}${sa ? '' : ' (gamma ignored)'}`, () => {
      const c = conv()
      const p = bnParams(c.cout)
      const { b } = c
      vec(b, 'conv1/bn/mean', p.mean)
      vec(b, 'conv1/bn/variance', p.variance)
      vec(b, 'conv1/bn/beta', p.beta)
      vec(b, 'conv1/bn/gamma', p.gamma)
      b.op('conv1/bn', 'BatchNormWithGlobalNormalization', [c.out, 'conv1/bn/mean', 'conv1/bn/variance', 'conv1/bn/beta', 'conv1/bn/gamma'], {
        variance_epsilon: attr.f(0.001),
        scale_after_normalization: attr.b(sa),
      })
      b.op('conv1/relu', 'Relu', ['conv1/bn'])
      for (const text of [false, true]) {
        const { outputs, model } = convert(b, { text })
        expect(outputs).toHaveLength(1)
        expect(model.layers[0]).toMatchObject({ name: 'conv1', kind: 'conv', activation: 'relu', padding: 'same', strideY: 2, strideX: 1, weightShape: [5, 3, 2, 3] })
        expectBn(outputs[0], c, p, Math.fround(0.001), { useGamma: sa })
      }
    })
  }
})

describe('FusedBatchNorm', () => {
  for (const op of ['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3']) {
    for (const nchw of [false, true]) {
      it(`${op} ${nchw ? 'NCHW' : 'NHWC'}, epsilon from the attribute`, () => {
        const c = conv({ nchw })
        const p = bnParams(c.cout)
        const { b } = c
        vec(b, 'bn/gamma', p.gamma)
        vec(b, 'bn/beta', p.beta)
        vec(b, 'bn/mean', p.mean)
        vec(b, 'bn/variance', p.variance)
        b.op('bn/FusedBatchNorm', op, [c.out, 'bn/gamma', 'bn/beta', 'bn/mean', 'bn/variance'], {
          epsilon: attr.f(0.01),
          is_training: attr.b(false),
          data_format: attr.s(nchw ? 'NCHW' : 'NHWC'),
        })
        b.op('relu', 'Relu6', ['bn/FusedBatchNorm'])
        const { outputs, model } = convert(b)
        expect(model.layers[0]).toMatchObject({ activation: 'relu6', strideY: 2, strideX: 1 })
        expect(model.warnings).toEqual([])
        expectBn(outputs[0], c, p, Math.fround(0.01))
      })
    }
  }

  it('an absent epsilon is 0.0001, and an absent data_format NHWC', () => {
    const c = conv()
    const p = bnParams(c.cout)
    const { b } = c
    for (const [k, v] of Object.entries(p)) vec(b, `bn/${k}`, v)
    b.op('bn', 'FusedBatchNormV3', [c.out, 'bn/gamma', 'bn/beta', 'bn/mean', 'bn/variance'], { is_training: attr.b(false) })
    expectBn(convert(b).outputs[0], c, p, Math.fround(0.0001))
  })

  for (const given of [true, undefined]) {
    it(`is_training ${given === undefined ? 'absent (default true)' : 'true'} is an error`, () => {
      const c = conv()
      const p = bnParams(c.cout)
      const { b } = c
      for (const [k, v] of Object.entries(p)) vec(b, `bn/${k}`, v)
      b.op('bn', 'FusedBatchNorm', [c.out, 'bn/gamma', 'bn/beta', 'bn/mean', 'bn/variance'], given === undefined ? {} : { is_training: attr.b(true) })
      expect(() => convert(b)).toThrow(/node "bn": FusedBatchNorm has is_training=true/)
    })
  }
})

describe('batch norm spelled out with elementwise ops', () => {
  it('tf.nn.batch_normalization: x * (gamma * rsqrt(var + eps)) + (beta - mean * ...)', () => {
    const c = conv()
    const p = bnParams(c.cout)
    const { b } = c
    for (const [k, v] of Object.entries(p)) vec(b, `bn/${k}/read`, v)
    b.const('bn/add/y', { shape: [], values: [0.001] })
    b.op('bn/add', 'Add', ['bn/variance/read', 'bn/add/y'])
    b.op('bn/Rsqrt', 'Rsqrt', ['bn/add'])
    b.op('bn/mul', 'Mul', ['bn/Rsqrt', 'bn/gamma/read'])
    b.op('bn/mul_1', 'Mul', [c.out, 'bn/mul'])
    b.op('bn/mul_2', 'Mul', ['bn/mean/read', 'bn/mul'])
    b.op('bn/sub', 'Sub', ['bn/beta/read', 'bn/mul_2'])
    b.op('bn/add_1', 'AddV2', ['bn/mul_1', 'bn/sub'])
    b.op('relu', 'Relu', ['bn/add_1'])
    const { outputs, model } = convert(b)
    expect(model.layers[0].folded).toEqual(['bn/mul_1', 'bn/add_1'])
    expect(model.layers[0].activation).toBe('relu')
    expect(model.warnings).toEqual([])
    expectBn(outputs[0], c, p, Math.fround(0.001))
  })

  it('Keras-1: (x - mean) / sqrt(var + eps) * gamma + beta, NCHW constants shaped [C,1,1]', () => {
    const c = conv({ nchw: true })
    const p = bnParams(c.cout)
    const { b } = c
    for (const [k, v] of Object.entries(p)) vec(b, `bn/${k}`, v, [c.cout, 1, 1])
    b.const('bn/eps', { shape: [], values: [1e-3] })
    b.op('bn/sub', 'Sub', [c.out, 'bn/mean'])
    b.op('bn/add', 'Add', ['bn/variance', 'bn/eps'])
    b.op('bn/Sqrt', 'Sqrt', ['bn/add'])
    b.op('bn/truediv', 'RealDiv', ['bn/sub', 'bn/Sqrt'])
    b.op('bn/mul', 'Mul', ['bn/truediv', 'bn/gamma'])
    b.op('bn/add_1', 'Add', ['bn/mul', 'bn/beta'])
    const { outputs } = convert(b)
    expectBn(outputs[0], c, p, Math.fround(1e-3))
  })

  it('constant on the left of Sub flips the sign: c - conv(x)', () => {
    const c = conv()
    const k = randn(c.cout)
    vec(c.b, 'k', k)
    c.b.op('neg', 'Sub', ['k', c.out])
    const { outputs } = convert(c.b)
    close(outputs[0].weights, convOracle(c.w, c.kh, c.kw, c.cin, c.cout, new Array(c.cout).fill(-1)))
    close(outputs[0].bias, k)
  })
})

describe('conv bias before the batch norm', () => {
  for (const op of ['BiasAdd', 'Add', 'AddV2']) {
    it(`${op} of a constant, then BN: b' = beta + (b - mean) * s`, () => {
      const c = conv()
      const p = bnParams(c.cout)
      const bias = randn(c.cout)
      const { b } = c
      vec(b, 'conv1/biases', bias)
      b.op('conv1/BiasAdd', op, [c.out, 'conv1/biases'])
      for (const [k, v] of Object.entries(p)) vec(b, `bn/${k}`, v)
      b.op('bn', 'FusedBatchNormV3', ['conv1/BiasAdd', 'bn/gamma', 'bn/beta', 'bn/mean', 'bn/variance'], { is_training: attr.b(false), epsilon: attr.f(0.001) })
      expectBn(convert(b).outputs[0], c, p, Math.fround(0.001), { convBias: bias })
    })
  }
})

it('a convolution with no bias and no BN gets a zero bias', () => {
  const c = conv()
  const { outputs, model } = convert(c.b)
  expect(model.layers[0].activation).toBe('none')
  close(outputs[0].weights, convOracle(c.w, c.kh, c.kw, c.cin, c.cout, new Array(c.cout).fill(1)))
  expect(Array.from(outputs[0].bias)).toEqual(new Array(c.cout).fill(0))
})

describe('DepthwiseConv2dNative', () => {
  for (const mult of [1, 3]) {
    it(`multiplier ${mult}`, () => {
      const b = new GraphBuilder()
      const [kh, kw, cin] = [3, 3, 4]
      b.placeholder('input', [1, 8, 8, cin])
      const w = randn(kh * kw * cin * mult)
      b.const('MobilenetV1/Conv2d_1_depthwise/depthwise_weights', { shape: [kh, kw, cin, mult], values: w })
      b.op('MobilenetV1/Conv2d_1_depthwise/depthwise_weights/read', 'Identity', ['MobilenetV1/Conv2d_1_depthwise/depthwise_weights'])
      b.op('dw', 'DepthwiseConv2dNative', ['input', 'MobilenetV1/Conv2d_1_depthwise/depthwise_weights/read'], {
        strides: attr.ints([1, 2, 2, 1]),
        padding: attr.s('VALID'),
      })
      const { outputs, model } = convert(b)
      const l = model.layers[0]
      expect(l.name).toBe('MobilenetV1_Conv2d_1_depthwise')
      const out = cin * mult
      const expected = new Float32Array(w.length)
      // Output channel c * mult + m, weights [out][kh][kw](1).
      for (let c = 0; c < cin; c++)
        for (let m = 0; m < mult; m++)
          for (let k = 0; k < kh * kw; k++) expected[(c * mult + m) * kh * kw + k] = w[(k * cin + c) * mult + m]
      close(outputs[0].weights, expected, 0)
      if (mult === 1) {
        expect(l).toMatchObject({ kind: 'depthwise', inputChannels: 4, outputChannels: 4, weightShape: [4, 3, 3], padding: 'valid', strideX: 2 })
      } else {
        expect(l).toMatchObject({ kind: 'conv', groups: 4, inputChannels: 4, outputChannels: out, weightShape: [out, 3, 3, 1] })
      }
    })
  }
})

describe('MatMul (fully connected)', () => {
  for (const tb of [false, true]) {
    for (const addOp of ['BiasAdd', 'Add']) {
      it(`transpose_b ${tb}, then ${addOp}`, () => {
        const b = new GraphBuilder()
        const [cin, cout] = [6, 4]
        b.placeholder('pool', [1, cin])
        const w = randn(cin * cout)
        const bias = randn(cout)
        b.const('logits/weights', { shape: tb ? [cout, cin] : [cin, cout], values: w })
        b.const('logits/biases', { shape: [cout], values: bias })
        b.op('logits/MatMul', 'MatMul', ['pool', 'logits/weights'], { transpose_b: attr.b(tb), transpose_a: attr.b(false) })
        b.op('logits/add', addOp, ['logits/MatMul', 'logits/biases'])
        const { outputs, model } = convert(b)
        expect(model.layers[0]).toMatchObject({ name: 'logits', kind: 'fullyConnected', weightShape: [cout, 1, 1, cin] })
        const expected = new Float32Array(cin * cout)
        for (let o = 0; o < cout; o++) for (let i = 0; i < cin; i++) expected[o * cin + i] = tb ? w[o * cin + i] : w[i * cout + o]
        close(outputs[0].weights, expected, 0)
        close(outputs[0].bias, bias, 0)
      })
    }
  }
})

describe('constant encodings and dtypes', () => {
  const cases = [
    { dtype: 'float32', encoding: 'content' },
    { dtype: 'float32', encoding: 'floatVal' },
    { dtype: 'float32', encoding: 'floatVal', unpacked: true },
    { dtype: 'float16', encoding: 'content' },
    { dtype: 'float16', encoding: 'floatVal' },
    { dtype: 'bfloat16', encoding: 'content' },
    { dtype: 'bfloat16', encoding: 'floatVal' },
    { dtype: 'float64', encoding: 'content' },
    { dtype: 'float64', encoding: 'floatVal' },
  ] as const
  for (const cs of cases) {
    it(`weights as ${cs.dtype} ${cs.encoding}${'unpacked' in cs ? ' unpacked' : ''}, also through Cast and pbtxt`, () => {
      const b = new GraphBuilder()
      const [kh, kw, cin, cout] = [1, 2, 3, 4]
      b.placeholder('input', [1, 4, 4, cin])
      const w = randn(kh * kw * cin * cout)
      b.const('c/kernel', { dtype: cs.dtype, encoding: cs.encoding, unpacked: 'unpacked' in cs, shape: [kh, kw, cin, cout], values: w })
      b.op('c/kernel/Cast', 'Cast', ['c/kernel'], { SrcT: attr.type('DT_HALF'), DstT: attr.type('DT_FLOAT') })
      b.op('c/Conv2D', 'Conv2D', ['input', 'c/kernel/Cast'], { strides: attr.ints([1, 1, 1, 1]), padding: attr.s('VALID') })
      const round = cs.dtype === 'float16' ? roundToFloat16 : cs.dtype === 'bfloat16' ? roundToBfloat16 : (v: number) => v
      const expected = convOracle(Float32Array.from(w, round), kh, kw, cin, cout, [1, 1, 1, 1])
      for (const text of [false, true]) {
        const { outputs, model } = convert(b, { text })
        expect(model.layers[0].name).toBe('c')
        close(outputs[0].weights, expected, 0)
      }
    })
  }

  it('a splat bias (one value for the whole shape) and the short form (last value repeats)', () => {
    const c = conv({ cout: 6 })
    c.b.const('c/bias', { shape: [6], values: [0.5], encoding: 'splat' })
    c.b.op('c/BiasAdd', 'BiasAdd', [c.out, 'c/bias'])
    c.b.const('c/scale', { shape: [6], values: [2, 3, 4, 4, 4, 4], encoding: 'short' })
    c.b.op('c/mul', 'Mul', ['c/BiasAdd', 'c/scale'])
    const { outputs } = convert(c.b)
    close(outputs[0].bias, [1, 1.5, 2, 2, 2, 2])
    close(outputs[0].weights, convOracle(c.w, c.kh, c.kw, c.cin, c.cout, [2, 3, 4, 4, 4, 4]))
  })

  it('float32 tensor_content at an unaligned offset is copied, at an aligned one viewed in place', () => {
    // Names of different lengths shift the content's offset in the file.
    for (const scope of ['a', 'ab', 'abc', 'abcd']) {
      const c = conv({ scope })
      close(convert(c.b).outputs[0].weights, convOracle(c.w, c.kh, c.kw, c.cin, c.cout, new Array(c.cout).fill(1)), 0)
    }
  })
})

describe('output precision', () => {
  it('float16 weights are IEEE half bits rounded to nearest even; bias stays float32', () => {
    const c = conv()
    const { outputs, model } = convert(c.b, { precision: 'float16' })
    expect(model.precision).toBe('float16')
    expect(outputs[0].weights).toBeInstanceOf(Uint16Array)
    expect(outputs[0].bias).toBeInstanceOf(Float32Array)
    const f32 = convOracle(c.w, c.kh, c.kw, c.cin, c.cout, new Array(c.cout).fill(1))
    expect(Array.from(outputs[0].weights)).toEqual(Array.from(f32, float32ToFloat16Bits))
  })
})

describe('warnings for what cannot be folded', () => {
  it('a batch norm applied to the network input is named in a warning, never dropped', () => {
    const b = new GraphBuilder()
    b.placeholder('input', [1, 8, 8, 3])
    const p = bnParams(3)
    for (const [k, v] of Object.entries(p)) vec(b, `in_bn/${k}`, v)
    b.op('in_bn', 'FusedBatchNormV3', ['input', 'in_bn/gamma', 'in_bn/beta', 'in_bn/mean', 'in_bn/variance'], { is_training: attr.b(false) })
    conv({ b, input: 'in_bn' })
    const { model } = convert(b)
    expect(model.warnings).toHaveLength(1)
    expect(model.warnings[0]).toMatch(/FusedBatchNormV3 "in_bn"/)
  })

  it('a conv feeding two consumers keeps its BN unfolded, and says so', () => {
    const c = conv()
    const p = bnParams(c.cout)
    for (const [k, v] of Object.entries(p)) vec(c.b, `bn/${k}`, v)
    c.b.op('bn', 'FusedBatchNormV3', [c.out, 'bn/gamma', 'bn/beta', 'bn/mean', 'bn/variance'], { is_training: attr.b(false) })
    c.b.op('side', 'Relu', [c.out])
    const { model, outputs } = convert(c.b)
    expect(model.layers[0].folded).toEqual([])
    expect(model.warnings[0]).toMatch(/FusedBatchNormV3 "bn"/)
    close(outputs[0].weights, convOracle(c.w, c.kh, c.kw, c.cin, c.cout, new Array(c.cout).fill(1)))
  })
})

it('layers come out in graph order, named after the weight constant, whose values reach the Conv2D through Identity /read', () => {
  const b = new GraphBuilder()
  b.placeholder('input', [1, 8, 8, 3])
  const first = conv({ b, scope: 'block/b', cout: 4, read: true })
  const second = conv({ b, scope: 'block/a', cin: 4, input: first.out })
  expect(b.graph().node.find((n) => n.name === first.out)!.input).toEqual(['input', 'block/b/weights/read'])
  const { model, outputs } = convert(b)
  expect(model.layers.map((l) => l.name)).toEqual(['block_b', 'block_a'])
  for (const [i, c] of [first, second].entries()) close(outputs[i].weights, convOracle(c.w, c.kh, c.kw, c.cin, c.cout, new Array(c.cout).fill(1)))
})
