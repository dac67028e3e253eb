/**
 * Several models in one build: they convert at the same time (on worker threads when
 * the machine has a spare core) and none corrupts another's output.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { expect, it } from 'vitest'
import { makeInceptionV3_2015 } from './helpers/inception.js'

const repo = path.resolve(__dirname, '..')

it('three models in one rollup build convert concurrently with correct, separate outputs', async () => {
  if (!fs.existsSync(path.join(repo, 'dist/rollup.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-many-'))
  const models = [21, 22, 23].map((seed) => makeInceptionV3_2015({ scale: 16, seed }))
  models.forEach((m, i) => fs.writeFileSync(path.join(dir, `m${i}.pb`), m.bytes))
  fs.writeFileSync(path.join(dir, 'main.js'), "import a from './m0.pb'\nimport b from './m1.pb'\nimport c from './m2.pb'\nexport default [a, b, c]\n")
  const { rollup } = await import(pathToFileURL(path.join(repo, 'node_modules/rollup/dist/es/rollup.js')).href)
  const mpscnn = (await import(pathToFileURL(path.join(repo, 'dist/rollup.js')).href)).default
  const { stats } = await import(pathToFileURL(path.join(repo, 'dist/scheduler.js')).href)
  const before = { ...stats }
  const bundle = await rollup({ input: path.join(dir, 'main.js'), plugins: [mpscnn({ cache: false, quiet: true })], onLog() {} })
  await bundle.write({ dir: path.join(dir, 'out'), format: 'es' })
  const ran = { inWorker: stats.inWorker - before.inWorker, onMainThread: stats.onMainThread - before.onMainThread }
  expect(ran.inWorker + ran.onMainThread).toBe(3)
  if (os.availableParallelism() > 1) expect(ran.inWorker).toBeGreaterThan(0)
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
  const mpscnn = (await import(pathToFileURL(path.join(repo, 'dist/rollup.js')).href)).default
  const { stats } = await import(pathToFileURL(path.join(repo, 'dist/scheduler.js')).href)
  const before = stats.inWorker
  const err = await rollup({ input: path.join(dir, 'main.js'), plugins: [mpscnn({ cache: false, quiet: true })], onLog() {} }).then(
    () => null,
    (e: Error & { code?: string; plugin?: string }) => e,
  )
  expect(err).not.toBeNull()
  expect(err!.message).toMatch(/bad\.pb: the file is truncated or corrupt|bad\.pb: node #\d+ .* is corrupt/)
  expect(err!.message.split('\n')[0]).not.toMatch(/at .*\.js:\d+/)
  expect(err!.code).toMatch(/^(TRUNCATED|CORRUPT|PLUGIN_ERROR)$/)
  if (os.availableParallelism() > 1) expect(stats.inWorker).toBeGreaterThan(before)
})
