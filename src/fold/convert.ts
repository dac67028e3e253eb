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
import { toHalf } from '../base/half.js'
import { materialize, planLayers, type LayerInfo, type LayerPlan } from './layers.js'
import { regionSize } from './simd.js'

export type Precision = 'float32' | 'float16'

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
}

/** One layer, laid out and ready to write. `weights` is float32 or IEEE half bits. */
export interface OutputLayer {
  info: LayerInfo
  weights: Float32Array | Uint16Array
  bias: Float32Array
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

/** Layer i's layout as plain data: source range in the model's bytes, shape, folded scale and bias. */
export interface LayoutJob {
  layer: number
  srcOffset: number
  K: number
  O: number
  rows: boolean
  scale: Float64Array
  bias: Float32Array
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

function layOut(p: LayerPlan, precision: Precision, file: string, transient: boolean): OutputLayer {
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

export function convertModel(bytes: Uint8Array, options: ConvertOptions): ConvertedModel {
  const file = options.file
  const precision = options.precision ?? 'float32'
  const transient = options.transient ?? false
  const def = parseModel(bytes, file)
  const graph = new Graph(def, file)
  const plan = planLayers(graph, file)
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
      const p = plan.layers[i]
      const raw = p.weights.raw
      if (!raw || raw.buffer !== bytes.buffer || p.inputOrder) return undefined
      return { layer: i, srcOffset: raw.byteOffset, K: p.K, O: p.info.outputChannels, rows: p.layout === 'rows', scale: p.scale, bias: Float32Array.from(p.bias) }
    },
  }
}
