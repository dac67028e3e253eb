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
import type { WorkerReply, WorkerRun } from '../pipeline/worker-jobs.js'

export interface WorkerInit {
  /** The shared model memory (io/read.ts); the model is its first `size` bytes. */
  memory: WebAssembly.Memory
  size: number
  /** [0]: bytes of the model read so far, -1 if reading failed; the worker hashes behind it. */
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

// The model's sha256, chunk by chunk right behind the main thread's read of the file. The
// worker finishes it before it takes its layers (see the pipeline's `runShared`).
let hasher = createHash('sha256')
let hashed = 0

/** Hashes the model as it is read, and posts its sha256 (nothing if the read fails). */
function hashRead(): void {
  for (;;) {
    const done = Atomics.load(init.progress, 0)
    if (done < 0) return
    if (hashed < done) {
      hasher.update(model.subarray(hashed, done))
      hashed = done
    }
    if (hashed >= init.size) {
      parentPort!.postMessage({ sha256: hasher.digest('hex') })
      return
    }
    Atomics.wait(init.progress, 0, done)
  }
}

function start(given: WorkerInit): void {
  init = given
  trace('initialised')
  compiled(init.kernel)
  model = new Uint8Array(init.memory.buffer, 0, init.size)
  hasher = createHash('sha256')
  hashed = 0
  hashRead()
  trace(hashed >= init.size ? 'hashed' : 'the read failed')
}

parentPort!.on('message', (m: WorkerInit | WorkerRun) => ('jobs' in m ? layOutJobs(m) : start(m)))

function layOutJobs(run: WorkerRun): void {
  const { jobs, out, capacity } = run
  const reply: WorkerReply = { done: [], hashes: [] }
  const fds = new Map<string, number>()
  attach(init.memory, model.buffer, out, capacity)
  try {
    for (const j of jobs) {
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
      Atomics.add(run.done, 0, 1)
    }
  } finally {
    for (const fd of fds.values()) fs.closeSync(fd)
  }
  // Traced before the reply, which may end the conversion (and the main thread's output).
  trace(`${reply.done.length} layers done`)
  parentPort!.postMessage(reply)
}
