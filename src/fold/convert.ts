/**
 * The conversion, independent of any bundler: model bytes -> a plan of layers -> laid
 * out layers, one at a time. Everything else (plugin, CLI, cache) is built on this.
 */
import { createHash } from 'node:crypto'
import { MpscnnError } from '../base/errors.js'
import { decodeGraphDef } from '../graphdef/decode.js'
import type { GraphDef } from '../graphdef/schema.js'
import { sniffModel } from '../graphdef/sniff.js'
import { parseGraphDefText } from '../graphdef/text.js'
import { Graph } from './graph.js'
import { layOut, type LayoutJob, type OutputLayer, type Precision } from './materialize.js'
import { planLayers, type LayerInfo, type LayerPlan } from './plan-layers.js'
import { regionSize } from './simd.js'
import { materializeLimit } from './budget.js'

export type { LayoutJob, OutputLayer, Precision } from './materialize.js'

export interface ConvertOptions {
  /** Used in error messages and the manifest. */
  file: string
  /** @default 'float32' */
  precision?: Precision
  /**
   * `layOut`/`outputs` may return weights that are a view of a buffer reused by the next
   * layer (the caller writes each layer before asking for the next).
   * @default false
   */
  transient?: boolean
  /**
   * Bounds what the conversion may materialise (constants expanded from a splat or a short
   * form, constant folding, the laid-out weights): in total, max(64 MiB, maxExpansion x the
   * model's size). Past it the model is refused with TOO_LARGE.
   * @default 16
   */
  maxExpansion?: number
}

export interface ConvertedModel {
  precision: Precision
  /** Layer descriptions, in graph order, known before any weight is laid out. */
  layers: LayerInfo[]
  /** The graph and the layer plans, for the network description (src/network). */
  graph: Graph
  plans: LayerPlan[]
  warnings: string[]
  /** Bytes of working memory the SIMD layout of the largest layer needs (see fold/simd.ts). */
  layoutRegion: number
  /** Lays the layers out one at a time, so that a caller can write each and let it go. */
  outputs(): Generator<OutputLayer>
  /** Lays out layer i alone (raises the layer's error, if it has one). */
  layOut(i: number): OutputLayer
  /**
   * What laying out layer i takes when its weights are float32 content inside `bytes`
   * (no copy made yet): enough for another thread that shares `bytes` to do it.
   */
  job(i: number): LayoutJob | undefined
}

export function parseModel(bytes: Uint8Array, file: string): GraphDef {
  const kind = sniffModel(bytes, file)
  if (kind === 'text' || /\.pbtxt$/i.test(file)) {
    const g = parseGraphDefText(new TextDecoder().decode(bytes), file)
    g.node.forEach((n, i) => {
      if (!n.name) throw new MpscnnError('BAD_GRAPH', file, `node #${i} (op ${JSON.stringify(n.op)}) has no name`, { hint: 'Fix the text-format GraphDef or export it again' })
    })
    return g
  }
  return decodeGraphDef(bytes, file)
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export function convertModel(bytes: Uint8Array, options: ConvertOptions): ConvertedModel {
  const file = options.file
  const precision = options.precision ?? 'float32'
  const transient = options.transient ?? false
  const def = parseModel(bytes, file)
  const graph = new Graph(def, file)
  const plan = planLayers(graph, file, materializeLimit(bytes.length, options.maxExpansion))
  return {
    precision,
    layers: plan.layers.map((p) => p.info),
    graph,
    plans: plan.layers,
    warnings: plan.warnings,
    layoutRegion: plan.layers.reduce((m, p) => Math.max(m, regionSize(p.K, p.info.outputChannels)), 0),
    *outputs() {
      for (const p of plan.layers) yield layOut(p, precision, file, transient)
    },
    layOut: (i) => layOut(plan.layers[i], precision, file, transient),
    job(i) {
      const { weights, ...rest } = plan.layers[i]
      const raw = weights.raw
      // A layer whose inputs are permuted (a fully connected layer after an NCHW flatten) is laid out here.
      if (!raw || raw.buffer !== bytes.buffer || plan.layers[i].inputOrder) return undefined
      return { layer: i, plan: rest, weightsShape: weights.shape, srcOffset: raw.byteOffset - bytes.byteOffset, srcLength: raw.byteLength }
    },
  }
}
