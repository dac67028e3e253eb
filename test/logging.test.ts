/**
 * One log line per model per build, through the bundler's logger: Vite's (its logLevel
 * applies), Rollup's onLog, webpack's infrastructure logger; `quiet` silences it.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { importDist, makeApp, removeApps } from './bundlers/helpers.js'

afterAll(removeApps)

const line = /^model\.pb: 95 layers, [\d.]+ kB, (converted|from cache) in \d+ ms$/

async function viteLines(opts: { quiet?: boolean }) {
  const vite = await importDist<typeof import('vite')>('../node_modules/vite/dist/node/index.js').catch(() => import('vite'))
  const mpscnn = (await importDist<{ default: typeof import('../src/plugin/vite.js').default }>('plugin/vite.js')).default
  const app = makeApp()
  const infos: string[] = []
  const customLogger = { ...vite.createLogger('info'), info: (msg: string) => void infos.push(msg), warn: () => {}, warnOnce: () => {} }
  await vite.build({ root: app.dir, configFile: false, logLevel: 'info', customLogger, plugins: [mpscnn({ cacheDir: app.cacheDir, quiet: opts.quiet })], build: { write: false, lib: { entry: app.entry, formats: ['es'] } } })
  return infos.filter((m) => m.includes('[mpscnn]')).map((m) => m.replace(/^.*\[mpscnn\] /, ''))
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
