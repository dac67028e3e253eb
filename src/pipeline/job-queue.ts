/** A queue of jobs shared by two threads, taken from either end, and the messages of the thread that helps. */
import type { SerializedMpscnnError } from '../base/errors.js'
import type { LayoutJob } from '../fold/materialize.js'

/**
 * Takes the next job of a queue shared by two threads: [0] holds the front index in its
 * low 16 bits and the back index in its high 16 bits, updated with compare-and-swap so
 * that no job is taken twice. Returns the job's index, or -1 when none is left.
 */
export function takeJob(ends: Int32Array, from: 'front' | 'back'): number {
  for (;;) {
    const v = Atomics.load(ends, 0)
    const front = v & 0xffff
    const back = v >>> 16
    if (front >= back) return -1
    const next = from === 'front' ? (back << 16) | (front + 1) : ((back - 1) << 16) | front
    if (Atomics.compareExchange(ends, 0, v, next) === v) return from === 'front' ? front : back - 1
  }
}

/** A queue of n jobs (n < 65536) for takeJob. */
export function jobQueueEnds(n: number): Int32Array {
  if (!(n >= 0 && n <= 0xffff)) throw new RangeError(`a shared job queue holds at most 65535 jobs, not ${n}`)
  const ends = new Int32Array(new SharedArrayBuffer(4))
  ends[0] = n << 16
  return ends
}

/** A layer another thread lays out and writes: where in the model its weights are, and where its tensors go. */
export interface WorkerJob extends LayoutJob {
  /** Absolute paths (or one packed file) and offsets to write weights and bias at. */
  weightsAt: { path: string; offset: number }
  biasAt: { path: string; offset: number }
}

export interface WorkerRun {
  /** The shared queue, costliest job first: the worker takes from the front, the main thread from the back. */
  jobs: WorkerJob[]
  /** The queue's ends (see `takeJob`). */
  ends: Int32Array
  /** Each job's cost (bytes to lay out and write, plus creating its files), to balance against the hash. */
  costs: number[]
  /** This worker's output region in the memory. */
  out: number
  capacity: number
  /** Hash the whole model before taking any job, and take every job queued (a static split: pipeline.ts `runShared`). */
  hashFirst?: boolean
}

/**
 * What hashing a byte costs next to laying out and writing one: the ratio of their
 * throughputs, so that both threads finish together (docs/performance.md has the figures).
 */
export const HASH_COST = 0.55

export interface WorkerReply {
  /** The layers this worker took from the queue. */
  done: number[]
  /** Layer index -> [weights hash, bias hash] (8 hex digits), when asked to hash. */
  hashes: [number, string, string][]
  /** The error of the layer this worker could not lay out: it took no job after it. */
  error?: SerializedMpscnnError
}
