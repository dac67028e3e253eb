/**
 * The CLI's layout worker (src/parallel/layout-worker.ts), which `mpscnn convert` starts
 * for models of 16 MB and more. Here the threshold is lowered (main's `tuning`) so that
 * a small model takes that path: its outputs must equal the single-thread path's byte for byte,
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
const WORKER = { layoutWorkerMinBytes: 0 }

let tmp: string

const runAll = (runs: Run[]) => runCliInOneProcess(runs, tmp, path.join(repo, 'dist'))

/** Every file under `dir`: name -> bytes. */
function files(dir: string): Map<string, Buffer> {
  return new Map(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f))]))
}

const convAttrs = { T: attr.type('DT_FLOAT'), padding: attr.s('SAME'), strides: attr.ints([1, 1, 1, 1]) }

/**
 * Eight small layers, and a larger one (the costliest: the worker's share starts with it),
 * with seeded weights; `bad`, when given, is put at element 100 of the larger one. Its layers
 * are even enough that the worker's share is not empty when the output is packed either.
 */
function evenModel(bad?: number): Uint8Array {
  let seed = 3
  const weights = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.2)
  const b = new GraphBuilder()
  b.placeholder('input', [1, 8, 8, 16])
  let x = 'input'
  for (let i = 0; i < 8; i++) {
    b.constF32(`l${i}/weights`, [3, 3, 16, 16], weights(3 * 3 * 16 * 16))
    x = b.op(`l${i}/Conv2D`, 'Conv2D', [x, `l${i}/weights`], convAttrs)
  }
  const w = weights(3 * 3 * 16 * 32)
  if (bad !== undefined) w[100] = bad
  b.constF32('big/weights', [3, 3, 16, 32], w)
  b.op('big/Conv2D', 'Conv2D', [x, 'big/weights'], convAttrs)
  return b.encode()
}

beforeAll(() => {
  if (!fs.existsSync(path.join(repo, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-layout-worker-'))
  fs.writeFileSync(path.join(tmp, 'model.pb'), makeInceptionV3_2015({ scale: 16, seed: 12 }).bytes)
  fs.writeFileSync(path.join(tmp, 'even.pb'), evenModel())
  fs.writeFileSync(path.join(tmp, 'nan.pb'), evenModel(NaN))
  fs.writeFileSync(path.join(tmp, 'huge.pb'), evenModel(1e6))
})

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
})

it('the worker path writes what the single-thread path writes, byte for byte, for every output option', () => {
  const combos: string[][] = []
  for (const packed of [[], ['--packed', '--align', '4096']]) for (const hash of [[], ['--hash']]) for (const precision of ['float32', 'float16']) combos.push([...packed, ...hash, '--precision', precision])
  const models = ['model', 'even']
  const runs: Run[] = models.flatMap((m) =>
    combos.flatMap((flags, i) => [
      { label: `single ${m} ${i}`, argv: ['convert', `${m}.pb`, '--out-dir', `single-${m}-${i}`, '--quiet', ...flags] },
      { label: `worker ${m} ${i}`, argv: ['convert', `${m}.pb`, '--out-dir', `worker-${m}-${i}`, '--quiet', ...flags], tuning: WORKER },
    ]),
  )
  const results = runAll(runs)
  for (const m of models) {
    combos.forEach((flags, i) => {
      const what = `${m} ${flags.join(' ')}`
      const single = results.get(`single ${m} ${i}`)!
      const worker = results.get(`worker ${m} ${i}`)!
      expect([single.exit, single.stderr, worker.exit, worker.stderr], what).toEqual([0, expect.any(String), 0, single.stderr])
      expect(single.workerLayers, what).toBeUndefined()
      // The worker laid out its share. Packed, where no file is created, the hash of the model
      // can outweigh half of the layout: then the hash is all the worker does. That is so for
      // the Inception graph, and for the even model in float16 (half the bytes to write).
      const packed = flags.includes('--packed')
      if (!packed || (m === 'even' && flags.includes('float32'))) expect(worker.workerLayers, what).toBeGreaterThan(0)
      else expect(worker.workerLayers, what).toBe(0)
      const want = files(path.join(tmp, `single-${m}-${i}`))
      const got = files(path.join(tmp, `worker-${m}-${i}`))
      expect([...got.keys()], what).toEqual([...want.keys()])
      for (const [name, bytes] of want) expect(got.get(name)!.equals(bytes), `${what}: ${name}`).toBe(true)
      const layers = m === 'model' ? 95 : 9
      expect(want.size, what).toBe(flags.includes('--packed') ? 2 : layers * 2 + 1)
      // Both threads worked: the worker did not take every layer.
      expect(worker.workerLayers ?? 0, what).toBeLessThan(layers)
    })
  }
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
  expect(fs.readdirSync(tmp).sort()).toEqual(['even.pb', 'huge.pb', 'model.pb', 'nan.pb', ...['model', 'even'].flatMap((m) => Array.from({ length: 8 }, (_, i) => [`single-${m}-${i}`, `worker-${m}-${i}`]).flat())].sort())
})

it('after a layer failed on a worker that had hashed the whole model, the next conversion in the process has a working worker', () => {
  // The worker hashes the whole model before it takes its layers.
  const runs: Run[] = [
    { label: 'fails', argv: ['convert', 'nan.pb', '--out-dir', 'next-nan', '--quiet'], tuning: WORKER },
    { label: 'next', argv: ['convert', 'model.pb', '--out-dir', 'next-model', '--quiet'], tuning: WORKER },
  ]
  const results = runAll(runs)
  expect(results.get('fails')!.exit).toBe(1)
  expect(results.get('fails')!.workerLayers).toBeGreaterThan(0)
  expect([results.get('next')!.exit, results.get('next')!.stderr]).toEqual([0, ''])
  expect(results.get('next')!.workerLayers).toBeGreaterThan(0)
  fs.rmSync(path.join(tmp, 'next-model'), { recursive: true })
})
