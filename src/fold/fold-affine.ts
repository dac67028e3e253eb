/**
 * Folding into a layer: the per-channel affine ops and batch norms after a weighted op,
 * composed into its per-output-channel (scale, bias), so that y = conv(x) * scale + bias.
 * BiasAdd, Add, Sub, Mul, RealDiv with a constant operand, BatchNormWithGlobalNormalization
 * and FusedBatchNorm* are folded; constant folding (constant.ts) has already reduced
 * spelled-out batch norms (`x * (gamma * rsqrt(var + eps)) + (beta - mean * ...)`) to such ops.
 */
import { MpscnnError } from '../base/errors.js'
import type { NodeDef } from '../graphdef/schema.js'
import { isFloatDtype, type Tensor } from '../graphdef/tensor.js'
import { attrBool, attrFloat, attrString } from './attrs.js'
import { VARIABLE_OPS, type ConstantFolder } from './constant.js'
import type { Graph, InputRef } from './graph.js'
import { finite } from './layout.js'

export const BN_OPS = new Set(['BatchNormWithGlobalNormalization', 'FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3'])
export const AFFINE_OPS = new Set(['BiasAdd', 'Add', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Div'])

/** Reads constant operands of `graph` (through `folder`) and composes affine ops into (scale, bias). */
export class AffineFolder {
  constructor(
    readonly graph: Graph,
    readonly folder: ConstantFolder,
    readonly file: string,
  ) {}

  error(code: string, node: string, problem: string, hint?: string): never {
    throw new MpscnnError(code, this.file, problem, { node, hint })
  }

  /** The constant at input i of node, or an error explaining why it is not one. */
  constantInput(node: NodeDef, i: number, what: string): { tensor: Tensor; source: InputRef } {
    const ref = this.graph.input(node, i)
    const tensor = this.folder.value(ref)
    const source = this.graph.source(ref)
    if (!tensor) {
      const src = this.graph.node(source.name)!
      if (VARIABLE_OPS.has(src.op)) {
        this.error('NOT_FROZEN', node.name, `${what} come from ${JSON.stringify(src.op)} ${JSON.stringify(src.name)}, not a constant`, 'Freeze the graph (convert variables to constants) before converting it')
      }
      this.error('NOT_CONSTANT', node.name, `${what} come from ${JSON.stringify(src.op)} ${JSON.stringify(src.name)}, which is not a constant`, 'Freeze the graph so that weights are constants')
    }
    if (!isFloatDtype(tensor.dtype)) {
      this.error('UNSUPPORTED_DTYPE', source.name, `${what} have a non-float dtype`, 'Weights and batch-norm parameters must be float32, float16, bfloat16 or float64')
    }
    return { tensor, source }
  }

  /**
   * A constant as one value per output channel, for a value of the given rank whose
   * channels are on `axis`; null when it does not broadcast per channel.
   */
  perChannel(t: Tensor, channels: number, rank: number, axis: number, node: string): Float64Array | null {
    const off = rank - t.shape.length
    // The channel dimension first: one that cannot broadcast against the layer's channels
    // makes the graph invalid (TF cannot run it), whatever the other dimensions are.
    const len = axis - off >= 0 ? t.shape[axis - off] : 1
    if (len !== 1 && len !== channels) {
      this.error('SHAPE_MISMATCH', node, `a constant of shape [${t.shape.join(', ')}] has ${len} values along the channels but the layer has ${channels} output channels`, 'The graph is inconsistent; export it again')
    }
    // Valid, but not one value per channel (it varies along another dimension, or adds one).
    if (off < 0) return null
    for (let d = 0; d < t.shape.length; d++) if (d + off !== axis && t.shape[d] !== 1) return null
    const out = new Float64Array(channels)
    if (len === 1) out.fill(t.data[0] ?? 0)
    else for (let i = 0; i < channels; i++) out[i] = t.data[i]
    const bad = finite(out)
    if (bad >= 0) this.error('NON_FINITE', node, `a constant folded into the layer holds ${out[bad]} at channel ${bad}`, 'Fix the checkpoint: weights and batch-norm parameters must be finite')
    return out
  }

  bnVector(node: NodeDef, i: number, what: string, channels: number): Float64Array {
    const { tensor } = this.constantInput(node, i, `batch-norm ${what}`)
    if (tensor.data.length !== channels) {
      this.error('SHAPE_MISMATCH', node.name, `batch-norm ${what} has ${tensor.data.length} values but the layer has ${channels} output channels`, 'The graph is inconsistent; export it again')
    }
    const out = Float64Array.from(tensor.data)
    const bad = finite(out)
    if (bad >= 0) this.error('NON_FINITE', node.name, `batch-norm ${what} holds ${out[bad]} at channel ${bad}`, 'Fix the checkpoint: batch-norm parameters must be finite')
    return out
  }

  /** Folds BN op `bn` into (scale, bias). Returns false when it cannot be folded here. */
  foldBatchNorm(bn: NodeDef, channels: number, layout: string, scale: Float64Array, bias: Float64Array): boolean {
    let mean: Float64Array
    let variance: Float64Array
    let beta: Float64Array
    let gamma: Float64Array | null
    let eps: number
    if (bn.op === 'BatchNormWithGlobalNormalization') {
      // Inputs: t, m, v, beta, gamma. Both attributes are required by the op definition.
      const e = attrFloat(bn, 'variance_epsilon', undefined)
      const sa = attrBool(bn, 'scale_after_normalization', undefined)
      if (e === undefined || sa === undefined) {
        this.error('BAD_GRAPH', bn.name, `BatchNormWithGlobalNormalization lacks the required attribute ${e === undefined ? 'variance_epsilon' : 'scale_after_normalization'}`, 'The graph is damaged; export it again')
      }
      eps = e
      mean = this.bnVector(bn, 1, 'mean', channels)
      variance = this.bnVector(bn, 2, 'variance', channels)
      beta = this.bnVector(bn, 3, 'beta', channels)
      gamma = sa ? this.bnVector(bn, 4, 'gamma', channels) : null
    } else {
      // FusedBatchNorm*: x, scale, offset, mean, variance. Defaults: epsilon 1e-4,
      // is_training true, data_format NHWC.
      if (attrBool(bn, 'is_training', true)) {
        this.error('TRAINING_BN', bn.name, `${bn.op} has is_training=true${bn.attr.is_training ? '' : ' (the default, as the attribute is absent)'}, so it normalizes with batch statistics, not the stored mean and variance`, 'Export the inference graph (is_training=False, e.g. tf.keras.backend.set_learning_phase(0)) and freeze it again')
      }
      const fmt = attrString(bn, 'data_format', 'NHWC')
      if (fmt !== layout) return false
      eps = attrFloat(bn, 'epsilon', 0.0001)!
      gamma = this.bnVector(bn, 1, 'scale (gamma)', channels)
      beta = this.bnVector(bn, 2, 'offset (beta)', channels)
      mean = this.bnVector(bn, 3, 'mean', channels)
      variance = this.bnVector(bn, 4, 'variance', channels)
    }
    for (let c = 0; c < channels; c++) {
      const ve = variance[c] + eps
      if (!(ve > 0)) {
        this.error('BAD_VARIANCE', bn.name, `variance + epsilon is ${ve} at channel ${c}; it must be positive`, 'Fix the checkpoint: moving variances must be non-negative')
      }
      const s = (gamma ? gamma[c] : 1) / Math.sqrt(ve)
      scale[c] *= s
      bias[c] = (bias[c] - mean[c]) * s + beta[c]
    }
    return true
  }

  /** Tries to compose `op` (consuming the layer's value at input `at`) into (scale, bias). */
  foldAffine(op: NodeDef, at: number, channels: number, rank: number, axis: number, layout: string, scale: Float64Array, bias: Float64Array): boolean {
    if (BN_OPS.has(op.op)) {
      if (at !== 0 || rank !== 4) return false
      return this.foldBatchNorm(op, channels, layout, scale, bias)
    }
    if (!AFFINE_OPS.has(op.op)) return false
    const other = at === 0 ? 1 : 0
    const c = this.folder.value(this.graph.input(op, other))
    if (!c || !isFloatDtype(c.dtype)) return false
    let v: Float64Array | null
    if (op.op === 'BiasAdd') {
      if (at !== 0 || c.shape.length !== 1) return false
      const fmt = attrString(op, 'data_format', 'NHWC')
      if ((fmt === 'NCHW' && rank === 4 ? 1 : rank - 1) !== axis) return false
      // BiasAdd adds its 1-D bias along that axis (dimension 1 for NCHW), not broadcast
      // from the last dimension as Add is: a vector of one value per channel.
      v = this.perChannel(c, channels, 1, 0, op.name)
    } else {
      v = this.perChannel(c, channels, rank, axis, op.name)
    }
    if (!v) return false
    switch (op.op) {
      case 'BiasAdd':
      case 'Add':
      case 'AddV2':
        for (let i = 0; i < channels; i++) bias[i] += v[i]
        return true
      case 'Sub':
        if (at === 0) for (let i = 0; i < channels; i++) bias[i] -= v[i]
        else
          for (let i = 0; i < channels; i++) {
            scale[i] = -scale[i]
            bias[i] = v[i] - bias[i]
          }
        return true
      case 'Mul':
        for (let i = 0; i < channels; i++) {
          scale[i] *= v[i]
          bias[i] *= v[i]
        }
        return true
      default: // RealDiv, Div
        if (at !== 0) return false
        for (let i = 0; i < channels; i++) {
          scale[i] /= v[i]
          bias[i] /= v[i]
        }
        return true
    }
  }
}
