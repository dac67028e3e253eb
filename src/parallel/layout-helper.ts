/**
 * The pipeline's second thread (pipeline/pipeline.ts `SecondThread`): a layout worker
 * (layout-worker.ts) that hashes the model while it is read, then lays out and writes its
 * share of the layers (pipeline/worker-jobs.ts).
 */
import { Worker } from 'node:worker_threads'
import { workerExecArgv } from '../base/worker-options.js'
import type { SecondThread } from '../pipeline/pipeline.js'
import type { WorkerReply, WorkerRun } from '../pipeline/worker-jobs.js'
import type { WorkerInit } from './layout-worker.js'

/**
 * Starts a layout worker before it is needed: booting a worker thread takes a while,
 * which bin/mpscnn.js spends while the CLI's own code loads. It idles until `main` hands
 * it a model (see LayoutHelper).
 */
function startLayoutWorker(): Worker {
  return new Worker(new URL('./layout-worker.js', import.meta.url), { execArgv: workerExecArgv() })
}

/**
 * An idle layout worker: the one `main` was handed, or the last one a conversion used.
 * Kept (unref'd: it never keeps the process alive) so that the next conversion in this
 * process does not wait for a worker to boot.
 */
let spareWorker: Worker | undefined

export function takeSpareWorker(): Worker | undefined {
  const w = spareWorker
  spareWorker = undefined
  w?.ref()
  return w
}

export function keepSpareWorker(w: Worker): void {
  if (spareWorker) {
    void w.terminate()
    return
  }
  w.unref()
  spareWorker = w
}

/** A worker thread that hashes the model, then lays out and writes the layers it is sent. */
export class LayoutHelper implements SecondThread {
  private readonly worker: Worker
  readonly sha256: Promise<string>
  private readonly reply: Promise<WorkerReply>
  /** Once both the hash and the layout reply are in, the worker is idle again. */
  private hashed = false
  private replied = false
  constructor(
    private readonly init: WorkerInit,
    started?: Worker,
    trace: (what: string) => void = () => {},
  ) {
    this.worker = started ?? startLayoutWorker()
    trace(`layout worker ${this.worker.threadId}${started ? ', already running' : ', starting'}`)
    this.worker.postMessage(init)
    let onHash!: (h: string) => void
    let onReply!: (r: WorkerReply) => void
    this.sha256 = new Promise((resolve) => (onHash = resolve))
    this.reply = new Promise((resolve) => (onReply = resolve))
    const failed = new Promise<never>((_, reject) => {
      this.worker.once('error', reject)
      this.worker.once('exit', (code) => reject(new Error(`the layout worker exited with code ${code}`)))
    })
    failed.catch(() => {})
    this.worker.on('message', (m: { sha256: string } | WorkerReply) => {
      if ('sha256' in m) {
        this.hashed = true
        onHash(m.sha256)
      } else {
        this.replied = true
        onReply(m)
      }
    })
    this.sha256 = Promise.race([failed, this.sha256])
    this.reply = Promise.race([failed, this.reply])
    this.sha256.catch(() => {})
    this.reply.catch(() => {})
  }
  get size(): number {
    return this.init.size
  }
  run(run: WorkerRun): Promise<WorkerReply> {
    this.worker.postMessage(run)
    return this.reply
  }
  private closed = false
  /** Keeps the worker for the next conversion if it finished this one, else stops it (once: a failed conversion closes it early). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const event of ['message', 'error', 'exit']) this.worker.removeAllListeners(event)
    if (this.hashed && this.replied) keepSpareWorker(this.worker)
    else await this.worker.terminate()
  }
}
