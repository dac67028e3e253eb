/**
 * Types, checked by the TypeScript compiler: with `dts: true` a build writes
 * `<model>.pb.d.ts` beside the model, typing its layer names, so that `getLayer(model,
 * 'cnov')` fails type checking; and `client.d.ts` alone types `import model from '*.pb'`.
 */
import fs from 'node:fs'
import path from 'node:path'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, REPO_ROOT, importDist, makeApp, oracle, removeApps } from './bundlers/helpers.js'

let esbuild: typeof import('esbuild')
let mpscnn: (typeof import('../src/plugin/esbuild.js'))['default']

beforeAll(async () => {
  mpscnn = (await importDist<typeof import('../src/plugin/esbuild.js')>('plugin/esbuild.js')).default
  esbuild = await import('esbuild')
})
afterAll(removeApps)

/** Where `unplugin-mpscnn/runtime` resolves: the source (as the repo's own tests do) or the published declarations. */
const RUNTIME_SRC = path.join(REPO_ROOT, 'src/runtime.ts')
const RUNTIME_DTS = path.join(REPO_ROOT, 'dist/runtime.d.ts')

const compilerOptions = (runtime: string): ts.CompilerOptions => ({
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  strict: true,
  noEmit: true,
  types: [],
  skipLibCheck: false,
  paths: {
    'unplugin-mpscnn/runtime': [runtime],
    'unplugin-mpscnn/client': [path.join(REPO_ROOT, 'client.d.ts')],
  },
})

/** The parsed lib files (lib.dom.d.ts is 1.5 MB), shared by every program of this file. */
const TS_LIB_DIR = path.dirname(ts.getDefaultLibFilePath({}))
const libFiles = new Map<string, ts.SourceFile | undefined>()

interface Diag {
  file: string
  code: number
  text: string
}

/**
 * Type checks `files` (name -> source, written into the app). Returns the diagnostics of
 * the app's files (the generated .d.ts included); with the source runtime, those of
 * src/runtime.ts itself are left out: it needs @types/node (`import('node:fs/promises')`
 * in a function body), which its published declarations do not, see the last test.
 */
function typecheck(app: App, files: Record<string, string>, runtime = RUNTIME_SRC): Diag[] {
  const roots = Object.entries(files).map(([name, src]) => {
    const p = path.join(app.dir, name)
    fs.writeFileSync(p, src)
    return p
  })
  const options = compilerOptions(runtime)
  const host = ts.createCompilerHost(options)
  const read = host.getSourceFile.bind(host)
  host.getSourceFile = (fileName, lang, onError, fresh) => {
    if (!fileName.startsWith(TS_LIB_DIR)) return read(fileName, lang, onError, fresh)
    let sf = libFiles.get(fileName)
    if (!sf) libFiles.set(fileName, (sf = read(fileName, lang, onError, fresh)))
    return sf
  }
  const program = ts.createProgram({ rootNames: roots, options, host })
  const diags = ts.getPreEmitDiagnostics(program).filter((d) => runtime !== RUNTIME_SRC || d.file?.fileName !== RUNTIME_SRC)
  return diags.map((d) => ({
    file: d.file ? path.relative(app.dir, d.file.fileName) : '',
    code: d.code,
    text: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  }))
}

async function buildWithDts(app: App): Promise<void> {
  await esbuild.build({
    absWorkingDir: app.dir,
    entryPoints: [app.entry],
    bundle: true,
    format: 'esm',
    outdir: app.outDir,
    write: false,
    logLevel: 'silent',
    plugins: [mpscnn({ cacheDir: app.cacheDir, dts: true })],
  })
}

describe('types', () => {
  it('dts: true writes <model>.pb.d.ts beside the model, with every layer name, once', async () => {
    const app = makeApp()
    const dts = `${app.model}.d.ts`
    expect(fs.existsSync(dts)).toBe(false)
    await buildWithDts(app)
    const text = fs.readFileSync(dts, 'utf8')
    const union = (type: string) => [...text.split(`export type ${type} =`)[1].split('\n\n')[0].matchAll(/\| ("[^"]*")/g)].map((m) => JSON.parse(m[1]) as string)
    expect(union('LayerName')).toEqual(oracle().layers.map((l) => l.name))
    // The network's images, named after their TF tensors, are a union too.
    const images = union('ImageName')
    expect(images).toContain('mixed_10/join')
    expect(images).toContain('Mul')
    expect(images).toHaveLength(new Set(images).size)
    expect(text).toContain("from 'unplugin-mpscnn/runtime'")
    // An unchanged model leaves the file alone (no needless rebuilds in watchers).
    const past = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000) // whole seconds: exact on every file system
    fs.utimesSync(dts, past, past)
    await buildWithDts(app)
    expect(Math.abs(fs.statSync(dts).mtimeMs - past.getTime())).toBeLessThan(1)
  })

  it("with the generated .d.ts, getLayer(model, 'conv') compiles and its name is a LayerName", async () => {
    const app = makeApp()
    await buildWithDts(app)
    const good = `import model, { layers, type LayerName } from './model.pb'
import { getLayer, type MpscnnLayer } from 'unplugin-mpscnn/runtime'
const conv = getLayer(model, 'conv')
const fc: MpscnnLayer = getLayer(model, 'softmax')
const name: LayerName = conv.name
const url: string = conv.weights.url
const dtype: 'float32' | 'float16' = layers[0].weights.dtype
export { conv, fc, name, url, dtype }
`
    // Image names are typed too, and the network's nodes name layers and images with them.
    const net = `import model, { type ImageName, type LayerName } from './model.pb'
const join: ImageName = 'mixed_10/join'
const size: number = model.network.images['mixed_10/join'].featureChannels
const layer: LayerName | undefined = model.network.nodes[0].layer
const dest: ImageName = model.network.nodes[0].destination
export { join, size, layer, dest }
`
    expect(typecheck(app, { 'good.ts': good, 'net.ts': net })).toEqual([])
    // The names really are unions of literals: a name that is not one fails.
    const notAName = `import type { LayerName } from './model.pb'\nexport const n: LayerName = 'cnov'\n`
    const notAnImage = `import model, { type ImageName } from './model.pb'\nexport const n: ImageName = 'mixed_10/jion'\nexport const s = model.network.images['mixed_10/jion']\n`
    // 2820 and 2551: "... Did you mean 'mixed_10/join'?"
    expect(typecheck(app, { 'not-a-name.ts': notAName, 'not-an-image.ts': notAnImage }).map((d) => [d.file, d.code])).toEqual([
      ['not-a-name.ts', 2322],
      ['not-an-image.ts', 2820],
      ['not-an-image.ts', 2551],
    ])
  })

  // getLayer's name is NoInfer<Name>: inferring Name from both arguments would widen it to
  // `LayerName | "cnov"` (MpscnnManifest is covariant in Name) and let a misspelt name compile.
  it("with the generated .d.ts, getLayer(model, 'cnov') is a type error", async () => {
    const app = makeApp()
    await buildWithDts(app)
    const bad = `import model from './model.pb'
import { getLayer } from 'unplugin-mpscnn/runtime'
export const l = getLayer(model, 'cnov')
`
    const diags = typecheck(app, { 'bad.ts': bad })
    expect(diags).toHaveLength(1)
    expect(diags[0]).toMatchObject({ file: 'bad.ts', code: 2345 })
    expect(diags[0].text).toContain('"cnov"')
    expect(diags[0].text).toContain('LayerName')
  })

  it('client.d.ts alone types any *.pb import as a manifest', () => {
    const app = makeApp()
    const ref = `/// <reference path=${JSON.stringify(path.join(REPO_ROOT, 'client.d.ts'))} />\n`
    const good = `${ref}import model from './other.pb'
import text from './other.pbtxt'
import { getLayer } from 'unplugin-mpscnn/runtime'
const url: string = model.layers[0].weights.url
const offset: number = text.layers[0].bias.offset
const any = getLayer(model, 'whatever') // without a generated .d.ts, names are plain strings
export { url, offset, any }
`
    expect(typecheck(app, { 'client-good.ts': good })).toEqual([])

    // Typed, not any: a wrong property and a wrong type are caught.
    const bad = `${ref}import model from './other.pb'
export const n: number = model.layers[0].weights.url
export const x = model.layers[0].weights.nope
`
    const diags = typecheck(app, { 'client-bad.ts': bad })
    expect(diags.map((d) => [d.file, d.code])).toEqual([
      ['client-bad.ts', 2322],
      ['client-bad.ts', 2339],
    ])
    // Without the reference, the import is an error: the test is not passing by accident.
    const noRef = typecheck(app, { 'no-ref.ts': `import model from './other.pb'\nexport default model\n` })
    expect(noRef.map((d) => d.code)).toEqual([2307])
  })

  it('client.d.ts types imports with options when the query ends with packed or precision=...; others are untyped (2307)', () => {
    const app = makeApp()
    const ref = `/// <reference path=${JSON.stringify(path.join(REPO_ROOT, 'client.d.ts'))} />\n`
    const typed = ['./m.pb?packed', './m.pbtxt?packed', './m.pb?precision=float16', './m.pb?packed&precision=float16', './m.pb?align=4096&packed', './m.pb?precision=float32']
    const good = `${ref}${typed.map((s, i) => `import m${i} from ${JSON.stringify(s)}`).join('\n')}
export const urls: string[] = [${typed.map((_, i) => `m${i}.layers[0].weights.url`).join(', ')}]
export const bad: number = m0.layers[0].weights.url
`
    // Only the deliberate error: every import is typed as a manifest (not any).
    expect(typecheck(app, { 'query-good.ts': good }).map((d) => [d.file, d.code])).toEqual([['query-good.ts', 2322]])
    const untyped = `${ref}import a from './m.pb?precision=float16&align=4096'\nexport default a\n`
    expect(typecheck(app, { 'query-untyped.ts': untyped }).map((d) => d.code)).toEqual([2307])
  })

  it('the published declarations (dist/runtime.d.ts, client.d.ts, the generated .d.ts) check clean without @types/node', async () => {
    const app = makeApp()
    await buildWithDts(app)
    const ref = `/// <reference path=${JSON.stringify(path.join(REPO_ROOT, 'client.d.ts'))} />\n`
    const src = `${ref}import model from './model.pb'
import other from './other.pb'
import { getLayer, loadWeights, loadBias } from 'unplugin-mpscnn/runtime'
export const w: Promise<Float32Array> = loadWeights(getLayer(model, 'mixed_10_tower_2_conv'))
export const b: Promise<Float32Array> = loadBias(other.layers[0])
`
    expect(typecheck(app, { 'published.ts': src }, RUNTIME_DTS)).toEqual([])
  })
})
