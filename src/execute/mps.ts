/**
 * MPS semantics on TensorFlow.js primitives: the source region a kernel's windows read
 * (MPSCNNKernel.h: `offset`, `edgeMode`), and the neurons (MPSCNNNeuron.h).
 */
import type * as Tfc from '@tensorflow/tfjs-core'
import type { MpscnnNetworkNode, MpscnnNeuron } from '../base/manifest-types.js'

type Tensor4 = Tfc.Tensor4D

/** A kernel's windows: its size, stride and dilation, and the destination image they fill. */
interface Windows {
  k: { width: number; height: number }
  s: { x: number; y: number }
  d: { x: number; y: number }
  dest: { width: number; height: number }
}

/** One axis of MPS's windows: where the region a VALID op reads starts, and how long it is. */
interface Span {
  start: number
  len: number
  size: number
}

/**
 * The source region a VALID op with stride s reads for MPS's windows: window x starts at
 * `offset - floor(kEff / 2) + s * x`; the region spans `s * (out - 1) + kEff` pixels from the
 * first start (kEff the dilated window).
 */
function spans(x: Tensor4, n: MpscnnNetworkNode, { k, s, d, dest }: Windows): [Span, Span] {
  const axis = (size: number, kSize: number, stride: number, dil: number, offset: number, out: number): Span => {
    const kEff = (kSize - 1) * dil + 1
    return { start: offset - Math.floor(kEff / 2), len: stride * (out - 1) + kEff, size }
  }
  return [
    axis(x.shape[1], k.height, s.y, d.y, n.offset?.y ?? 0, dest.height),
    axis(x.shape[2], k.width, s.x, d.x, n.offset?.x ?? 0, dest.width),
  ]
}

/** Slices one spatial axis to `[from, from + len)`, unless that is the whole axis. */
function sliceAxis(tf: typeof Tfc, t: Tensor4, dim: 1 | 2, from: number, len: number): Tensor4 {
  if (from === 0 && len === t.shape[dim]) return t
  const begin = [0, 0, 0, 0]
  const size = [-1, -1, -1, -1]
  begin[dim] = from
  size[dim] = len
  return tf.slice(t, begin, size) as Tensor4
}

/**
 * The region of {@link spans}, padded where it leaves the image (zeros, or the edge pixel for
 * clamp), for a VALID op.
 */
export function window(tf: typeof Tfc, x: Tensor4, n: MpscnnNetworkNode, w: Windows, mode: 'zero' | 'clamp'): Tensor4 {
  const [ys, xs] = spans(x, n, w)
  let t = x
  for (const [dim, a] of [[1, ys], [2, xs]] as const) {
    const before = Math.max(0, -a.start)
    const after = Math.max(0, a.start + a.len - a.size)
    if (before || after) t = padAxis(tf, t, dim, before, after, mode)
    t = sliceAxis(tf, t, dim, a.start + before, a.len)
  }
  return t
}

/**
 * The same region for an op that pads with zeros itself (tfjs's explicit padding, as
 * `[[0, 0], [top, bottom], [left, right], [0, 0]]`): the part of the image it covers, and the
 * zeros around it. Equal to {@link window} with zero edge mode, without copying the source
 * into a padded tensor first.
 */
export function zeroWindow(tf: typeof Tfc, x: Tensor4, n: MpscnnNetworkNode, w: Windows): { x: Tensor4; pad: [[0, 0], [number, number], [number, number], [0, 0]] } {
  const [ys, xs] = spans(x, n, w)
  let t = x
  const pads: [number, number][] = []
  for (const [dim, a] of [[1, ys], [2, xs]] as const) {
    const from = Math.max(0, a.start)
    const to = Math.min(a.size, a.start + a.len)
    if (to <= from) return { x: window(tf, x, n, w, 'zero'), pad: [[0, 0], [0, 0], [0, 0], [0, 0]] } // the windows miss the image
    t = sliceAxis(tf, t, dim, from, to - from)
    pads.push([from - a.start, a.start + a.len - to])
  }
  return { x: t, pad: [[0, 0], pads[0], pads[1], [0, 0]] }
}

/**
 * MPSCNNConvolutionTranspose's intermediate image (MPSCNNConvolution.h): the source with
 * stride - 1 zeros between its pixels, `(in - 1) * s + 1` pixels per axis.
 */
export function zeroInserted(tf: typeof Tfc, x: Tensor4, s: { x: number; y: number }): Tensor4 {
  if (s.x === 1 && s.y === 1) return x
  const [, h, w, c] = x.shape
  const spread = tf.pad(tf.reshape(x, [1, h, 1, w, 1, c]), [[0, 0], [0, 0], [0, s.y - 1], [0, 0], [0, s.x - 1], [0, 0]])
  return tf.slice(tf.reshape(spread, [1, h * s.y, w * s.x, c]), [0, 0, 0, 0], [1, (h - 1) * s.y + 1, (w - 1) * s.x + 1, c]) as Tensor4
}

/** Pads one spatial axis: zeros, or copies of the edge pixel (MPSImageEdgeModeClamp). */
function padAxis(tf: typeof Tfc, t: Tensor4, dim: 1 | 2, before: number, after: number, mode: 'zero' | 'clamp'): Tensor4 {
  if (mode === 'zero') {
    const p: [number, number][] = [[0, 0], [0, 0], [0, 0], [0, 0]]
    p[dim] = [before, after]
    return tf.pad(t, p) as Tensor4
  }
  const n = t.shape[dim]
  const edge = (at: number, count: number): Tensor4 => {
    const begin = [0, 0, 0, 0]
    const size = [-1, -1, -1, -1]
    begin[dim] = at
    size[dim] = 1
    const reps = [1, 1, 1, 1]
    reps[dim] = count
    return tf.tile(tf.slice(t, begin, size), reps) as Tensor4
  }
  const parts: Tensor4[] = []
  if (before) parts.push(edge(0, before))
  parts.push(t)
  if (after) parts.push(edge(n - 1, after))
  return tf.concat(parts, dim) as Tensor4
}

/** An MPSCNNNeuron (MPSCNNNeuron.h's formulas). */
export function neuron(tf: typeof Tfc, x: Tfc.Tensor, f: MpscnnNeuron | null | undefined): Tfc.Tensor {
  if (!f) return x
  const a = f.a
  const b = f.b
  switch (f.type) {
    case 'relu': // f(x) = x >= 0 ? x : a * x
      return a ? tf.where(tf.greaterEqual(x, 0), x, tf.mul(x, a)) : tf.relu(x)
    case 'relu6': // ReLUN: min(x >= 0 ? x : a * x, b)
      return tf.minimum(a ? tf.where(tf.greaterEqual(x, 0), x, tf.mul(x, a)) : tf.relu(x), b ?? 6)
    case 'leakyRelu':
      return tf.where(tf.greaterEqual(x, 0), x, tf.mul(x, a ?? 0))
    case 'linear': // a * x + b
      return tf.add(tf.mul(x, a ?? 1), b ?? 0)
    case 'sigmoid':
      return tf.sigmoid(x)
    case 'tanh': // a * tanh(b * x)
      return tf.mul(tf.tanh(tf.mul(x, b ?? 1)), a ?? 1)
    case 'elu': // x >= 0 ? x : a * (exp(x) - 1)
      return tf.where(tf.greaterEqual(x, 0), x, tf.mul(tf.expm1(x), a ?? 1))
    case 'softPlus': // a * log(1 + exp(b * x))
      return tf.mul(tf.softplus(tf.mul(x, b ?? 1)), a ?? 1)
    case 'softSign': // x / (1 + |x|)
      return tf.div(x, tf.add(tf.abs(x), 1))
    case 'absolute':
      return tf.abs(x)
    default:
      throw new Error(`unplugin-mpscnn: unknown neuron ${JSON.stringify((f as { type: string }).type)}`)
  }
}

/**
 * The MPS neuron as tfjs's fused activation (the `activation` of `tf.fused.conv2d`), when one
 * computes exactly the same function; otherwise undefined, and the neuron runs on its own.
 */
export function fusedActivation(f: MpscnnNeuron | null | undefined): Tfc.fused.Activation | undefined {
  if (!f) return 'linear'
  if (f.type === 'relu' && !f.a) return 'relu'
  if (f.type === 'relu6' && !f.a && (f.b ?? 6) === 6) return 'relu6'
  if (f.type === 'sigmoid') return 'sigmoid'
  return undefined
}
