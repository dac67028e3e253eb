/**
 * The CLI's layout worker (src/parallel/layout-worker.ts), which `mpscnn convert` starts
 * for models of 16 MB and more. Here the threshold is lowered (main's `tuning`) so that
 * a small model takes that path, with the worker going first (`workerFirst`) so that it
 * takes its full share: its outputs must equal the single-thread path's byte for byte,
 * packed or not, hashed or not, float32 and float16, and a layer that fails on the worker
 * must fail the run with the one line the single-thread path prints.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import { makeInceptionV3_2015 } from './helpers/inception.js'
import { runCliInOneProcess, type CliRun as Run } from './helpers/cli-runs.js'

const repo = path.resolve(__dirname, '..')
const WORKER = { layoutWorkerMinBytes: 0, workerFirst: true }

let tmp: string

const runAll = (runs: Run[]) => runCliInOneProcess(runs, tmp, path.join(repo, 'dist'))

/** Every file under `dir`: name -> bytes. */
function files(dir: string): Map<string, Buffer> {
  return new Map(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f))]))
}

const convAttrs = { T: attr.type('DT_FLOAT'), padding: attr.s('SAME'), strides: attr.ints([1, 1, 1, 1]) }

/** Eight small layers, and a larger one (laid out first: the costliest) whose weight `bad` is put at element 100. */
function failingModel(bad: number): Uint8Array {
  const b = new GraphBuilder()
  b.placeholder('input', [1, 8, 8, 16])
  let x = 'input'
  for (let i = 0; i < 8; i++) {
    b.constF32(`l${i}/weights`, [3, 3, 16, 16], new Float32Array(3 * 3 * 16 * 16).fill(0.01 * (i + 1)))
    x = b.op(`l${i}/Conv2D`, 'Conv2D', [x, `l${i}/weights`], convAttrs)
  }
  const w = new Float32Array(3 * 3 * 16 * 32).fill(0.5)
  w[100] = bad
  b.constF32('big/weights', [3, 3, 16, 32], w)
  b.op('big/Conv2D', 'Conv2D', [x, 'big/weights'], convAttrs)
  return b.encode()
}

beforeAll(() => {
  if (!fs.existsSync(path.join(repo, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-layout-worker-'))
  fs.writeFileSync(path.join(tmp, 'model.pb'), makeInceptionV3_2015({ scale: 16, seed: 12 }).bytes)
  fs.writeFileSync(path.join(tmp, 'nan.pb'), failingModel(NaN))
  fs.writeFileSync(path.join(tmp, 'huge.pb'), failingModel(1e6))
})

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
})

it('the worker path writes what the single-thread path writes, byte for byte, for every output option', () => {
  const combos: string[][] = []
  for (const packed of [[], ['--packed', '--align', '4096']]) for (const hash of [[], ['--hash']]) for (const precision of ['float32', 'float16']) combos.push([...packed, ...hash, '--precision', precision])
  const runs: Run[] = combos.flatMap((flags, i) => [
    { label: `single ${i}`, argv: ['convert', 'model.pb', '--out-dir', `single-${i}`, '--quiet', ...flags] },
    { label: `worker ${i}`, argv: ['convert', 'model.pb', '--out-dir', `worker-${i}`, '--quiet', ...flags], tuning: WORKER },
    // The static split the bench weighs the balancing against (bench/pieces.mjs).
    { label: `static ${i}`, argv: ['convert', 'model.pb', '--out-dir', `static-${i}`, '--quiet', ...flags], tuning: { layoutWorkerMinBytes: 0, split: 'static' } },
  ])
  const results = runAll(runs)
  combos.forEach((flags, i) => {
    const single = results.get(`single ${i}`)!
    const worker = results.get(`worker ${i}`)!
    expect([single.exit, single.stderr, worker.exit, worker.stderr], flags.join(' ')).toEqual([0, expect.any(String), 0, single.stderr])
    expect(single.workerLayers, flags.join(' ')).toBeUndefined()
    // The worker took the costliest layers first; the rest of the queue fell to this thread.
    expect(worker.workerLayers, flags.join(' ')).toBeGreaterThan(0)
    const want = files(path.join(tmp, `single-${i}`))
    const got = files(path.join(tmp, `worker-${i}`))
    expect([...got.keys()], flags.join(' ')).toEqual([...want.keys()])
    for (const [name, bytes] of want) expect(got.get(name)!.equals(bytes), `${flags.join(' ')}: ${name}`).toBe(true)
    const split = results.get(`static ${i}`)!
    expect([split.exit, split.stderr], flags.join(' ')).toEqual([0, single.stderr])
    // Packed, this small model's hash outweighs half the layout: the cut leaves the worker nothing.
    if (!flags.includes('--packed')) expect(split.workerLayers, flags.join(' ')).toBeGreaterThan(0)
    const cut = files(path.join(tmp, `static-${i}`))
    expect([...cut.keys()], flags.join(' ')).toEqual([...want.keys()])
    for (const [name, bytes] of want) expect(cut.get(name)!.equals(bytes), `static ${flags.join(' ')}: ${name}`).toBe(true)
    expect(want.size, flags.join(' ')).toBe(flags.includes('--packed') ? 2 : 95 * 2 + 1)
  })
})

it('a layer that fails on the worker fails the run with the single-thread path\'s one line, and writes nothing', () => {
  const cases = [
    ['nan.pb', 'float32', /^mpscnn: nan\.pb: node "big\/weights": weights hold NaN at element 100\. /],
    ['huge.pb', 'float16', /^mpscnn: huge\.pb: node "big\/weights": layer "big": folded weight 1000000 at element \d+ overflows float16/],
  ] as const
  const runs: Run[] = cases.flatMap(([model, precision]) => [
    { label: `single ${model}`, argv: ['convert', model, '--out-dir', `out-${model}`, '--precision', precision] },
    { label: `worker ${model}`, argv: ['convert', model, '--out-dir', `out-${model}`, '--precision', precision], tuning: WORKER },
  ])
  const results = runAll(runs)
  for (const [model, , message] of cases) {
    const single = results.get(`single ${model}`)!
    const worker = results.get(`worker ${model}`)!
    expect(single.exit).toBe(1)
    expect(single.stderr).toMatch(message)
    expect(single.stderr.split('\n')).toHaveLength(1)
    expect(worker.exit).toBe(1)
    expect(worker.stderr).toBe(single.stderr)
    // The failing layer is the costliest: the worker took it first, and stopped there.
    expect(worker.workerLayers).toBe(1)
  }
  expect(fs.readdirSync(tmp).sort()).toEqual(['huge.pb', 'model.pb', 'nan.pb', ...Array.from({ length: 8 }, (_, i) => [`single-${i}`, `worker-${i}`, `static-${i}`]).flat()].sort())
})

it('after a layer failed on a worker that had hashed the whole model, the next conversion in the process has a working worker', () => {
  // The static split has the worker hash the whole model before it takes its layers.
  const runs: Run[] = [
    { label: 'fails', argv: ['convert', 'nan.pb', '--out-dir', 'next-nan', '--quiet'], tuning: { layoutWorkerMinBytes: 0, split: 'static' } },
    { label: 'next', argv: ['convert', 'model.pb', '--out-dir', 'next-model', '--quiet'], tuning: WORKER },
  ]
  const results = runAll(runs)
  expect(results.get('fails')!.exit).toBe(1)
  expect(results.get('fails')!.workerLayers).toBeGreaterThan(0)
  expect([results.get('next')!.exit, results.get('next')!.stderr]).toEqual([0, ''])
  expect(results.get('next')!.workerLayers).toBeGreaterThan(0)
  fs.rmSync(path.join(tmp, 'next-model'), { recursive: true })
})
