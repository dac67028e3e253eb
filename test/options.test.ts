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

  it('maxExpansion: a number of at least 1, 16 by default', () => {
    expect(resolveOptions({}).maxExpansion).toBe(16)
    expect(resolveOptions({ maxExpansion: 100 }).maxExpansion).toBe(100)
    for (const bad of [0, 0.5, -3, NaN, '32' as never]) expect(() => resolveOptions({ maxExpansion: bad })).toThrow(/option maxExpansion must be a number of at least 1/)
  })
})

describe('option validation when the plugin is created', () => {
  /** The MpscnnError that creating the Vite plugin (from dist, as a user gets it) throws. */
  async function refusal(options: unknown): Promise<{ code?: string; message: string }> {
    const mpscnn = (await importDist<{ default: (o?: unknown) => unknown }>('plugin/vite.js')).default
    try {
      mpscnn(options)
    } catch (e) {
      return e as { code?: string; message: string }
    }
    return expect.fail(`mpscnn(${JSON.stringify(options)}) was accepted`)
  }

  it('a misspelt option is refused with the closest name (edit distance), as Vite does for its config', async () => {
    expect(await refusal({ precison: 'float16' })).toMatchObject({ code: 'BAD_OPTION', message: 'unplugin-mpscnn: unknown option "precison". Did you mean "precision"?' })
    expect((await refusal({ packd: true })).message).toBe('unplugin-mpscnn: unknown option "packd". Did you mean "packed"?')
    expect((await refusal({ CacheDir: 'x' })).message).toContain('Did you mean "cacheDir"?')
    // Nothing close: the known names are listed instead.
    expect((await refusal({ compression: 'zstd' })).message).toBe(
      'unplugin-mpscnn: unknown option "compression". Known: include, exclude, hash, packed, align, precision, dts, cache, cacheDir, cacheMaxBytes, quiet, maxExpansion, network, inputShape, outputs, verify',
    )
  })

  it('a wrong type or value names the option and what it accepts', async () => {
    expect(await refusal({ precision: 'float64' })).toMatchObject({ code: 'BAD_OPTION', message: `unplugin-mpscnn: option precision must be 'float32' or 'float16', got "float64"` })
    expect((await refusal({ align: 3 })).message).toBe('unplugin-mpscnn: option align must be a power of two of at least 4, got 3')
    expect((await refusal({ include: 5 })).message).toBe('unplugin-mpscnn: option include must be a string, a RegExp or an array of them, got 5')
    expect((await refusal({ exclude: [/a/, 1] })).message).toContain('option exclude must be a string, a RegExp or an array of them')
    expect((await refusal({ packed: 'yes' })).message).toBe('unplugin-mpscnn: option packed must be true or false, got "yes"')
    expect((await refusal({ cacheMaxBytes: '1GB' })).message).toContain('option cacheMaxBytes must be a number of bytes')
    expect((await refusal('packed')).message).toBe('unplugin-mpscnn: the options must be an object, got "packed"')
  })

  it('valid options, and options set to undefined, are accepted', () => {
    const o = resolveOptions({ include: [/\.graphdef$/, 'models/*.pb'], exclude: undefined, hash: false, packed: true, align: 4096, precision: 'float16', dts: true, cache: false, cacheDir: 'c', cacheMaxBytes: 0, quiet: true }, '/app')
    expect(o).toMatchObject({ packed: true, align: 4096, precision: 'float16', cacheDir: '/app/c', cacheMaxBytes: 0 })
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
