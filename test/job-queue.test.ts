/** The two-ended job queue the CLI's threads share: every job taken exactly once. */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { expect, it } from 'vitest'
import { jobQueueEnds, takeJob } from '../src/pipeline/job-queue.js'

it('front and back meet without overlap', () => {
  const ends = jobQueueEnds(5)
  expect([takeJob(ends, 'front'), takeJob(ends, 'back'), takeJob(ends, 'front'), takeJob(ends, 'back'), takeJob(ends, 'back'), takeJob(ends, 'front')]).toEqual([0, 4, 1, 3, 2, -1])
  expect(takeJob(jobQueueEnds(0), 'front')).toBe(-1)
  expect(() => jobQueueEnds(70000)).toThrow(RangeError)
})

it('two threads taking from both ends at once take every job exactly once', async () => {
  const n = 50000
  const ends = jobQueueEnds(n)
  const taken = new Int32Array(new SharedArrayBuffer(n * 4))
  // The built takeJob, in a worker taking from the front (npm test builds first).
  const dist = pathToFileURL(path.resolve(__dirname, '../dist/pipeline/job-queue.js')).href
  const code = `
    const { workerData: { ends, taken, dist }, parentPort } = require('node:worker_threads')
    import(dist).then(({ takeJob }) => {
      for (let k = takeJob(ends, 'front'); k >= 0; k = takeJob(ends, 'front')) Atomics.add(taken, k, 1)
      parentPort.postMessage('done')
    })`
  const w = new Worker(code, { eval: true, workerData: { ends, taken, dist } })
  const done = new Promise((r) => w.once('message', r))
  for (let k = takeJob(ends, 'back'); k >= 0; k = takeJob(ends, 'back')) Atomics.add(taken, k, 1)
  await done
  await w.terminate()
  expect(taken.every((t) => t === 1)).toBe(true)
})
