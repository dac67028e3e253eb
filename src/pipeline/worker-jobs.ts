/** The layers a second thread lays out and writes, how they are chosen, and what it answers. */
import type { SerializedMpscnnError } from '../base/errors.js'
import type { LayoutJob } from '../fold/materialize.js'

/** A layer another thread lays out and writes: where in the model its weights are, and where its tensors go. */
export interface WorkerJob extends LayoutJob {
  /** Absolute paths (or one packed file) and offsets to write weights and bias at. */
  weightsAt: { path: string; offset: number }
  biasAt: { path: string; offset: number }
}

export interface WorkerRun {
  /** The worker's share, costliest first (see `workerShare`). */
  jobs: WorkerJob[]
  /** [0]: layers the worker has finished, for the progress bar. */
  done: Int32Array
  /** This worker's output region in the memory. */
  out: number
  capacity: number
}

/**
 * What hashing a byte costs next to laying out and writing one: the ratio of their
 * throughputs, so that both threads finish together (docs/performance.md has the figures).
 */
export const HASH_COST = 0.55

/**
 * How many of a queue's jobs (costs sorted costliest first) the second thread takes: it
 * hashes the whole model (`hashCost`) and then lays out the front of the queue, this thread
 * the rest. The cut is where the two shares come closest. Fixed before either thread
 * starts: balancing the two as they go bought nothing measurable (docs/performance.md).
 */
export function workerShare(costs: number[], hashCost: number): number {
  const total = costs.reduce((a, b) => a + b, 0)
  let k = 0
  // Take the next job while that brings the two shares closer.
  for (let front = 0; k < costs.length && 2 * front + costs[k] + hashCost < total; k++) front += costs[k]
  return k
}

export interface WorkerReply {
  /** The layers this worker laid out, and the one it failed on. */
  done: number[]
  /** Layer index -> [weights hash, bias hash] (8 hex digits), when asked to hash. */
  hashes: [number, string, string][]
  /** The error of the layer this worker could not lay out: it took no job after it. */
  error?: SerializedMpscnnError
}
