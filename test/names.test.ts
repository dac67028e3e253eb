/**
 * Layer names that are hostile to file systems and URLs (`#`, `?`, `\`, a space, unicode,
 * NUL, names differing only in case, 260 characters): one mapping to portable file names
 * (src/emit/assets.ts), the same in the CLI and every bundler, with URLs that resolve to
 * the right bytes inside the output folder; and one weight constant shared by two ops.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { planAssets } from '../src/emit/assets.js'
import { convertModel } from '../src/fold/convert.js'
import { GraphBuilder, attr } from './helpers/graph-builder.js'
import { caseCollisions, checkOddBuild, expectPortable, oddNamesModel } from './helpers/odd-names.js'
import { type App, DIST, REPO_ROOT, importBundle, importDist, listFiles, makeApp, removeApps, writeOutputs } from './bundlers/helpers.js'

const odd = oddNamesModel()
afterAll(removeApps)

describe('the name -> file mapping', () => {
  it('plans portable file names, unique ignoring case, for every layer', () => {
    const model = convertModel(odd.bytes, { file: 'odd.pb', precision: 'float32' })
    expect(model.layers.map((l) => l.name)).toEqual(odd.layers.map((l) => l.name))
    const plan = planAssets(model.layers, { packed: false, align: 256, modelName: 'odd', precision: 'float32' })
    const names = plan.files.map((f) => f.name)
    for (const n of names) expectPortable(n)
    expect(caseCollisions(names)).toEqual([])
    expect(names).toContain('weights_mixed_9_tower_conv.dat')
    expect(names).toContain('weights_a~23b.dat')
    expect(planAssets(model.layers, { packed: true, align: 256, modelName: 'my model#1', precision: 'float32' }).files[0].name).toBe('my~20model~231.dat')
  })
})

describe('the CLI', () => {
  it('writes every layer of the model under its portable name, and manifest.json keeps the real names', () => {
    const app = makeApp({ model: odd.bytes })
    for (const extra of [[], ['--hash']]) {
      const out = path.join(app.dir, `out${extra.length}`)
      const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/mpscnn.js'), 'convert', app.model, '--out-dir', out, '--quiet', ...extra], { encoding: 'utf8' })
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { layers: { name: string; weights: { file: string; offset: number; byteLength: number }; bias: { file: string; offset: number; byteLength: number } }[] }
      const asUrls = { layers: manifest.layers.map((l) => ({ name: l.name, weights: { ...l.weights, url: l.weights.file }, bias: { ...l.bias, url: l.bias.file } })) }
      // A file name is used as it is: a URL relative to the folder would need encoding, a file name does not.
      for (const l of manifest.layers) for (const f of [l.weights.file, l.bias.file]) expect(encodeURIComponent(f)).toBe(f)
      checkOddBuild(asUrls, out, odd.layers)
      expect(listFiles(out).length).toBe(2 * odd.layers.length + 1)
    }
  })
})

describe('bundlers', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(DIST, 'plugin', 'vite.js'))) throw new Error('dist/ is missing: run `npm run build` first')
  })

  const app = (modelName?: string): App => makeApp({ model: odd.bytes, modelName })

  for (const hash of [false, true]) {
    it(`Vite (hash: ${hash}): every URL resolves to its bytes inside the output folder`, async () => {
      const vite = await import('vite')
      const mpscnn = (await importDist<typeof import('../src/plugin/vite.js')>('plugin/vite.js')).default
      const a = app(hash ? undefined : 'odd model.pb') // hash: false: the model's folder is mapped too
      const result = (await vite.build({
        root: a.dir,
        configFile: false,
        logLevel: 'silent',
        plugins: [mpscnn({ cacheDir: a.cacheDir, hash })],
        build: { write: false, rollupOptions: { input: a.entry, preserveEntrySignatures: 'strict' } },
      })) as { output: ({ type: 'chunk'; fileName: string; code: string; isEntry: boolean } | { type: 'asset'; fileName: string; source: Uint8Array })[] }
      writeOutputs(a.outDir, result.output.map((o) => [o.fileName, o.type === 'chunk' ? o.code : o.source] as [string, string | Uint8Array]))
      const entry = result.output.find((o) => o.type === 'chunk' && o.isEntry)!
      const manifest = (await importBundle(path.join(a.outDir, entry.fileName))).default
      checkOddBuild(manifest, a.outDir, odd.layers)
      if (!hash) expect(listFiles(a.outDir)).toContain('odd~20model/weights_mixed_9_tower_conv.dat')
    })
  }

  it('webpack: the build succeeds and every URL resolves to its bytes inside the output folder', async () => {
    const webpack = (await import('webpack')).default
    const mpscnn = (await importDist<{ default: (o: object) => unknown }>('plugin/webpack.js')).default
    const a = app()
    const compiler = webpack({
      mode: 'production',
      context: a.dir,
      entry: './main.js',
      devtool: false,
      output: { path: a.outDir, filename: 'main.mjs', publicPath: '/', library: { type: 'module' } },
      experiments: { outputModule: true },
      infrastructureLogging: { level: 'none' },
      plugins: [mpscnn({ cacheDir: a.cacheDir }) as never],
    })
    const stats = await new Promise<import('webpack').Stats>((resolve, reject) => compiler.run((err, s) => (err ? reject(err) : resolve(s!))))
    await new Promise((r) => compiler.close(r))
    expect(stats.toJson({ all: false, errors: true }).errors?.map((e) => e.message) ?? []).toEqual([])
    const manifest = (await importBundle(path.join(a.outDir, 'main.mjs'))).default
    checkOddBuild(manifest, a.outDir, odd.layers)
  })

  it('esbuild: every new URL(..., import.meta.url) resolves to its bytes inside outdir', async () => {
    const esbuild = await import('esbuild')
    const mpscnn = (await importDist<typeof import('../src/plugin/esbuild.js')>('plugin/esbuild.js')).default
    const a = app()
    const result = await esbuild.build({ absWorkingDir: a.dir, entryPoints: [a.entry], bundle: true, format: 'esm', outdir: a.outDir, logLevel: 'silent', plugins: [mpscnn({ cacheDir: a.cacheDir })] })
    expect(result.errors).toEqual([])
    const manifest = (await importBundle(path.join(a.outDir, 'main.js'))).default
    checkOddBuild(manifest, a.outDir, odd.layers)
  })
})

describe('a weight constant shared by two ops', () => {
  it('gives each op its own layer: the first named after the weights, the others after their own scope', () => {
    const b = new GraphBuilder()
    b.placeholder('input', [1, 4, 4, 2])
    const w = Float32Array.from({ length: 6 }, (_, i) => i + 1)
    b.constF32('shared/weights', [1, 1, 2, 3], w)
    const conv = { T: attr.type('DT_FLOAT'), strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') }
    for (const [scope, add] of [['tower_a', 10], ['tower_b/conv', 20], ['tower_c', 30]] as const) {
      b.op(`${scope}/Conv2D`, 'Conv2D', ['input', 'shared/weights'], conv)
      b.constF32(`${scope}/biases`, [3], [add, add + 1, add + 2])
      b.op(`${scope}/BiasAdd`, 'BiasAdd', [`${scope}/Conv2D`, `${scope}/biases`], { T: attr.type('DT_FLOAT') })
    }
    // A layer of its own already named `tower_c`: the third op's scope is taken.
    b.constF32('tower_c/weights', [1, 1, 2, 3], w)
    b.op('tower_c/other/Conv2D', 'Conv2D', ['input', 'tower_c/weights'], conv)
    const model = convertModel(b.encode(), { file: 'shared.pb', precision: 'float32' })
    expect(model.layers.map((l) => [l.name, l.node])).toEqual([
      ['shared', 'tower_a/Conv2D'],
      ['tower_b_conv', 'tower_b/conv/Conv2D'],
      ['shared_tower_c_Conv2D', 'tower_c/Conv2D'],
      ['tower_c', 'tower_c/other/Conv2D'],
    ])
    const outs = [...model.outputs()]
    for (const o of outs) expect([...o.weights]).toEqual([1, 4, 2, 5, 3, 6])
    expect(outs.slice(0, 3).map((o) => [...o.bias])).toEqual([[10, 11, 12], [20, 21, 22], [30, 31, 32]])
  })

  it('two different weight constants with one scope are still refused, naming both', () => {
    const b = new GraphBuilder()
    b.placeholder('input', [1, 4, 4, 2])
    const conv = { T: attr.type('DT_FLOAT'), strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') }
    for (const n of ['s/w1', 's/w2']) {
      b.constF32(n, [1, 1, 2, 3], [1, 2, 3, 4, 5, 6])
      b.op(`${n}/Conv2D`, 'Conv2D', ['input', n], conv)
    }
    expect(() => convertModel(b.encode(), { file: 'two.pb', precision: 'float32' })).toThrow('two.pb: node "s/w2": layer name "s" is also the name of the layer from "s/w1"')
  })
})
