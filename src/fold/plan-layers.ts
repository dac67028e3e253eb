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
 *     (scale, bias) (fold-affine.ts).
 *  3. A Relu or Relu6 right after the chain is recorded as the layer's activation.
 *
 * Planning is cheap (attributes and per-channel vectors); the weights themselves are
 * laid out one layer at a time by materialize.ts, so callers can stream.
 */
import { MpscnnError } from '../base/errors.js'
import type { MpscnnLayer } from '../base/manifest-types.js'
import type { NodeDef } from '../graphdef/schema.js'
import type { Tensor } from '../graphdef/tensor.js'
import { attrBool, attrInts, attrString } from './attrs.js'
import { MaterializeBudget } from './budget.js'
import { ConstantFolder, VARIABLE_OPS } from './constant.js'
import { AFFINE_OPS, AffineFolder, BN_OPS } from './fold-affine.js'
import { Graph, PASS_THROUGH, type InputRef } from './graph.js'
import { LayerNames, layerName } from './layer-names.js'
import { inputPreprocessing } from './preprocessing.js'

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

interface Plan {
  layers: LayerPlan[]
  warnings: string[]
  /** Work done: consumer edges visited, fold steps taken, constant operands resolved (linear in nodes and edges). */
  stats: { steps: number }
}

const LAYER_OPS = new Set(['Conv2D', 'DepthwiseConv2dNative', 'MatMul', 'Conv2DBackpropInput'])

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

class Planner {
  readonly folder: ConstantFolder
  readonly folded = new Set<string>()
  readonly warnings: string[] = []
  readonly stats = { steps: 0 }
  /** Weighted ops whose weights are not constants, described for the warning. */
  readonly unresolved: string[] = []
  readonly fold: AffineFolder

  constructor(
    readonly graph: Graph,
    readonly file: string,
    readonly budget: MaterializeBudget,
  ) {
    this.folder = new ConstantFolder(graph, budget, this.stats)
    this.fold = new AffineFolder(graph, this.folder, file)
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

  planLayer(node: NodeDef): LayerPlan | null {
    const wRef = this.graph.input(node, 1)
    const wValue = this.folder.value(wRef)
    if (!wValue) {
      // Activation x activation products (attention, Gram matrices) are not layers;
      // weights read from variables mean the graph was not frozen.
      const src = this.graph.node(this.graph.source(wRef).name)!
      if (!(src.op === 'Placeholder' && node.op === 'MatMul') && VARIABLE_OPS.has(src.op)) {
        this.fold.error('NOT_FROZEN', node.name, `weights come from ${JSON.stringify(src.op)} ${JSON.stringify(src.name)}, not a constant`, 'Freeze the graph (convert variables to constants) before converting it')
      }
      // Not a layer, and never dropped in silence: plan() names it in a warning.
      this.unresolved.push(`${node.op} ${JSON.stringify(node.name)} (${weightsOperand(node.op)} from ${src.op} ${JSON.stringify(src.name)})`)
      return null
    }
    const { tensor: w } = this.fold.constantInput(node, 1, 'weights')
    const weightNode = this.weightSource(wRef)
    const name = layerName(weightNode, node.name)

    let info: Omit<LayerInfo, 'activation' | 'folded'>
    let layout: LayerPlan['layout'] = 'transpose'
    let K: number
    let rank = 4
    let axis = 3
    let fmt = 'NHWC'
    if (node.op === 'MatMul') {
      if (attrBool(node, 'transpose_a', false)) this.fold.error('UNSUPPORTED', node.name, 'MatMul with transpose_a=true is not a fully connected layer', 'Only x * W (optionally W transposed) converts')
      if (w.shape.length !== 2) this.fold.error('BAD_SHAPE', weightNode, `MatMul weights have shape [${w.shape}], expected [in, out]`)
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
      if (w.shape.length !== 4) this.fold.error('BAD_SHAPE', weightNode, `${node.op} filter has shape [${w.shape}], expected [kernelH, kernelW, in, out]`)
      fmt = attrString(node, 'data_format', 'NHWC')
      if (fmt !== 'NHWC' && fmt !== 'NCHW') this.fold.error('UNSUPPORTED', node.name, `data_format ${fmt} is not supported`, 'Use NHWC or NCHW')
      axis = fmt === 'NCHW' ? 1 : 3
      const hw = fmt === 'NCHW' ? [2, 3] : [1, 2]
      const strides = attrInts(node, 'strides', [1, 1, 1, 1])
      const dil = attrInts(node, 'dilations', [1, 1, 1, 1])
      const pad = attrString(node, 'padding', '')
      if (pad !== 'SAME' && pad !== 'VALID') {
        this.fold.error('UNSUPPORTED', node.name, `padding ${JSON.stringify(pad)} is not supported`, 'MPSCNN layers take SAME or VALID padding; pad the input explicitly')
      }
      const [kh, kw, inC, m] = w.shape
      if (node.op === 'Conv2DBackpropInput' && (dil[hw[0]] ?? 1) * (dil[hw[1]] ?? 1) !== 1) this.fold.error('UNSUPPORTED', node.name, 'Conv2DBackpropInput with dilations is not supported', 'MPSCNNConvolutionTranspose takes dilation 1')
      const common = {
        op: node.op, node: node.name, kernelHeight: kh, kernelWidth: kw,
        strideY: strides[hw[0]] ?? 1, strideX: strides[hw[1]] ?? 1,
        dilationY: dil[hw[0]] ?? 1, dilationX: dil[hw[1]] ?? 1,
        padding: (pad === 'SAME' ? 'same' : 'valid') as MpscnnLayer['padding'],
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
      this.fold.error('BAD_SHAPE', weightNode, `${node.op} weights have shape [${w.shape.join(', ')}]: zero ${dims[zero]}, a layer without weights`, 'The graph is damaged; export it again')
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
      if (!this.fold.foldAffine(next, cons[0].inputIndex, channels, rank, axis, fmt, scale, bias)) break
      folded.push(next.name)
      inChain.add(next.name)
      cur = next.name
    }
    for (const f of folded) this.folded.add(f)
    let activation: MpscnnLayer['activation'] = 'none'
    const after = this.graph.effectiveConsumers(cur, 0, this.stats)
    if (after.length === 1 && after[0].inputIndex === 0) {
      if (after[0].node.op === 'Relu') activation = 'relu'
      else if (after[0].node.op === 'Relu6') activation = 'relu6'
    }
    for (let c = 0; c < channels; c++) {
      if (!Number.isFinite(scale[c]) || !Number.isFinite(bias[c])) {
        this.fold.error('NON_FINITE', folded.at(-1) ?? node.name, `folding gives a non-finite scale or bias at channel ${c}`, 'Fix the checkpoint: weights and batch-norm parameters must be finite')
      }
    }
    return { info: { ...info, activation, folded }, weights, layout, K, scale, bias, weightNode }
  }

  plan(): Plan {
    const layers: LayerPlan[] = []
    const names = new LayerNames(this.file)
    for (const node of this.graph.nodes) {
      if (!LAYER_OPS.has(node.op)) continue
      const p = this.planLayer(node)
      if (!p) continue
      layers.push(p)
      names.add(p)
    }
    names.nameSharing()
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
