/**
 * Worker threads inherit the process's execArgv, and Node refuses to start one that
 * inherits `--input-type`: every worker this package starts gets workerExecArgv().
 * (test/full-size.test.ts runs conversions under `node --input-type=module -e`.)
 */
import { Worker } from 'node:worker_threads'
import { afterEach, expect, it } from 'vitest'
import { workerExecArgv } from '../src/base/worker-options.js'

const saved = [...process.execArgv]
afterEach(() => {
  process.execArgv.splice(0, process.execArgv.length, ...saved)
})

async function runs(execArgv: string[] | undefined): Promise<unknown> {
  const w = new Worker('require("node:worker_threads").parentPort.postMessage(42)', { eval: true, execArgv })
  try {
    return await new Promise((resolve, reject) => w.once('message', resolve).once('error', reject))
  } finally {
    await w.terminate()
  }
}

it('inherits the options of a process started without --input-type', () => {
  process.execArgv.splice(0, process.execArgv.length, '--expose-gc', '--trace-warnings')
  expect(workerExecArgv()).toBeUndefined()
})

it('gives none to the workers of a process started with --input-type, in either spelling', async () => {
  for (const argv of [['--expose-gc', '--input-type=module'], ['--input-type', 'module', '--trace-warnings']]) {
    process.execArgv.splice(0, process.execArgv.length, ...argv)
    expect(workerExecArgv()).toEqual([])
    await expect(runs(workerExecArgv())).resolves.toBe(42)
  }
})

it('(why: Node rejects a V8 option in an explicit execArgv)', async () => {
  expect(() => new Worker('0', { eval: true, execArgv: ['--expose-gc'] })).toThrow(/execArgv/)
})
