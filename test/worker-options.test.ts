/**
 * Worker threads inherit the process's execArgv, and Node refuses to start one that
 * inherits `--input-type`: every worker this package starts gets workerExecArgv() instead.
 * (test/full-size.test.ts runs conversions under `node --input-type=module -e`.)
 */
import { Worker } from 'node:worker_threads'
import { afterEach, expect, it } from 'vitest'
import { workerExecArgv } from '../src/worker-options.js'

const saved = [...process.execArgv]
afterEach(() => {
  process.execArgv.splice(0, process.execArgv.length, ...saved)
})

it('drops --input-type in both spellings and keeps every other option', () => {
  process.execArgv.splice(0, process.execArgv.length, '--input-type=module', '--max-old-space-size=4096', '--input-type', 'commonjs', '--trace-warnings')
  expect(workerExecArgv()).toEqual(['--max-old-space-size=4096', '--trace-warnings'])
})

it('a worker started with them runs', async () => {
  process.execArgv.splice(0, process.execArgv.length, '--input-type=module')
  const w = new Worker('require("node:worker_threads").parentPort.postMessage(42)', { eval: true, execArgv: workerExecArgv() })
  await expect(new Promise((resolve, reject) => w.once('message', resolve).once('error', reject))).resolves.toBe(42)
  await w.terminate()
})
