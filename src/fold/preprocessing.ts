/**
 * What the affine ops left on the network input mean to the app: the input's
 * normalization, `y = x * scale + bias` per channel, told in a message with its values.
 */
import type { NodeDef } from '../graphdef/schema.js'
import { isFloatDtype } from '../graphdef/tensor.js'
import type { ConstantFolder } from './constant.js'
import type { Graph, InputRef } from './graph.js'

/** Ops between a graph's input and its preprocessing: decoding, casting, resizing, reshaping. */
const INPUT_OPS = new Set(['Placeholder', 'PlaceholderWithDefault', 'DecodeJpeg', 'DecodePng', 'DecodeBmp', 'DecodeGif', 'DecodeImage'])
const SHAPING_OPS = new Set(['Cast', 'ExpandDims', 'Reshape', 'Squeeze', 'ResizeBilinear', 'ResizeBicubic', 'ResizeNearestNeighbor', 'ResizeArea'])

/**
 * The unfolded affine ops (BiasAdd, Add, Sub, Mul, RealDiv by a constant) that form one
 * chain from the graph's input (a Placeholder or a decoded image, through Cast,
 * ResizeBilinear, ...), composed into `y = x * scale + bias` per channel: the input's
 * normalization, which the app applies. Undefined when the ops left are not such a chain.
 */
export function inputPreprocessing(graph: Graph, folder: ConstantFolder, unfolded: NodeDef[]): { nodes: Set<NodeDef>; ops: string; input: string; formula: string } | undefined {
  const affine = new Set(unfolded)
  // Each op's data input, traced back through shaping ops: another affine op, or the input.
  const from = new Map<NodeDef, { prev?: NodeDef; input?: string; at: number }>()
  for (const n of affine) {
    const ins = graph.inputs.get(n.name)!
    const at = folder.isConstant(ins[0].name) ? 1 : 0
    const producer = (ref: InputRef | undefined) => (ref ? graph.node(graph.source(ref).name) : undefined)
    let cur = producer(ins[at])
    for (let guard = 0; cur && guard < graph.nodes.length && SHAPING_OPS.has(cur.op); guard++) cur = producer(graph.inputs.get(cur.name)![0])
    if (cur && affine.has(cur)) from.set(n, { prev: cur, at })
    else if (cur && INPUT_OPS.has(cur.op)) from.set(n, { input: cur.name, at })
  }
  const firsts = [...from].filter(([, f]) => f.input !== undefined)
  if (firsts.length !== 1) return undefined
  // Follow the chain from the input: each op must have exactly one successor among them.
  // Successors indexed once: a chain of thousands of ops stays linear.
  const after = new Map<NodeDef, NodeDef[]>()
  for (const [n, f] of from) if (f.prev) after.set(f.prev, [...(after.get(f.prev) ?? []), n])
  const chain: NodeDef[] = [firsts[0][0]]
  for (let next = after.get(chain[0]); next?.length === 1; next = after.get(next[0])) chain.push(next[0])
  let scale = [1]
  let bias = [0]
  for (const n of chain) {
    const at = from.get(n)!.at
    const c = folder.value(graph.input(n, 1 - at))
    if (!c || !isFloatDtype(c.dtype) || c.shape.slice(0, -1).some((d) => d !== 1)) return undefined
    const v = Array.from(c.data)
    const len = Math.max(v.length, scale.length)
    if ((v.length !== 1 && v.length !== len) || (scale.length !== 1 && scale.length !== len)) return undefined
    const cv = (i: number) => v[v.length === 1 ? 0 : i]
    const s = Array.from({ length: len }, (_, i) => scale[scale.length === 1 ? 0 : i])
    const b = Array.from({ length: len }, (_, i) => bias[bias.length === 1 ? 0 : i])
    for (let i = 0; i < len; i++) {
      if (n.op === 'Mul') [s[i], b[i]] = [s[i] * cv(i), b[i] * cv(i)]
      else if (n.op === 'Sub') [s[i], b[i]] = at === 0 ? [s[i], b[i] - cv(i)] : [-s[i], cv(i) - b[i]]
      else if (n.op === 'RealDiv' || n.op === 'Div') {
        if (at !== 0) return undefined
        ;[s[i], b[i]] = [s[i] / cv(i), b[i] / cv(i)]
      } else b[i] += cv(i) // BiasAdd, Add, AddV2
    }
    scale = s
    bias = b
  }
  const formula = scale.length === 1 ? `y = x * ${formatValues(scale)} + ${formatValues(bias)} (every channel)` : `y = x * scale + bias per channel, scale ${formatValues(scale)}, bias ${formatValues(bias)}`
  return { nodes: new Set(chain), ops: chain.map((n) => `${n.op} ${JSON.stringify(n.name)}`).join(', '), input: firsts[0][1].input!, formula }
}

/** `0.0078125`, `[0.0171, 0.0175, 0.0174]`; more than 8 values abridged: `[a, ..., h, ... (64 values)]`. */
function formatValues(v: number[]): string {
  const f = (x: number) => String(Number(x.toPrecision(6)))
  if (v.length === 1) return f(v[0])
  return `[${v.slice(0, 8).map(f).join(', ')}${v.length > 8 ? `, ... (${v.length} values)` : ''}]`
}
