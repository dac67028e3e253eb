/**
 * The build tests shared by webpack 5 and Rspack (same plugin API, same compiler API):
 * real compilations written to a temp dir, an ES module library imported back in Node,
 * the `.dat` assets against the oracle, `publicPath`, the runtime over HTTP, rebuilds.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Options } from '../../src/plugin/options.js'
import {
  type App,
  type MpscnnManifest,
  ageFiles,
  checkBuild,
  checkFileNames,
  expectFloatsClose,
  fileUrlIn,
  garbageBytes,
  importBundle,
  importDist,
  makeApp,
  oracle,
  readDatFiles,
  removeApps,
  urlWithPrefix,
} from './helpers.js'

/** What the tests need of a webpack-like compiler. */
export interface LikeStats {
  hasErrors(): boolean
  toJson(o: { all: false; errors: true; warnings: true }): { errors?: { message: string; moduleName?: string }[]; warnings?: { message: string }[] }
  compilation: { getAssets(): readonly { name: string }[] }
}
export interface LikeCompiler {
  run(cb: (err: Error | null, stats?: LikeStats) => void): void
  close(cb: (err?: Error | null) => void): void
}

export interface WebpackLikeSuite {
  name: 'webpack' | 'rspack'
  /** `webpack` / `rspack`: config -> compiler. */
  loadCompiler(): Promise<(config: Record<string, unknown>) => LikeCompiler>
  /** `dist/plugin/webpack.js` / `dist/plugin/rspack.js`. */
  distEntry: string
}

const PUBLIC = '/public/'

export function webpackLikeSuite(s: WebpackLikeSuite): void {
  let create: (config: Record<string, unknown>) => LikeCompiler
  let plugin: (o?: Options) => unknown
  let runtime: typeof import('../../src/runtime.js')

  beforeAll(async () => {
    plugin = (await importDist<{ default: (o?: Options) => unknown }>(s.distEntry)).default
    runtime = await importDist<typeof import('../../src/runtime.js')>('runtime.js')
    create = await s.loadCompiler()
    oracle()
  })
  afterAll(removeApps)

  interface Extra {
    mode?: 'production' | 'development'
    publicPath?: string
    cache?: boolean
    clean?: boolean
    /** Receives the infrastructure log's info lines (the plugin's one line per model load). */
    onInfo?: (line: string) => void
  }

  function config(app: App, opts: Options = {}, extra: Extra = {}): Record<string, unknown> {
    const onInfo = extra.onInfo
    return {
      mode: extra.mode ?? 'production',
      context: app.dir,
      entry: './main.js',
      cache: extra.cache ?? false,
      devtool: false,
      output: {
        path: app.outDir,
        filename: 'main.mjs',
        publicPath: extra.publicPath ?? PUBLIC,
        library: { type: 'module' },
        clean: extra.clean ?? false,
      },
      experiments: { outputModule: true },
      infrastructureLogging: onInfo
        ? { level: 'info', console: { ...console, info: (...a: unknown[]) => onInfo(a.join(' ')), log: (...a: unknown[]) => onInfo(a.join(' ')) } }
        : { level: 'none' },
      plugins: [plugin({ cacheDir: app.cacheDir, ...opts })],
    }
  }

  const run = (c: LikeCompiler) =>
    new Promise<LikeStats>((resolve, reject) => c.run((err, stats) => (err ? reject(err) : stats ? resolve(stats) : reject(new Error('no stats')))))
  const close = (c: LikeCompiler) => new Promise<void>((resolve, reject) => c.close((err) => (err ? reject(err) : resolve())))

  /** One compilation; fails the test on a compilation error. */
  async function build(app: App, opts: Options = {}, extra: Extra = {}) {
    const c = create(config(app, opts, extra))
    const stats = await run(c)
    await close(c)
    const j = stats.toJson({ all: false, errors: true, warnings: true })
    expect(j.errors ?? [], 'compilation errors').toEqual([])
    const mod = await importBundle(path.join(app.outDir, 'main.mjs'))
    return { manifest: mod.default as MpscnnManifest, assets: readDatFiles(app.outDir), emitted: stats.compilation.getAssets().map((a) => a.name) }
  }

  describe(`${s.name} build`, () => {
    it(`writes two hashed assets per layer, bytes equal the oracle, URLs are ${PUBLIC}<fileName>`, async () => {
      const app = makeApp()
      const b = await build(app)
      expect(b.assets.size).toBe(2 * oracle().layers.length)
      expect(b.emitted.filter((n) => n.endsWith('.dat')).sort()).toEqual([...b.assets.keys()].sort())
      const fileOf = urlWithPrefix(PUBLIC)
      checkBuild({ manifest: b.manifest, assets: b.assets, fileOf })
      // webpack has no asset naming of its own here: the plugin hashes (sha256 of the bytes, 8 hex digits).
      for (const [name, bytes] of b.assets) {
        const m = /^assets\/(weights|bias)_\w+-([0-9a-f]{8})\.dat$/.exec(name)
        expect(m, name).not.toBeNull()
        expect(m![2], name).toBe(createHash('sha256').update(bytes).digest('hex').slice(0, 8))
      }
      checkFileNames(b.manifest, fileOf, (stem) => new RegExp(`^assets/${stem}-[0-9a-f]{8}\\.dat$`))
    })

    it('hash: false writes <stem>/weights_<layer>.dat', async () => {
      const app = makeApp()
      const b = await build(app, { hash: false })
      const fileOf = urlWithPrefix(PUBLIC)
      checkBuild({ manifest: b.manifest, assets: b.assets, fileOf })
      checkFileNames(b.manifest, fileOf, (stem) => `model/${stem}.dat`)
    })

    it("publicPath 'auto': the URLs resolve next to the bundle (file: URLs in Node)", async () => {
      const app = makeApp()
      const b = await build(app, { precision: 'float16' }, { publicPath: 'auto' })
      checkBuild({ manifest: b.manifest, assets: b.assets, fileOf: fileUrlIn(app.outDir), precision: 'float16' })
    })

    it('packed: one aligned file; the runtime fetches it once over HTTP for every tensor', async () => {
      const app = makeApp()
      const b = await build(app, { packed: true, align: 512 })
      expect([...b.assets.keys()]).toEqual([expect.stringMatching(/^assets\/model-[0-9a-f]{8}\.dat$/)])
      checkBuild({ manifest: b.manifest, assets: b.assets, fileOf: urlWithPrefix(PUBLIC), packedAlign: 512 })

      // Serve <outDir> under /public/ and count the requests.
      const requests: string[] = []
      const server = http.createServer((req, res) => {
        requests.push(req.url ?? '')
        const rel = (req.url ?? '').startsWith(PUBLIC) ? decodeURIComponent((req.url ?? '').slice(PUBLIC.length)) : ''
        const file = path.join(app.outDir, rel)
        if (!rel || !file.startsWith(app.outDir) || !fs.existsSync(file)) {
          res.statusCode = 404
          return res.end()
        }
        res.setHeader('Content-Type', 'application/octet-stream')
        res.end(fs.readFileSync(file))
      })
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      try {
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
        const expected = oracle().layers
        const results = await Promise.all(
          b.manifest.layers.map(async (l) => [await runtime.loadWeights(l, { base }), await runtime.loadBias(l, { base })] as const),
        )
        results.forEach(([w, bias], i) => {
          expectFloatsClose(w, expected[i].weights, `${expected[i].name} weights`)
          expectFloatsClose(bias, expected[i].bias, `${expected[i].name} bias`)
        })
        expect(requests).toEqual([`${PUBLIC}${[...b.assets.keys()][0]}`])
        // A URL that is not served fails with the HTTP status.
        const missing = { ...b.manifest.layers[0], weights: { ...b.manifest.layers[0].weights, url: `${PUBLIC}nope.dat` } }
        await expect(runtime.loadWeights(missing, { base })).rejects.toThrow(/HTTP 404/)
      } finally {
        await new Promise((r) => server.close(r))
      }
    })

    // The assets must be emitted through the loader (module build info), not only with
    // compilation.emitAsset, or a module taken from the cache emits nothing. Development
    // mode, as in watch and dev servers: Rspack reuses a module across rebuilds of one
    // compiler only there (its `incremental` option is effective only in development mode;
    // in production it builds every module again), webpack in both modes.
    it('a second compilation of a cached compiler (watch, dev server) reuses the model module and still emits the .dat files', async () => {
      const app = makeApp()
      ageFiles(app) // unchanged files, as between two watch rebuilds: the cached module is reused
      const loads: string[] = []
      const c = create(config(app, {}, { mode: 'development', cache: true, clean: true, onInfo: (l) => l.includes('model.pb: 95 layers') && loads.push(l) }))
      try {
        const first = await run(c)
        expect(first.hasErrors()).toBe(false)
        expect(readDatFiles(app.outDir).size).toBe(2 * oracle().layers.length)
        expect(loads).toHaveLength(1)
        const second = await run(c)
        expect(second.hasErrors()).toBe(false)
        // The bundler took the model's module from its cache (the plugin's load did not run
        // again): the assets must come from the module's build info.
        expect(loads).toHaveLength(1)
        // output.clean removed the first build's files: whatever is there now, the second build wrote.
        expect(second.compilation.getAssets().filter((a) => a.name.endsWith('.dat'))).toHaveLength(2 * oracle().layers.length)
        const mod = await importBundle(path.join(app.outDir, 'main.mjs'))
        checkBuild({ manifest: mod.default, assets: readDatFiles(app.outDir), fileOf: urlWithPrefix(PUBLIC) })
      } finally {
        await close(c)
      }
    })

    for (const [what, bytes] of [
      ['an empty file', new Uint8Array(0)],
      ['random bytes', garbageBytes()],
    ] as const) {
      it(`${what}: the compilation fails with an error naming the file, and writes no .dat`, async () => {
        const app = makeApp({ model: bytes })
        const c = create(config(app))
        const stats = await run(c)
        await close(c)
        expect(stats.hasErrors()).toBe(true)
        const errors = stats.toJson({ all: false, errors: true, warnings: true }).errors ?? []
        expect(errors).toHaveLength(1)
        expect(errors[0].moduleName).toBe('./model.pb')
        // The plugin's one-line message, `<file relative to the context>: <problem>`.
        expect(errors[0].message).toMatch(what === 'an empty file' ? /model\.pb: the file is empty/ : /model\.pb: \S/)
        expect(readDatFiles(app.outDir).size).toBe(0)
        expect(readDatFiles(app.dir).size).toBe(0)
      })
    }
  })
}
