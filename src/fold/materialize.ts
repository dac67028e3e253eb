/**
 * Laying out planned layers: one layer at a time, the folded weights in MPSCNN order
 * (float32, or IEEE half for float16) and the bias, on whichever thread calls it.
 */
import { MpscnnError } from '../base/errors.js'
import { toHalf } from '../base/half.js'
import { float32Content } from '../graphdef/tensor.js'
import { finite, float32Source, scaleRows, transposeScaled } from './layout.js'
import type { LayerInfo, LayerPlan } from './plan-layers.js'
import { transposeSimd } from './simd.js'

export type Precision = 'float32' | 'float16'

interface FoldedLayer {
  info: LayerInfo
  weights: Float32Array
  bias: Float32Array
}

/** The weights with their input rows (K) in `p.inputOrder`, in the plan's own layout. */
function permuteInputs(src: Float32Array, p: LayerPlan): Float32Array {
  const order = p.inputOrder!
  const O = p.info.outputChannels
  const out = new Float32Array(src.length)
  if (p.layout === 'transpose') for (let k = 0; k < p.K; k++) out.set(src.subarray(order[k] * O, order[k] * O + O), k * O)
  else for (let o = 0; o < O; o++) for (let k = 0; k < p.K; k++) out[o * p.K + k] = src[o * p.K + order[k]]
  return out
}

/** Lays out one planned layer: folded float32 weights in MPSCNN order, and its bias. */
function materialize(p: LayerPlan, file: string, opts: { transient?: boolean } = {}): FoldedLayer {
  const O = p.info.outputChannels
  const bias = Float32Array.from(p.bias)
  const badBias = finite(bias)
  if (badBias >= 0) {
    throw new MpscnnError('NON_FINITE', file, `layer ${JSON.stringify(p.info.name)}: the folded bias at channel ${badBias} (${p.bias[badBias]}) overflows float32`, {
      node: p.info.folded.at(-1) ?? p.info.node,
      hint: 'Fix the checkpoint: weights and batch-norm parameters must be finite',
    })
  }
  const raw = p.weights.raw
  if (raw && !p.inputOrder && p.layout === 'transpose' && p.K > 1 && O > 1) {
    const r = transposeSimd(raw, p.K, O, p.scale)
    // A copy unless the caller is done with it before the next layout: a view of shared
    // memory would be slow to hand to a bundler (napi copies those element by element).
    if (r && r.finite) return { info: p.info, weights: opts.transient ? r.weights : r.weights.slice(), bias }
    // Not finite: the scalar path below finds the element to name.
  }
  const weights = new Float32Array(O * p.K)
  const src = p.inputOrder ? permuteInputs(float32Source(p.weights), p) : float32Source(p.weights)
  const chk = p.layout === 'rows' ? scaleRows(src, p.K, O, p.scale, weights) : transposeScaled(src, p.K, O, p.scale, weights)
  if (chk !== 0) {
    const bad = finite(src)
    throw new MpscnnError('NON_FINITE', file,
      bad >= 0 ? `weights hold ${src[bad]} at element ${bad}` : `folding the batch norm into the weights overflows float32`,
      { node: p.weightNode, hint: 'Fix the checkpoint: weights must be finite' })
  }
  return { info: p.info, weights, bias }
}

/** One layer, laid out and ready to write. `weights` is float32 or IEEE half bits. */
export interface OutputLayer {
  info: LayerInfo
  weights: Float32Array | Uint16Array
  bias: Float32Array
}

/** Lays out one planned layer in `precision`: the one layout, on whichever thread calls it. */
export function layOut(p: LayerPlan, precision: Precision, file: string, transient: boolean): OutputLayer {
  const l = materialize(p, file, { transient })
  if (precision === 'float32') return l
  const half = new Uint16Array(l.weights.length)
  const bad = toHalf(l.weights, half)
  if (bad >= 0) {
    throw new MpscnnError('HALF_OVERFLOW', file, `layer ${JSON.stringify(p.info.name)}: folded weight ${l.weights[bad]} at element ${bad} overflows float16 (max 65504)`, {
      node: p.weightNode,
      hint: 'Convert this model with precision float32',
    })
  }
  return { info: l.info, weights: half, bias: l.bias }
}

/**
 * Layer i's layout as plain data, for another thread that shares the model's bytes: the
 * layer's plan, with its weights as a byte range of those bytes instead of a tensor.
 */
export interface LayoutJob {
  layer: number
  plan: Omit<LayerPlan, 'weights'>
  /** The float32 weights: their shape, and where their bytes are in the model's bytes. */
  weightsShape: number[]
  srcOffset: number
  srcLength: number
}

/** The layer plan a LayoutJob describes, its weights viewed in `bytes` (the model's bytes, shared). */
export function jobPlan(job: LayoutJob, bytes: Uint8Array): LayerPlan {
  return { ...job.plan, weights: float32Content(job.weightsShape, bytes.subarray(job.srcOffset, job.srcOffset + job.srcLength)) }
}
