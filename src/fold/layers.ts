/**
 * Graph -> MPSCNN layers. One mechanism covers every batch-norm spelling:
 *
 *  1. Each Conv2D, DepthwiseConv2dNative, MatMul or Conv2DBackpropInput whose weights fold
 *     to a constant (also through Dequantize or FakeQuant) starts a layer; one whose weights
 *     are not constant is named in a warning, never dropped in silence. A layer starts
 *     with a per-output-channel affine map y = conv(x) * scale + bias (scale 1, bias 0).
 *  2. While the layer's value has exactly one real consumer and that consumer is a
 *     per-channel affine op with a constant operand (BiasAdd, Add, Sub, Mul, RealDiv,
 *     BatchNormWithGlobalNormalization, FusedBatchNorm*), the op is composed into
 *     (scale, bias). Constant folding (constant.ts) has already reduced spelled-out
 *     batch norms (`x * (gamma * rsqrt(var + eps)) + (beta - mean * ...)`) to such ops.
 *  3. A Relu or Relu6 right after the chain is recorded as the layer's activation.
 *
 * Planning is cheap (attributes and per-channel vectors); the weights themselves are
 * laid out one layer at a time by `materialize`, so callers can stream.
 */
import { MpscnnError } from '../base/errors.js'
import type { MpscnnLayer } from '../base/manifest-types.js'
import type { NodeDef } from '../graphdef/schema.js'
import { float32Content, isFloatDtype, type Tensor } from '../graphdef/tensor.js'
import { toHalf } from '../base/half.js'
import { attrBool, attrFloat, attrInts, attrString } from './attrs.js'
import { MaterializeBudget } from './budget.js'
import { ConstantFolder, VARIABLE_OPS } from './constant.js'
import { Graph, PASS_THROUGH, type InputRef } from './graph.js'
import { inputPreprocessing } from './preprocessing.js'
import { float32Source, scaleRows, transposeScaled } from './layout.js'
import { transposeSimd } from './simd.js'

export type LayerKind = MpscnnLayer['kind']
export type Activation = MpscnnLayer['activation']
export type Padding = MpscnnLayer['padding']
export type Precision = 'float32' | 'float16'

/**
 * A layer as the manifest describes it (name, kind, channels, kernel, stride, dilation,
 * groups, padding, activation: see MpscnnLayer in runtime.ts), plus what the converter
 * keeps for itself.
 */
export interface LayerInfo extends Omit<MpscnnLayer, 'weights' | 'bias'> {
  /** The TF op that starts the layer and its node name. */
  op: string
  node: string
  /** MPSCNN weight shape `[out, kernelH, kernelW, in / groups]` (`[channels, kH, kW]` for depthwise). */
  weightShape: number[]
  /** The TF nodes folded into this layer, in order (BN, bias adds, ...). */
  folded: string[]
}

export interface LayerPlan {
  info: LayerInfo
  weights: Tensor
  /** 'transpose': weights are [K][O]; 'rows': already [O][K]. */
  layout: 'transpose' | 'rows'
  K: number
  scale: Float64Array
  bias: Float64Array
  weightNode: string
  /**
   * Set by the network description for a fully connected layer after a flatten of an NCHW
   * tensor: input k of the laid-out weights is TF's input `inputOrder[k]` (C, H, W order
   * becomes MPSCNNFullyConnected's H, W, C).
   */
  inputOrder?: Int32Array
}

export interface FoldedLayer {
  info: LayerInfo
  weights: Float32Array
  bias: Float32Array
}

export interface Plan {
  layers: LayerPlan[]
  warnings: string[]
  /** Work done: consumer edges visited, fold steps taken, constant operands resolved (linear in nodes and edges). */
  stats: { steps: number }
}

const BN_OPS = new Set(['BatchNormWithGlobalNormalization', 'FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3'])
const AFFINE_OPS = new Set(['BiasAdd', 'Add', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Div'])
const LAYER_OPS = new Set(['Conv2D', 'DepthwiseConv2dNative', 'MatMul', 'Conv2DBackpropInput'])

/**
 * `mixed_9/tower/mixed/conv/conv2d_params` -> `mixed_9_tower_mixed_conv`; `softmax/weights` -> `softmax`.
 * A weight constant without a scope (TF2 frozen graphs name them `2687`, `2699`) gives the
 * scope of the op that reads it, `opNode`: `model_11/conv2d_33/Conv2D` -> `model_11_conv2d_33`
 * (leading `StatefulPartitionedCall/` function-call scopes left out).
 */
export function layerName(weightNode: string, opNode?: string): string {
  // TF2's function-call scopes (`StatefulPartitionedCall/model_11/...`) say nothing about the layer.
  const named = opNode !== undefined && !weightNode.includes('/') && opNode.includes('/') ? opNode.replace(/^((Stateful)?PartitionedCall(_\d+)?\/)+/, '') : weightNode
  const slash = named.lastIndexOf('/')
  const scope = slash > 0 ? named.slice(0, slash) : named
  return scope.replace(/\//g, '_')
}

/**
 * TF's Conv2DBackpropInput filter `[kH][kW][out][in]` as the plan's `[K][O]` rows, K = (j, i, in):
 * rotated by 180 degrees (`[kH - 1 - j][kW - 1 - i]`), because MPSCNNConvolutionTranspose
 * convolves the zero-stuffed source with the weights as given (docs/network.md).
 */
function rotateTransposeFilter(w: Tensor): Tensor {
  const [kh, kw, out, inC] = w.shape
  const src = w.data
  const data = new Float32Array(src.length)
  for (let j = 0; j < kh; j++)
    for (let i = 0; i < kw; i++)
      for (let c = 0; c < inC; c++)
        for (let o = 0; o < out; o++) data[((j * kw + i) * inC + c) * out + o] = src[(((kh - 1 - j) * kw + (kw - 1 - i)) * out + o) * inC + c]
  return { dtype: w.dtype, shape: [kh, kw, inC, out], data }
}

/** What a weighted op's input 1 is called. */
function weightsOperand(op: string): string {
  return op === 'MatMul' ? 'its second operand comes' : 'its filter comes'
}

function finite(t: ArrayLike<number>): number {
  for (let i = 0; i < t.length; i++) {
    const v = t[i]
    if (v !== v || v === Infinity || v === -Infinity) return i
  }
  return -1
}

class Planner {
  readonly folder: ConstantFolder
  readonly folded = new Set<string>()
  readonly warnings: string[] = []
  readonly stats = { steps: 0 }
  /** Weighted ops whose weights are not constants, described for the warning. */
  readonly unresolved: string[] = []

  constructor(
    readonly graph: Graph,
    readonly file: string,
    readonly budget: MaterializeBudget,
  ) {
    this.folder = new ConstantFolder(graph, budget, this.stats)
  }

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

  /** Where the weights really come from (through Identity `/read` and Cast nodes). */
  weightSource(ref: InputRef): string {
    let cur = this.graph.source(ref)
    for (let guard = 0; guard < 64; guard++) {
      const n = this.graph.node(cur.name)!
      if (n.op !== 'Cast' && !PASS_THROUGH.has(n.op)) break
      const next = this.graph.inputs.get(n.name)![0]
      if (!next) break
      cur = this.graph.source(next)
    }
    return cur.name
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
    let cAxis = axis
    if (op.op === 'BiasAdd') {
      if (at !== 0 || c.shape.length !== 1) return false
      const fmt = attrString(op, 'data_format', 'NHWC')
      cAxis = fmt === 'NCHW' && rank === 4 ? 1 : rank - 1
      if (cAxis !== axis) return false
    }
    const v = this.perChannel(c, channels, rank, cAxis, op.name)
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

  planLayer(node: NodeDef): LayerPlan | null {
    const wRef = this.graph.input(node, 1)
    const wValue = this.folder.value(wRef)
    if (!wValue) {
      // Activation x activation products (attention, Gram matrices) are not layers;
      // weights read from variables mean the graph was not frozen.
      const src = this.graph.node(this.graph.source(wRef).name)!
      if (!(src.op === 'Placeholder' && node.op === 'MatMul') && VARIABLE_OPS.has(src.op)) {
        this.error('NOT_FROZEN', node.name, `weights come from ${JSON.stringify(src.op)} ${JSON.stringify(src.name)}, not a constant`, 'Freeze the graph (convert variables to constants) before converting it')
      }
      // Not a layer, and never dropped in silence: plan() names it in a warning.
      this.unresolved.push(`${node.op} ${JSON.stringify(node.name)} (${weightsOperand(node.op)} from ${src.op} ${JSON.stringify(src.name)})`)
      return null
    }
    const { tensor: w } = this.constantInput(node, 1, 'weights')
    const weightNode = this.weightSource(wRef)
    const name = layerName(weightNode, node.name)

    let info: Omit<LayerInfo, 'activation' | 'folded'>
    let layout: LayerPlan['layout'] = 'transpose'
    let K: number
    let rank = 4
    let axis = 3
    let fmt = 'NHWC'
    if (node.op === 'MatMul') {
      if (attrBool(node, 'transpose_a', false)) this.error('UNSUPPORTED', node.name, 'MatMul with transpose_a=true is not a fully connected layer', 'Only x * W (optionally W transposed) converts')
      if (w.shape.length !== 2) this.error('BAD_SHAPE', weightNode, `MatMul weights have shape [${w.shape}], expected [in, out]`)
      const tb = attrBool(node, 'transpose_b', false)
      const [inC, outC] = tb ? [w.shape[1], w.shape[0]] : [w.shape[0], w.shape[1]]
      if (tb) layout = 'rows'
      K = inC
      rank = 2
      axis = 1
      info = {
        name, kind: 'fullyConnected', op: node.op, node: node.name,
        inputChannels: inC, outputChannels: outC, kernelHeight: 1, kernelWidth: 1,
        strideY: 1, strideX: 1, dilationY: 1, dilationX: 1, groups: 1, padding: 'valid',
        weightShape: [outC, 1, 1, inC],
      }
    } else {
      if (w.shape.length !== 4) this.error('BAD_SHAPE', weightNode, `${node.op} filter has shape [${w.shape}], expected [kernelH, kernelW, in, out]`)
      fmt = attrString(node, 'data_format', 'NHWC')
      if (fmt !== 'NHWC' && fmt !== 'NCHW') this.error('UNSUPPORTED', node.name, `data_format ${fmt} is not supported`, 'Use NHWC or NCHW')
      axis = fmt === 'NCHW' ? 1 : 3
      const hw = fmt === 'NCHW' ? [2, 3] : [1, 2]
      const strides = attrInts(node, 'strides', [1, 1, 1, 1])
      const dil = attrInts(node, 'dilations', [1, 1, 1, 1])
      const pad = attrString(node, 'padding', '')
      if (pad !== 'SAME' && pad !== 'VALID') {
        this.error('UNSUPPORTED', node.name, `padding ${JSON.stringify(pad)} is not supported`, 'MPSCNN layers take SAME or VALID padding; pad the input explicitly')
      }
      const [kh, kw, inC, m] = w.shape
      if (node.op === 'Conv2DBackpropInput' && (dil[hw[0]] ?? 1) * (dil[hw[1]] ?? 1) !== 1) this.error('UNSUPPORTED', node.name, 'Conv2DBackpropInput with dilations is not supported', 'MPSCNNConvolutionTranspose takes dilation 1')
      const common = {
        op: node.op, node: node.name, kernelHeight: kh, kernelWidth: kw,
        strideY: strides[hw[0]] ?? 1, strideX: strides[hw[1]] ?? 1,
        dilationY: dil[hw[0]] ?? 1, dilationX: dil[hw[1]] ?? 1,
        padding: (pad === 'SAME' ? 'same' : 'valid') as Padding,
      }
      if (node.op === 'Conv2DBackpropInput') {
        // TF's filter is the forward convolution's [kH, kW, out (= this op's output), in (= out_backprop's)].
        K = kh * kw * m
        info = { name, kind: 'convolutionTranspose', ...common, inputChannels: m, outputChannels: inC, groups: 1, weightShape: [inC, kh, kw, m] }
      } else if (node.op === 'Conv2D') {
        K = kh * kw * inC
        info = { name, kind: 'conv', ...common, inputChannels: inC, outputChannels: m, groups: 1, weightShape: [m, kh, kw, inC] }
      } else if (m === 1) {
        K = kh * kw
        info = { name, kind: 'depthwise', ...common, inputChannels: inC, outputChannels: inC, groups: inC, weightShape: [inC, kh, kw] }
      } else {
        // Channel multiplier > 1: a grouped convolution, output channel c * m + j as TF orders them.
        K = kh * kw
        info = { name, kind: 'conv', ...common, inputChannels: inC, outputChannels: inC * m, groups: inC, weightShape: [inC * m, kh, kw, 1] }
      }
    }
    let weights = w
    if (node.op === 'Conv2DBackpropInput') {
      this.budget.charge(w.data.length * 4, weightNode, 'rotating the transposed convolution\'s filter')
      weights = rotateTransposeFilter(w)
    }
    const zero = w.shape.indexOf(0)
    if (zero >= 0) {
      const dims =
        node.op === 'Conv2DBackpropInput' ? ['kernel height', 'kernel width', 'output channels', 'input channels']
        : node.op !== 'MatMul' ? ['kernel height', 'kernel width', 'input channels', node.op === 'Conv2D' ? 'output channels' : 'channel multiplier']
        : layout === 'rows' ? ['output channels', 'input channels'] : ['input channels', 'output channels']
      this.error('BAD_SHAPE', weightNode, `${node.op} weights have shape [${w.shape.join(', ')}]: zero ${dims[zero]}, a layer without weights`, 'The graph is damaged; export it again')
    }
    // The laid-out weights and bias count against the same bound as folding.
    this.budget.charge((info.outputChannels * K + info.outputChannels) * 4, weightNode, `laying out layer ${JSON.stringify(name)}`)
    const channels = info.outputChannels
    const scale = new Float64Array(channels).fill(1)
    const bias = new Float64Array(channels)
    const folded: string[] = []
    const inChain = new Set<string>()
    let cur = node.name
    for (;;) {
      this.stats.steps++
      const cons = this.graph.effectiveConsumers(cur, 0, this.stats)
      if (cons.length !== 1) break
      const next = cons[0].node
      if (this.folded.has(next.name) || inChain.has(next.name)) break
      if (!this.foldAffine(next, cons[0].inputIndex, channels, rank, axis, fmt, scale, bias)) break
      folded.push(next.name)
      inChain.add(next.name)
      cur = next.name
    }
    for (const f of folded) this.folded.add(f)
    let activation: Activation = 'none'
    const after = this.graph.effectiveConsumers(cur, 0, this.stats)
    if (after.length === 1 && after[0].inputIndex === 0) {
      if (after[0].node.op === 'Relu') activation = 'relu'
      else if (after[0].node.op === 'Relu6') activation = 'relu6'
    }
    for (let c = 0; c < channels; c++) {
      if (!Number.isFinite(scale[c]) || !Number.isFinite(bias[c])) {
        this.error('NON_FINITE', folded.at(-1) ?? node.name, `folding gives a non-finite scale or bias at channel ${c}`, 'Fix the checkpoint: weights and batch-norm parameters must be finite')
      }
    }
    return { info: { ...info, activation, folded }, weights, layout, K, scale, bias, weightNode }
  }

  plan(): Plan {
    const layers: LayerPlan[] = []
    const names = new Map<string, string>()
    /** Layers whose weight constant an earlier layer already uses: named below. */
    const sharing: LayerPlan[] = []
    const firstUse = new Map<string, LayerPlan>()
    for (const node of this.graph.nodes) {
      if (!LAYER_OPS.has(node.op)) continue
      const p = this.planLayer(node)
      if (!p) continue
      layers.push(p)
      if (firstUse.has(p.weightNode)) {
        sharing.push(p)
        continue
      }
      firstUse.set(p.weightNode, p)
      const prev = names.get(p.info.name)
      if (prev !== undefined && !p.weightNode.includes('/')) {
        // Named after the op's scope (a scopeless constant): two weighted ops in one scope are numbered.
        let n = 2
        while (names.has(`${p.info.name}_${n}`)) n++
        p.info.name = `${p.info.name}_${n}`
      } else if (prev !== undefined) {
        this.error('NAME_COLLISION', p.weightNode, `layer name ${JSON.stringify(p.info.name)} is also the name of the layer from ${JSON.stringify(prev)}`, 'Rename one of the weight constants so that their scopes differ')
      }
      names.set(p.info.name, p.weightNode)
    }
    // Every op is a layer, also when it shares its weights with another: the first op
    // takes the weight's scope as its name, every other one its own scope
    // (`tower/conv/Conv2D` -> `tower_conv`), or `<weight scope>_<op name>` when that is taken.
    for (const p of sharing) {
      const own = layerName(p.info.node)
      let name = names.has(own) ? `${firstUse.get(p.weightNode)!.info.name}_${p.info.node.replace(/\//g, '_')}` : own
      for (let n = 2; names.has(name); n++) name = `${own}_${n}`
      names.set(name, p.weightNode)
      p.info.name = name
    }
    const unresolved = this.unresolved.length ? `${this.unresolved.length} weighted op${this.unresolved.length > 1 ? 's' : ''} with weights that are not constants: ${this.unresolved.join(', ')}` : ''
    if (layers.length === 0) {
      throw new MpscnnError('NO_LAYERS', this.file, `no convertible layer: no Conv2D, DepthwiseConv2dNative, MatMul or Conv2DBackpropInput with constant weights among ${this.graph.nodes.length} nodes${unresolved ? `; ${unresolved}` : ''}`, {
        hint: 'Check that this is the frozen inference graph of a vision model',
      })
    }
    if (unresolved) this.warnings.push(`${this.file}: ${unresolved}; ${this.unresolved.length > 1 ? 'they are' : 'it is'} not converted`)
    this.warnUnfolded()
    return { layers, warnings: this.warnings, stats: this.stats }
  }

  /** Every BN or constant affine op left in the graph is reported, never silently dropped. */
  private warnUnfolded(): void {
    const left: NodeDef[] = []
    for (const node of this.graph.nodes) {
      if (this.folded.has(node.name)) continue
      const isBn = BN_OPS.has(node.op)
      if (!isBn && !AFFINE_OPS.has(node.op)) continue
      if (this.folder.isConstant(node.name)) continue // part of a constant subgraph
      if (!isBn) {
        const ins = this.graph.inputs.get(node.name) ?? []
        const consts = ins.filter((r) => this.folder.isConstant(r.name)).length
        if (consts !== 1 || ins.length !== 2) continue // x + y of two activations: not an affine op
      }
      left.push(node)
    }
    const pre = inputPreprocessing(this.graph, this.folder, left.filter((n) => AFFINE_OPS.has(n.op)))
    if (pre) this.warnings.push(`${this.file}: the input's preprocessing, ${pre.ops}, is not part of the weights: the app must apply it to the input ${JSON.stringify(pre.input)} before the first layer: ${pre.formula}`)
    const rest = left.filter((n) => !pre?.nodes.has(n))
    if (rest.length) {
      const list = rest.map((n) => `${n.op} ${JSON.stringify(n.name)}`).join(', ')
      this.warnings.push(`${this.file}: ${rest.length} batch-norm or affine op${rest.length > 1 ? 's were' : ' was'} not folded into any layer and must be applied by the app: ${list}`)
    }
  }
}

/** `maxBytes`: the bound on what the conversion materialises (see fold/budget.ts). */
export function planLayers(graph: Graph, file: string, maxBytes = Infinity): Plan {
  return new Planner(graph, file, new MaterializeBudget(file, maxBytes)).plan()
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
export function materialize(p: LayerPlan, file: string, opts: { transient?: boolean } = {}): FoldedLayer {
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
