/**
 * Model bytes -> the files to emit and the data of the manifest, in memory. What the
 * bundler integrations call (through the cache); the CLI streams instead.
 */
import path from 'node:path'
import { convertModel, sha256Hex, type Precision } from '../fold/convert.js'
import { buildFiles, modelStem, planAssets, type ConvertedAssets } from '../emit/assets.js'
import { detach } from '../fold/simd.js'
import { attachLayout, toModelMemory } from '../io/read.js'
import { buildNetwork } from '../network/index.js'

export type { ConvertedAssets }

export interface PipelineOptions {
  packed: boolean
  align: number
  precision: Precision
  /** See Options.maxExpansion. */
  maxExpansion?: number
  /** The network description: off, or on with its input shape and outputs (plugin/options.ts). Default: on. */
  network?: { network: boolean; inputShape?: number[]; outputs?: string[] }
}

/**
 * A model's bytes, the model memory they may be in (io/read.ts), and their sha256: given,
 * computed here when undefined, or `null` when the caller fills `header.sha256` in itself.
 */
export interface ModelSource {
  bytes: Uint8Array
  memory?: WebAssembly.Memory
  sha256?: string | null
}

/** Bytes outside a model memory are copied into one, so that the SIMD layout applies. */
export function convertToAssets({ bytes, memory, sha256 }: ModelSource, file: string, o: PipelineOptions): ConvertedAssets {
  const m = toModelMemory(bytes, memory)
  const model = convertModel(m.bytes, { file, precision: o.precision, maxExpansion: o.maxExpansion })
  // Before the layout: a fully connected layer after an NCHW flatten gets its inputs permuted.
  const network = (o.network?.network ?? true) ? buildNetwork(model.graph, file, model.plans, o.network ?? {}) : undefined
  const plan = planAssets(model.layers, { packed: o.packed, align: o.align, modelName: modelStem(file), precision: o.precision })
  attachLayout(m, model.layoutRegion)
  const files = buildFiles(model, plan)
  detach(m.bytes.buffer)
  return {
    header: { source: path.basename(file), sha256: sha256 === undefined ? sha256Hex(bytes) : (sha256 ?? ''), precision: model.precision },
    plan,
    files,
    warnings: model.warnings,
    network,
  }
}
