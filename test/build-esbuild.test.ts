/**
 * Real esbuild builds of a fixture app importing a converted Inception v3. esbuild has no
 * asset API: the plugin holds the files until the build ends, then adds them to
 * `outputFiles` (write: false) or writes them (write: true), and only when the build
 * succeeded. The ES bundle's URLs are `new URL('./assets/...', import.meta.url)`.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BuildOptions } from 'esbuild'
import type { Options } from '../src/plugin/options.js'
import {
  type App,
  PLUGIN_NAME,
  checkBuild,
  checkFileNames,
  fileUrlIn,
  garbageBytes,
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

let esbuild: typeof import('esbuild')
let mpscnn: (typeof import('../src/plugin/esbuild.js'))['default']

beforeAll(async () => {
  mpscnn = (await importDist<typeof import('../src/plugin/esbuild.js')>('plugin/esbuild.js')).default
  esbuild = await import('esbuild')
  oracle()
})
afterAll(removeApps)

function options(app: App, opts: Options = {}, extra: BuildOptions = {}): BuildOptions {
  return {
    absWorkingDir: app.dir,
    entryPoints: [app.entry],
    bundle: true,
    format: 'esm',
    outdir: app.outDir,
    logLevel: 'silent',
    plugins: [mpscnn({ cacheDir: app.cacheDir, ...opts })],
    ...extra,
  }
}

const hexHashed = (stem: string) => new RegExp(`^assets/${stem}-[0-9a-f]{8}\\.dat$`)

describe('esbuild build', () => {
  it('write: false: outputFiles hold the bundle and two hashed .dat per layer, bytes equal the oracle', async () => {
    const app = makeApp()
    const result = await esbuild.build({ ...options(app), write: false })
    expect(fs.existsSync(app.outDir), 'nothing written').toBe(false)
    const files = result.outputFiles
    const rel = (p: string) => path.relative(app.outDir, p).split(path.sep).join('/')
    const dat = new Map(files.filter((f) => f.path.endsWith('.dat')).map((f) => [rel(f.path), f.contents]))
    expect(files.map((f) => rel(f.path)).filter((n) => !n.endsWith('.dat'))).toEqual(['main.js'])
    expect(dat.size).toBe(2 * oracle().layers.length)
    for (const [name, bytes] of dat) {
      expect(name).toMatch(/^assets\/(weights|bias)_\w+-[0-9a-f]{8}\.dat$/)
      expect(name).toContain(createHash('sha256').update(bytes).digest('hex').slice(0, 8))
    }
    const main = files.find((f) => rel(f.path) === 'main.js')!
    expect(main.text).toContain('import.meta.url')

    // The outputs, written as they are, import in Node with URLs on the emitted files.
    writeOutputs(app.outDir, files.map((f) => [rel(f.path), f.contents] as [string, Uint8Array]))
    const manifest = (await importBundle(path.join(app.outDir, 'main.js'))).default
    const fileOf = fileUrlIn(app.outDir)
    checkBuild({ manifest, assets: dat, fileOf })
    checkFileNames(manifest, fileOf, hexHashed)
  })

  it('write: true: the bundle imported in Node has file: URLs of existing files with the right bytes', async () => {
    const app = makeApp()
    const result = await esbuild.build(options(app))
    expect(result.errors).toEqual([])
    const manifest = (await importBundle(path.join(app.outDir, 'main.js'))).default
    for (const l of manifest.layers) expect(fs.existsSync(new URL(l.weights.url)), l.weights.url).toBe(true)
    checkBuild({ manifest, assets: readDatFiles(app.outDir), fileOf: fileUrlIn(app.outDir) })
    // No temp file left behind by the atomic writes.
    expect(listFiles(app.outDir).filter((f) => !f.endsWith('.dat') && f !== 'main.js')).toEqual([])
  })

  it('outfile instead of outdir: the files go next to it', async () => {
    const app = makeApp()
    await esbuild.build({ ...options(app, { hash: false }), outdir: undefined, outfile: path.join(app.outDir, 'bundle.mjs') })
    const manifest = (await importBundle(path.join(app.outDir, 'bundle.mjs'))).default
    const fileOf = fileUrlIn(app.outDir)
    checkBuild({ manifest, assets: readDatFiles(app.outDir), fileOf })
    checkFileNames(manifest, fileOf, (stem) => `model/${stem}.dat`)
  })

  it('publicPath: URLs are <publicPath><fileName>; packed float16 at align 512', async () => {
    const app = makeApp()
    await esbuild.build(options(app, { packed: true, align: 512, precision: 'float16' }, { publicPath: 'https://cdn.example/m' }))
    const manifest = (await importBundle(path.join(app.outDir, 'main.js'))).default
    const assets = readDatFiles(app.outDir)
    expect([...assets.keys()]).toEqual([expect.stringMatching(hexHashed('model'))])
    checkBuild({ manifest, assets, fileOf: urlWithPrefix('https://cdn.example/m/'), packedAlign: 512, precision: 'float16' })
  })

  it('a rebuild of a context writes the files again', async () => {
    const app = makeApp()
    const ctx = await esbuild.context(options(app))
    try {
      await ctx.rebuild()
      expect(readDatFiles(app.outDir).size).toBe(2 * oracle().layers.length)
      fs.rmSync(app.outDir, { recursive: true })
      await ctx.rebuild()
      const manifest = (await importBundle(path.join(app.outDir, 'main.js'))).default
      checkBuild({ manifest, assets: readDatFiles(app.outDir), fileOf: fileUrlIn(app.outDir) })
    } finally {
      await ctx.dispose()
    }
  })

  // One plugin instance may serve concurrent builds (esm + cjs, several entry sets): each
  // build keeps its own emitter, root and options.
  it('one plugin instance in two concurrent builds: each outdir gets its own files', async () => {
    const app = makeApp()
    const plugin = mpscnn({ cacheDir: app.cacheDir })
    const outs = [path.join(app.dir, 'out-a'), path.join(app.dir, 'out-b')]
    await Promise.all(outs.map((outdir) => esbuild.build({ ...options(app), outdir, plugins: [plugin] })))
    for (const outdir of outs) {
      const manifest = (await importBundle(path.join(outdir, 'main.js'))).default
      checkBuild({ manifest, assets: readDatFiles(outdir), fileOf: fileUrlIn(outdir) })
    }
  })

  for (const [what, bytes] of [
    ['an empty file', new Uint8Array(0)],
    ['random bytes', garbageBytes()],
  ] as const) {
    it(`${what}: the build rejects with the plugin's error naming the file; no .dat is written`, async () => {
      const app = makeApp({ model: bytes })
      const err = (await rejection(esbuild.build(options(app)))) as Error & { errors?: { pluginName: string; text: string }[] }
      expect(err.errors).toHaveLength(1)
      expect(err.errors![0].pluginName).toBe(PLUGIN_NAME)
      expect(err.errors![0].text).toMatch(/^model\.pb: /)
      expect(err.message).toContain(`[plugin: ${PLUGIN_NAME}] model.pb: `)
      expect(readDatFiles(app.outDir).size).toBe(0)
      expect(readDatFiles(app.dir).size).toBe(0)
    })
  }

  it('one good and one bad model: the failed build writes neither bundle nor the good model\'s .dat', async () => {
    const app = makeApp({
      main: "import good from './model.pb'\nimport bad from './bad.pb'\nexport default [good, bad]\n",
      files: { 'bad.pb': garbageBytes() },
    })
    for (const write of [true, false]) {
      const err = (await rejection(esbuild.build({ ...options(app), write }))) as Error & { errors?: { text: string }[] }
      expect(err.errors?.map((e) => e.text)).toEqual([expect.stringMatching(/^bad\.pb: /)])
      expect(listFiles(app.outDir)).toEqual([])
    }
  })
})
