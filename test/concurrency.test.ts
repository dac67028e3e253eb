/**
 * Several models in one build: none corrupts another's output, and conversions asked for
 * at once run at the same time (on worker threads when the machine has a spare core), as
 * the scheduler's observer sees them start and end.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { threadId } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import type { ConversionEvent, convertScheduled as ConvertScheduled, idle as Idle } from '../src/parallel/scheduler.js'
import type { readModelMemory as ReadModelMemory } from '../src/io/read.js'
import { makeInceptionV3_2015 } from './helpers/inception.js'

const repo = path.resolve(__dirname, '..')
const cores = os.availableParallelism()
const oneCore = cores < 2
if (oneCore) console.warn(`[concurrency.test] worker-thread tests skipped: this machine has ${cores} core, so every conversion runs on the calling thread`)

it('three models in one rollup build get correct, separate outputs', async () => {
  if (!fs.existsSync(path.join(repo, 'dist/plugin/rollup.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-many-'))
  const models = [21, 22, 23].map((seed) => makeInceptionV3_2015({ scale: 16, seed }))
  models.forEach((m, i) => fs.writeFileSync(path.join(dir, `m${i}.pb`), m.bytes))
  fs.writeFileSync(path.join(dir, 'main.js'), "import a from './m0.pb'\nimport b from './m1.pb'\nimport c from './m2.pb'\nexport default [a, b, c]\n")
  const { rollup } = await import(pathToFileURL(path.join(repo, 'node_modules/rollup/dist/es/rollup.js')).href)
  const mpscnn = (await import(pathToFileURL(path.join(repo, 'dist/plugin/rollup.js')).href)).default
  // Whether the bundler asks for the three at once is its own timing: that conversions asked
  // for at once run at the same time is checked on the scheduler below, here the outputs.
  const bundle = await rollup({ input: path.join(dir, 'main.js'), plugins: [mpscnn({ cache: false, quiet: true })], onLog() {} })
  await bundle.write({ dir: path.join(dir, 'out'), format: 'es' })
  const manifests = (await import(pathToFileURL(path.join(dir, 'out/main.js')).href)).default as { sha256: string; layers: { weights: { url: string }; bias: { url: string } }[] }[]
  expect(new Set(manifests.map((m) => m.sha256)).size).toBe(3)
  manifests.forEach((m, i) => {
    for (const [j, l] of models[i].layers.entries()) {
      const w = fs.readFileSync(new URL(m.layers[j].weights.url))
      expect(new Float32Array(Uint8Array.from(w).buffer)).toEqual(l.weights)
      const b = fs.readFileSync(new URL(m.layers[j].bias.url))
      expect(new Float32Array(Uint8Array.from(b).buffer)).toEqual(l.bias)
    }
  })
})

it('a bad model among three in one rollup build fails the build with its own one-line error', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-many-bad-'))
  const good = makeInceptionV3_2015({ scale: 16, seed: 31 })
  // Asked for at once, the first model goes to a worker (the last one waiting converts on
  // the main thread); its error on a worker is checked on the scheduler below.
  const truncated = good.bytes.subarray(0, Math.floor(good.bytes.length / 2))
  fs.writeFileSync(path.join(dir, 'bad.pb'), truncated)
  fs.writeFileSync(path.join(dir, 'm1.pb'), good.bytes)
  fs.writeFileSync(path.join(dir, 'm2.pb'), good.bytes)
  fs.writeFileSync(path.join(dir, 'main.js'), "import a from './bad.pb'\nimport b from './m1.pb'\nimport c from './m2.pb'\nexport default [a, b, c]\n")
  const { rollup } = await import(pathToFileURL(path.join(repo, 'node_modules/rollup/dist/es/rollup.js')).href)
  const mpscnn = (await import(pathToFileURL(path.join(repo, 'dist/plugin/rollup.js')).href)).default
  const err = await rollup({ input: path.join(dir, 'main.js'), plugins: [mpscnn({ cache: false, quiet: true })], onLog() {} }).then(
    () => null,
    (e: Error & { code?: string; plugin?: string }) => e,
  )
  expect(err).not.toBeNull()
  expect(err!.message).toMatch(/bad\.pb: the file is truncated or corrupt|bad\.pb: node #\d+ .* is corrupt/)
  expect(err!.message.split('\n')[0]).not.toMatch(/at .*\.js:\d+/)
  expect(err!.code).toMatch(/^(TRUNCATED|CORRUPT|PLUGIN_ERROR)$/)
})

interface Scheduler {
  convertScheduled: typeof ConvertScheduled
  idle: typeof Idle
  readModelMemory: typeof ReadModelMemory
}

/** The built scheduler (its worker threads run dist/), once no conversion is left running. */
async function load(): Promise<Scheduler> {
  const { convertScheduled, idle } = await import(pathToFileURL(path.join(repo, 'dist/parallel/scheduler.js')).href)
  const { readModelMemory } = await import(pathToFileURL(path.join(repo, 'dist/io/read.js')).href)
  // A failed build above may have left a conversion running on the worker.
  await idle()
  return { convertScheduled, idle, readModelMemory }
}

const options = { packed: false, align: 256, precision: 'float32' as const }

/** The most conversions in flight at once: started, and not yet ended. */
function mostAtOnce(events: ConversionEvent[]): number {
  let now = 0
  let most = 0
  for (const e of events) {
    now += e.phase === 'start' ? 1 : -1
    most = Math.max(most, now)
  }
  return most
}

function startedOn(events: ConversionEvent[], file: string): number | undefined {
  return events.find((e) => e.phase === 'start' && e.file === file)?.threadId
}

it('idle() called while a conversion waits to run on this thread resolves in the turn of the event loop in which it ends', async () => {
  const { convertScheduled, idle, readModelMemory } = await load()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-sched-idle-'))
  const file = path.join(dir, 'm.pb')
  fs.writeFileSync(file, makeInceptionV3_2015({ scale: 16, seed: 45 }).bytes)
  const order: string[] = []
  const job = convertScheduled(readModelMemory(file), 'm.pb', options).then(() => order.push('converted')) // queued, not yet run
  void idle().then(() => order.push('idle'))
  await null
  expect(order).toEqual([])
  await job
  await new Promise((resolve) => setImmediate(resolve))
  expect(order).toEqual(['converted', 'idle'])
})

describe.skipIf(oneCore)(`the scheduler, asked for three conversions at once${oneCore ? ' (skipped: one core, no worker threads)' : ''}`, () => {
  it('runs them at the same time: the waiting ones on worker threads (one per spare core, up to two), the last on this thread; results correct', async () => {
    const { convertScheduled, readModelMemory } = await load()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-sched-'))
    const models = [41, 42, 43].map((seed) => makeInceptionV3_2015({ scale: 16, seed }))
    const events: ConversionEvent[] = []
    const results = await Promise.all(
      models.map((m, i) => {
        const file = path.join(dir, `m${i}.pb`)
        fs.writeFileSync(file, m.bytes)
        return convertScheduled(readModelMemory(file), `m${i}.pb`, options, (e) => events.push(e))
      }),
    )
    const workers = Math.min(2, cores - 1)
    const threads = ['m0.pb', 'm1.pb', 'm2.pb'].map((f) => startedOn(events, f))
    expect(threads.filter((t) => t !== threadId)).toHaveLength(workers)
    expect(threads[2]).toBe(threadId)
    expect(new Set(threads).size).toBe(workers + 1)
    expect(events.filter((e) => e.phase === 'end')).toHaveLength(3)
    // At the same time: each worker's conversion was under way while this thread converted.
    expect(mostAtOnce(events)).toBe(workers + 1)
    results.forEach((r, i) => {
      for (const l of models[i].layers) {
        expect(new Float32Array(Uint8Array.from(r.files.get(`weights_${l.name}.dat`)!).buffer)).toEqual(l.weights)
      }
    })
  })

  it('a bad model converted on a worker rejects with its MpscnnError, code and one-line message intact', async () => {
    const { convertScheduled, readModelMemory } = await load()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-sched-bad-'))
    const good = makeInceptionV3_2015({ scale: 16, seed: 44 })
    fs.writeFileSync(path.join(dir, 'bad.pb'), good.bytes.subarray(0, Math.floor(good.bytes.length / 2)))
    fs.writeFileSync(path.join(dir, 'good.pb'), good.bytes)
    const events: ConversionEvent[] = []
    // The first of those waiting goes to a worker; the last converts on this thread.
    const [bad, ok] = await Promise.allSettled([
      convertScheduled(readModelMemory(path.join(dir, 'bad.pb')), 'bad.pb', options, (e) => events.push(e)),
      convertScheduled(readModelMemory(path.join(dir, 'good.pb')), 'good.pb', options, (e) => events.push(e)),
    ])
    expect(startedOn(events, 'bad.pb')).not.toBe(threadId)
    expect(startedOn(events, 'good.pb')).toBe(threadId)
    expect(ok.status).toBe('fulfilled')
    expect(bad.status).toBe('rejected')
    const e = (bad as PromiseRejectedResult).reason as Error & { code?: string; file?: string }
    expect(e.name).toBe('MpscnnError')
    expect(e.code).toBe('TRUNCATED')
    expect(e.file).toBe('bad.pb')
    expect(e.message).toMatch(/^bad\.pb: the file is truncated or corrupt: a field at byte \d+ runs past the end/)
    expect(e.message).not.toContain('\n')
  })
})
