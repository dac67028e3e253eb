/**
 * Per-import options: `import m from './model.pb?packed&align=512'`. One app imports the
 * same model twice with different queries; each real bundler (Vite, Rollup, webpack,
 * esbuild, Rspack) must emit both conversions, each manifest pointing at its own files,
 * bytes equal to the oracle, and each conversion in a cache entry of its own. An unknown
 * query key fails the build with a "did you mean".
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Options } from '../src/plugin/options.js'
import {
  type App,
  type MpscnnManifest,
  checkBuild,
  checkFileNames,
  errorText,
  fileUrlIn,
  importBundle,
  importDist,
  listFiles,
  makeApp,
  oracle,
  readDatFiles,
  rejection,
  removeApps,
  urlWithPrefix,
  writeOutputs,
} from './bundlers/helpers.js'

beforeAll(() => void oracle())
afterAll(removeApps)

const TWO_IMPORTS = "import a from './model.pb?packed&align=512'\nimport b from './model.pb?precision=float16'\nexport default [a, b]\n"

interface Built {
  /** The entry's default export: one manifest per import. */
  manifests: MpscnnManifest[]
  assets: Map<string, Uint8Array>
  fileOf: (url: string) => string
}

type Bundler = (app: App, opts?: Options) => Promise<Built>

async function entryExport(file: string): Promise<MpscnnManifest[]> {
  return (await importBundle(file)).default as unknown as MpscnnManifest[]
}

const bundlers: Record<'vite' | 'rollup' | 'webpack' | 'esbuild' | 'rspack', Bundler> = {
  async vite(app, opts = {}) {
    const vite = await import('vite')
    const mpscnn = (await importDist<typeof import('../src/plugin/vite.js')>('plugin/vite.js')).default
    const result = await vite.build({
      root: app.dir,
      configFile: false,
      logLevel: 'silent',
      plugins: [mpscnn({ cacheDir: app.cacheDir, ...opts })],
      build: { write: false, rollupOptions: { input: app.entry, preserveEntrySignatures: 'strict' } },
    })
    const output = (result as { output: ({ type: 'chunk'; fileName: string; code: string; isEntry: boolean } | { type: 'asset'; fileName: string; source: Uint8Array })[] }).output
    writeOutputs(app.outDir, output.map((o) => [o.fileName, o.type === 'chunk' ? o.code : o.source]))
    const entry = output.find((o) => o.type === 'chunk' && o.isEntry)!
    return { manifests: await entryExport(path.join(app.outDir, entry.fileName)), assets: readDatFiles(app.outDir), fileOf: urlWithPrefix('/') }
  },
  async rollup(app, opts = {}) {
    const { rollup } = await import('rollup')
    const mpscnn = (await importDist<typeof import('../src/plugin/rollup.js')>('plugin/rollup.js')).default
    const bundle = await rollup({ input: app.entry, plugins: [mpscnn({ cacheDir: app.cacheDir, ...opts })], onLog() {} })
    await bundle.write({ dir: app.outDir, format: 'es', entryFileNames: 'main.js' })
    await bundle.close()
    return { manifests: await entryExport(path.join(app.outDir, 'main.js')), assets: readDatFiles(app.outDir), fileOf: fileUrlIn(app.outDir) }
  },
  webpack: (app, opts) => webpackLike(app, opts, async () => (await import('webpack')).default, 'plugin/webpack.js'),
  rspack: (app, opts) => webpackLike(app, opts, async () => (await import('@rspack/core')).rspack, 'plugin/rspack.js'),
  async esbuild(app, opts = {}) {
    const esbuild = await import('esbuild')
    const mpscnn = (await importDist<typeof import('../src/plugin/esbuild.js')>('plugin/esbuild.js')).default
    await esbuild.build({
      absWorkingDir: app.dir,
      entryPoints: [app.entry],
      bundle: true,
      format: 'esm',
      outdir: app.outDir,
      logLevel: 'silent',
      plugins: [mpscnn({ cacheDir: app.cacheDir, ...opts })],
    })
    return { manifests: await entryExport(path.join(app.outDir, 'main.js')), assets: readDatFiles(app.outDir), fileOf: fileUrlIn(app.outDir) }
  },
}

type Compiler = { run(cb: (err: Error | null, stats?: { hasErrors(): boolean; toJson(o: object): { errors?: { message: string }[] } }) => void): void; close(cb: () => void): void }

async function webpackLike(app: App, opts: Options = {}, load: () => Promise<unknown>, distEntry: string): Promise<Built> {
  const create = (await load()) as (config: object) => Compiler
  const mpscnn = (await importDist<{ default: (o?: Options) => unknown }>(distEntry)).default
  const c = create({
    mode: 'production',
    context: app.dir,
    entry: './main.js',
    devtool: false,
    output: { path: app.outDir, filename: 'main.mjs', publicPath: '/public/', library: { type: 'module' } },
    experiments: { outputModule: true },
    infrastructureLogging: { level: 'none' },
    plugins: [mpscnn({ cacheDir: app.cacheDir, ...opts })],
  })
  const stats = await new Promise<NonNullable<Parameters<Parameters<Compiler['run']>[0]>[1]>>((resolve, reject) => c.run((err, s) => (err || !s ? reject(err) : resolve(s))))
  await new Promise<void>((r) => c.close(() => r()))
  const errors = stats.toJson({ all: false, errors: true }).errors ?? []
  if (errors.length) throw new Error(errors.map((e) => e.message).join('\n'))
  return { manifests: await entryExport(path.join(app.outDir, 'main.mjs')), assets: readDatFiles(app.outDir), fileOf: urlWithPrefix('/public/') }
}

/** Only the files `m` refers to, so that checkBuild can insist on exactly those. */
function assetsOf(b: Built, m: MpscnnManifest): Map<string, Uint8Array> {
  const files = new Set(m.layers.flatMap((l) => [b.fileOf(l.weights.url), b.fileOf(l.bias.url)]))
  return new Map([...b.assets].filter(([name]) => files.has(name)))
}

describe('per-import options (model.pb?packed&align=512 and model.pb?precision=float16 in one app)', () => {
  for (const [name, bundle] of Object.entries(bundlers)) {
    it(`${name}: both conversions, each against the oracle, each in its own cache entry`, async () => {
      const app = makeApp({ main: TWO_IMPORTS })
      const b = await bundle(app)
      expect(b.manifests).toHaveLength(2)
      const [packed, half] = b.manifests
      const packedAssets = assetsOf(b, packed)
      const halfAssets = assetsOf(b, half)
      expect(packedAssets.size).toBe(1)
      checkBuild({ manifest: packed, assets: packedAssets, fileOf: b.fileOf, packedAlign: 512 })
      checkBuild({ manifest: half, assets: halfAssets, fileOf: b.fileOf, precision: 'float16' })
      // Nothing else was emitted (no default conversion of the plain model).
      expect(b.assets.size).toBe(packedAssets.size + halfAssets.size)
      expect(listFiles(app.cacheDir).filter((f) => f.startsWith('entries/'))).toHaveLength(2)
    })
  }

  it('hash: false puts an import with options in a folder of its own (Rollup): model/ and model.float16/', async () => {
    const app = makeApp({ main: "import a from './model.pb'\nimport b from './model.pb?precision=float16'\nexport default [a, b]\n" })
    const b = await bundlers.rollup(app, { hash: false })
    const [plain, half] = b.manifests
    checkBuild({ manifest: plain, assets: assetsOf(b, plain), fileOf: b.fileOf })
    checkBuild({ manifest: half, assets: assetsOf(b, half), fileOf: b.fileOf, precision: 'float16' })
    checkFileNames(plain, b.fileOf, (stem) => `model/${stem}.dat`)
    checkFileNames(half, b.fileOf, (stem) => `model.float16/${stem}.dat`)
  })

  it('?packed=false overrides packed: true for that import (Rollup)', async () => {
    const app = makeApp({ main: "import a from './model.pb'\nimport b from './model.pb?packed=false'\nexport default [a, b]\n" })
    const b = await bundlers.rollup(app, { packed: true })
    const [packed, unpacked] = b.manifests
    expect(assetsOf(b, packed).size).toBe(1)
    checkBuild({ manifest: packed, assets: assetsOf(b, packed), fileOf: b.fileOf, packedAlign: 256 })
    expect(assetsOf(b, unpacked).size).toBe(2 * unpacked.layers.length)
    checkBuild({ manifest: unpacked, assets: assetsOf(b, unpacked), fileOf: b.fileOf })
  })

  it('vite dev: both imports served from memory, each at URLs of its own (float32 and float16 files share names)', async () => {
    const app = makeApp({ main: "import a from './model.pb'\nimport b from './model.pb?precision=float16'\nexport default [a, b]\n" })
    const vite = await import('vite')
    const mpscnn = (await importDist<typeof import('../src/plugin/vite.js')>('plugin/vite.js')).default
    const server = await vite.createServer({ root: app.dir, configFile: false, logLevel: 'silent', plugins: [mpscnn({ cacheDir: app.cacheDir })], server: { port: 0, host: '127.0.0.1' } })
    await server.listen()
    try {
      const origin = server.resolvedUrls!.local[0].replace(/\/$/, '')
      const get = async (url: string) => {
        const res = await fetch(origin + url)
        expect(res.status, url).toBe(200)
        return new Uint8Array(await res.arrayBuffer())
      }
      const manifestAt = async (url: string) => {
        const code = new TextDecoder().decode(await get(url))
        return ((await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as { default: MpscnnManifest }).default
      }
      // The imports as Vite rewrites them in main.js (`/model.pb?import&precision=float16`).
      const main = new TextDecoder().decode(await get('/main.js'))
      const specs = [...main.matchAll(/from "([^"]*model\.pb[^"]*)"/g)].map((m) => m[1])
      expect(specs).toHaveLength(2)
      // Both modules first, then the files: the second conversion must not replace the first one's files.
      const plain = await manifestAt(specs[0])
      const half = await manifestAt(specs[1])
      for (const [m, precision] of [[plain, 'float32'], [half, 'float16']] as const) {
        const assets = new Map<string, Uint8Array>()
        for (const l of m.layers) for (const t of [l.weights, l.bias]) if (!assets.has(t.url)) assets.set(t.url, await get(t.url))
        checkBuild({ manifest: m, assets, fileOf: (url) => url, precision })
      }
      expect(half.layers[0].weights.url).not.toBe(plain.layers[0].weights.url)
      // <base>@mpscnn/<sha>/<file>, and <base>@mpscnn/<sha>/<variant>/<file> for the import with options.
      const sha = /^\/@mpscnn\/([0-9a-f]{16})\/weights_/.exec(plain.layers[0].weights.url)?.[1]
      expect(sha, plain.layers[0].weights.url).toBeDefined()
      expect(half.layers[0].weights.url.startsWith(`/@mpscnn/${sha}/float16/weights_`), half.layers[0].weights.url).toBe(true)
    } finally {
      await server.close()
    }
  })

  for (const name of ['vite', 'rollup', 'webpack', 'esbuild'] as const) {
    it(`${name}: an unknown query key fails the build naming the model, with a "did you mean"`, async () => {
      const app = makeApp({ main: "import a from './model.pb?packd'\nexport default a\n" })
      const text = errorText(await rejection(bundlers[name](app)))
      expect(text).toContain('model.pb: unknown import query key "packd". Did you mean "packed"?')
      expect(readDatFiles(app.outDir).size).toBe(0)
    })
  }

  it("vite: `model.pb?url` stays Vite's (the model file's URL), next to a converted `model.pb?packed`", async () => {
    const app = makeApp({ main: "import url from './model.pb?url'\nimport m from './model.pb?packed'\nexport default [m, url]\n" })
    const b = await bundlers.vite(app)
    const [packed, url] = b.manifests as unknown as [MpscnnManifest, string]
    checkBuild({ manifest: packed, assets: assetsOf(b, packed), fileOf: b.fileOf, packedAlign: 256 })
    expect(url).toMatch(/^\/assets\/model-[\w-]{8}\.pb$/)
    expect(Buffer.compare(fs.readFileSync(path.join(app.outDir, url)), Buffer.from(oracle().bytes))).toBe(0)
  })

  it('a bad value names the key and what it accepts', async () => {
    const app = makeApp({ main: "import a from './model.pb?align=3'\nexport default a\n" })
    const text = errorText(await rejection(bundlers.rollup(app)))
    expect(text).toContain('model.pb: import query key align must be a power of two of at least 4, got 3')
  })
})
