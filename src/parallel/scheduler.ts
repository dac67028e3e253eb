/**
 * Runs conversions so that several models in one build convert at the same time. A
 * lone model converts on the calling thread (no worker start-up to pay); when others
 * are already waiting, they go to worker threads, up to one per spare core. Results
 * come back with their buffers transferred, not copied.
 */
import os from 'node:os'
import { threadId, Worker } from 'node:worker_threads'
import { workerExecArgv } from '../base/worker-options.js'
import { deserializeError, type SerializedMpscnnError } from '../base/errors.js'
import { convertToAssets, type ConvertedAssets, type ModelSource, type PipelineOptions } from '../pipeline/convert-to-assets.js'

interface Job {
  source: ModelSource
  file: string
  options: PipelineOptions
  resolve: (a: ConvertedAssets) => void
  reject: (e: unknown) => void
  observe?: (e: ConversionEvent) => void
}

/** A conversion starting or ending, on the thread given by its `threadId` (this thread's, or a worker's). */
export interface ConversionEvent {
  phase: 'start' | 'end'
  file: string
  threadId: number
}

export interface WorkerResult {
  ok: boolean
  assets?: Omit<ConvertedAssets, 'files'> & { files: [string, Uint8Array][] }
  /** An MpscnnError, or the message of anything else. */
  error?: SerializedMpscnnError | { message: string }
}

const queue: Job[] = []
let scheduled = false
let busyWorkers = 0
const maxWorkers = Math.max(0, (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length) - 1)

let idleWaiters: (() => void)[] = []

/** Resolves once no conversion is queued or running on a worker (a failed build does not wait for its others). */
export function idle(): Promise<void> {
  if (busyWorkers === 0 && queue.length === 0) return Promise.resolve()
  return new Promise((resolve) => idleWaiters.push(resolve))
}

function runInWorker(job: Job): void {
  busyWorkers++
  // A model in a shared model memory is shared with the worker, not copied.
  const w = new Worker(new URL('./convert-worker.js', import.meta.url), {
    workerData: { source: job.source, file: job.file, options: job.options },
    execArgv: workerExecArgv(),
  })
  const workerId = w.threadId
  job.observe?.({ phase: 'start', file: job.file, threadId: workerId })
  // The worker counts as free as soon as its result is in, not when its thread has exited.
  let settled = false
  const settle = (done: () => void) => {
    if (settled) return
    settled = true
    busyWorkers--
    job.observe?.({ phase: 'end', file: job.file, threadId: workerId })
    done()
    drain()
  }
  w.once('message', (r: WorkerResult) => {
    settle(() => {
      if (r.ok) job.resolve({ ...r.assets!, files: new Map(r.assets!.files) })
      else job.reject('code' in r.error! ? deserializeError(r.error) : new Error(r.error!.message))
    })
    void w.terminate()
  })
  w.once('error', (e) => settle(() => job.reject(e)))
  w.once('exit', () => settle(() => job.reject(new Error(`unplugin-mpscnn: the conversion worker for ${job.file} exited early`))))
}

function runHere(job: Job): void {
  try {
    job.observe?.({ phase: 'start', file: job.file, threadId })
    job.resolve(convertToAssets(job.source, job.file, job.options))
  } catch (e) {
    job.reject(e)
  } finally {
    job.observe?.({ phase: 'end', file: job.file, threadId })
  }
}

function drain(): void {
  scheduled = false
  while (queue.length > 0) {
    // The last waiting job runs here; the others go to free workers.
    if (queue.length > 1 && busyWorkers < maxWorkers) runInWorker(queue.shift()!)
    else runHere(queue.shift()!)
  }
  // Jobs run here settle within the loop: whoever waits for idle() may go on once no
  // worker is busy either (a worker's result calls drain() again).
  if (busyWorkers === 0) {
    const waiters = idleWaiters
    idleWaiters = []
    for (const w of waiters) w()
  }
}

/**
 * Converts, possibly on a worker thread when other conversions are pending. `observe`, if
 * given, is told when this conversion starts and ends and on which thread: how a caller (a
 * test) sees which conversions ran at the same time, and where.
 */
export function convertScheduled(source: ModelSource, file: string, options: PipelineOptions, observe?: (e: ConversionEvent) => void): Promise<ConvertedAssets> {
  return new Promise((resolve, reject) => {
    queue.push({ source, file, options: { packed: options.packed, align: options.align, precision: options.precision, maxExpansion: options.maxExpansion, network: options.network }, resolve, reject, observe })
    if (!scheduled) {
      scheduled = true
      // Let the bundler ask for its other modules first, so that they can run together.
      setImmediate(drain)
    }
  })
}
