/**
 * The oldest version of each bundler range that package.json's peerDependencies declare,
 * installed side by side with the newest as npm aliases (devDependencies `vite-oldest`,
 * `rollup-oldest`, ...): one real build of the same fixture app each, its emitted `.dat`
 * files checked byte for byte against the oracle. The newest versions (the plain
 * devDependencies) are exercised in depth by test/build-*.test.ts.
 *
 * The ranges are pinned to what is tested: each range's lower bound is the version its alias
 * installs, and the newest devDependency is inside the range (README, "Compatibility").
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Options } from '../src/plugin/options.js'
import { type App, REPO_ROOT, checkBuild, fileUrlIn, importBundle, importDist, makeApp, oracle, readDatFiles, removeApps, urlWithPrefix, writeOutputs } from './bundlers/helpers.js'

type Plugin = (o?: Options) => unknown
type Loose = (...a: never[]) => unknown
/** What a build left on disk: the entry module to import, and how its URLs map to files in `app.outDir`. */
interface Output {
  entry: string
  fileOf: (url: string) => string
}

interface Case {
  /** The peerDependencies key. */
  peer: string
  /** The npm alias in devDependencies that installs the range's oldest version. */
  alias: string
  /** `dist/<file>`: the plugin for this bundler. */
  dist: string
  build(bundler: Record<string, Loose>, plugin: Plugin, app: App): Promise<Output>
}

const PUBLIC = '/public/'

/** webpack and Rspack: one compilation of an ES module library, written to `app.outDir`. */
async function webpackLike(create: Loose, plugin: Plugin, app: App): Promise<Output> {
  const compiler = (create as unknown as (c: object) => { run(cb: (e: Error | null, s?: { hasErrors(): boolean; toString(): string }) => void): void; close(cb: () => void): void })({
    mode: 'production',
    context: app.dir,
    entry: './main.js',
    devtool: false,
    optimization: { minimize: false },
    output: { path: app.outDir, filename: 'main.mjs', publicPath: PUBLIC, library: { type: 'module' } },
    experiments: { outputModule: true },
    infrastructureLogging: { level: 'none' },
    plugins: [plugin({ cacheDir: app.cacheDir })],
  })
  const stats = await new Promise<{ hasErrors(): boolean; toString(): string }>((resolve, reject) => compiler.run((e, s) => (e ? reject(e) : resolve(s!))))
  await new Promise<void>((resolve) => compiler.close(() => resolve()))
  expect(stats.hasErrors(), stats.toString()).toBe(false)
  return { entry: path.join(app.outDir, 'main.mjs'), fileOf: urlWithPrefix(PUBLIC) }
}

const cases: Case[] = [
  {
    peer: 'vite',
    alias: 'vite-oldest',
    dist: 'plugin/vite.js',
    async build(vite, plugin, app) {
      const result = (await vite.build({
        root: app.dir,
        configFile: false,
        logLevel: 'silent',
        plugins: [plugin({ cacheDir: app.cacheDir })],
        build: { write: false, minify: false, rollupOptions: { input: app.entry, preserveEntrySignatures: 'strict' } },
      } as never)) as { output: ({ type: 'chunk'; fileName: string; code: string; isEntry: boolean } | { type: 'asset'; fileName: string; source: string | Uint8Array })[] }
      writeOutputs(app.outDir, result.output.map((o) => [o.fileName, o.type === 'chunk' ? o.code : o.source] as [string, string | Uint8Array]))
      const entry = result.output.find((o) => o.type === 'chunk' && o.isEntry)!
      return { entry: path.join(app.outDir, entry.fileName), fileOf: fileUrlIn(app.outDir) }
    },
  },
  {
    peer: 'rollup',
    alias: 'rollup-oldest',
    dist: 'plugin/rollup.js',
    async build(rollup, plugin, app) {
      const bundle = (await rollup.rollup({ input: app.entry, plugins: [plugin({ cacheDir: app.cacheDir })], onwarn() {} } as never)) as {
        write(o: object): Promise<unknown>
        close(): Promise<void>
      }
      await bundle.write({ dir: app.outDir, format: 'es' })
      await bundle.close()
      return { entry: path.join(app.outDir, 'main.js'), fileOf: fileUrlIn(app.outDir) }
    },
  },
  {
    peer: 'webpack',
    alias: 'webpack-oldest',
    dist: 'plugin/webpack.js',
    build: (webpack, plugin, app) => webpackLike(webpack.default, plugin, app),
  },
  {
    peer: '@rspack/core',
    alias: 'rspack-oldest',
    dist: 'plugin/rspack.js',
    build: (rspack, plugin, app) => webpackLike(rspack.rspack, plugin, app),
  },
  {
    peer: 'esbuild',
    alias: 'esbuild-oldest',
    dist: 'plugin/esbuild.js',
    async build(esbuild, plugin, app) {
      await esbuild.build({
        absWorkingDir: app.dir,
        entryPoints: [app.entry],
        bundle: true,
        format: 'esm',
        outdir: app.outDir,
        logLevel: 'silent',
        plugins: [plugin({ cacheDir: app.cacheDir })],
      } as never)
      return { entry: path.join(app.outDir, 'main.js'), fileOf: fileUrlIn(app.outDir) }
    },
  },
]

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  peerDependencies: Record<string, string>
  devDependencies: Record<string, string>
}
const installedVersion = (name: string): string => (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version

beforeAll(() => void oracle())
afterAll(removeApps)

describe('the oldest version of each peer range builds the fixture app', () => {
  for (const c of cases) {
    it(`${c.peer} ${pkg.devDependencies[c.alias]?.replace(/^npm:[^@]+@|^npm:@[^@]+@/, '')}: the emitted files equal the oracle`, async () => {
      const bundler = (await import(c.alias)) as Record<string, Loose>
      const plugin = (await importDist<{ default: Plugin }>(c.dist)).default
      const app = makeApp()
      const out = await c.build(bundler, plugin, app)
      const manifest = (await importBundle(out.entry)).default
      checkBuild({ manifest, assets: readDatFiles(app.outDir), fileOf: out.fileOf })
    })
  }
})

describe('the peer ranges are what is tested', () => {
  for (const c of cases) {
    it(`${c.peer}: "${pkg.peerDependencies[c.peer]}" starts at the version ${c.alias} installs, and holds the newest devDependency`, () => {
      const range = pkg.peerDependencies[c.peer]
      const alias = pkg.devDependencies[c.alias]
      // An exact version, so that the oldest tested is the range's lower bound.
      expect(alias).toMatch(new RegExp(`^npm:${c.peer.replace('/', '\\/')}@\\d+\\.\\d+\\.\\d+$`))
      const oldest = installedVersion(c.alias)
      expect(alias.endsWith(`@${oldest}`)).toBe(true)
      const newest = installedVersion(c.peer)
      // The ranges are unions of `^a.b.c` and `>=a.b.c`; the first lower bound is the oldest.
      const lower = /^(?:\^|>=)(\d+\.\d+\.\d+)/.exec(range)
      expect(lower?.[1], `lower bound of ${range}`).toBe(oldest)
      expect(satisfies(newest, range), `${newest} in ${range}`).toBe(true)
      expect(satisfies(oldest, range), `${oldest} in ${range}`).toBe(true)
    })
  }
})

/** `version` in a union (`||`) of `^a.b.c`, `>=a.b.c` and `>=a.b.c <d.e.f`: the forms package.json uses. */
function satisfies(version: string, range: string): boolean {
  const v = version.split('.').map(Number)
  const cmp = (a: number[], b: number[]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]
  return range.split('||').some((part) => {
    const items = part.trim().split(/\s+/)
    return items.every((item) => {
      const m = /^(\^|>=|<)(\d+)\.(\d+)\.(\d+)$/.exec(item)
      if (!m) throw new Error(`unexpected range item ${item} in ${range}`)
      const b = [Number(m[2]), Number(m[3]), Number(m[4])]
      if (m[1] === '<') return cmp(v, b) < 0
      if (cmp(v, b) < 0) return false
      // ^0.x.y stays within 0.x; ^a.b.c (a > 0) within a.
      return m[1] === '>=' || (b[0] > 0 ? v[0] === b[0] : v[0] === 0 && v[1] === b[1])
    })
  })
}
