/**
 * Several models in one build: they convert at the same time (on worker threads when
 * the machine has a spare core) and none corrupts another's output.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { makeInceptionV3_2015 } from './helpers/inception.js'

const repo = path.resolve(__dirname, '..')

it('three models in one rollup build convert concurrently with correct, separate outputs', async () => {
  if (!fs.existsSync(path.join(repo, 'dist/plugin/rollup.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-many-'))
  const models = [21, 22, 23].map((seed) => makeInceptionV3_2015({ scale: 16, seed }))
  models.forEach((m, i) => fs.writeFileSync(path.join(dir, `m${i}.pb`), m.bytes))
  fs.writeFileSync(path.join(dir, 'main.js'), "import a from './m0.pb'\nimport b from './m1.pb'\nimport c from './m2.pb'\nexport default [a, b, c]\n")
  const { rollup } = await import(pathToFileURL(path.join(repo, 'node_modules/rollup/dist/es/rollup.js')).href)
  const mpscnn = (await import(pathToFileURL(path.join(repo, 'dist/plugin/rollup.js')).href)).default
  const bundle = await rollup({ input: path.join(dir, 'main.js'), plugins: [mpscnn({ cache: false, quiet: true })], onLog() {} })
  await bundle.write({ dir: path.join(dir, 'out'), format: 'es' })
  // Whether the bundler asks for the three at once is its own timing: which thread each
  // took is checked deterministically below, here that all three converted, each to its own output.
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

it('a bad model converted on a worker thread fails the build with its own one-line error', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-many-bad-'))
  const good = makeInceptionV3_2015({ scale: 16, seed: 31 })
  // The first model goes to a worker (the last one waiting converts on the main thread).
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

describe.skipIf(os.availableParallelism() < 2)('the scheduler, asked for three conversions at once', () => {
  const load = async () => {
    const { convertScheduled, idle } = await import(pathToFileURL(path.join(repo, 'dist/parallel/scheduler.js')).href)
    const { readModelMemory } = await import(pathToFileURL(path.join(repo, 'dist/io/read.js')).href)
    // A failed build above may have left a conversion running on the worker.
    await idle()
    // Where each conversion ran, as the scheduler reports it when it starts one.
    const ran: string[] = []
    const observe = (where: string) => ran.push(where)
    return { convertScheduled, readModelMemory, ran, observe }
  }
  const options = { packed: false, align: 256, precision: 'float32' as const }

  it('sends the waiting ones to worker threads, sharing the model memory, with correct results', async () => {
    const { convertScheduled, readModelMemory, ran, observe } = await load()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-sched-'))
    const models = [41, 42, 43].map((seed) => makeInceptionV3_2015({ scale: 16, seed }))
    const results = await Promise.all(
      models.map((m, i) => {
        const file = path.join(dir, `m${i}.pb`)
        fs.writeFileSync(file, m.bytes)
        return convertScheduled(readModelMemory(file), `m${i}.pb`, options, observe)
      }),
    )
    const workers = Math.min(2, os.availableParallelism() - 1)
    expect(ran.sort()).toEqual([...Array(3 - workers).fill('this thread'), ...Array(workers).fill('worker')])
    results.forEach((r: { files: Map<string, Uint8Array> }, i: number) => {
      for (const l of models[i].layers) {
        expect(new Float32Array(Uint8Array.from(r.files.get(`weights_${l.name}.dat`)!).buffer)).toEqual(l.weights)
      }
    })
  })

  it('idle() called while a conversion waits to run on this thread resolves once it is done', async () => {
    const { convertScheduled, readModelMemory } = await load()
    const { idle } = await import(pathToFileURL(path.join(repo, 'dist/parallel/scheduler.js')).href)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-sched-idle-'))
    const file = path.join(dir, 'm.pb')
    fs.writeFileSync(file, makeInceptionV3_2015({ scale: 16, seed: 45 }).bytes)
    const job = convertScheduled(readModelMemory(file), 'm.pb', options) // queued, not yet run
    const waited = idle().then(() => 'idle')
    await job
    const timeout = new Promise((resolve) => setTimeout(resolve, 5000, 'still waiting after 5 s'))
    expect(await Promise.race([waited, timeout])).toBe('idle')
  })

  it('a bad model converted on a worker rejects with its MpscnnError, code and one-line message intact', async () => {
    const { convertScheduled, readModelMemory, ran, observe } = await load()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-sched-bad-'))
    const good = makeInceptionV3_2015({ scale: 16, seed: 44 })
    fs.writeFileSync(path.join(dir, 'bad.pb'), good.bytes.subarray(0, Math.floor(good.bytes.length / 2)))
    fs.writeFileSync(path.join(dir, 'good.pb'), good.bytes)
    // The first of those waiting goes to a worker; the last converts on this thread.
    const [bad, ok] = await Promise.allSettled([
      convertScheduled(readModelMemory(path.join(dir, 'bad.pb')), 'bad.pb', options, (where: string) => observe(`bad.pb: ${where}`)),
      convertScheduled(readModelMemory(path.join(dir, 'good.pb')), 'good.pb', options, (where: string) => observe(`good.pb: ${where}`)),
    ])
    expect(ran).toEqual(['bad.pb: worker', 'good.pb: this thread'])
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
