/**
 * Real Vite builds (in memory, `write: false`) of a fixture app importing a converted
 * Inception v3: the emitted `.dat` assets against the oracle, their names, and the URLs
 * of the manifest, read by importing the emitted chunk in Node.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { InlineConfig } from 'vite'
import type { Options } from '../src/plugin/options.js'
import {
  type App,
  type MpscnnManifest,
  PLUGIN_NAME,
  checkBuild,
  checkFileNames,
  errorText,
  garbageBytes,
  hashedName,
  importBundle,
  importDist,
  makeApp,
  oracle,
  readDatFiles,
  rejection,
  removeApps,
  urlWithPrefix,
  writeOutputs,
  fileUrlIn,
} from './bundlers/helpers.js'

type Vite = typeof import('vite')
let vite: Vite
let mpscnn: (typeof import('../src/plugin/vite.js'))['default']

beforeAll(async () => {
  mpscnn = (await importDist<typeof import('../src/plugin/vite.js')>('plugin/vite.js')).default
  vite = await import('vite')
  oracle() // build the model once, outside the timed tests
})
afterAll(removeApps)

interface Built {
  manifest: MpscnnManifest
  assets: Map<string, Uint8Array>
  chunks: string[]
}

type OutputItem = { type: 'chunk'; fileName: string; code: string; isEntry: boolean } | { type: 'asset'; fileName: string; source: string | Uint8Array }

/** Builds `app` in memory, writes the outputs to `<app>/out` and imports the entry chunk. */
async function build(app: App, opts: Options = {}, config: InlineConfig = {}, lib = false): Promise<Built> {
  const buildCfg = lib
    ? { write: false, lib: { entry: app.entry, formats: ['es' as const], fileName: 'main' } }
    : { write: false, rollupOptions: { input: app.entry, preserveEntrySignatures: 'strict' as const } }
  const result = await vite.build({
    root: app.dir,
    configFile: false,
    logLevel: 'silent',
    ...config,
    plugins: [mpscnn({ cacheDir: app.cacheDir, ...opts })],
    build: buildCfg,
  })
  const outputs = (Array.isArray(result) ? result : [result]) as { output: OutputItem[] }[]
  expect(outputs).toHaveLength(1)
  const output = outputs[0].output
  const assets = new Map<string, Uint8Array>()
  const chunks: string[] = []
  for (const o of output) {
    if (o.type === 'asset') {
      expect(o.fileName, 'only .dat assets').toMatch(/\.dat$/)
      expect(o.source, `${o.fileName} is binary`).toBeInstanceOf(Uint8Array)
      assets.set(o.fileName, o.source as Uint8Array)
    } else chunks.push(o.fileName)
  }
  writeOutputs(app.outDir, output.map((o) => [o.fileName, o.type === 'chunk' ? o.code : o.source] as [string, string | Uint8Array]))
  const entry = output.find((o) => o.type === 'chunk' && o.isEntry)
  if (!entry) return expect.fail('no entry chunk')
  const mod = await importBundle(path.join(app.outDir, entry.fileName))
  return { manifest: mod.default, assets, chunks }
}

describe('vite build', () => {
  it('emits two content-hashed assets per layer, equal to the oracle, with URLs under base', async () => {
    const app = makeApp()
    const b = await build(app)
    expect(b.chunks).toHaveLength(1)
    expect(b.assets.size).toBe(2 * oracle().layers.length)
    const fileOf = urlWithPrefix('/')
    checkBuild({ manifest: b.manifest, assets: b.assets, fileOf })
    checkFileNames(b.manifest, fileOf, hashedName)
    expect(b.manifest.layers[0].weights.url).toMatch(/^\/assets\/weights_conv-[A-Za-z0-9_-]{8}\.dat$/)
  })

  it("prefixes every URL with base '/sub/'", async () => {
    const app = makeApp()
    const b = await build(app, {}, { base: '/sub/' })
    const fileOf = urlWithPrefix('/sub/')
    checkBuild({ manifest: b.manifest, assets: b.assets, fileOf })
    checkFileNames(b.manifest, fileOf, hashedName)
    for (const l of b.manifest.layers) expect(l.weights.url.startsWith('/sub/assets/')).toBe(true)
  })

  it('hash: false keeps the exact names <stem>/weights_<layer>.dat', async () => {
    const app = makeApp()
    const b = await build(app, { hash: false })
    const fileOf = urlWithPrefix('/')
    checkBuild({ manifest: b.manifest, assets: b.assets, fileOf })
    checkFileNames(b.manifest, fileOf, (stem) => `model/${stem}.dat`)
    expect([...b.assets.keys()]).toContain('model/weights_softmax.dat')
  })

  it('lib mode with a relative base: URLs resolve next to the module, to the emitted files', async () => {
    const app = makeApp()
    const b = await build(app, {}, { base: './' }, true)
    // Vite's lib mode names assets `[name][extname]` (no hash, no assets/ folder).
    const fileOf = fileUrlIn(app.outDir)
    checkBuild({ manifest: b.manifest, assets: b.assets, fileOf })
    checkFileNames(b.manifest, fileOf, (stem) => `${stem}.dat`)
    for (const l of b.manifest.layers) expect(fs.existsSync(new URL(l.bias.url))).toBe(true)
  })

  for (const align of [256, 1024]) {
    it(`packed, align ${align}: one file, every tensor at a multiple of ${align}, bytes equal the oracle`, async () => {
      const app = makeApp()
      const hash = align === 256
      const b = await build(app, { packed: true, align, hash }, { base: '/sub/' })
      expect(b.assets.size).toBe(1)
      const [name] = b.assets.keys()
      if (hash) expect(name).toMatch(hashedName('model'))
      else expect(name).toBe('model/model.dat')
      checkBuild({ manifest: b.manifest, assets: b.assets, fileOf: urlWithPrefix('/sub/'), packedAlign: align })
      // The alignment is really applied: the first bias starts at the next multiple of `align`
      // after the first weights (432 bytes), not right after them.
      const first = b.manifest.layers[0]
      expect(first.weights.offset).toBe(0)
      expect(first.bias.offset).toBe(Math.ceil(first.weights.byteLength / align) * align)
      const offsets = b.manifest.layers.flatMap((l) => [l.weights.offset, l.bias.offset])
      expect(new Set(offsets).size).toBe(offsets.length)
    })
  }

  it("precision 'float16': weights are half floats (2 bytes a value) within half precision, biases float32", async () => {
    const app = makeApp()
    const b = await build(app, { precision: 'float16' })
    checkBuild({ manifest: b.manifest, assets: b.assets, fileOf: urlWithPrefix('/'), precision: 'float16' })
    const l = b.manifest.layers[0]
    expect(l.weights.dtype).toBe('float16')
    expect(b.assets.get(l.weights.url.slice(1))!.byteLength).toBe(oracle().layers[0].weights.length * 2)
    expect(l.bias.dtype).toBe('float32')
  })

  describe('a model that is not a GraphDef', () => {
    for (const [what, bytes] of [
      ['an empty file', new Uint8Array(0)],
      ['random bytes', garbageBytes()],
    ] as const) {
      it(`${what}: the build rejects naming the file and the plugin, and writes no .dat`, async () => {
        const app = makeApp({ model: bytes })
        const err = await rejection(
          vite.build({
            root: app.dir,
            configFile: false,
            logLevel: 'silent',
            plugins: [mpscnn({ cacheDir: app.cacheDir })],
            build: { write: true, outDir: app.outDir, emptyOutDir: true, rollupOptions: { input: app.entry } },
          }),
        )
        const text = errorText(err)
        expect(text).toContain('model.pb')
        expect(text).toContain(PLUGIN_NAME)
        if (what === 'an empty file') expect(text).toMatch(/empty/)
        expect(readDatFiles(app.outDir).size).toBe(0)
        expect(readDatFiles(app.dir).size).toBe(0)
      })
    }
  })
})
