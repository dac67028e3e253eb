/**
 * The graph kinds the network description covers, one named builder per kind, built with the
 * project's graph builder and seeded weights. test/network.test.ts and test/mobilenet.test.ts
 * check how each is described; test/verify-kinds.test.ts runs each converted network against
 * the reference.
 *
 * Nothing here imports vitest.
 */
import { DataType, type TensorProto } from '../../src/graphdef/schema.js'
import { attr, GraphBuilder, shapeProto } from './graph-builder.js'
import { mulberry32 } from './inception.js'

export const T = { T: attr.type('DT_FLOAT') }

/** Seeded values uniform in [lo, hi) (float32). */
export type Randn = (n: number, lo?: number, hi?: number) => Float32Array

export function seeded(seed: number): Randn {
  const r = mulberry32(seed)
  return (n, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => lo + r() * (hi - lo))
}

export interface ConvOptions {
  k?: number | [number, number]
  cin: number
  cout: number
  stride?: number
  padding?: string
  dilation?: number
  nchw?: boolean
}

/** A Conv2D with seeded constant weights [kh, kw, cin, cout]; returns its output's name. */
export function conv(b: GraphBuilder, randn: Randn, name: string, input: string, o: ConvOptions): string {
  const [kh, kw] = Array.isArray(o.k) ? o.k : [o.k ?? 3, o.k ?? 3]
  const s = o.stride ?? 1
  const d = o.dilation ?? 1
  b.constF32(`${name}/weights`, [kh, kw, o.cin, o.cout], randn(kh * kw * o.cin * o.cout))
  return b.op(`${name}/Conv2D`, 'Conv2D', [input, `${name}/weights`], {
    ...T,
    strides: attr.ints(o.nchw ? [1, 1, s, s] : [1, s, s, 1]),
    dilations: attr.ints([1, d, d, 1]),
    padding: attr.s(o.padding ?? 'SAME'),
    data_format: attr.s(o.nchw ? 'NCHW' : 'NHWC'),
  })
}

function input(name: string, shape: number[]): GraphBuilder {
  const b = new GraphBuilder()
  b.placeholder(name, shape)
  return b
}

export interface PaddingCase {
  /** The convolution's scope: its output is `<name>/Conv2D`. */
  name: string
  k: number
  s: number
  d: number
  padding: 'SAME' | 'VALID'
}

/** The padding matrix: on a `size` x `size + 3` x 2 input, one convolution (2 -> 4 channels) per case, all read `x`. */
export function paddingConvs(size: number, cases: readonly PaddingCase[], seed = 1): GraphBuilder {
  const randn = seeded(seed)
  const b = input('x', [1, size, size + 3, 2])
  for (const c of cases) conv(b, randn, c.name, 'x', { k: c.k, cin: 2, cout: 4, stride: c.s, padding: c.padding, dilation: c.d })
  return b
}

/** An explicit zero Pad read by a VALID convolution and a VALID max pool (both fold it), their sum. */
export function explicitPad(seed = 2): GraphBuilder {
  const randn = seeded(seed)
  const b = input('x', [1, 8, 9, 4])
  b.constI32('pads', [4, 2], [0, 0, 2, 1, 0, 3, 0, 0])
  b.op('pad', 'Pad', ['x', 'pads'], T)
  conv(b, randn, 'c', 'pad', { k: 3, cin: 4, cout: 4, stride: 2, padding: 'VALID' })
  b.op('mp', 'MaxPool', ['pad'], { ...T, ksize: attr.ints([1, 3, 3, 1]), strides: attr.ints([1, 2, 2, 1]), padding: attr.s('VALID') })
  b.op('sum', 'AddV2', ['c/Conv2D', 'mp'], T)
  return b
}

/** A 1 x 1 convolution, a SAME 3 x 3 stride 2 max pool on it, a SAME 2 x 2 stride 2 average pool on that. */
export function pools(seed = 3): GraphBuilder {
  const randn = seeded(seed)
  const b = input('x', [1, 7, 8, 2])
  conv(b, randn, 'c', 'x', { k: 1, cin: 2, cout: 4 })
  b.op('mp', 'MaxPool', ['c/Conv2D'], { ...T, ksize: attr.ints([1, 3, 3, 1]), strides: attr.ints([1, 2, 2, 1]), padding: attr.s('SAME') })
  b.op('ap', 'AvgPool', ['mp'], { ...T, ksize: attr.ints([1, 2, 2, 1]), strides: attr.ints([1, 2, 2, 1]), padding: attr.s('SAME') })
  return b
}

/** A residual AddV2 of a convolution (Relu6 fused) and the input, standalone Relu and Sigmoid, LogSoftmax. */
export function residualNeurons(seed = 4): GraphBuilder {
  const randn = seeded(seed)
  const b = input('x', [1, 6, 6, 4])
  const c1 = conv(b, randn, 'c1', 'x', { cin: 4, cout: 4 })
  b.op('c1/relu6', 'Relu6', [c1], T)
  b.op('res', 'AddV2', ['c1/relu6', 'x'], T)
  b.op('res/relu', 'Relu', ['res'], T)
  b.op('sig', 'Sigmoid', ['res/relu'], T)
  b.op('lsm', 'LogSoftmax', ['sig'], T)
  return b
}

/** Global average pooling spelled as Mean, a fully connected MatMul with its BiasAdd, Softmax. */
export function meanFullyConnected(seed = 5): GraphBuilder {
  const randn = seeded(seed)
  const b = input('x', [1, 5, 7, 3])
  const c = conv(b, randn, 'c', 'x', { cin: 3, cout: 8, stride: 2 })
  b.constI32('axes', [2], [1, 2])
  b.op('gap', 'Mean', [c, 'axes'], { ...T, keep_dims: attr.b(false) })
  b.constF32('fc/weights', [8, 10], randn(80))
  b.op('fc/MatMul', 'MatMul', ['gap', 'fc/weights'], T)
  b.constF32('fc/bias', [10], randn(10))
  b.op('fc/BiasAdd', 'BiasAdd', ['fc/MatMul', 'fc/bias'], T)
  b.op('prob', 'Softmax', ['fc/BiasAdd'], T)
  return b
}

/** A stride 2 convolution (2 x 2 x 3) flattened by a Reshape to [-1, 12], or as Keras's Flatten computes the shape, then a MatMul. */
export function flatten(spelling: 'Reshape' | 'Keras Flatten', seed = 6): GraphBuilder {
  const randn = seeded(seed)
  const b = input('x', [1, 4, 4, 2])
  const c = conv(b, randn, 'c', 'x', { cin: 2, cout: 3, stride: 2 })
  if (spelling === 'Reshape') b.constI32('shape', [2], [-1, 12])
  else {
    b.op('flatten/Shape', 'Shape', [c], { ...T, out_type: attr.type('DT_INT32') })
    b.constI32('flatten/begin', [1], [1])
    b.constI32('flatten/end', [1], [0])
    b.constI32('flatten/strides', [1], [1])
    b.op('flatten/strided_slice', 'StridedSlice', ['flatten/Shape', 'flatten/begin', 'flatten/end', 'flatten/strides'], { T: attr.type('DT_INT32'), end_mask: attr.i(1) })
    b.constI32('flatten/axis', [1], [0])
    b.op('flatten/Prod', 'Prod', ['flatten/strided_slice', 'flatten/axis'], { T: attr.type('DT_INT32'), keep_dims: attr.b(false) })
    b.constI32('flatten/minus1', [], [-1])
    b.op('shape', 'Pack', ['flatten/minus1', 'flatten/Prod'], { T: attr.type('DT_INT32'), N: attr.i(2) })
  }
  b.op('flat', 'Reshape', [c, 'shape'], T)
  b.constF32('fc/weights', [12, 5], randn(60))
  b.op('fc/MatMul', 'MatMul', ['flat', 'fc/weights'], T)
  return b
}

/** An NCHW graph: the input [1, 3, 7, 6], a stride 2 convolution and a max pool in NCHW, a flatten in C, H, W order, a MatMul. */
export function nchw(seed = 7): GraphBuilder {
  const randn = seeded(seed)
  const b = input('x', [1, 3, 7, 6])
  const c = conv(b, randn, 'c', 'x', { cin: 3, cout: 4, stride: 2, nchw: true })
  b.op('p', 'MaxPool', [c], { ...T, ksize: attr.ints([1, 1, 2, 2]), strides: attr.ints([1, 1, 2, 2]), padding: attr.s('VALID'), data_format: attr.s('NCHW') })
  b.constI32('shape', [2], [-1, 8])
  b.op('flat', 'Reshape', ['p', 'shape'], T)
  b.constF32('fc/weights', [8, 2], randn(16))
  b.op('fc/MatMul', 'MatMul', ['flat', 'fc/weights'], T)
  return b
}

/** An NHWC convolution (3 x 4 x 5) transposed to NCHW and flattened, then a MatMul whose weights [60, 7] are `w`. */
export function nchwFlatten(seed = 8): { b: GraphBuilder; w: Float32Array } {
  const randn = seeded(seed)
  const b = input('x', [1, 3, 4, 2])
  const c = conv(b, randn, 'c', 'x', { cin: 2, cout: 5 })
  b.constI32('perm', [4], [0, 3, 1, 2])
  b.op('nchw', 'Transpose', [c, 'perm'], { ...T, Tperm: attr.type('DT_INT32') })
  b.constI32('shape', [2], [1, 60])
  b.op('flat', 'Reshape', ['nchw', 'shape'], T)
  const w = randn(60 * 7)
  b.constF32('fc/weights', [60, 7], w)
  b.op('fc/MatMul', 'MatMul', ['flat', 'fc/weights'], T)
  return { b, w }
}

/**
 * Preprocessing (Sub, Mul) on the input, a convolution and Relu, an unfolded FusedBatchNormV3
 * (it follows the Relu), a depthwise convolution with Relu6, a ResizeNearestNeighbor to 8 x 12.
 */
export function upsamplingBatchNorm(seed = 9): GraphBuilder {
  const randn = seeded(seed)
  const b = input('x', [1, 4, 4, 3])
  b.constF32('mean', [3], [1, 2, 3])
  b.op('centered', 'Sub', ['x', 'mean'], T)
  b.constF32('scale', [], [0.5])
  b.op('scaled', 'Mul', ['centered', 'scale'], T)
  const c = conv(b, randn, 'c', 'scaled', { cin: 3, cout: 4 })
  b.op('c/relu', 'Relu', [c], T)
  b.constF32('bn/gamma', [4], [1, 2, 3, 4])
  b.constF32('bn/beta', [4], [0, 1, 0, 1])
  b.constF32('bn/mean', [4], [0, 0, 1, 1])
  b.constF32('bn/var', [4], [1, 4, 9, 16])
  b.op('bn', 'FusedBatchNormV3', ['c/relu', 'bn/gamma', 'bn/beta', 'bn/mean', 'bn/var'], { ...T, epsilon: attr.f(0), is_training: attr.b(false) })
  b.constF32('dw/weights', [3, 3, 4, 1], randn(36))
  b.op('dw', 'DepthwiseConv2dNative', ['bn', 'dw/weights'], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  b.op('dw/relu6', 'Relu6', ['dw'], T)
  b.constI32('size', [2], [8, 12])
  b.op('up', 'ResizeNearestNeighbor', ['dw/relu6', 'size'], T)
  return b
}

/** Training leftovers after a convolution: CheckNumerics, Identity chains, dropout with keep_prob 1; then Relu. */
export function trainingLeftovers(seed = 10): GraphBuilder {
  const randn = seeded(seed)
  const b = input('x', [1, 4, 4, 3])
  const c = conv(b, randn, 'c', 'x', { cin: 3, cout: 4 })
  b.op('check', 'CheckNumerics', [c], { ...T, message: attr.s('bad') })
  b.op('id1', 'Identity', [c, '^check'], T)
  b.op('id2', 'Identity', ['id1'], T)
  b.constF32('keep', [], [1])
  b.op('drop/Shape', 'Shape', ['id2'], T)
  b.op('drop/random_uniform/RandomUniform', 'RandomUniform', ['drop/Shape'], { T: attr.type('DT_INT32'), dtype: attr.type('DT_FLOAT') })
  b.constF32('drop/random_uniform/range', [], [1])
  b.op('drop/random_uniform/mul', 'Mul', ['drop/random_uniform/RandomUniform', 'drop/random_uniform/range'], T)
  b.op('drop/add', 'Add', ['keep', 'drop/random_uniform/mul'], T)
  b.op('drop/Floor', 'Floor', ['drop/add'], T)
  b.op('drop/div', 'RealDiv', ['id2', 'keep'], T)
  b.op('drop/mul', 'Mul', ['drop/div', 'drop/Floor'], T)
  b.op('out', 'Relu', ['drop/mul'], T)
  return b
}

/** Nested concatenations (ConcatV2 in a Concat in a ConcatV2) of three convolutions, a max pool and the input. */
export function nestedConcat(seed = 11): GraphBuilder {
  const randn = seeded(seed)
  const b = input('x', [1, 5, 5, 4])
  const a = conv(b, randn, 'a', 'x', { cin: 4, cout: 8 })
  const c = conv(b, randn, 'c', 'x', { cin: 4, cout: 4 })
  const d = conv(b, randn, 'd', 'x', { cin: 4, cout: 12 })
  b.op('p', 'MaxPool', ['x'], { ...T, ksize: attr.ints([1, 3, 3, 1]), strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  b.constI32('axis', [], [3])
  b.op('inner', 'ConcatV2', [c, d, 'axis'], { ...T, N: attr.i(2) })
  b.constI32('dim', [], [-1])
  b.op('outer', 'Concat', ['dim', a, 'inner', 'p'], { ...T, N: attr.i(3) })
  b.op('both', 'ConcatV2', ['outer', 'x', 'axis'], { ...T, N: attr.i(2) })
  return b
}

/** Two convolutions of a 5 x 5 x 4 input, `a` (`aChannels`) and `c` (4 channels), joined by a ConcatV2 `j`, a's first. */
export function concatPair(aChannels = 4, seed = 15): GraphBuilder {
  const randn = seeded(seed)
  const b = input('x', [1, 5, 5, 4])
  const a = conv(b, randn, 'a', 'x', { cin: 4, cout: aChannels })
  const c = conv(b, randn, 'c', 'x', { cin: 4, cout: 4 })
  b.constI32('axis', [], [3])
  b.op('j', 'ConcatV2', [a, c, 'axis'], { ...T, N: attr.i(2) })
  return b
}

/** {@link concatPair} with a 6-channel `a`, and `k`, a ConcatV2 of `j` and `a` again. */
export function concatCopied(seed = 12): GraphBuilder {
  const b = concatPair(6, seed)
  b.op('k', 'ConcatV2', ['j', 'a/Conv2D', 'axis'], { ...T, N: attr.i(2) })
  return b
}

export const KERAS_SCOPE = 'StatefulPartitionedCall/model'

/**
 * A TF2 Keras export: StatefulPartitionedCall scopes, numeric constant names, Conv2D, BiasAdd then
 * FusedBatchNormV3, Relu6, Mean, Dense (MatMul, BiasAdd), Softmax, final Identity nodes.
 */
export function keras(seed = 13): GraphBuilder {
  const randn = seeded(seed)
  const s = KERAS_SCOPE
  const b = input('input_1', [-1, 8, 8, 3])
  b.constF32('2687', [3, 3, 3, 8], randn(216))
  b.op(`${s}/conv2d/Conv2D`, 'Conv2D', ['input_1', '2687'], { ...T, strides: attr.ints([1, 2, 2, 1]), padding: attr.s('SAME') })
  b.constF32('2688', [8], randn(8))
  b.op(`${s}/conv2d/BiasAdd`, 'BiasAdd', [`${s}/conv2d/Conv2D`, '2688'], T)
  for (const k of ['gamma', 'beta', 'mean']) b.constF32(`bn_${k}`, [8], randn(8))
  b.constF32('bn_var', [8], new Float32Array(8).fill(1))
  b.op(`${s}/bn/FusedBatchNormV3`, 'FusedBatchNormV3', [`${s}/conv2d/BiasAdd`, 'bn_gamma', 'bn_beta', 'bn_mean', 'bn_var'], { ...T, epsilon: attr.f(0.001), is_training: attr.b(false) })
  b.op(`${s}/re_lu/Relu6`, 'Relu6', [`${s}/bn/FusedBatchNormV3`], T)
  b.constI32('axes', [2], [1, 2])
  b.op(`${s}/gap/Mean`, 'Mean', [`${s}/re_lu/Relu6`, 'axes'], { ...T, keep_dims: attr.b(false) })
  b.constF32('2699', [8, 5], randn(40))
  b.op(`${s}/dense/MatMul`, 'MatMul', [`${s}/gap/Mean`, '2699'], T)
  b.constF32('2700', [5], randn(5))
  b.op(`${s}/dense/BiasAdd`, 'BiasAdd', [`${s}/dense/MatMul`, '2700'], T)
  b.op(`${s}/dense/Softmax`, 'Softmax', [`${s}/dense/BiasAdd`], T)
  b.op('StatefulPartitionedCall', 'Identity', [`${s}/dense/Softmax`], T)
  b.op('Identity', 'Identity', ['StatefulPartitionedCall'], T)
  return b
}

const QUANTIZED_ARRAYS = { DT_QUINT8: Uint8Array, DT_QINT8: Int8Array, DT_QUINT16: Uint16Array, DT_QINT16: Int16Array, DT_QINT32: Int32Array }

/** A quantized Const (quint8, qint8, quint16, qint16 or qint32) holding `values` in tensor_content. */
export function quantConst(b: GraphBuilder, name: string, type: keyof typeof QUANTIZED_ARRAYS, shape: number[], values: number[]): string {
  const bytes = new Uint8Array(QUANTIZED_ARRAYS[type].from(values).buffer) // little-endian tensor_content on a little-endian host
  const t: TensorProto = { dtype: DataType[type], tensorShape: shapeProto(shape), tensorContent: bytes }
  return b.constTensor(name, t)
}

/**
 * A TF-slim MobileNet's first blocks after TF's `quantize_weights`: every kernel a quint8
 * Const (a sequence q = (q * 97 + 13) mod 256 from q = 3) through Dequantize MIN_FIRST over [-0.5, 0.5] (named after the original Const, with
 * `_quantized_{const,min,max}`), FusedBatchNorm (gamma, beta, mean 0.5, variance 1), Relu6.
 */
export function quantizedMobilenet(): GraphBuilder {
  const b = new GraphBuilder()
  const s = 'MobilenetV1/MobilenetV1'
  b.placeholder('input', [1, 8, 8, 3])
  let seed = 3
  const q = (n: number) => Array.from({ length: n }, () => (seed = (seed * 97 + 13) % 256))
  const weights = (name: string, shape: number[]) => {
    quantConst(b, `${name}_quantized_const`, 'DT_QUINT8', shape, q(shape.reduce((a, d) => a * d, 1)))
    b.constF32(`${name}_quantized_min`, [], [-0.5])
    b.constF32(`${name}_quantized_max`, [], [0.5])
    b.op(name, 'Dequantize', [`${name}_quantized_const`, `${name}_quantized_min`, `${name}_quantized_max`], { T: attr.type('DT_QUINT8'), mode: attr.s('MIN_FIRST') })
    return name
  }
  const bn = (scope: string, x: string, c: number) => {
    for (const k of ['gamma', 'beta', 'moving_mean']) b.constF32(`${scope}/BatchNorm/${k}`, [c], new Float32Array(c).fill(0.5))
    b.constF32(`${scope}/BatchNorm/moving_variance`, [c], new Float32Array(c).fill(1))
    b.op(`${scope}/BatchNorm/FusedBatchNorm`, 'FusedBatchNorm', [x, `${scope}/BatchNorm/gamma`, `${scope}/BatchNorm/beta`, `${scope}/BatchNorm/moving_mean`, `${scope}/BatchNorm/moving_variance`], { ...T, epsilon: attr.f(0.001), is_training: attr.b(false) })
    return b.op(`${scope}/Relu6`, 'Relu6', [`${scope}/BatchNorm/FusedBatchNorm`], T)
  }
  const c0 = `${s}/Conv2d_0`
  b.op(`${c0}/Conv2D`, 'Conv2D', ['input', weights('MobilenetV1/Conv2d_0/weights', [3, 3, 3, 8])], { ...T, strides: attr.ints([1, 2, 2, 1]), padding: attr.s('SAME') })
  const r0 = bn(c0, `${c0}/Conv2D`, 8)
  const dw = `${s}/Conv2d_1_depthwise`
  b.op(`${dw}/depthwise`, 'DepthwiseConv2dNative', [r0, weights('MobilenetV1/Conv2d_1_depthwise/depthwise_weights', [3, 3, 8, 1])], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  const r1 = bn(dw, `${dw}/depthwise`, 8)
  const pw = `${s}/Conv2d_1_pointwise`
  b.op(`${pw}/Conv2D`, 'Conv2D', [r1, weights('MobilenetV1/Conv2d_1_pointwise/weights', [1, 1, 8, 16])], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  bn(pw, `${pw}/Conv2D`, 16)
  return b
}

export interface SlimExpect {
  name: string
  kind: string
  weights: Float32Array
  bias: Float32Array
}

/**
 * A MobileNet v1 laid out the way TF-slim exports it (weights and BN parameters behind Identity
 * `/read` nodes, Relu6, depthwise + pointwise blocks, a 16 x 16 average pool, a 1x1 conv
 * classifier with BiasAdd, Squeeze, Softmax), with FusedBatchNorm (`fused`) or the older
 * spelled-out `BatchNorm/batchnorm/{add,Rsqrt,mul,mul_1,mul_2,sub,add_1}`. `expected`: each
 * layer's folded weights ([out][kh][kw][in], or [channels][kh][kw]) and bias, computed here in float64.
 */
export function slimMobilenet(fused: boolean) {
  let seed = 7
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1
  const slimRandn = (n: number, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => Math.fround(lo + ((rand() + 1) / 2) * (hi - lo)))
  const b = new GraphBuilder()
  const expected: SlimExpect[] = []
  b.placeholder('input', [1, 32, 32, 3])
  const constRead = (name: string, shape: number[], values: Float32Array) => {
    b.const(name, { shape, values })
    return b.op(`${name}/read`, 'Identity', [name], { T: attr.type('DT_FLOAT') })
  }
  const bn = (scope: string, x: string, c: number): { out: string; s: Float64Array; shift: Float64Array } => {
    const gamma = slimRandn(c, 0.5, 1.5)
    const beta = slimRandn(c)
    const mean = slimRandn(c)
    const variance = slimRandn(c, 0.2, 2)
    const eps = Math.fround(0.001)
    const g = constRead(`${scope}/BatchNorm/gamma`, [c], gamma)
    const be = constRead(`${scope}/BatchNorm/beta`, [c], beta)
    const m = constRead(`${scope}/BatchNorm/moving_mean`, [c], mean)
    const v = constRead(`${scope}/BatchNorm/moving_variance`, [c], variance)
    let out: string
    if (fused) {
      out = b.op(`${scope}/BatchNorm/FusedBatchNorm`, 'FusedBatchNorm', [x, g, be, m, v], { epsilon: attr.f(0.001), is_training: attr.b(false), data_format: attr.s('NHWC'), T: attr.type('DT_FLOAT') })
    } else {
      const p = `${scope}/BatchNorm/batchnorm`
      b.const(`${p}/add/y`, { shape: [], values: [0.001] })
      b.op(`${p}/add`, 'Add', [v, `${p}/add/y`])
      b.op(`${p}/Rsqrt`, 'Rsqrt', [`${p}/add`])
      b.op(`${p}/mul`, 'Mul', [`${p}/Rsqrt`, g])
      b.op(`${p}/mul_1`, 'Mul', [x, `${p}/mul`])
      b.op(`${p}/mul_2`, 'Mul', [m, `${p}/mul`])
      b.op(`${p}/sub`, 'Sub', [be, `${p}/mul_2`])
      out = b.op(`${p}/add_1`, 'Add', [`${p}/mul_1`, `${p}/sub`])
    }
    const s = Float64Array.from(gamma, (gm, i) => gm / Math.sqrt(variance[i] + eps))
    const shift = Float64Array.from(s, (si, i) => beta[i] - mean[i] * si)
    return { out: b.op(`${scope}/Relu6`, 'Relu6', [out]), s, shift }
  }
  const conv = (scope: string, x: string, k: number, cin: number, cout: number, stride: number) => {
    const w = slimRandn(k * k * cin * cout)
    const r = constRead(`${scope}/weights`, [k, k, cin, cout], w)
    const y = b.op(`${scope}/Conv2D`, 'Conv2D', [x, r], { strides: attr.ints([1, stride, stride, 1]), padding: attr.s('SAME'), data_format: attr.s('NHWC'), T: attr.type('DT_FLOAT') })
    const n = bn(scope, y, cout)
    const wt = new Float32Array(w.length)
    for (let o = 0; o < cout; o++) for (let t = 0; t < k * k * cin; t++) wt[o * k * k * cin + t] = Math.fround(w[t * cout + o] * n.s[o])
    expected.push({ name: scope.replace(/\//g, '_'), kind: 'conv', weights: wt, bias: Float32Array.from(n.shift) })
    return n.out
  }
  const dw = (scope: string, x: string, c: number) => {
    const w = slimRandn(9 * c)
    const r = constRead(`${scope}/depthwise_weights`, [3, 3, c, 1], w)
    const y = b.op(`${scope}/depthwise`, 'DepthwiseConv2dNative', [x, r], { strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME'), data_format: attr.s('NHWC'), T: attr.type('DT_FLOAT') })
    const n = bn(scope, y, c)
    const wt = new Float32Array(w.length)
    for (let ch = 0; ch < c; ch++) for (let t = 0; t < 9; t++) wt[ch * 9 + t] = Math.fround(w[t * c + ch] * n.s[ch])
    expected.push({ name: scope.replace(/\//g, '_'), kind: 'depthwise', weights: wt, bias: Float32Array.from(n.shift) })
    return n.out
  }
  let x = conv('MobilenetV1/Conv2d_0', 'input', 3, 3, 8, 2)
  x = dw('MobilenetV1/Conv2d_1_depthwise', x, 8)
  x = conv('MobilenetV1/Conv2d_1_pointwise', x, 1, 8, 16, 1)
  x = dw('MobilenetV1/Conv2d_2_depthwise', x, 16)
  x = conv('MobilenetV1/Conv2d_2_pointwise', x, 1, 16, 16, 1)
  b.op('MobilenetV1/Logits/AvgPool_1a/AvgPool', 'AvgPool', [x], { ksize: attr.ints([1, 16, 16, 1]), strides: attr.ints([1, 2, 2, 1]), padding: attr.s('VALID') })
  const lw = slimRandn(16 * 10)
  const lb = slimRandn(10)
  const r = constRead('MobilenetV1/Logits/Conv2d_1c_1x1/weights', [1, 1, 16, 10], lw)
  const br = constRead('MobilenetV1/Logits/Conv2d_1c_1x1/biases', [10], lb)
  b.op('MobilenetV1/Logits/Conv2d_1c_1x1/Conv2D', 'Conv2D', ['MobilenetV1/Logits/AvgPool_1a/AvgPool', r], { strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  b.op('MobilenetV1/Logits/Conv2d_1c_1x1/BiasAdd', 'BiasAdd', ['MobilenetV1/Logits/Conv2d_1c_1x1/Conv2D', br], { data_format: attr.s('NHWC') })
  b.const('MobilenetV1/Logits/SpatialSqueeze/dims', { dtype: 'int32', shape: [2], values: [1, 2] })
  b.op('MobilenetV1/Logits/SpatialSqueeze', 'Squeeze', ['MobilenetV1/Logits/Conv2d_1c_1x1/BiasAdd'], { squeeze_dims: attr.ints([1, 2]) })
  b.op('MobilenetV1/Predictions/Softmax', 'Softmax', ['MobilenetV1/Logits/SpatialSqueeze'])
  const lt = new Float32Array(lw.length)
  for (let o = 0; o < 10; o++) for (let i = 0; i < 16; i++) lt[o * 16 + i] = lw[i * 10 + o]
  expected.push({ name: 'MobilenetV1_Logits_Conv2d_1c_1x1', kind: 'conv', weights: lt, bias: lb })
  return { graph: b.graph(), expected }
}

/** A DepthwiseConv2dNative with channel multiplier 2 (3 -> 6 channels): an MPS convolution with 3 groups. */
export function depthwiseMultiplier(seed = 14): GraphBuilder {
  const randn = seeded(seed)
  const b = input('x', [1, 6, 5, 3])
  b.constF32('dw/weights', [3, 3, 3, 2], randn(54))
  b.op('dw', 'DepthwiseConv2dNative', ['x', 'dw/weights'], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  return b
}

export interface TransposeCase {
  inH: number
  inW: number
  outH: number
  outW: number
  k: [number, number]
  s: number
  padding: 'SAME' | 'VALID'
  cin: number
  cout: number
}

/**
 * `up/conv2d_transpose`, a Conv2DBackpropInput of `x` [1, inH, inW, cin] to [1, outH, outW, cout]
 * with the filter `f` [kh, kw, cout, cin], then `up/BiasAdd` (`bias`) and `up/Relu`.
 */
export function convolutionTranspose<A extends ArrayLike<number>>(c: TransposeCase, randn: (n: number) => A): { b: GraphBuilder; f: A; bias: A } {
  const b = input('x', [1, c.inH, c.inW, c.cin])
  const f = randn(c.k[0] * c.k[1] * c.cout * c.cin)
  b.constF32('up/filter', [c.k[0], c.k[1], c.cout, c.cin], f)
  b.constI32('up/input_sizes', [4], [1, c.outH, c.outW, c.cout])
  b.op('up/conv2d_transpose', 'Conv2DBackpropInput', ['up/input_sizes', 'up/filter', 'x'], { ...T, strides: attr.ints([1, c.s, c.s, 1]), padding: attr.s(c.padding) })
  const bias = randn(c.cout)
  b.constF32('up/bias', [c.cout], bias)
  b.op('up/BiasAdd', 'BiasAdd', ['up/conv2d_transpose', 'up/bias'], T)
  b.op('up/Relu', 'Relu', ['up/BiasAdd'], T)
  return { b, f, bias }
}

/** A small classifier for verify: x (7 x 7 x 3) -> conv 3x3 SAME + Relu -> average pool 3x3 SAME -> conv 1x1 stride 2 -> softmax. */
export function verifyModel(seed = 3): Uint8Array {
  const r = mulberry32(seed)
  const rand = (n: number) => Float32Array.from({ length: n }, () => r() * 2 - 1)
  const b = new GraphBuilder()
  b.placeholder('x', [1, 7, 7, 3])
  b.constF32('c1/w', [3, 3, 3, 8], rand(216))
  b.op('c1', 'Conv2D', ['x', 'c1/w'], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  b.op('r1', 'Relu', ['c1'], T)
  b.op('pool', 'AvgPool', ['r1'], { ...T, ksize: attr.ints([1, 3, 3, 1]), strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  b.constF32('c2/w', [1, 1, 8, 4], rand(32))
  b.op('c2', 'Conv2D', ['pool', 'c2/w'], { ...T, strides: attr.ints([1, 2, 2, 1]), padding: attr.s('SAME') })
  b.op('prob', 'Softmax', ['c2'], T)
  return b.encode()
}
