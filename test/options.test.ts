/** Options that pick what is a model, and refusing bad option values. */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { outputAffectingOptions, resolveOptions } from '../src/plugin/options.js'
import { importDist, makeApp, oracle, removeApps } from './bundlers/helpers.js'

afterAll(removeApps)

describe('include and exclude', () => {
  it('rollup and esbuild convert a model under another extension when include says so, and leave excluded ones alone', async () => {
    const { rollup } = await import('rollup')
    const esbuild = await import('esbuild')
    const mpscnnRollup = (await importDist<{ default: typeof import('../src/plugin/rollup.js').default }>('plugin/rollup.js')).default
    const mpscnnEsbuild = (await importDist<{ default: typeof import('../src/plugin/esbuild.js').default }>('plugin/esbuild.js')).default
    const app = makeApp({
      modelName: 'net.graphdef',
      main: "import model from './net.graphdef'\nimport raw from './skip.pb'\nexport default [model, raw]\n",
      files: { 'skip.pb': 'export default "left alone"\n' },
    })
    const options = { cacheDir: app.cacheDir, include: [/\.graphdef$/, /\.pb$/], exclude: [/skip\.pb$/] }

    const bundle = await rollup({ input: app.entry, plugins: [mpscnnRollup(options)], onLog() {} })
    const { output } = await bundle.generate({ format: 'es' })
    const assets = output.filter((o) => o.type === 'asset')
    expect(assets).toHaveLength(2 * oracle().layers.length)
    expect((output[0] as { code: string }).code).toContain('left alone')

    const r = await esbuild.build({ entryPoints: [app.entry], bundle: true, format: 'esm', outdir: path.join(app.dir, 'es'), write: false, loader: { '.pb': 'js' }, plugins: [mpscnnEsbuild(options)] })
    expect(r.outputFiles.filter((f) => f.path.endsWith('.dat'))).toHaveLength(2 * oracle().layers.length)
    expect(r.outputFiles.find((f) => f.path.endsWith('main.js'))!.text).toContain('left alone')
    expect(fs.existsSync(path.join(app.dir, 'es'))).toBe(false)
  })
})

describe('bad option values', () => {
  it('align must be a power of two, precision float32 or float16', () => {
    expect(() => resolveOptions({ align: 100 })).toThrow(/align must be a power of two/)
    expect(() => resolveOptions({ align: 2 })).toThrow(/align must be a power of two/)
    expect(() => resolveOptions({ precision: 'float64' as never })).toThrow(/precision must be 'float32' or 'float16'/)
    expect(resolveOptions({ cacheDir: 'c' }, '/root/app').cacheDir).toBe('/root/app/c')
    expect(resolveOptions({}, '/root/app').cacheDir).toBe('/root/app/node_modules/.cache/unplugin-mpscnn')
  })
})

describe('network options', () => {
  it('network, inputShape and outputs are validated, and each is part of the cache key', () => {
    expect(() => resolveOptions({ network: 'yes' as never })).toThrow(/option network must be true or false/)
    expect(() => resolveOptions({ inputShape: [299, 299] as never })).toThrow(/option inputShape must be \[height, width, channels\]/)
    expect(() => resolveOptions({ inputShape: [299, 0, 3] })).toThrow(/inputShape/)
    expect(() => resolveOptions({ outputs: [] })).toThrow(/option outputs must be a non-empty list of node names/)
    expect(() => resolveOptions({ outputs: ['^a'] })).toThrow(/outputs/)
    const key = (o: Parameters<typeof resolveOptions>[0]) => JSON.stringify(outputAffectingOptions(resolveOptions(o)))
    const keys = [key({}), key({ network: false }), key({ inputShape: [224, 224, 3] }), key({ outputs: ['softmax'] })]
    expect(new Set(keys).size).toBe(4)
    expect(resolveOptions({}).network).toEqual({ network: true, inputShape: undefined, outputs: undefined })
  })
})
