/**
 * The CLI's second pair of hands: lays out and writes the layers it is given, reading
 * their weights straight from the model's SharedArrayBuffer. Layers it cannot finish
 * (non-finite values, float16 overflow) are reported back by index; the main thread
 * lays those out again itself to raise the full error.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import type { LayoutJob } from './convert.js'
import { toHalf } from './fold/half.js'
import { float32Source, scaleRows, transposeScaled } from './fold/layout.js'
import { attach, compiled, transposeSimd } from './fold/simd.js'
import { takeJob } from './job-queue.js'

export interface WorkerJob extends LayoutJob {
  /** Absolute paths (or one packed file) and offsets to write weights and bias at. */
  weightsAt: { path: string; offset: number }
  biasAt: { path: string; offset: number }
}

export interface WorkerInit {
  /** The shared model memory (read.ts); the model is its first `size` bytes. */
  memory: WebAssembly.Memory
  size: number
  /** [0]: bytes of the model read so far, -1 if reading failed. The worker hashes behind it. */
  progress: Int32Array
  /** The compiled layout kernel (see fold/simd.ts). */
  kernel: WebAssembly.Module
  precision: 'float32' | 'float16'
  /** Also name files by content (the CLI's --hash). */
  hash: boolean
  packed: boolean
}

export interface WorkerRun {
  /** The shared queue, costliest job first: the worker takes from the front, the main thread from the back. */
  jobs: WorkerJob[]
  /** The queue's ends (see `takeJob`). */
  ends: Int32Array
  /** This worker's output region in the memory. */
  out: number
  capacity: number
}

export interface WorkerReply {
  /** The layers this worker took from the queue. */
  done: number[]
  /** Layer index -> [weights hash, bias hash] (8 hex digits), when asked to hash. */
  hashes: [number, string, string][]
  failed: number[]
}

const init = workerData as WorkerInit
compiled(init.kernel)
const model = new Uint8Array(init.memory.buffer, 0, init.size)

function write(path: string, offset: number, data: Uint8Array, fds: Map<string, number>): void {
  let fd = fds.get(path)
  if (fd === undefined) {
    // The packed file exists already (the main thread writes into it too).
    fd = fs.openSync(path, init.packed ? 'r+' : 'w')
    fds.set(path, fd)
  }
  fs.writeSync(fd, data, 0, data.byteLength, offset)
}

// First the model's sha256, chunk by chunk right behind the main thread's read of the file.
{
  const hasher = createHash('sha256')
  let hashed = 0
  for (;;) {
    const done = Atomics.load(init.progress, 0)
    if (done < 0) break
    if (done > hashed) {
      hasher.update(model.subarray(hashed, done))
      hashed = done
    }
    if (hashed >= init.size) {
      parentPort!.postMessage({ sha256: hasher.digest('hex') })
      break
    }
    Atomics.wait(init.progress, 0, done)
  }
}

parentPort!.on('message', ({ jobs, ends, out, capacity }: WorkerRun) => {
  const reply: WorkerReply = { done: [], hashes: [], failed: [] }
  const fds = new Map<string, number>()
  attach(init.memory, model.buffer, out, capacity)
  try {
    for (let k = takeJob(ends, 'front'); k >= 0; k = takeJob(ends, 'front')) {
      const j = jobs[k]
      reply.done.push(j.layer)
      const raw = model.subarray(j.srcOffset, j.srcOffset + j.K * j.O * 4)
      const simd = j.rows ? null : transposeSimd(raw, j.K, j.O, j.scale)
      let w: Float32Array
      if (simd?.finite) w = simd.weights
      else {
        w = new Float32Array(j.K * j.O)
        const src = float32Source({ raw })
        if ((j.rows ? scaleRows(src, j.K, j.O, j.scale, w) : transposeScaled(src, j.K, j.O, j.scale, w)) !== 0) {
          reply.failed.push(j.layer)
          continue
        }
      }
      let bytes: Uint8Array = new Uint8Array(w.buffer, w.byteOffset, w.byteLength)
      if (init.precision === 'float16') {
        const half = new Uint16Array(w.length)
        if (toHalf(w, half) >= 0) {
          reply.failed.push(j.layer)
          continue
        }
        bytes = new Uint8Array(half.buffer)
      }
      const b = new Uint8Array(j.bias.buffer, j.bias.byteOffset, j.bias.byteLength)
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
})
