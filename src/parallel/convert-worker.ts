/** A worker thread that converts one model (see scheduler.ts). */
import { parentPort, workerData } from 'node:worker_threads'
import { isMpscnnError, serializeError } from '../base/errors.js'
import { convertToAssets, type ModelSource, type PipelineOptions } from '../pipeline/convert-to-assets.js'
import type { WorkerResult } from './scheduler.js'

const { source, file, options } = workerData as { source: ModelSource; file: string; options: PipelineOptions }
let result: WorkerResult
const transfer: ArrayBuffer[] = []
try {
  const a = convertToAssets(source, file, options)
  const files = [...a.files]
  for (const [, b] of files) if (b.buffer instanceof ArrayBuffer && !transfer.includes(b.buffer)) transfer.push(b.buffer)
  result = { ok: true, assets: { header: a.header, plan: a.plan, warnings: a.warnings, network: a.network, files } }
} catch (e) {
  result = {
    ok: false,
    error: isMpscnnError(e) ? serializeError(e) : { message: (e as Error)?.message ?? String(e) },
  }
}
parentPort!.postMessage(result, transfer)
