/**
 * MPS semantics on TensorFlow.js primitives: the source region a kernel's windows read
 * (MPSCNNKernel.h: `offset`, `edgeMode`), and the neurons (MPSCNNNeuron.h).
 */
import type * as Tfc from '@tensorflow/tfjs-core'
import type { MpscnnNetworkNode, MpscnnNeuron } from '../base/manifest-types.js'

type Tensor4 = Tfc.Tensor4D

/**
 * The source region a VALID op with stride s reads for MPS's windows: window x starts at
 * `offset - floor(kEff / 2) + s * x`; the region spans `s * (out - 1) + kEff` pixels from the
 * first start, padded where it leaves the image (zeros, or the edge pixel for clamp).
 */
export function window(
  tf: typeof Tfc,
  x: Tensor4,
  n: MpscnnNetworkNode,
  k: { width: number; height: number },
  s: { x: number; y: number },
  d: { x: number; y: number },
  dest: { width: number; height: number },
  mode: 'zero' | 'clamp',
): Tensor4 {
  const axis = (dim: 1 | 2, kSize: number, stride: number, dil: number, offset: number, out: number) => {
    const kEff = (kSize - 1) * dil + 1
    const start = offset - Math.floor(kEff / 2)
    const len = stride * (out - 1) + kEff
    return { start, len, size: x.shape[dim] }
  }
  const ys = axis(1, k.height, s.y, d.y, n.offset?.y ?? 0, dest.height)
  const xs = axis(2, k.width, s.x, d.x, n.offset?.x ?? 0, dest.width)
  let t = x
  for (const [dim, a] of [[1, ys], [2, xs]] as const) {
    const before = Math.max(0, -a.start)
    const after = Math.max(0, a.start + a.len - a.size)
    if (before || after) t = padAxis(tf, t, dim, before, after, mode)
    const from = a.start + before
    if (from !== 0 || a.len !== t.shape[dim]) {
      const begin = [0, 0, 0, 0]
      const size = [-1, -1, -1, -1]
      begin[dim] = from
      size[dim] = a.len
      t = tf.slice(t, begin, size) as Tensor4
    }
  }
  return t
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
