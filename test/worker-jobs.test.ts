/** How the CLI's two threads share the layers: the layout worker's share (pipeline/worker-jobs.ts). */
import { expect, it } from 'vitest'
import { workerShare } from '../src/pipeline/worker-jobs.js'

/** The worker's load minus this thread's when the worker takes the first k jobs. */
const gap = (costs: number[], hash: number, k: number) => {
  const front = costs.slice(0, k).reduce((a, b) => a + b, 0)
  return hash + front - (costs.reduce((a, b) => a + b, 0) - front)
}

it('the cut leaves the two threads the closest loads of any cut of the queue, hash included', () => {
  let seed = 7
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  for (let t = 0; t < 500; t++) {
    const costs = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => Math.floor(rand() * 1000) + 1).sort((a, b) => b - a)
    const hash = Math.floor(rand() * 3000)
    const k = workerShare(costs, hash)
    const best = Math.min(...costs.map((_, j) => Math.abs(gap(costs, hash, j))), Math.abs(gap(costs, hash, costs.length)))
    expect(Math.abs(gap(costs, hash, k)), `${costs} hash ${hash}: cut ${k}`).toBe(best)
  }
})

it('examples: an even split, a hash that is all the worker can do, no jobs', () => {
  expect(workerShare([10, 5, 5, 5, 5], 0)).toBe(2)
  expect(workerShare([10, 5, 5, 5, 5], 8)).toBe(1)
  expect(workerShare([10, 5, 5], 40)).toBe(0)
  expect(workerShare([], 5)).toBe(0)
})
