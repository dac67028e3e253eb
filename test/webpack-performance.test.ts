/**
 * webpack's performance hints count the weights (a 1 MB packed `.dat`) as page assets and
 * warn that they exceed the asset size limit. The plugin appends how to leave them out
 * (`performance.assetFilter`) to that warning, and following the hint silences it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Options } from '../src/plugin/options.js'
import { type App, importDist, makeApp, oracle, removeApps } from './bundlers/helpers.js'

type Stats = { toJson(o: object): { warnings?: { message: string }[]; errors?: { message: string }[] } }
let webpack: (config: object) => { run(cb: (err: Error | null, s?: Stats) => void): void; close(cb: () => void): void }
let mpscnn: (o?: Options) => unknown

beforeAll(async () => {
  webpack = (await import('webpack')).default as never
  mpscnn = (await importDist<{ default: (o?: Options) => unknown }>('plugin/webpack.js')).default
  oracle()
})
afterAll(removeApps)

/** The warnings of a production build of `app` with a packed model and these performance options. */
async function warnings(app: App, performance: object): Promise<string[]> {
  const c = webpack({
    mode: 'production',
    context: app.dir,
    entry: './main.js',
    output: { path: app.outDir },
    performance: { maxAssetSize: 100_000, ...performance },
    infrastructureLogging: { level: 'none' },
    plugins: [mpscnn({ cacheDir: app.cacheDir, packed: true })],
  })
  const stats = await new Promise<Stats>((resolve, reject) => c.run((err, s) => (err || !s ? reject(err) : resolve(s))))
  await new Promise<void>((r) => c.close(() => r()))
  const j = stats.toJson({ all: false, errors: true, warnings: true })
  expect(j.errors ?? []).toEqual([])
  return (j.warnings ?? []).map((w) => w.message)
}

describe('webpack asset size limit and the weights', () => {
  it('the size warning that lists a .dat says how to leave the weights out; following it silences the warning', async () => {
    const app = makeApp()
    const before = (await warnings(app, {})).filter((w) => w.includes('asset size limit'))
    expect(before).toHaveLength(1)
    expect(before[0]).toMatch(/assets\/model-[0-9a-f]{8}\.dat \(/)
    expect(before[0]).toContain('[unplugin-mpscnn] The .dat files are model weights, fetched when the app loads a layer, not with the page. To leave them out of the size check: performance: { assetFilter: (file) => !/\\.(dat|map)$/.test(file) }')
    // The hint's own assetFilter, as a user would paste it.
    const after = await warnings(app, { assetFilter: (file: string) => !/\.(dat|map)$/.test(file) })
    expect(after.filter((w) => w.includes('asset size limit'))).toEqual([])
  })
})
