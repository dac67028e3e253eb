/**
 * The CLI's second pair of hands: lays out and writes the layers it is given, reading
 * their weights straight from the model's SharedArrayBuffer, with the same layout
 * (fold/materialize.ts `layOut`) as the main thread. A layer it cannot lay out (non-finite
 * values, float16 overflow) stops it; its error goes back to the main thread as it is.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { parentPort, threadId } from 'node:worker_threads'
import { jobPlan, layOut } from '../fold/materialize.js'
import { isMpscnnError, serializeError } from '../base/errors.js'
import { attach, compiled } from '../fold/simd.js'
import { HASH_COST, takeJob, type WorkerReply, type WorkerRun } from '../pipeline/job-queue.js'

export interface WorkerInit {
  /** The shared model memory (io/read.ts); the model is its first `size` bytes. */
  memory: WebAssembly.Memory
  size: number
  /**
   * [0]: bytes of the model read so far, -1 if reading failed; the worker hashes behind it.
   * [1]: set (and [0] notified) once the layout jobs have been posted.
   */
  progress: Int32Array
  /** The compiled layout kernel (see fold/simd.ts). */
  kernel: WebAssembly.Module
  precision: 'float32' | 'float16'
  /** The model's name in errors. */
  file: string
  /** Also name files by content (the CLI's --hash). */
  hash: boolean
  packed: boolean
  /** MPSCNN_TRACE: the main thread's performance.timeOrigin, to report phases on its clock. */
  traceOrigin?: number
}

// The worker may be started before the model is opened (bin/mpscnn.js starts it while the
// CLI loads), and serves one conversion after another: a WorkerInit starts a conversion,
// the WorkerRun that follows hands it the layout jobs.
let init!: WorkerInit
let model!: Uint8Array
function trace(what: string): void {
  if (init.traceOrigin !== undefined) process.stderr.write(`mpscnn: trace: (${(performance.timeOrigin + performance.now() - init.traceOrigin).toFixed(1)} ms since the process started) worker ${threadId}: ${what}\n`)
}

function write(path: string, offset: number, data: Uint8Array, fds: Map<string, number>): void {
  let fd = fds.get(path)
  if (fd === undefined) {
    // The packed file exists already (the main thread writes into it too).
    fd = fs.openSync(path, init.packed ? 'r+' : 'w')
    fds.set(path, fd)
  }
  fs.writeSync(fd, data, 0, data.byteLength, offset)
}

// The model's sha256, chunk by chunk right behind the main thread's read of the file. It
// pauses when the layout jobs arrive ([1] set): the worker takes its share of the jobs
// first and finishes the hash after them (see `shouldTake`).
let hasher = createHash('sha256')
let hashed = 0
let hashPosted = false
const SLICE = 1 << 20

/** Hashes what has been read; returns early when `stop()` says so (checked between slices). */
function hashRead(stop: () => boolean): void {
  while (!hashPosted) {
    const done = Atomics.load(init.progress, 0)
    if (done < 0) return
    while (hashed < done) {
      if (stop()) return
      const next = Math.min(done, hashed + SLICE)
      hasher.update(model.subarray(hashed, next))
      hashed = next
    }
    if (hashed >= init.size) {
      parentPort!.postMessage({ sha256: hasher.digest('hex') })
      hashPosted = true
      return
    }
    if (stop()) return
    Atomics.wait(init.progress, 0, done)
  }
}

const jobsReady = () => Atomics.load(init.progress, 1) !== 0

function start(given: WorkerInit): void {
  init = given
  trace('initialised')
  compiled(init.kernel)
  model = new Uint8Array(init.memory.buffer, 0, init.size)
  hasher = createHash('sha256')
  hashed = 0
  hashPosted = false
  hashRead(jobsReady)
  trace(hashPosted ? 'hashed' : `jobs ready, ${(hashed / 1e6).toFixed(1)} MB hashed`)
}

parentPort!.on('message', (m: WorkerInit | WorkerRun) => ('jobs' in m ? layOutJobs(m) : start(m)))

/**
 * Whether the worker takes job k, given that it still has the rest of the hash to do: it
 * leaves the queue's last jobs to the main thread so that both finish at about the same time.
 */
function shouldTake(run: WorkerRun): boolean {
  if (hashPosted) return true
  const v = Atomics.load(run.ends, 0)
  const front = v & 0xffff
  const back = v >>> 16
  if (front >= back) return false
  let left = 0
  for (let i = front; i < back; i++) left += run.costs[i]
  return left - run.costs[front] >= run.costs[front] + (init.size - hashed) * HASH_COST
}

function layOutJobs(run: WorkerRun): void {
  const { jobs, ends, out, capacity } = run
  const reply: WorkerReply = { done: [], hashes: [] }
  const fds = new Map<string, number>()
  attach(init.memory, model.buffer, out, capacity)
  if (run.hashFirst) hashRead(() => false)
  try {
    for (let k = shouldTake(run) ? takeJob(ends, 'front') : -1; k >= 0; k = shouldTake(run) ? takeJob(ends, 'front') : -1) {
      const j = jobs[k]
      reply.done.push(j.layer)
      let laid
      try {
        // Transient: written below, before the next layer reuses the output region.
        laid = layOut(jobPlan(j, model), init.precision, init.file, true)
      } catch (e) {
        if (!isMpscnnError(e)) throw e
        reply.error = serializeError(e)
        break
      }
      const view = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
      const bytes = view(laid.weights)
      const b = view(laid.bias)
      write(j.weightsAt.path, j.weightsAt.offset, bytes, fds)
      write(j.biasAt.path, j.biasAt.offset, b, fds)
      if (init.hash) {
        const h = (d: Uint8Array) => createHash('sha256').update(d).digest('hex').slice(0, 8)
        reply.hashes.push([j.layer, h(bytes), h(b)])
      }
    }
  } finally {
    for (const fd of fds.values()) fs.closeSync(fd)
  }
  parentPort!.postMessage(reply)
  trace(`${reply.done.length} layers done`)
  hashRead(() => false)
  trace('hashed')
}
