/**
 * Model bytes -> the files to emit and the data of the manifest, in memory: the pipeline
 * (pipeline.ts) with a memory sink. What the bundler integrations call (through the cache).
 */
import { sha256Hex } from '../fold/convert.js'
import type { ConvertedAssets } from '../emit/assets.js'
import { detach } from '../fold/simd.js'
import { toModelMemory } from '../io/read.js'
import { Pipeline, type PipelineOptions } from './pipeline.js'
import { MemorySink } from './sinks.js'

export type { ConvertedAssets, PipelineOptions }

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
  const sink = new MemorySink(o.packed)
  const r = new Pipeline(m, file, o, sink).run()
  detach(m.bytes.buffer)
  return {
    header: { source: r.header.source, sha256: sha256 === undefined ? sha256Hex(bytes) : (sha256 ?? ''), precision: r.header.precision },
    plan: r.plan,
    files: sink.files,
    warnings: r.warnings,
    network: r.network,
  }
}
