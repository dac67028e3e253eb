/**
 * Real Rollup builds of a fixture app importing a converted Inception v3. In memory
 * (`generate`) for the emitted assets; written (`write`) and imported in Node for the
 * URLs, which `import.meta.ROLLUP_FILE_URL_*` turns into `file:` URLs next to the bundle;
 * and the runtime (`loadWeights`, `loadBias` from dist/runtime.js) reading them back.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OutputAsset, OutputChunk, RollupBuild } from 'rollup'
import type { Options } from '../src/plugin/options.js'
import {
  type App,
  type MpscnnManifest,
  PLUGIN_NAME,
  checkBuild,
  checkFileNames,
  expectFloatsClose,
  fileUrlIn,
  garbageBytes,
  halfTolerance,
  hashedName,
  importBundle,
  importDist,
  makeApp,
  oracle,
  readDatFiles,
  rejection,
  removeApps,
} from './bundlers/helpers.js'

let rollup: (typeof import('rollup'))['rollup']
let mpscnn: (typeof import('../src/plugin/rollup.js'))['default']
let runtime: typeof import('../src/runtime.js')

beforeAll(async () => {
  mpscnn = (await importDist<typeof import('../src/plugin/rollup.js')>('plugin/rollup.js')).default
  runtime = await importDist<typeof import('../src/runtime.js')>('runtime.js')
  rollup = (await import('rollup')).rollup
  oracle()
})
afterAll(removeApps)

interface Bundle {
  bundle: RollupBuild
  logs: string[]
}

async function bundleApp(app: App, opts: Options = {}): Promise<Bundle> {
  const logs: string[] = []
  const bundle = await rollup({
    input: app.entry,
    plugins: [mpscnn({ cacheDir: app.cacheDir, ...opts })],
    onLog: (_level, log) => void logs.push(log.message),
  })
  return { bundle, logs }
}

/** Writes the ES bundle to `<app>/out`, imports it, and returns the manifest with the files on disk. */
async function writeAndImport(app: App, bundle: RollupBuild): Promise<{ manifest: MpscnnManifest; assets: Map<string, Uint8Array> }> {
  const { output } = await bundle.write({ dir: app.outDir, format: 'es' })
  const entry = output.find((o): o is OutputChunk => o.type === 'chunk' && o.isEntry)!
  const mod = await importBundle(path.join(app.outDir, entry.fileName))
  return { manifest: mod.default, assets: readDatFiles(app.outDir) }
}

describe('rollup build', () => {
  it('generate(): two content-hashed assets per layer, bytes equal the oracle; write(): the URLs are the files', async () => {
    const app = makeApp()
    const { bundle, logs } = await bundleApp(app)
    const { output } = await bundle.generate({ format: 'es' })
    const chunks = output.filter((o): o is OutputChunk => o.type === 'chunk')
    const assets = output.filter((o): o is OutputAsset => o.type === 'asset')
    expect(chunks).toHaveLength(1)
    expect(chunks[0].code).toContain('import.meta.url')
    expect(chunks[0].code).not.toContain('ROLLUP_FILE_URL')
    expect(assets).toHaveLength(2 * oracle().layers.length)
    const inMemory = new Map(assets.map((a) => [a.fileName, a.source as Uint8Array]))
    for (const name of inMemory.keys()) expect(name).toMatch(/^assets\/(weights|bias)_\w+-[A-Za-z0-9_-]{8}\.dat$/)

    const { manifest, assets: onDisk } = await writeAndImport(app, bundle)
    await bundle.close()
    expect([...onDisk.keys()].sort()).toEqual([...inMemory.keys()].sort())
    for (const [name, bytes] of inMemory) expect(Buffer.compare(Buffer.from(bytes), Buffer.from(onDisk.get(name)!)), name).toBe(0)

    const fileOf = fileUrlIn(app.outDir)
    checkBuild({ manifest, assets: onDisk, fileOf })
    checkFileNames(manifest, fileOf, hashedName)
    // One log line for the model, through Rollup's log API.
    expect(logs.filter((l) => l.includes(PLUGIN_NAME) && l.includes('model.pb: 95 layers'))).toHaveLength(1)
  })

  it('the runtime loads every layer from the written files in Node (loadWeights, loadBias)', async () => {
    const app = makeApp()
    const { bundle } = await bundleApp(app)
    const { manifest } = await writeAndImport(app, bundle)
    await bundle.close()
    const expected = oracle().layers
    for (let i = 0; i < expected.length; i++) {
      const l = manifest.layers[i]
      expectFloatsClose(await runtime.loadWeights(l), expected[i].weights, `${l.name} weights`)
      expectFloatsClose(await runtime.loadBias(l), expected[i].bias, `${l.name} bias`)
    }
    expect(runtime.getLayer(manifest, 'softmax').kind).toBe('fullyConnected')
  })

  it('packed: one file, read once by the runtime and shared by every tensor view', async () => {
    const app = makeApp()
    const { bundle } = await bundleApp(app, { packed: true, align: 1024 })
    const { manifest, assets } = await writeAndImport(app, bundle)
    await bundle.close()
    expect(assets.size).toBe(1)
    expect([...assets.keys()][0]).toMatch(hashedName('model'))
    checkBuild({ manifest, assets, fileOf: fileUrlIn(app.outDir), packedAlign: 1024 })

    const expected = oracle().layers
    const buffers = new Set<ArrayBufferLike>()
    for (let i = 0; i < expected.length; i++) {
      const l = manifest.layers[i]
      const w = await runtime.loadWeights(l)
      const b = await runtime.loadBias(l)
      expect(w.byteOffset).toBe(l.weights.offset) // a view into the file, not a copy
      expect(b.byteOffset).toBe(l.bias.offset)
      buffers.add(w.buffer).add(b.buffer)
      expectFloatsClose(w, expected[i].weights, `${l.name} weights`)
      expectFloatsClose(b, expected[i].bias, `${l.name} bias`)
    }
    expect(buffers.size, 'the packed file is read once').toBe(1)
    expect([...buffers][0].byteLength).toBe([...assets.values()][0].byteLength)
  })

  it('packed float16: the runtime decodes half weights within half precision, biases float32', async () => {
    const app = makeApp()
    const { bundle } = await bundleApp(app, { packed: true, precision: 'float16' })
    const { manifest, assets } = await writeAndImport(app, bundle)
    await bundle.close()
    checkBuild({ manifest, assets, fileOf: fileUrlIn(app.outDir), packedAlign: 256, precision: 'float16' })
    const expected = oracle().layers
    for (let i = 0; i < expected.length; i++) {
      const l = manifest.layers[i]
      expectFloatsClose(await runtime.loadWeights(l), expected[i].weights, `${l.name} weights`, halfTolerance)
      expectFloatsClose(await runtime.loadBias(l), expected[i].bias, `${l.name} bias`)
    }
  })

  it('hash: false writes <stem>/weights_<layer>.dat', async () => {
    const app = makeApp()
    const { bundle } = await bundleApp(app, { hash: false })
    const { manifest, assets } = await writeAndImport(app, bundle)
    await bundle.close()
    const fileOf = fileUrlIn(app.outDir)
    checkBuild({ manifest, assets, fileOf })
    checkFileNames(manifest, fileOf, (stem) => `model/${stem}.dat`)
  })

  it('CommonJS output: the URLs resolve to the written files too', async () => {
    const app = makeApp()
    const { bundle } = await bundleApp(app)
    await bundle.write({ dir: app.outDir, format: 'cjs', entryFileNames: '[name].cjs', exports: 'named' })
    await bundle.close()
    const req = createRequire(path.join(app.outDir, 'x.cjs'))
    const manifest = (req(path.join(app.outDir, 'main.cjs')) as { default: MpscnnManifest }).default
    checkBuild({ manifest, assets: readDatFiles(app.outDir), fileOf: fileUrlIn(app.outDir) })
  })

  for (const [what, bytes] of [
    ['an empty file', new Uint8Array(0)],
    ['random bytes', garbageBytes()],
  ] as const) {
    it(`${what}: rollup() rejects with the plugin's error naming the file; nothing is written`, async () => {
      const app = makeApp({ model: bytes })
      const err = await rejection(bundleApp(app))
      expect(err.plugin).toBe(PLUGIN_NAME)
      // Rollup's own "Could not load <file>" names it too; the plugin's message is `<file>: <problem>`.
      expect(err.message).toContain(`${path.join(app.dir, 'model.pb')}: `)
      expect(err.message.split('\n')).toHaveLength(1)
      expect(fs.existsSync(app.outDir)).toBe(false)
      expect(readDatFiles(app.dir).size).toBe(0)
    })
  }
})
