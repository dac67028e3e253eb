/**
 * The network description: the graph as MPSCNN encodes (docs/network.md has the schema,
 * the op table and the reasoning behind offsets and edge modes, with Apple's header text).
 *
 * Design. One mechanism for every model, driven by a table (ops.ts) from TF op type to MPS
 * kind. Input: the parsed Graph, the layer plan of fold/plan-layers.ts (which Conv2D, Depthwise
 * or MatMul became which layer, which BN and affine ops were folded into it) and the
 * constant folder. Steps:
 *
 *  1. Outputs: the `outputs` option, or the graph's sinks: nodes nobody reads, that depend
 *     on a placeholder and that nobody waits for (a CheckNumerics used as a control input
 *     is a check, not an output).
 *  2. The path: nodes that are both reachable from a Placeholder and ancestors of an
 *     output, in depth-first order from the outputs (each branch whole, in graph order,
 *     as Apple's sample encodes Inception). Everything else is constant (evaluated on
 *     demand) or irrelevant. A cycle (a TF1 while loop) is refused.
 *  3. Values, in that order: each tensor on the path is an image, a flattened image,
 *     a padded image (an explicit Pad, folded into the kernel that reads it), integers from
 *     known shapes (Keras' Flatten), dropout noise, or a value before the network input
 *     (DecodeJpeg, Cast, ExpandDims, ResizeBilinear; then constant affine preprocessing).
 *     The first op that needs an image makes the input: its size comes from the
 *     placeholder's shape, filled in by `inputShape`, or is a clear INPUT_SHAPE error.
 *     Each table entry computes its output's shape and its encode's parameters; ops
 *     folded into a layer and pass-through ops take the layer's or their input's value.
 *     Ops with no entry, and entries that find a configuration MPS cannot run, are
 *     collected: one UNSUPPORTED_OP error names each op type with one example node.
 *  4. Rewrites, on the encodes:
 *     - a neuron right after a kernel that takes a neuron filter, whose input nothing else
 *       reads, becomes that kernel's `neuron`;
 *     - a concatenation's producer writes straight into the joined image at its
 *       `destinationFeatureChannelOffset` when nothing else reads its output and the
 *       offset is a multiple of 4 (MPSCNNKernel.h); nested concatenations flatten with
 *       summed offsets; a `concatenation` encode stays only for sources that cannot.
 *  5. Images: every image still read or written, named after the TF tensor that holds it.
 *
 * Windows follow TF's padding exactly: for each spatial dimension, `out` and the padding
 * before are TF's (SAME: out = ceil(in / s), pad = max((out - 1) * s + kEff - in, 0),
 * before = floor(pad / 2); VALID: out = floor((in - kEff) / s) + 1, before = 0), and
 * MPS's offset, the centre of destination pixel 0's window, is `floor(kEff / 2) - before`.
 */
import type { MpscnnNetwork, MpscnnNetworkNode } from '../base/manifest-types.js'
import type { NodeDef } from '../graphdef/schema.js'
import { Graph, parseInput, PASS_THROUGH, type InputRef } from '../fold/graph.js'
import type { LayerPlan } from '../fold/plan-layers.js'
import { Builder, tensorKey, type NetworkOptions, type PreValue } from './builder.js'
import { BEFORE_INPUT, preShape } from './before-input.js'
import { OPS } from './ops.js'

export type { NetworkOptions } from './builder.js'

const PLACEHOLDERS = new Set(['Placeholder', 'PlaceholderV2'])
/** Never outputs: they compute nothing an app reads. */
const NOT_OUTPUTS = new Set(['NoOp', 'Const', 'Assert', 'Print', 'PrintV2', 'CheckNumerics', 'ScalarSummary', 'HistogramSummary', 'ImageSummary', 'AudioSummary', 'TensorSummary', 'TensorSummaryV2', 'MergeSummary', 'SaveV2', 'RestoreV2', 'Save', 'Restore', 'SaveSlices'])
/** Kernels that take a neuron filter. */
const FUSES_NEURON = new Set<MpscnnNetworkNode['kind']>(['convolution', 'depthwiseConvolution', 'fullyConnected', 'convolutionTranspose'])
/** Kernels that write at a destinationFeatureChannelOffset. */
const WRITES_AT_OFFSET = new Set<MpscnnNetworkNode['kind']>(['convolution', 'depthwiseConvolution', 'fullyConnected', 'convolutionTranspose', 'poolingMax', 'poolingAverage', 'neuron', 'add', 'subtract', 'multiply', 'softMax', 'logSoftMax', 'upsampling', 'batchNormalization'])

export function buildNetwork(graph: Graph, file: string, plans: readonly LayerPlan[], options: NetworkOptions = {}): MpscnnNetwork {
  const b = new Builder(graph, file, plans, options)
  const outputs = outputRefs(b)
  const order = pathInOrder(b, outputs)
  for (const n of order) visit(b, n)
  if (b.unsupported.size) {
    const list = [...b.unsupported].map(([op, [node, why]]) => `${op} (e.g. ${JSON.stringify(node)}: ${why})`)
    const first = [...b.unsupported.values()][0][0]
    b.error('UNSUPPORTED_OP', first, `${b.unsupported.size} op type${b.unsupported.size > 1 ? 's' : ''} on the path from the input to the outputs ${b.unsupported.size > 1 ? 'have' : 'has'} no MPS counterpart: ${list.join('; ')}`,
      'Pick other outputs with the option outputs (CLI --outputs), or convert the weights only with network: false (CLI --layers-only) and build the network by hand')
  }
  const outs: MpscnnNetwork['outputs'] = []
  for (const ref of outputs) {
    const key = tensorKey(ref)
    const v = b.values.get(key)
    const act = v && (v.t === 'image' || v.t === 'flat') ? v : null
    const image = act ? b.flatImage(act) : null
    if (image === null) return b.error('UNSUPPORTED_OP', ref.name, `output ${JSON.stringify(key)} is not an image the network computes`, 'Pick other outputs with the option outputs (CLI --outputs)')
    outs.push({ image, tfNode: key })
  }
  fuseNeurons(b, outs)
  joinConcatenations(b, outs)
  const used = new Set<string>([...b.inputs.map((i) => i.image), ...outs.map((o) => o.image)])
  for (const n of b.nodes) for (const s of [n.source, n.destination].flat()) used.add(s)
  const images: MpscnnNetwork['images'] = {}
  for (const [name, img] of b.images) if (used.has(name)) images[name] = img
  return { images, inputs: b.inputs, outputs: outs, nodes: b.nodes }
}

/** The `outputs` option, or the graph's sinks. */
function outputRefs(b: Builder): InputRef[] {
  const { graph } = b
  if (b.options.outputs?.length) {
    return b.options.outputs.map((o) => {
      const ref = parseInput(o)
      if (!ref || !graph.node(ref.name)) b.error('BAD_OUTPUT', undefined, `output ${JSON.stringify(o)} is not a node of the graph`, 'Name an existing node (node or node:k) in the option outputs')
      return ref
    })
  }
  const read = new Set<string>()
  const awaited = new Set<string>()
  for (const n of graph.nodes) {
    for (const s of n.input) {
      if (s.startsWith('^')) awaited.add(s.slice(1))
      else read.add(parseInput(s)!.name)
    }
  }
  const fed = fromPlaceholders(graph)
  const sinks = graph.nodes.filter((n) => !read.has(n.name) && !awaited.has(n.name) && fed.has(n.name) && !NOT_OUTPUTS.has(n.op) && !PLACEHOLDERS.has(n.op))
  if (!sinks.length) {
    const none = !graph.nodes.some((n) => PLACEHOLDERS.has(n.op))
    b.error('BAD_OUTPUT', undefined, none ? 'the graph has no Placeholder, so the network has no input' : 'the graph has no output that depends on an input',
      none ? 'Convert the weights only with network: false (CLI --layers-only)' : 'Name the outputs with the option outputs (CLI --outputs), or convert the weights only with network: false (CLI --layers-only)')
  }
  return sinks.map((n) => ({ name: n.name, output: 0 }))
}

/** Names of nodes reachable from a placeholder along data edges. */
function fromPlaceholders(graph: Graph): Set<string> {
  const readers = new Map<string, string[]>()
  for (const n of graph.nodes) {
    for (const r of graph.inputs.get(n.name) ?? []) {
      let list = readers.get(r.name)
      if (!list) readers.set(r.name, (list = []))
      list.push(n.name)
    }
  }
  const seen = new Set<string>()
  const stack = graph.nodes.filter((n) => PLACEHOLDERS.has(n.op)).map((n) => n.name)
  for (const s of stack) seen.add(s)
  while (stack.length) {
    for (const r of readers.get(stack.pop()!) ?? []) {
      if (!seen.has(r)) {
        seen.add(r)
        stack.push(r)
      }
    }
  }
  return seen
}

/** The nodes on a path from a placeholder to an output, in a topological order. */
function pathInOrder(b: Builder, outputs: InputRef[]): NodeDef[] {
  const { graph } = b
  const fed = fromPlaceholders(graph)
  const needed = new Set<string>()
  const stack = outputs.map((o) => o.name)
  while (stack.length) {
    const name = stack.pop()!
    if (needed.has(name) || !fed.has(name)) continue
    needed.add(name)
    for (const r of graph.inputs.get(name) ?? []) stack.push(r.name)
  }
  // Depth first from the outputs, inputs in order: each branch is encoded whole, in the
  // graph's own order (as Apple's sample encodes Inception). A node met again while its
  // inputs are being visited closes a cycle (a TF1 while loop): refused.
  const order: NodeDef[] = []
  const state = new Map<string, 'open' | 'done'>()
  for (const out of outputs) {
    if (!needed.has(out.name) || state.has(out.name)) continue
    const stack: [string, number][] = [[out.name, 0]]
    state.set(out.name, 'open')
    while (stack.length) {
      const top = stack[stack.length - 1]
      const ins = (graph.inputs.get(top[0]) ?? []).filter((r) => needed.has(r.name))
      if (top[1] < ins.length) {
        const next = ins[top[1]++].name
        const st = state.get(next)
        if (st === 'open') b.refuse(graph.node(next)!, 'it is part of a loop')
        else if (!st) {
          state.set(next, 'open')
          stack.push([next, 0])
        }
        continue
      }
      stack.pop()
      state.set(top[0], 'done')
      order.push(graph.node(top[0])!)
    }
  }
  return order
}

function visit(b: Builder, n: NodeDef): void {
  if (PLACEHOLDERS.has(n.op)) {
    const attr = n.attr.shape?.shape
    const shape = !attr || attr.unknownRank ? null : (attr.dim ?? []).map((d) => Number(d.size ?? -1))
    return b.set(n, { t: 'pre', shape, placeholder: n.name, before: [] })
  }
  const folded = b.foldedInto.get(n.name)
  if (folded) return b.set(n, b.values.get(folded.name)!)
  const ins = b.graph.inputs.get(n.name) ?? []
  const vals = ins.map((r) => b.values.get(tensorKey(r)))
  if (vals.some((v) => v?.t === 'unknown')) {
    // After an op MPS cannot run nothing is known, but an op with no counterpart at all is still named.
    if (!OPS[n.op] && !BEFORE_INPUT.has(n.op)) b.refuse(n, 'MPS has no counterpart')
    return b.set(n, { t: 'unknown' })
  }
  // Before the network input: decoding, casting, resizing keep the value outside the network.
  const pre = vals[0]?.t === 'pre' ? (vals[0] as PreValue) : undefined
  if (pre && BEFORE_INPUT.has(n.op) && (!pre.affine || PASS_THROUGH.has(n.op))) {
    const shape = preShape(b, n, pre.shape)
    if (shape !== undefined) return b.set(n, pre.affine ? pre : { ...pre, shape, before: [...pre.before, { name: n.name, op: n.op }] })
  }
  const rule = OPS[n.op]
  if (!rule) {
    b.refuse(n, 'MPS has no counterpart')
    return b.set(n, { t: 'unknown' })
  }
  rule.run(b, n)
  if (!b.values.has(n.name)) b.set(n, { t: 'unknown' })
}

/** How many times each image is read (sources and outputs). */
function readCounts(b: Builder, outs: MpscnnNetwork['outputs']): Map<string, number> {
  const reads = new Map<string, number>()
  const add = (s: string) => reads.set(s, (reads.get(s) ?? 0) + 1)
  for (const n of b.nodes) for (const s of [n.source].flat()) add(s)
  for (const o of outs) add(o.image)
  return reads
}

function fuseNeurons(b: Builder, outs: MpscnnNetwork['outputs']): void {
  const reads = readCounts(b, outs)
  const writers = new Map<string, MpscnnNetworkNode[]>()
  for (const n of b.nodes) writers.set(n.destination, [...(writers.get(n.destination) ?? []), n])
  const drop = new Set<MpscnnNetworkNode>()
  for (const n of b.nodes) {
    if (n.kind !== 'neuron' || typeof n.source !== 'string') continue
    const w = writers.get(n.source)
    const k = w?.length === 1 ? w[0] : undefined
    if (!k || !FUSES_NEURON.has(k.kind) || k.neuron || reads.get(n.source) !== 1 || b.inputImages.has(n.source)) continue
    k.neuron = n.neuron
    k.destination = n.destination
    k.tf.push(...n.tf)
    writers.set(n.destination, [k])
    drop.add(n)
  }
  remove(b, drop)
}

function joinConcatenations(b: Builder, outs: MpscnnNetwork['outputs']): void {
  const drop = new Set<MpscnnNetworkNode>()
  for (const c of b.nodes) {
    if (c.kind !== 'concatenation') continue
    const reads = readCounts(b, outs)
    const sources = c.source as string[]
    const offsets = c.sourceFeatureChannelOffsets!
    const keep: number[] = []
    sources.forEach((s, i) => {
      const writers = b.nodes.filter((n) => n.destination === s && !drop.has(n))
      const ok = !b.inputImages.has(s) && reads.get(s) === 1 && writers.length > 0 &&
        writers.every((w) => WRITES_AT_OFFSET.has(w.kind) && (w.destinationFeatureChannelOffset + offsets[i]) % 4 === 0)
      if (!ok) return void keep.push(i)
      for (const w of writers) {
        w.destination = c.destination
        w.destinationFeatureChannelOffset += offsets[i]
      }
    })
    if (!keep.length) drop.add(c)
    else {
      c.source = keep.map((i) => sources[i])
      c.sourceFeatureChannelOffsets = keep.map((i) => offsets[i])
    }
  }
  remove(b, drop)
}

function remove(b: Builder, drop: Set<MpscnnNetworkNode>): void {
  if (!drop.size) return
  const kept = b.nodes.filter((n) => !drop.has(n))
  b.nodes.length = 0
  b.nodes.push(...kept)
}
