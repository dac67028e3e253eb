/**
 * The table: TF op type -> what it is in MPS terms. Each entry computes its output's
 * shape and the encode's MPS parameters from its inputs' values; an entry that finds a
 * configuration MPS cannot run (a non-integer resize, a transpose other than NHWC <->
 * NCHW, ...) refuses the op by name instead. Ops not in the table have no MPS counterpart.
 */
import type { MpscnnNeuron, MpscnnNodeKind } from '../base/manifest-types.js'
import type { NodeDef } from '../graphdef/schema.js'
import { attrBool, attrFloat, attrString } from '../fold/attrs.js'
import { PASS_THROUGH } from '../fold/graph.js'
import { affineOf, compose, isIdentity } from './affine.js'
import { window, type Activation, type Builder, type NoiseValue, type PreValue } from './builder.js'
import { pad, reshape, shapeOp, squeeze, transpose } from './views.js'
import { mean, pool } from './pooling.js'

interface OpRule {
  /** The MPS kind it becomes (documentation; `-` when it leaves no encode of its own). */
  kind: MpscnnNodeKind | 'input' | 'view' | 'shape' | 'identity'
  run(b: Builder, n: NodeDef): void
}

const NEURONS: Record<string, (n: NodeDef) => MpscnnNeuron> = {
  Relu: () => ({ type: 'relu', a: 0 }),
  Relu6: () => ({ type: 'relu6', a: 0, b: 6 }),
  Sigmoid: () => ({ type: 'sigmoid' }),
  Tanh: () => ({ type: 'tanh', a: 1, b: 1 }),
  Elu: () => ({ type: 'elu', a: 1 }),
  LeakyRelu: (n) => ({ type: 'leakyRelu', a: attrFloat(n, 'alpha', 0.2)! }),
  Softplus: () => ({ type: 'softPlus', a: 1, b: 1 }),
  Softsign: () => ({ type: 'softSign' }),
  Abs: () => ({ type: 'absolute' }),
}

const BINARY_KIND: Record<string, MpscnnNodeKind | undefined> = { Add: 'add', AddV2: 'add', Sub: 'subtract', Mul: 'multiply' }

/** An activation's image as a 1 x 1 or h x w image, for ops that work per pixel. */
function destinationLike(b: Builder, n: NodeDef, v: Activation): Activation {
  const image = b.image(n.name, v.t === 'image' ? v.h : 1, v.t === 'image' ? v.w : 1, v.t === 'image' ? v.c : v.h * v.w * v.c)
  return v.t === 'image' ? { ...v, image } : { t: 'flat', image, h: 1, w: 1, c: v.h * v.w * v.c, chw: false, tf: n.name }
}

function perPixel(b: Builder, n: NodeDef, v: Activation, extra: Parameters<Builder['emit']>[0] extends infer E ? Omit<E & object, 'name' | 'tf' | 'source' | 'destination'> : never): void {
  const source = b.flatImage(v)
  if (source === null) return b.refuse(n, 'its input is an NCHW tensor flattened in C, H, W order')
  const out = destinationLike(b, n, v)
  b.emit({ ...extra, name: n.name, tf: [n.name], source, destination: out.image })
  b.set(n, out)
}

/** Affine ops with a constant operand on the image path, and binary ops of two images. */
function arithmetic(b: Builder, n: NodeDef): void {
  const v0 = b.value(n, 0)
  const v1 = b.value(n, 1)
  // Dropout's mask: uniform noise, shifted by keep_prob and floored, is the constant 1 when
  // keep_prob is 1; x * that mask is x (the Mul is then an identity affine op below).
  if (v0.t === 'noise' || v1.t === 'noise') {
    const ni = v0.t === 'noise' ? 0 : 1
    const noise = (ni === 0 ? v0 : v1) as NoiseValue
    const other = ni === 0 ? v1 : v0
    if (other.t === 'const' && !noise.floored) {
      const c = b.constant(n, 1 - ni)
      const k = c && c.data.length === 1 ? c.data[0] : NaN
      if (n.op === 'Mul' && k > 0) return b.set(n, { t: 'noise', lo: noise.lo * k, hi: noise.hi * k })
      if ((n.op === 'Add' || n.op === 'AddV2') && Number.isFinite(k)) return b.set(n, { t: 'noise', lo: noise.lo + k, hi: noise.hi + k })
      if (n.op === 'Sub' && ni === 0 && Number.isFinite(k)) return b.set(n, { t: 'noise', lo: noise.lo - k, hi: noise.hi - k })
    }
    if (!noise.floored || n.op !== 'Mul' || other.t === 'noise') return b.refuse(n, 'it computes with random numbers')
  }
  const at = v0.t === 'const' || v0.t === 'noise' ? 1 : 0
  const x = at === 0 ? v0 : v1
  if (x.t === 'pre') {
    // Constant affine preprocessing between the placeholder and the first kernel.
    const s = x.shape
    const channels = s && s.length ? s[s.length - 1] : -1
    const a = affineOf(b, n, at, channels, true)
    if (a) {
      const prev = x.affine
      const merged = prev ? compose(prev, a) : a
      const next: PreValue = { ...x, affine: { ...merged, tf: [...(prev?.tf ?? []), n.name], from: prev?.from ?? tensorName(b, n, at) } }
      return b.set(n, next)
    }
  }
  const other = b.value(n, at === 0 ? 1 : 0)
  if (other.t === 'const' || (other.t === 'noise' && n.op === 'Mul')) {
    const v = b.activation(n, at)
    if (!v) return b.refuse(n, b.notAnImage(n, at))
    const channels = v.t === 'image' ? v.c : v.h * v.w * v.c
    const a = affineOf(b, n, at, channels, v.t !== 'image' || !v.nchw)
    if (!a) return b.refuse(n, 'its constant operand is not a scalar or per-channel vector')
    if (isIdentity(a)) return b.set(n, v)
    if (a.scale.length === 1 && a.bias.length === 1) return perPixel(b, n, v, { kind: 'neuron', neuron: { type: 'linear', a: a.scale[0], b: a.bias[0] } })
    const wide = (x: number[]) => (x.length === 1 ? new Array<number>(channels).fill(x[0]) : x)
    return perPixel(b, n, v, { kind: 'batchNormalization', scale: wide(a.scale), bias: wide(a.bias) })
  }
  const kind = BINARY_KIND[n.op]
  const p = b.activation(n, 0)
  const q = b.activation(n, 1)
  if (!p || !q) return b.refuse(n, b.notAnImage(n, p ? 1 : 0))
  if (!kind) return b.refuse(n, 'MPS has no such operation on two images')
  const size = (v: Activation) => (v.t === 'image' ? `${v.h}x${v.w}x${v.c}` : `1x1x${v.h * v.w * v.c}`)
  if (size(p) !== size(q) || (p.t === 'image' && q.t === 'image' && p.nchw !== q.nchw)) return b.refuse(n, `its operands differ in shape (${size(p)}, ${size(q)}): MPS does not broadcast them`)
  const sp = b.flatImage(p)
  const sq = b.flatImage(q)
  if (sp === null || sq === null) return b.refuse(n, 'an operand is an NCHW tensor flattened in C, H, W order')
  const out = destinationLike(b, n, p)
  b.emit({ kind, name: n.name, tf: [n.name], source: [sp, sq], destination: out.image })
  b.set(n, out)
}

function tensorName(b: Builder, n: NodeDef, i: number): string {
  const r = b.ref(n, i)
  return r.output === 0 ? r.name : `${r.name}:${r.output}`
}

/** Conv2D, DepthwiseConv2dNative, MatMul with a planned layer. */
function weighted(b: Builder, n: NodeDef): void {
  const plan = b.layerAt.get(n.name)
  if (!plan) return b.refuse(n, 'its weights are not constant, so it is not a layer')
  const info = plan.info
  const folded = info.folded
  const last = folded.length ? folded[folded.length - 1] : n.name
  if (n.op === 'MatMul') {
    const v = b.activation(n, 0)
    if (!v) return b.refuse(n, b.notAnImage(n, 0))
    const f = v.t === 'flat' ? v : { h: v.h, w: v.w, c: v.c, chw: v.nchw, image: v.image }
    if (f.h * f.w * f.c !== info.inputChannels) {
      b.error('SHAPE_MISMATCH', n.name, `the fully connected layer takes ${info.inputChannels} inputs but its input has ${f.h} x ${f.w} x ${f.c}`, 'The graph is inconsistent; export it again')
    }
    if (f.chw && f.h * f.w > 1) {
      // TF's rows are in C, H, W order; MPSCNNFullyConnected reads H, W, C.
      const order = new Int32Array(info.inputChannels)
      for (let y = 0; y < f.h; y++) for (let x = 0; x < f.w; x++) for (let c = 0; c < f.c; c++) order[(y * f.w + x) * f.c + c] = c * f.h * f.w + y * f.w + x
      plan.inputOrder = order
    }
    const image = b.image(last, 1, 1, info.outputChannels)
    const node = b.emit({
      kind: 'fullyConnected', name: n.name, tf: [n.name, ...folded], source: f.image, destination: image,
      offset: { x: Math.floor(f.w / 2), y: Math.floor(f.h / 2) }, layer: info.name,
      kernel: { width: f.w, height: f.h }, stride: { x: 1, y: 1 }, dilation: { x: 1, y: 1 },
      inputFeatureChannels: f.c, outputFeatureChannels: info.outputChannels, groups: 1,
    })
    for (const name of folded) b.foldedInto.set(name, node)
    return b.set(n, { t: 'flat', image, h: 1, w: 1, c: info.outputChannels, chw: false, tf: last })
  }
  const v = b.value(n, 0)
  const padded = v.t === 'padded' ? v : null
  const x = padded ? padded.of : b.activation(n, 0)
  if (!x) return b.refuse(n, b.notAnImage(n, 0))
  if (x.t !== 'image') return b.refuse(n, 'its input is not an image')
  const nchw = attrString(n, 'data_format', 'NHWC') === 'NCHW'
  if (nchw !== x.nchw) return b.refuse(n, `its data_format ${nchw ? 'NCHW' : 'NHWC'} does not match its input's layout`)
  if (x.c !== info.inputChannels) b.error('SHAPE_MISMATCH', n.name, `the layer takes ${info.inputChannels} input channels but its input has ${x.c}`, 'The graph is inconsistent; export it again')
  const ys = window(x.h, info.kernelHeight, info.strideY, info.dilationY, info.padding, padded?.top, padded?.bottom)
  const xs = window(x.w, info.kernelWidth, info.strideX, info.dilationX, info.padding, padded?.left, padded?.right)
  if (ys.out < 1 || xs.out < 1) b.error('BAD_SHAPE', n.name, `the kernel (${info.kernelHeight} x ${info.kernelWidth}) is larger than its ${x.h} x ${x.w} input`, 'The graph is inconsistent; export it again')
  const image = b.image(last, ys.out, xs.out, info.outputChannels)
  const node = b.emit({
    kind: info.kind === 'depthwise' ? 'depthwiseConvolution' : 'convolution',
    name: n.name, tf: padded ? [padded.tf, n.name, ...folded] : [n.name, ...folded], source: x.image, destination: image,
    offset: { x: xs.offset, y: ys.offset }, edgeMode: 'zero', layer: info.name,
    kernel: { width: info.kernelWidth, height: info.kernelHeight }, stride: { x: info.strideX, y: info.strideY },
    dilation: { x: info.dilationX, y: info.dilationY }, inputFeatureChannels: info.inputChannels,
    outputFeatureChannels: info.outputChannels, groups: info.kind === 'depthwise' ? 1 : info.groups,
  })
  for (const name of folded) b.foldedInto.set(name, node)
  b.set(n, { t: 'image', image, h: ys.out, w: xs.out, c: info.outputChannels, nchw })
}

/**
 * Conv2DBackpropInput(input_sizes, filter, out_backprop) with a planned layer: an
 * MPSCNNConvolutionTranspose (docs/network.md). The destination has input_sizes' height and
 * width; TF's result[y] sums out_backprop[oy] * filter[ky] over oy * s + ky - before = y, which
 * is a convolution of the intermediate image (stride - 1 zeros between source pixels) with the
 * filter rotated by 180 degrees (fold/plan-layers.ts), whose window for destination pixel 0 starts
 * at `before - (k - 1)`: its centre, the kernel offset, is that plus floor(k / 2).
 */
function transposed(b: Builder, n: NodeDef): void {
  const plan = b.layerAt.get(n.name)
  if (!plan) return b.refuse(n, 'its filter is not constant, so it is not a layer')
  const info = plan.info
  const x = b.activation(n, 2)
  if (!x) return b.refuse(n, b.notAnImage(n, 2))
  if (x.t !== 'image') return b.refuse(n, 'its input is not an image')
  const nchw = attrString(n, 'data_format', 'NHWC') === 'NCHW'
  if (nchw !== x.nchw) return b.refuse(n, `its data_format ${nchw ? 'NCHW' : 'NHWC'} does not match its input's layout`)
  const sizes = b.ints(n, 0)
  if (!sizes || sizes.data.length !== 4) return b.refuse(n, 'its input_sizes are not known')
  const [oh, ow] = nchw ? [sizes.data[2], sizes.data[3]] : [sizes.data[1], sizes.data[2]]
  if (x.c !== info.inputChannels) b.error('SHAPE_MISMATCH', n.name, `the transposed convolution takes ${info.inputChannels} input channels but its input has ${x.c}`, 'The graph is inconsistent; export it again')
  // The forward convolution of the destination must give the source's size (TF checks the same).
  const ys = window(oh, info.kernelHeight, info.strideY, 1, info.padding)
  const xs = window(ow, info.kernelWidth, info.strideX, 1, info.padding)
  if (ys.out !== x.h || xs.out !== x.w) {
    b.error('SHAPE_MISMATCH', n.name, `input_sizes ${oh} x ${ow} give a ${ys.out} x ${xs.out} forward convolution, but out_backprop is ${x.h} x ${x.w}`, 'The graph is inconsistent; export it again')
  }
  // window().offset = floor(k / 2) - before, so before = floor(k / 2) - offset.
  const kernelOffset = (k: number, w: { offset: number }) => Math.floor(k / 2) - w.offset - (k - 1) + Math.floor(k / 2)
  const folded = info.folded
  const image = b.image(folded.length ? folded[folded.length - 1] : n.name, oh, ow, info.outputChannels)
  const node = b.emit({
    kind: 'convolutionTranspose', name: n.name, tf: [n.name, ...folded], source: x.image, destination: image,
    offset: { x: 0, y: 0 }, kernelOffset: { x: kernelOffset(info.kernelWidth, xs), y: kernelOffset(info.kernelHeight, ys) }, edgeMode: 'zero', layer: info.name,
    kernel: { width: info.kernelWidth, height: info.kernelHeight }, stride: { x: info.strideX, y: info.strideY },
    dilation: { x: 1, y: 1 }, inputFeatureChannels: info.inputChannels, outputFeatureChannels: info.outputChannels, groups: 1,
  })
  for (const name of folded) b.foldedInto.set(name, node)
  b.set(n, { t: 'image', image, h: oh, w: ow, c: info.outputChannels, nchw })
}

function concat(b: Builder, n: NodeDef): void {
  const count = (b.graph.inputs.get(n.name) ?? []).length
  const axisAt = n.op === 'Concat' ? 0 : count - 1
  const first = n.op === 'Concat' ? 1 : 0
  const axis = b.ints(n, axisAt)
  const parts: number[] = []
  for (let i = first; i < first + count - 1; i++) parts.push(i)
  const vals = parts.map((i) => b.value(n, i))
  if (vals.every((v) => v.t === 'ints' || v.t === 'const')) {
    const ints = parts.map((i) => b.ints(n, i))
    if (ints.every((v) => v && v.shape.length <= 1)) {
      const data = ints.flatMap((v) => v!.data)
      return b.set(n, { t: 'ints', shape: [data.length], data })
    }
    return b.set(n, { t: 'const' })
  }
  const acts = parts.map((i) => b.activation(n, i))
  const missing = acts.findIndex((a) => !a)
  if (missing >= 0) return b.refuse(n, b.notAnImage(n, parts[missing]))
  if (!axis) return b.refuse(n, 'its axis is not a constant')
  const list = acts as Activation[]
  const a = axis.data[0]
  const rank = list[0].t === 'image' ? 4 : 2
  const ax = a < 0 ? a + rank : a
  const channelAxis = list[0].t === 'image' ? (list[0].nchw ? 1 : 3) : 1
  if (ax !== channelAxis) return b.refuse(n, `it joins along axis ${a}, not the channels`)
  const dims = (v: Activation) => (v.t === 'image' ? [v.h, v.w, v.nchw] : [1, 1, false])
  if (list.some((v) => v.t !== list[0].t || String(dims(v)) !== String(dims(list[0])))) return b.refuse(n, 'its inputs differ in height or width')
  const sources: string[] = []
  const offsets: number[] = []
  let c = 0
  for (const v of list) {
    const s = b.flatImage(v)
    if (s === null) return b.refuse(n, 'an input is an NCHW tensor flattened in C, H, W order')
    sources.push(s)
    offsets.push(c)
    c += v.t === 'image' ? v.c : v.h * v.w * v.c
  }
  const h = list[0].t === 'image' ? list[0].h : 1
  const w = list[0].t === 'image' ? list[0].w : 1
  const image = b.image(n.name, h, w, c)
  b.emit({ kind: 'concatenation', name: n.name, tf: [n.name], source: sources, destination: image, sourceFeatureChannelOffsets: offsets })
  b.set(n, list[0].t === 'image' ? { ...list[0], image, c } : { t: 'flat', image, h: 1, w: 1, c, chw: false, tf: n.name })
}


function resize(b: Builder, n: NodeDef): void {
  const x = b.activation(n, 0)
  if (!x) return b.refuse(n, b.notAnImage(n, 0))
  const size = b.ints(n, 1)
  if (x.t !== 'image' || x.nchw || !size) return b.refuse(n, 'its size is not known')
  const [oh, ow] = size.data
  const sy = oh / x.h
  const sx = ow / x.w
  if (!Number.isInteger(sy) || !Number.isInteger(sx) || sy < 1 || sx < 1) return b.refuse(n, `it resizes ${x.h} x ${x.w} to ${oh} x ${ow}, not by an integer factor`)
  const image = b.image(n.name, oh, ow, x.c)
  b.emit({
    kind: 'upsampling', name: n.name, tf: [n.name], source: x.image, destination: image, stride: { x: sx, y: sy },
    mode: n.op === 'ResizeNearestNeighbor' ? 'nearest' : 'bilinear', alignCorners: attrBool(n, 'align_corners', false)!,
  })
  b.set(n, { ...x, image, h: oh, w: ow })
}

/** A batch norm left on an image (not after a layer): per-channel scale and bias. */
function batchNorm(b: Builder, n: NodeDef): void {
  const x = b.activation(n, 0)
  if (!x) return b.refuse(n, b.notAnImage(n, 0))
  if (x.t !== 'image') return b.refuse(n, 'its input is not an image')
  const vec = (i: number) => b.constant(n, i)?.data
  let gamma, beta, mean, variance, eps: number
  if (n.op === 'BatchNormWithGlobalNormalization') {
    ;[mean, variance, beta, gamma] = [vec(1), vec(2), vec(3), attrBool(n, 'scale_after_normalization', true) ? vec(4) : undefined]
    eps = attrFloat(n, 'variance_epsilon', 0.001)!
    if (!attrBool(n, 'scale_after_normalization', true)) gamma = new Float64Array(x.c).fill(1)
  } else {
    if (attrBool(n, 'is_training', true)) b.error('TRAINING_BN', n.name, `${n.op} has is_training=true, so it normalizes with batch statistics`, 'Export the inference graph and freeze it again')
    ;[gamma, beta, mean, variance] = [vec(1), vec(2), vec(3), vec(4)]
    eps = attrFloat(n, 'epsilon', 0.0001)!
  }
  if (!gamma || !beta || !mean || !variance || [gamma, beta, mean, variance].some((a) => a.length !== x.c)) return b.refuse(n, 'its parameters are not constant vectors of one value per channel')
  const scale: number[] = []
  const bias: number[] = []
  for (let c = 0; c < x.c; c++) {
    const s = gamma[c] / Math.sqrt(variance[c] + eps)
    scale.push(s)
    bias.push(beta[c] - mean[c] * s)
  }
  perPixel(b, n, x, { kind: 'batchNormalization', scale, bias })
}

function neuron(b: Builder, n: NodeDef): void {
  const x = b.activation(n, 0)
  if (!x) return b.refuse(n, b.notAnImage(n, 0))
  perPixel(b, n, x, { kind: 'neuron', neuron: NEURONS[n.op](n) })
}

function softmax(b: Builder, n: NodeDef): void {
  const x = b.activation(n, 0)
  if (!x) return b.refuse(n, b.notAnImage(n, 0))
  if (x.t === 'image' && x.nchw) return b.refuse(n, 'it runs over the last axis of an NCHW tensor, not the channels')
  perPixel(b, n, x, { kind: n.op === 'Softmax' ? 'softMax' : 'logSoftMax' })
}

function identity(b: Builder, n: NodeDef): void {
  b.set(n, b.value(n, 0))
}

/** The table. Ops before the network input are handled by index.ts through before-input.ts. */
export const OPS: Record<string, OpRule> = {
  Conv2D: { kind: 'convolution', run: weighted },
  DepthwiseConv2dNative: { kind: 'depthwiseConvolution', run: weighted },
  MatMul: { kind: 'fullyConnected', run: weighted },
  Conv2DBackpropInput: { kind: 'convolutionTranspose', run: transposed },
  MaxPool: { kind: 'poolingMax', run: pool },
  AvgPool: { kind: 'poolingAverage', run: pool },
  Mean: { kind: 'poolingAverage', run: mean },
  Add: { kind: 'add', run: arithmetic },
  AddV2: { kind: 'add', run: arithmetic },
  Sub: { kind: 'subtract', run: arithmetic },
  Mul: { kind: 'multiply', run: arithmetic },
  BiasAdd: { kind: 'batchNormalization', run: arithmetic },
  RealDiv: { kind: 'batchNormalization', run: arithmetic },
  Div: { kind: 'batchNormalization', run: arithmetic },
  Softmax: { kind: 'softMax', run: softmax },
  LogSoftmax: { kind: 'logSoftMax', run: softmax },
  ConcatV2: { kind: 'concatenation', run: concat },
  Concat: { kind: 'concatenation', run: concat },
  Reshape: { kind: 'reshape', run: reshape },
  Squeeze: { kind: 'view', run: squeeze },
  Transpose: { kind: 'view', run: transpose },
  Pad: { kind: 'view', run: pad },
  PadV2: { kind: 'view', run: pad },
  ResizeNearestNeighbor: { kind: 'upsampling', run: resize },
  ResizeBilinear: { kind: 'upsampling', run: resize },
  FusedBatchNorm: { kind: 'batchNormalization', run: batchNorm },
  FusedBatchNormV2: { kind: 'batchNormalization', run: batchNorm },
  FusedBatchNormV3: { kind: 'batchNormalization', run: batchNorm },
  BatchNormWithGlobalNormalization: { kind: 'batchNormalization', run: batchNorm },
  Shape: { kind: 'shape', run: shapeOp },
  StridedSlice: { kind: 'shape', run: shapeOp },
  Pack: { kind: 'shape', run: shapeOp },
  Prod: { kind: 'shape', run: shapeOp },
  RandomUniform: { kind: 'identity', run: (b, n) => b.set(n, { t: 'noise', lo: 0, hi: 1 }) },
  Floor: {
    kind: 'identity',
    run: (b, n) => {
      const v = b.value(n, 0)
      // floor(keep_prob + U[0, 1)) is the constant 1 when keep_prob is 1: dropout at inference.
      if (v.t === 'noise' && Math.floor(v.lo) === Math.ceil(v.hi) - 1) return b.set(n, { t: 'noise', lo: Math.floor(v.lo), hi: Math.floor(v.lo), floored: true })
      b.refuse(n, 'it floors an activation')
    },
  },
  PlaceholderWithDefault: { kind: 'identity', run: identity },
  ...Object.fromEntries([...PASS_THROUGH, 'Cast'].map((op) => [op, { kind: 'identity', run: identity } as OpRule])),
  ...Object.fromEntries(Object.keys(NEURONS).map((op) => [op, { kind: 'neuron', run: neuron } as OpRule])),
}
