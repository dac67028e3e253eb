/**
 * Nothing stale from the cache, in real Rollup builds of the compiled plugin (dist/):
 * a renamed model, or two models with the same bytes, are each named after themselves
 * (`source`, the packed file, warnings), never after the model that wrote the entry; a
 * model rewritten with the same size and its mtime set back (what `touch -d` does) is
 * converted again, both by the same process (its in-memory index) and by the next
 * build process (the path index on disk).
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OutputChunk } from 'rollup'
import type { Options } from '../src/plugin/options.js'
import { type App, type MpscnnManifest, DIST, REPO_ROOT, expectFloatsClose, f32At, fileUrlIn, hashedName, importBundle, importDist, makeApp, readDatFiles, removeApps } from './bundlers/helpers.js'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import { mulberry32 } from './helpers/inception.js'

let rollup: (typeof import('rollup'))['rollup']
let mpscnn: (typeof import('../src/plugin/rollup.js'))['default']

beforeAll(async () => {
  mpscnn = (await importDist<typeof import('../src/plugin/rollup.js')>('plugin/rollup.js')).default
  rollup = (await import('rollup')).rollup
})
afterAll(removeApps)

const CIN = 4
const COUT = 8

/**
 * input -> Mul by a per-channel constant (not foldable: a warning names the file) -> a
 * 1x1 Conv2D. Every seed gives a model of the same size; `weights` is what the plugin must
 * emit ([out][1][1][in]).
 */
function tinyModel(seed: number): { bytes: Uint8Array; weights: Float32Array } {
  const rnd = mulberry32(seed)
  const w = Float32Array.from({ length: CIN * COUT }, () => rnd() * 2 - 1)
  const b = new GraphBuilder()
  b.placeholder('input', [1, 4, 4, CIN])
  b.constF32('in_scale', [CIN], [1, 2, 3, 4])
  b.op('in_mul', 'Mul', ['input', 'in_scale'], { T: attr.type('DT_FLOAT') })
  b.constF32('conv/weights', [1, 1, CIN, COUT], w)
  b.op('conv/Conv2D', 'Conv2D', ['in_mul', 'conv/weights'], { T: attr.type('DT_FLOAT'), strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  const weights = new Float32Array(CIN * COUT)
  for (let o = 0; o < COUT; o++) for (let i = 0; i < CIN; i++) weights[o * CIN + i] = w[i * COUT + o]
  return { bytes: b.encode(), weights }
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

/** Sets a file's times a minute back: old enough for the path index to trust its mtime. */
function age(file: string): void {
  const t = new Date(Date.now() - 60_000)
  fs.utimesSync(file, t, t)
}

/**
 * The path index trusts what it records only of a file unchanged for two seconds, by its
 * ctime too (which age() sets to now). The last test needs a trusted record: its app is made
 * before the other tests run, so that it hardly waits.
 */
let settling: { app: App; v1: ReturnType<typeof tinyModel>; v2: ReturnType<typeof tinyModel> }
beforeAll(() => {
  const [v1, v2] = [tinyModel(5), tinyModel(6)]
  const app = makeApp({ model: v1.bytes, main: mainFor(['model.pb']) })
  age(app.model)
  settling = { app, v1, v2 }
})

interface Built {
  /** Where it was written: a new folder per build (an imported module is never imported afresh). */
  outDir: string
  manifests: MpscnnManifest[]
  /** Emitted `.dat` files, by output path. */
  assets: Map<string, Uint8Array>
  /** The plugin's log lines and warnings. */
  logs: string[]
}

/** `main.js` importing each model, exporting the manifests in that order. */
function mainFor(models: string[]): string {
  return `${models.map((m, i) => `import m${i} from './${m}'`).join('\n')}\nexport default [${models.map((_, i) => `m${i}`).join(', ')}]\n`
}

let builds = 0
const newOutDir = (app: App) => `${app.outDir}-${++builds}`

async function importBuilt(outDir: string, entryFile: string, logs: string[]): Promise<Built> {
  const mod = (await importBundle(path.join(outDir, entryFile))) as unknown as { default: MpscnnManifest[] }
  return { outDir, manifests: mod.default, assets: readDatFiles(outDir), logs }
}

/** A Rollup build in this process, written and imported. */
async function build(app: App, opts: Options): Promise<Built> {
  const logs: string[] = []
  const bundle = await rollup({ input: app.entry, plugins: [mpscnn({ cacheDir: app.cacheDir, ...opts })], onLog: (_level, log) => void logs.push(log.message) })
  const outDir = newOutDir(app)
  const { output } = await bundle.write({ dir: outDir, format: 'es' })
  await bundle.close()
  return importBuilt(outDir, output.find((o): o is OutputChunk => o.type === 'chunk' && o.isEntry)!.fileName, logs)
}

/** The same build in a new Node process: nothing in memory carries over from an earlier build. */
async function buildInNewProcess(app: App): Promise<Built> {
  const outDir = newOutDir(app)
  const script = `
    import { rollup } from ${JSON.stringify(path.join(REPO_ROOT, 'node_modules/rollup/dist/es/rollup.js'))}
    import mpscnn from ${JSON.stringify(path.join(DIST, 'plugin', 'rollup.js'))}
    const b = await rollup({ input: ${JSON.stringify(app.entry)}, plugins: [mpscnn({ cacheDir: ${JSON.stringify(app.cacheDir)} })],
      onLog(level, log) { console.log(log.message) } })
    await b.write({ dir: ${JSON.stringify(outDir)}, format: 'es' })
  `
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  expect(r.status, r.stderr).toBe(0)
  return importBuilt(outDir, 'main.js', r.stdout.split('\n'))
}

/** The model's log line: `<name>: 1 layer, ... converted in` or `... from cache in`. */
function how(b: Built, name: string): 'converted' | 'from cache' {
  const line = b.logs.find((l) => l.includes(`${name}: 1 layer,`))
  expect(line, `a log line for ${name} among ${JSON.stringify(b.logs)}`).toBeDefined()
  return /from cache in/.test(line!) ? 'from cache' : 'converted'
}

/**
 * The manifest is the model's, under `name`: source, sha256, the weights at its URL, and
 * the packed file named after it; every warning names `name` and nothing else.
 */
function expectModel(b: Built, m: MpscnnManifest, name: string, model: { bytes: Uint8Array; weights: Float32Array }, o: { packed?: boolean; hash?: boolean } = {}): void {
  expect(m.source).toBe(name)
  expect(m.sha256).toBe(sha256(model.bytes))
  expect(m.layers).toHaveLength(1)
  const t = m.layers[0].weights
  const file = fileUrlIn(b.outDir)(t.url)
  const stem = name.replace(/\.pb$/, '')
  // A packed file is named after the model, made portable (README, "File names"): a space is ~20.
  const dat = o.packed ? stem.replaceAll(' ', '~20') : 'weights_conv'
  if (o.hash === false) expect(file).toBe(`${stem}/${dat}.dat`)
  else expect(file).toMatch(hashedName(dat))
  expect(b.assets.has(file), `${file} was emitted`).toBe(true)
  expectFloatsClose(f32At(b.assets.get(file)!, t.offset, t.byteLength), model.weights, `${name} weights`)
  // The model's Mul on its input: named as the input's preprocessing, under the model's own name.
  const warnings = b.logs.filter((l) => l.includes("the input's preprocessing"))
  expect(warnings.filter((w) => w.includes(`${name}: the input's preprocessing, Mul "in_mul"`)), JSON.stringify(warnings)).toHaveLength(1)
}

describe('a renamed model', () => {
  for (const packed of [true, false]) {
    it(`(packed: ${packed}) is named after its new name, also when it comes from the cache; dts: true writes <new name>.d.ts`, async () => {
      const model = tinyModel(1)
      const app = makeApp({ model: model.bytes, modelName: 'old_name.pb', main: mainFor(['old_name.pb']) })
      const opts = { packed, dts: true }
      const first = await build(app, opts)
      expect(how(first, 'old_name.pb')).toBe('converted')
      expectModel(first, first.manifests[0], 'old_name.pb', model, opts)

      const renamed = path.join(app.dir, 'new name.pb')
      fs.renameSync(app.model, renamed)
      fs.rmSync(`${app.model}.d.ts`)
      fs.writeFileSync(app.entry, mainFor(['new name.pb']))
      const second = await build(app, opts)
      const third = await build(app, opts)
      expect(how(third, 'new name.pb')).toBe('from cache')
      for (const b of [second, third]) {
        expectModel(b, b.manifests[0], 'new name.pb', model, opts)
        expect([...b.assets.keys()].filter((f) => f.includes('old_name'))).toEqual([])
        expect(b.logs.filter((l) => l.includes('old_name'))).toEqual([])
      }
      expect(fs.readFileSync(`${renamed}.d.ts`, 'utf8')).toContain('"conv"')
      expect(fs.existsSync(`${app.model}.d.ts`)).toBe(false)
    })
  }
})

describe('two models with the same bytes', () => {
  // hash: false, as Rollup emits one asset for identical bytes under content-hashed names.
  it('share one cache entry, and each is named after itself, converted or from the cache (packed, hash: false)', async () => {
    const model = tinyModel(2)
    const app = makeApp({ model: model.bytes, modelName: 'a.pb', main: mainFor(['a.pb', 'b.pb']), files: { 'b.pb': model.bytes } })
    const opts = { packed: true, hash: false }
    for (const round of ['cold', 'warm']) {
      const b = await build(app, opts)
      if (round === 'warm') expect([how(b, 'a.pb'), how(b, 'b.pb')]).toEqual(['from cache', 'from cache'])
      expectModel(b, b.manifests[0], 'a.pb', model, opts)
      expectModel(b, b.manifests[1], 'b.pb', model, opts)
      expect([...b.assets.keys()].sort()).toEqual(['a/a.dat', 'b/b.dat'])
      expect(fs.readdirSync(path.join(app.cacheDir, 'entries')).filter((f) => f.endsWith('.bin'))).toHaveLength(1)
    }
  })
})

/**
 * Rewrites the model with other bytes of the same size and sets its atime and mtime back to
 * what they were (`touch -d`): only its ctime says it changed.
 */
function rewriteKeepingSizeAndMtime(file: string, bytes: Uint8Array): void {
  const before = fs.statSync(file)
  expect(bytes.byteLength).toBe(before.size)
  fs.writeFileSync(file, bytes)
  fs.utimesSync(file, before.atime, before.mtime)
  const after = fs.statSync(file)
  expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs])
}

describe('a model rewritten with the same size and mtime', () => {
  it('is converted again by the same process, with the new weights and sha256', async () => {
    const [v1, v2] = [tinyModel(3), tinyModel(4)]
    const app = makeApp({ model: v1.bytes, main: mainFor(['model.pb']) })
    age(app.model)
    const first = await build(app, {})
    expect(how(first, 'model.pb')).toBe('converted')
    expectModel(first, first.manifests[0], 'model.pb', v1)
    rewriteKeepingSizeAndMtime(app.model, v2.bytes)
    const second = await build(app, {})
    expect(how(second, 'model.pb')).toBe('converted')
    expectModel(second, second.manifests[0], 'model.pb', v2)
  })

  it('is converted again by the next build process, whose path index on disk recorded the old bytes, also once the rewrite is over 2 s old', async () => {
    const { app, v1, v2 } = settling
    const settle = async () => {
      const settled = fs.statSync(app.model).ctimeMs + 2500
      await new Promise((r) => setTimeout(r, Math.max(0, settled - Date.now())))
    }
    await settle()
    const first = await buildInNewProcess(app)
    expect(how(first, 'model.pb')).toBe('converted')
    expectModel(first, first.manifests[0], 'model.pb', v1)
    rewriteKeepingSizeAndMtime(app.model, v2.bytes)
    const second = await buildInNewProcess(app)
    expect(how(second, 'model.pb')).toBe('converted')
    expectModel(second, second.manifests[0], 'model.pb', v2)
    // Back to v1, and settled: the index would trust its record, but the ctime differs.
    rewriteKeepingSizeAndMtime(app.model, v1.bytes)
    await settle()
    const third = await buildInNewProcess(app)
    expectModel(third, third.manifests[0], 'model.pb', v1)
  })
})
