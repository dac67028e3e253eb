/**
 * One log line per model per build, through the bundler's logger: Vite's (its logLevel
 * applies), Rollup's onLog, webpack's infrastructure logger; `quiet` silences it. Each
 * message has one prefix, `[plugin unplugin-mpscnn]`, as the bundlers put before warnings.
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { importDist, makeApp, removeApps } from './bundlers/helpers.js'
import { attr, GraphBuilder } from './helpers/graph-builder.js'

afterAll(removeApps)

const line = /^model\.pb: 95 layers, [\d.]+ kB, (converted|from cache) in \d+ ms$/

async function viteLines(opts: { quiet?: boolean }) {
  const vite = await importDist<typeof import('vite')>('../node_modules/vite/dist/node/index.js').catch(() => import('vite'))
  const mpscnn = (await importDist<{ default: typeof import('../src/plugin/vite.js').default }>('plugin/vite.js')).default
  const app = makeApp()
  const infos: string[] = []
  const customLogger = { ...vite.createLogger('info'), info: (msg: string) => void infos.push(msg), warn: () => {}, warnOnce: () => {} }
  await vite.build({ root: app.dir, configFile: false, logLevel: 'info', customLogger, plugins: [mpscnn({ cacheDir: app.cacheDir, quiet: opts.quiet })], build: { write: false, lib: { entry: app.entry, formats: ['es'] } } })
  return infos.filter((m) => m.includes('[plugin unplugin-mpscnn]')).map((m) => m.replace(/^\[plugin unplugin-mpscnn\] /, ''))
}

describe('log line per model', () => {
  it('vite: one line at info level, none when quiet', async () => {
    const lines = await viteLines({})
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(line)
    expect(await viteLines({ quiet: true })).toEqual([])
  })

  it('rollup: one info log through onLog, none when quiet', async () => {
    const { rollup } = await import('rollup')
    const mpscnn = (await importDist<{ default: typeof import('../src/plugin/rollup.js').default }>('plugin/rollup.js')).default
    for (const quiet of [false, true]) {
      const app = makeApp()
      const logs: { level: string; message: string; plugin?: string }[] = []
      await rollup({ input: app.entry, plugins: [mpscnn({ cacheDir: app.cacheDir, quiet })], onLog: (level, log) => void logs.push({ level, message: log.message, plugin: log.plugin }) })
      const ours = logs.filter((l) => l.level === 'info' && l.plugin === 'unplugin-mpscnn')
      if (quiet) expect(ours).toEqual([])
      else {
        expect(ours).toHaveLength(1)
        expect(ours[0].message.replace(/^\[plugin unplugin-mpscnn\] /, '')).toMatch(line)
      }
    }
  })
})

/** A model of one layer, and a Mul on its input that the plugin cannot fold (a warning: the input's preprocessing). */
function oneLayer(): Uint8Array {
  const b = new GraphBuilder()
  b.placeholder('input', [1, 4, 4, 2])
  b.constF32('conv/weights', [1, 1, 2, 2], Float32Array.of(1, 2, 3, 4))
  b.op('conv/Conv2D', 'Conv2D', ['input', 'conv/weights'], { T: attr.type('DT_FLOAT'), padding: attr.s('SAME'), strides: attr.ints([1, 1, 1, 1]) })
  b.constF32('late/y', [2], Float32Array.of(1, 1))
  b.op('late/Mul', 'Mul', ['input', 'late/y'])
  return b.encode()
}

describe('what a real build prints', () => {
  const dist = (f: string) => JSON.stringify(pathToFileURL(path.resolve(__dirname, '../dist', f)).href)
  const lib = (f: string) => JSON.stringify(pathToFileURL(path.resolve(__dirname, '../node_modules', f)).href)
  const builds: Record<string, (app: ReturnType<typeof makeApp>) => string> = {
    vite: (app) => `
      const { build } = await import(${lib('vite/dist/node/index.js')})
      const { default: mpscnn } = await import(${dist('plugin/vite.js')})
      await build({ root: ${JSON.stringify(app.dir)}, configFile: false, logLevel: 'info', plugins: [mpscnn({ cacheDir: ${JSON.stringify(app.cacheDir)} })], build: { outDir: ${JSON.stringify(app.outDir)}, lib: { entry: ${JSON.stringify(app.entry)}, formats: ['es'] } } })`,
    esbuild: (app) => `
      const { build } = await import(${lib('esbuild/lib/main.js')})
      const { default: mpscnn } = await import(${dist('plugin/esbuild.js')})
      await build({ entryPoints: [${JSON.stringify(app.entry)}], bundle: true, format: 'esm', outdir: ${JSON.stringify(app.outDir)}, logLevel: 'info', plugins: [mpscnn({ cacheDir: ${JSON.stringify(app.cacheDir)} })] })`,
  }
  for (const [bundler, script] of Object.entries(builds)) {
    it(`${bundler}: the log line and the warning each have one prefix, [plugin unplugin-mpscnn], and say "1 layer"`, () => {
      const app = makeApp({ model: oneLayer() })
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(app)], { cwd: app.dir, encoding: 'utf8' })
      expect(r.status, r.stderr).toBe(0)
      // eslint-disable-next-line no-control-regex
      const lines = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => l.includes('model.pb:'))
      const info = lines.filter((l) => / converted in \d+ ms/.test(l))
      expect(info, lines.join('\n')).toHaveLength(1)
      expect(info[0]).toMatch(/^\[plugin unplugin-mpscnn\] model\.pb: 1 layer, [\d.]+ k?B, converted in \d+ ms$/)
      const warning = lines.find((l) => l.includes("the input's preprocessing"))
      expect(warning, lines.join('\n')).toMatch(/\[plugin unplugin-mpscnn\]/)
      for (const l of lines) {
        expect(l).not.toContain('[mpscnn]')
        expect(l).not.toContain('[vite]')
        expect(l.match(/unplugin-mpscnn/g), l).toHaveLength(1)
      }
    })
  }
})
