/**
 * The plugin option `verify` (src/plugin/verify-model.ts): real Rollup builds of a fixture app
 * run the converted network against the TensorFlow graph and log one line per model, converted
 * or from the cache; a build beyond the tolerance fails naming the model and the first
 * diverging node; and a conversion whose weights were scaled fails verification.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveOptions } from '../src/plugin/options.js'
import { verifyModel } from './helpers/graphs.js'
import { DIST, errorText, importDist, makeApp, rejection, removeApps, type App } from './bundlers/helpers.js'

let rollup: (typeof import('rollup'))['rollup']
let mpscnn: (typeof import('../src/plugin/rollup.js'))['default']
let core: typeof import('../src/plugin/verify-model.js')
let pipeline: typeof import('../src/pipeline/convert-to-assets.js')

beforeAll(async () => {
  mpscnn = (await importDist<typeof import('../src/plugin/rollup.js')>('plugin/rollup.js')).default
  core = await importDist<typeof import('../src/plugin/verify-model.js')>('plugin/verify-model.js')
  pipeline = await importDist<typeof import('../src/pipeline/convert-to-assets.js')>('pipeline/convert-to-assets.js')
  rollup = (await import('rollup')).rollup
})
afterAll(removeApps)

const require = createRequire(import.meta.url)

const model = verifyModel

async function build(app: App, opts: Parameters<typeof mpscnn>[0]): Promise<string[]> {
  const logs: string[] = []
  const bundle = await rollup({ input: app.entry, plugins: [mpscnn({ cacheDir: app.cacheDir, ...opts })], onLog: (_level, log) => void logs.push(log.message) })
  await bundle.generate({ format: 'es' })
  await bundle.close()
  return logs
}

describe('the plugin option verify', () => {
  it('a Rollup build with verify logs one line per model, converted and then from the cache', async () => {
    const app = makeApp({ model: model() })
    const line = /\bmodel\.pb: verified, 3\/3 top-1, max abs (0|\d\.\de-\d+)$/
    const first = await build(app, { verify: { samples: 3 } })
    expect(first.some((l) => /model\.pb: .* converted in/.test(l))).toBe(true)
    expect(first.filter((l) => line.test(l))).toHaveLength(1)
    const second = await build(app, { verify: { samples: 3 } })
    expect(second.some((l) => /model\.pb: .* from cache in/.test(l))).toBe(true)
    expect(second.filter((l) => line.test(l))).toHaveLength(1)
    // Off by default: no line.
    const off = await build(app, {})
    expect(off.some((l) => /verified/.test(l))).toBe(false)
  })

  it('a build beyond the tolerance fails with VERIFY_FAILED naming the model and the first diverging node', async () => {
    const app = makeApp({ model: model() })
    // float16 weights differ from the graph's float32 ones: with tolerance 0 the first conv diverges.
    const e = await rejection(build(app, { precision: 'float16', verify: { samples: 2, tolerance: 0 } }))
    // Rollup keeps the plugin's code as pluginCode.
    expect((e as { pluginCode?: string }).pluginCode).toBe('VERIFY_FAILED')
    expect(errorText(e)).toMatch(/model\.pb: verify: output "prob" differs from the TensorFlow graph by \S+ \(relative\), beyond the tolerance 0; first diverging node "c1"/)
  })

  it('a conversion with one weight tensor scaled by 1.001 fails, naming its node', async () => {
    const assets = pipeline.convertToAssets({ bytes: model(), sha256: null }, 'model.pb', { packed: false, align: 256, precision: 'float32' })
    const app = makeApp({ model: model() })
    // Unchanged, it passes.
    await expect(core.verifyModel(app.model, 'model.pb', assets, { samples: 2, seed: 1, tolerance: undefined, backend: 'cpu' })).resolves.toMatch(/^model\.pb: verified, 2\/2 top-1/)
    const c2 = assets.plan.layers.find((l) => l.info.name === 'c2')!
    const name = [...assets.files.keys()].find((f) => f.startsWith('weights_c2'))!
    expect(name, `weights of c2 among ${[...assets.files.keys()]} (${c2.info.name})`).toBeDefined()
    const bytes = assets.files.get(name)!
    const w = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
    for (let i = 0; i < w.length; i++) w[i] *= 1.001
    const e = await rejection(core.verifyModel(app.model, 'model.pb', assets, { samples: 2, seed: 1, tolerance: undefined, backend: 'cpu' }))
    expect((e as { code?: string }).code).toBe('VERIFY_FAILED')
    expect(e.message).toMatch(/^model\.pb: verify: output "prob" .* first diverging node "c2"/)
  })

  it('a build without verify never loads src/execute nor TensorFlow.js; with it, both are loaded', () => {
    const app = makeApp({ model: model() })
    const log = path.join(app.dir, 'resolved.txt')
    // A module resolve hook (node:module register) records every module the build process loads.
    fs.writeFileSync(
      path.join(app.dir, 'hooks.mjs'),
      `import fs from 'node:fs'\nexport async function resolve(s, c, next) { const r = await next(s, c); fs.appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r }\n`,
    )
    fs.writeFileSync(path.join(app.dir, 'register.mjs'), `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(path.join(app.dir, 'hooks.mjs')).href)})\n`)
    const rollupUrl = pathToFileURL(require.resolve('rollup')).href
    const pluginUrl = pathToFileURL(path.join(DIST, 'plugin/rollup.js')).href
    const script = (verify: boolean) =>
      `const { rollup } = await import(${JSON.stringify(rollupUrl)}); const { default: m } = await import(${JSON.stringify(pluginUrl)});` +
      `const b = await rollup({ input: ${JSON.stringify(app.entry)}, plugins: [m({ cache: false, verify: ${verify ? '{ samples: 1 }' : 'false'} })], onLog() {} }); await b.generate({ format: 'es' }); await b.close()`
    const run = (verify: boolean) => {
      fs.rmSync(log, { force: true })
      const p = spawnSync(process.execPath, ['--no-warnings', '--import', pathToFileURL(path.join(app.dir, 'register.mjs')).href, '--input-type=module', '-e', script(verify)], { cwd: app.dir, encoding: 'utf8' })
      expect(p.stderr).toBe('')
      expect(p.status).toBe(0)
      return fs.readFileSync(log, 'utf8').split('\n')
    }
    const off = run(false)
    expect(off.some((u) => u.endsWith('/plugin/rollup.js'))).toBe(true)
    expect(off.filter((u) => /\/execute\/|@tensorflow/.test(u))).toEqual([])
    const on = run(true)
    expect(on.some((u) => u.endsWith('/execute/verify.js'))).toBe(true)
    expect(on.some((u) => u.includes('@tensorflow/tfjs-core'))).toBe(true)
  })

  it('without TensorFlow.js installed, a build with verify fails with MISSING_DEPENDENCY naming the model and what to install', () => {
    const app = makeApp({ model: model() })
    // A module resolve hook (node:module register) answers every @tensorflow/ package as npm would without it.
    fs.writeFileSync(
      path.join(app.dir, 'hooks.mjs'),
      `export async function resolve(s, c, next) { if (s.startsWith('@tensorflow/')) throw Object.assign(new Error("Cannot find package '" + s + "'"), { code: 'ERR_MODULE_NOT_FOUND' }); return next(s, c) }\n`,
    )
    fs.writeFileSync(path.join(app.dir, 'register.mjs'), `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(path.join(app.dir, 'hooks.mjs')).href)})\n`)
    const script =
      `const { rollup } = await import(${JSON.stringify(pathToFileURL(require.resolve('rollup')).href)}); const { default: m } = await import(${JSON.stringify(pathToFileURL(path.join(DIST, 'plugin/rollup.js')).href)});` +
      `try { await rollup({ input: ${JSON.stringify(app.entry)}, plugins: [m({ cache: false, verify: { samples: 1 } })], onLog() {} }); console.log('built') } catch (e) { console.log(e.pluginCode); console.log(e.message) }`
    const p = spawnSync(process.execPath, ['--no-warnings', '--import', pathToFileURL(path.join(app.dir, 'register.mjs')).href, '--input-type=module', '-e', script], { cwd: app.dir, encoding: 'utf8' })
    expect(p.stderr).toBe('')
    const [code, message] = p.stdout.split('\n')
    expect(code).toBe('MISSING_DEPENDENCY')
    expect(message).toMatch(/model\.pb: .*needs TensorFlow\.js .*@tensorflow\/tfjs-core/)
  })

  it('validates the option', () => {
    expect(resolveOptions({}).verify).toBe(false)
    expect(resolveOptions({ verify: true }).verify).toEqual({ samples: 8, seed: 1, tolerance: undefined, backend: 'cpu' })
    expect(resolveOptions({ verify: { samples: 2, backend: 'wasm', tolerance: 1e-3 } }).verify).toEqual({ samples: 2, seed: 1, tolerance: 1e-3, backend: 'wasm' })
    for (const bad of [{ samples: 0 }, { sample: 2 }, { backend: 'webgl' }, { tolerance: -1 }, 'yes', [true]]) {
      expect(() => resolveOptions({ verify: bad as never })).toThrow(/^unplugin-mpscnn: option verify must be true, false or \{ samples\?/)
    }
  })
})
