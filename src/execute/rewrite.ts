/**
 * The GraphDef as tfjs-converter will run it: pruned to what the outputs need from the
 * network input, completed with TensorFlow's attribute defaults, and rewritten wherever
 * tfjs-converter's op differs from TensorFlow's definition (docs/reference.md lists each
 * gap and its rewrite). Pure data: nothing here loads tfjs.
 *
 * - The input node becomes a float Placeholder; everything only upstream of it is dropped.
 * - Constants become weights (float32, int32 or bool) and stay as `Const` nodes without
 *   their value.
 * - Control inputs (`^name`) are dropped from the nodes: tfjs-converter would pass them to
 *   the op as extra data inputs (a `ConcatV2` would take one as its axis). The nodes they
 *   came from are returned in `control`, for the caller to execute with the outputs, so
 *   that a `CheckNumerics` still runs.
 * - A 4-D op in NCHW is run in NHWC between two `Transpose`s, its `strides`, `ksize`,
 *   `dilations` and `explicit_paddings` permuted: tfjs-converter reads them at NHWC
 *   positions whatever `data_format` says, and ignores `data_format` on pools,
 *   Conv2DBackpropInput and FusedBatchNorm (the wasm backend refuses NCHW Conv2D outright).
 *   The last Transpose keeps the TensorFlow node's name, so that its tensor has the layout
 *   TensorFlow gives it. BiasAdd in NCHW (any rank) is a custom op.
 * - Ops tfjs lacks or gets wrong go to custom ops (`_Mpscnn<Op>`, custom-ops.ts).
 */
import { MpscnnError } from '../base/errors.js'
import { DataType, dataTypeName, int64ToNumber, type AttrValue, type GraphDef, type NodeDef, type TensorProto } from '../graphdef/schema.js'
import { elementCount, shapeOf, tensorFromProto } from '../graphdef/tensor.js'
import { parseInput } from '../fold/graph.js'
import { withDefaults } from './op-defaults.js'

type WeightDtype = 'float32' | 'int32' | 'bool'

interface Weight {
  name: string
  shape: number[]
  dtype: WeightDtype
  data: Float32Array | Int32Array | Uint8Array
}

export interface RewrittenGraph {
  /** The nodes to load, in graph order (helper nodes next to the node they serve). */
  nodes: NodeDef[]
  weights: Weight[]
  /** TensorFlow node names whose output 0 the graph computes (not constants, not helpers), in graph order. */
  tensors: string[]
  /** Nodes that were the source of a control input: run them with the outputs. */
  control: string[]
}

/** Prefix of every node and op name the rewrite adds. */
const PREFIX = '_mpscnn'
/** Custom op names (registered by custom-ops.ts). */
export const CUSTOM = {
  BatchNormWithGlobalNormalization: '_MpscnnBatchNormWithGlobalNormalization',
  CheckNumerics: '_MpscnnCheckNumerics',
  FusedBatchNormTraining: '_MpscnnFusedBatchNormTraining',
  FakeQuantWithMinMaxArgs: '_MpscnnFakeQuantWithMinMaxArgs',
  FakeQuantWithMinMaxVars: '_MpscnnFakeQuantWithMinMaxVars',
  Dequantize: '_MpscnnDequantize',
  BiasAddNCHW: '_MpscnnBiasAddNCHW',
  Conv2DStridedDilated: '_MpscnnConv2DStridedDilated',
} as const
/**
 * Attributes the rewrite adds to custom op nodes: the model's file and the TF node name (for
 * errors), CheckNumerics' message and Dequantize's input type. They are strings written as lists of code points, because
 * tfjs-converter lower-cases every string attribute it hands to a custom op.
 */
export const NODE_ATTR = '_mpscnn_node'
export const FILE_ATTR = '_mpscnn_file'
export const MESSAGE_ATTR = '_mpscnn_message'
export const TYPE_ATTR = '_mpscnn_T'
const codes = (v: string): AttrValue => ({ list: { i: Array.from(v, (c) => c.codePointAt(0)!) } })
/** A string written by {@link codes}, as a custom op receives it. */
export const fromCodes = (v: unknown): string => (Array.isArray(v) ? String.fromCodePoint(...(v as number[])) : '')

const PERM_TO_NHWC = `${PREFIX}/perm_nchw_to_nhwc`
const PERM_TO_NCHW = `${PREFIX}/perm_nhwc_to_nchw`
const AXIS_0 = `${PREFIX}/axis_0`

/** Ops run in NHWC between two Transposes when NCHW (4-D by definition). BiasAdd, of any rank, has a custom op instead. */
const NCHW_OPS = new Set(['Conv2D', 'DepthwiseConv2dNative', 'Conv2DBackpropInput', 'MaxPool', 'AvgPool', 'FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3'])
const FUSED_BN = new Set(['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3'])
const PLACEHOLDERS = new Set(['Placeholder', 'PlaceholderV2'])

const utf8 = new TextEncoder()
const text = new TextDecoder()

function has(o: object | undefined, key: string): boolean {
  return o !== undefined && o !== null && Object.prototype.hasOwnProperty.call(o, key)
}

function str(node: NodeDef, key: string): string | undefined {
  const v = node.attr[key]
  return has(v, 's') && v.s ? text.decode(v.s) : undefined
}

function intList(node: NodeDef, key: string): number[] {
  return (node.attr[key]?.list?.i ?? []).map(int64ToNumber)
}

/** NCHW-ordered 4-list -> NHWC order. */
const nhwcOf = (v: number[]): number[] => (v.length === 4 ? [v[0], v[2], v[3], v[1]] : v)

interface RewriteOptions {
  /** Name of the node whose output 0 is the network input (it becomes a Placeholder). */
  input: string
  /** Output node names (`name` or `name:k`). */
  outputs: readonly string[]
  /** Ops tfjs-converter maps itself (its op lists). Any other op kept by the pruning is refused. */
  supported: ReadonlySet<string>
  /** For error messages. */
  file: string
}

export function rewriteGraph(def: GraphDef, opts: RewriteOptions): RewrittenGraph {
  const { input, file } = opts
  const byName = new Map<string, NodeDef>()
  for (const n of def.node) {
    if (byName.has(n.name)) throw new MpscnnError('DUPLICATE_NODE', file, 'two nodes have this name', { node: n.name, hint: 'The graph is damaged; export it again' })
    if (n.name.split('/').some((part) => part.startsWith(PREFIX))) {
      throw new MpscnnError('BAD_GRAPH', file, `node names with a part starting with ${JSON.stringify(PREFIX)} are reserved by the reference`, { node: n.name, hint: 'Rename the node' })
    }
    byName.set(n.name, n)
  }
  if (!byName.has(input)) throw new MpscnnError('BAD_GRAPH', file, `no node named ${JSON.stringify(input)} (the reference's input)`, { hint: 'Name the node whose output is the network input' })

  // Pruning: everything the outputs need, through data and control inputs, stopping at the input.
  const keep = new Set<string>()
  const stack: string[] = []
  for (const o of opts.outputs) {
    const ref = parseInput(o)!
    if (!byName.has(ref.name)) throw new MpscnnError('BAD_GRAPH', file, `no node named ${JSON.stringify(ref.name)} (a reference output)`, { hint: 'Name existing output nodes' })
    stack.push(ref.name)
  }
  while (stack.length > 0) {
    const name = stack.pop()!
    if (keep.has(name)) continue
    keep.add(name)
    if (name === input) continue
    for (const s of byName.get(name)!.input) {
      const from = s.startsWith('^') ? s.slice(1) : parseInput(s)!.name
      if (!byName.has(from)) throw new MpscnnError('BAD_GRAPH', file, `input ${JSON.stringify(s)} names no node`, { node: name, hint: 'The graph is damaged; export it again' })
      stack.push(from)
    }
  }

  keep.add(input) // fed even when an output does not depend on it
  const nodes: NodeDef[] = []
  const weights: Weight[] = []
  const tensors: string[] = []
  const control = new Set<string>()
  let perms = false

  for (const original of def.node) {
    if (!keep.has(original.name)) continue
    const name = original.name
    if (name === input) {
      nodes.push({ name, op: 'Placeholder', input: [], attr: { dtype: { type: DataType.DT_FLOAT } } })
      tensors.push(name)
      continue
    }
    if (original.op === 'Const') {
      weights.push(constantWeight(original, file))
      nodes.push({ name, op: 'Const', input: [], attr: { dtype: original.attr.dtype ?? { type: DataType.DT_FLOAT } } })
      continue
    }
    if (PLACEHOLDERS.has(original.op)) {
      throw new MpscnnError('BAD_GRAPH', file, `the outputs depend on ${original.op} ${JSON.stringify(name)}, which is not the input ${JSON.stringify(input)}`, {
        node: name,
        hint: 'Feed the reference at a node that all the outputs come from',
      })
    }
    let node = withDefaults(original)
    const data: string[] = []
    for (const s of node.input) {
      if (s.startsWith('^')) control.add(s.slice(1))
      else data.push(s)
    }
    node = { ...node, input: data }
    if (node.op !== 'NoOp') tensors.push(name)

    const format = str(node, 'data_format')
    const nchwBias = node.op === 'BiasAdd' && format === 'NCHW'
    if (format !== undefined && format !== 'NHWC' && !nchwBias && !(format === 'NCHW' && NCHW_OPS.has(node.op))) {
      throw new MpscnnError('UNSUPPORTED', file, `${node.op} with data_format ${format} is not supported by the reference`, { node: name, hint: 'Export the graph in NHWC' })
    }
    if (node.op === 'Conv2DBackpropInput' && intList(node, 'dilations').some((d) => d !== 1)) {
      // TF's CPU kernel refuses them as well; tfjs-converter would silently ignore them.
      throw new MpscnnError('UNSUPPORTED', file, 'Conv2DBackpropInput with dilations other than 1 is not supported by the reference', { node: name })
    }
    if (node.op === 'Dequantize' && node.attr.T?.type === undefined) {
      throw new MpscnnError('BAD_GRAPH', file, 'Dequantize has no T attribute, which TensorFlow requires', { node: name, hint: 'The graph is damaged; export it again' })
    }
    if (node.op === 'MaxPool' && str(node, 'padding') === 'EXPLICIT') {
      // tfjs-converter does not read MaxPool's explicit_paddings.
      throw new MpscnnError('UNSUPPORTED', file, 'MaxPool with EXPLICIT padding is not supported by the reference', { node: name, hint: 'Pad explicitly with a Pad node' })
    }

    // array_ops.cc: PreventGradient is the identity (it only refuses gradients); CheckNumericsV2
    // is CheckNumerics telling +Inf from -Inf in its message.
    let op = node.op === 'PreventGradient' ? 'Identity' : node.op === 'CheckNumericsV2' ? 'CheckNumerics' : node.op
    const attr: Record<string, AttrValue> = { ...node.attr }
    if (FUSED_BN.has(op) && node.attr.is_training?.b !== false) op = CUSTOM.FusedBatchNormTraining
    else if (nchwBias) op = CUSTOM.BiasAddNCHW
    else if (op === 'Conv2D' && intList(node, 'strides').some((v) => v > 1) && intList(node, 'dilations').some((v) => v > 1)) op = CUSTOM.Conv2DStridedDilated
    else if (op in CUSTOM) op = CUSTOM[op as keyof typeof CUSTOM]
    if (op.startsWith('_Mpscnn')) Object.assign(attr, { [NODE_ATTR]: codes(name), [FILE_ATTR]: codes(file) })
    if (op === CUSTOM.CheckNumerics) attr[MESSAGE_ATTR] = codes(str(node, 'message') ?? '')
    if (op === CUSTOM.Dequantize) attr[TYPE_ATTR] = codes(dataTypeName[node.attr.T.type!] ?? String(node.attr.T.type))
    if (!op.startsWith('_Mpscnn') && !opts.supported.has(op)) {
      throw new MpscnnError('UNSUPPORTED', file, `op ${op} is not supported by the reference (TensorFlow.js has no kernel for it)`, {
        node: name,
        hint: 'Feed the reference after it, or export the graph without it',
      })
    }

    if (format !== 'NCHW' || nchwBias) {
      nodes.push({ ...node, op, attr })
      continue
    }
    // NCHW: Transpose -> the op in NHWC -> Transpose back, named as the TF node.
    perms = true
    for (const key of ['strides', 'ksize', 'dilations']) {
      if (has(attr, key)) attr[key] = { list: { i: nhwcOf(intList(node, key)) } }
    }
    const pads = intList(node, 'explicit_paddings')
    if (pads.length === 8) attr.explicit_paddings = { list: { i: nhwcOf([0, 1, 2, 3]).flatMap((d) => [pads[2 * d], pads[2 * d + 1]]) } }
    attr.data_format = { s: utf8.encode('NHWC') }
    const inputs = [...data]
    const x = op === 'Conv2DBackpropInput' ? 2 : 0
    const inNhwc = `${name}/${PREFIX}_nhwc_in`
    nodes.push({ name: inNhwc, op: 'Transpose', input: [data[x], PERM_TO_NHWC], attr: {} })
    inputs[x] = inNhwc
    if (op === 'Conv2DBackpropInput') {
      const shape = `${name}/${PREFIX}_nhwc_shape`
      nodes.push({ name: shape, op: 'GatherV2', input: [data[0], PERM_TO_NHWC, AXIS_0], attr: { batch_dims: { i: 0 } } })
      inputs[0] = shape
    }
    const inner = `${name}/${PREFIX}_nhwc`
    nodes.push({ ...node, name: inner, op, input: inputs, attr })
    nodes.push({ name, op: 'Transpose', input: [inner, PERM_TO_NCHW], attr: {} })
  }

  if (perms) {
    for (const [name, values] of [[PERM_TO_NHWC, [0, 2, 3, 1]], [PERM_TO_NCHW, [0, 3, 1, 2]], [AXIS_0, [0]]] as const) {
      nodes.push({ name, op: 'Const', input: [], attr: { dtype: { type: DataType.DT_INT32 } } })
      weights.push({ name, shape: name === AXIS_0 ? [] : [values.length], dtype: 'int32', data: Int32Array.from(values) })
    }
  }
  return { nodes, weights, tensors, control: [...control].filter((c) => keep.has(c) && !['Const', 'NoOp'].includes(byName.get(c)!.op) && c !== input) }
}

/** Quantized dtypes: element width in bytes and signedness (their values are integers). */
const QUANTIZED: Record<number, { bytes: 1 | 2 | 4; signed: boolean }> = {
  [DataType.DT_QUINT8]: { bytes: 1, signed: false },
  [DataType.DT_QINT8]: { bytes: 1, signed: true },
  [DataType.DT_QUINT16]: { bytes: 2, signed: false },
  [DataType.DT_QINT16]: { bytes: 2, signed: true },
  [DataType.DT_QINT32]: { bytes: 4, signed: true },
}

/** A Const node's value as a tfjs weight: floats as float32, integers as int32, bools as bool. */
function constantWeight(node: NodeDef, file: string): Weight {
  const t: TensorProto | undefined = node.attr.value?.tensor
  if (!t) throw new MpscnnError('BAD_GRAPH', file, 'Const has no value', { node: node.name, hint: 'The graph is damaged; export it again' })
  const dtype = t.dtype ?? DataType.DT_INVALID
  const q = QUANTIZED[dtype]
  if (q || dtype === DataType.DT_BOOL) {
    const shape = shapeOf(t.tensorShape, file, node.name)
    const n = elementCount(shape)
    const width = q?.bytes ?? 1
    const out = new Int32Array(n)
    const content = t.tensorContent
    if (content && content.length > 0) {
      if (content.length !== n * width) {
        throw new MpscnnError('BAD_SHAPE', file, `tensor_content has ${content.length} bytes but shape [${shape.join(', ')}] of ${dataTypeName[dtype]} needs ${n * width}`, { node: node.name })
      }
      const dv = new DataView(content.buffer, content.byteOffset, content.byteLength)
      for (let k = 0; k < n; k++) {
        out[k] =
          width === 1 ? (q?.signed ? dv.getInt8(k) : dv.getUint8(k))
          : width === 2 ? (q!.signed ? dv.getInt16(2 * k, true) : dv.getUint16(2 * k, true))
          : dv.getInt32(4 * k, true)
      }
    } else {
      // TF's short form: fewer values than elements repeat the last one.
      const vals = dtype === DataType.DT_BOOL ? (t.boolVal ?? []).map((v) => (v ? 1 : 0)) : (t.intVal ?? [])
      for (let k = 0; k < n; k++) out[k] = vals.length === 0 ? 0 : vals[Math.min(k, vals.length - 1)]
    }
    return dtype === DataType.DT_BOOL ? { name: node.name, shape, dtype: 'bool', data: Uint8Array.from(out) } : { name: node.name, shape, dtype: 'int32', data: out }
  }
  const v = tensorFromProto(t, file, node.name)
  const float = dtype === DataType.DT_FLOAT || dtype === DataType.DT_DOUBLE || dtype === DataType.DT_HALF || dtype === DataType.DT_BFLOAT16
  if (!float) return { name: node.name, shape: v.shape, dtype: 'int32', data: Int32Array.from(v.data) }
  // float32 content stays a view of the model's bytes until the weights are packed: one copy in all.
  return { name: node.name, shape: v.shape, dtype: 'float32', data: v.data instanceof Float32Array ? v.data : Float32Array.from(v.data) }
}
