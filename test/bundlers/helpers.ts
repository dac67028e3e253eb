/**
 * Shared helpers of the real-bundler build tests (`test/build-*.test.ts`): the compiled
 * plugin from `dist/`, a fixture app per test in its own temp dir, the oracle (expected
 * folded weights computed independently by `test/helpers/inception.ts`), and checks that
 * compare what a bundler emitted, byte for byte, with the oracle.
 *
 * The plugin is loaded from `dist/` (`npm run build`), as a user gets it: webpack and
 * Rspack run unplugin's loaders in their own module system, outside vitest's transform.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { expect } from 'vitest'
import type { MpscnnLayer, MpscnnManifest, MpscnnTensor } from '../../src/runtime.js'
import { float16BitsToFloat32 } from '../helpers/graph-builder.js'
import { makeInceptionV3_2015, mulberry32, type ExpectedLayer } from '../helpers/inception.js'

export type { ExpectedLayer }
export type { MpscnnLayer, MpscnnManifest, MpscnnTensor }

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** The compiled plugin; MPSCNN_TEST_DIST points the tests at another build (e.g. a deliberately broken copy, to see them fail). */
export const DIST = process.env.MPSCNN_TEST_DIST ? path.resolve(process.env.MPSCNN_TEST_DIST) : path.join(REPO_ROOT, 'dist')
export const PLUGIN_NAME = 'unplugin-mpscnn'

// ---------------------------------------------------------------------------------------
// The compiled plugin
// ---------------------------------------------------------------------------------------

/**
 * Imports `dist/<file>`, failing with a clear message when the build is missing. Typed
 * with the matching `src/` module (same declarations), so type checking does not need dist.
 */
export async function importDist<T>(file: string): Promise<T> {
  const p = path.join(DIST, file)
  if (!fs.existsSync(p)) {
    throw new Error(`${path.relative(REPO_ROOT, p)} is missing: run \`npm run build\` before the build tests (they use the compiled plugin from dist/)`)
  }
  warnIfStale(p)
  return (await import(pathToFileURL(p).href)) as T
}

let staleWarned = false
function warnIfStale(distFile: string): void {
  if (staleWarned) return
  const newest = (dir: string): number => {
    let t = 0
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs)
    }
    return t
  }
  staleWarned = true
  if (!distFile.startsWith(path.join(REPO_ROOT, 'dist'))) return
  if (newest(path.join(REPO_ROOT, 'src')) > fs.statSync(distFile).mtimeMs) {
    console.warn(`[build tests] src/ is newer than ${path.relative(REPO_ROOT, distFile)}: these tests run the compiled plugin, run \`npm run build\``)
  }
}

// ---------------------------------------------------------------------------------------
// Oracle
// ---------------------------------------------------------------------------------------

/** Channel divisor of the test model: 95 layers, ~0.5 MB of GraphDef. */
export const SCALE = 32
export const SEED = 7

export interface Oracle {
  bytes: Uint8Array
  layers: ExpectedLayer[]
}

const oracles = new Map<string, Oracle>()

/** Inception v3 (2015) at a small scale, with the independently computed expected layers. */
export function oracle(scale = SCALE, seed = SEED): Oracle {
  const key = `${scale}/${seed}`
  let o = oracles.get(key)
  if (!o) {
    o = makeInceptionV3_2015({ scale, seed })
    oracles.set(key, o)
  }
  return o
}

/** Seeded bytes that are not a GraphDef (deterministic, so the test cannot flake). */
export function garbageBytes(n = 4096, seed = 99): Uint8Array {
  const rnd = mulberry32(seed)
  return Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256))
}

// ---------------------------------------------------------------------------------------
// Fixture apps
// ---------------------------------------------------------------------------------------

export interface App {
  /** The temp dir: the project root. */
  dir: string
  /** Absolute path of `main.js`. */
  entry: string
  /** Absolute path of the model. */
  model: string
  /** The plugin's cache, private to this app. */
  cacheDir: string
  /** Where bundlers write (created on demand). */
  outDir: string
}

const created: string[] = []

/**
 * A fixture app in a fresh temp dir: `main.js` (`import model from './model.pb'; export
 * default model`), the model, and a package.json with `"type": "module"` so that Node
 * imports the bundles as ES modules.
 */
export function makeApp(opts: { model?: Uint8Array; modelName?: string; main?: string; files?: Record<string, string | Uint8Array> } = {}): App {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-')))
  created.push(dir)
  const modelName = opts.modelName ?? 'model.pb'
  const model = path.join(dir, modelName)
  fs.writeFileSync(model, opts.model ?? oracle().bytes)
  const entry = path.join(dir, 'main.js')
  fs.writeFileSync(entry, opts.main ?? `import model from './${modelName}'\nexport default model\n`)
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'mpscnn-fixture', private: true, type: 'module' })}\n`)
  for (const [name, content] of Object.entries(opts.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), content)
  }
  return { dir, entry, model, cacheDir: path.join(dir, '.mpscnn-cache'), outDir: path.join(dir, 'out') }
}

/** Removes every app made by this worker (keep them with MPSCNN_KEEP_TMP=1). */
export function removeApps(): void {
  if (process.env.MPSCNN_KEEP_TMP) return
  for (const d of created.splice(0)) fs.rmSync(d, { recursive: true, force: true })
}

/**
 * Sets the app's files a minute into the past. webpack does not trust a cached module
 * whose file changed within its timestamp accuracy (~seconds) and builds it again, which
 * would make a rebuild test depend on how fast the machine is.
 */
export function ageFiles(app: App, seconds = 60): void {
  const t = new Date(Math.floor(Date.now() / 1000) * 1000 - seconds * 1000)
  for (const f of listFiles(app.dir)) fs.utimesSync(path.join(app.dir, f), t, t)
}

/** Every file under `dir`, relative paths with `/`, sorted. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return []
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(path.relative(dir, p).split(path.sep).join('/'))
    }
  }
  walk(dir)
  return out.sort()
}

/** The `.dat` files under `dir` with their bytes. */
export function readDatFiles(dir: string): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>()
  for (const f of listFiles(dir)) if (f.endsWith('.dat')) m.set(f, new Uint8Array(fs.readFileSync(path.join(dir, f))))
  return m
}

/** Writes in-memory outputs (`fileName -> code or bytes`) under `dir`. */
export function writeOutputs(dir: string, files: Iterable<[string, string | Uint8Array]>): void {
  for (const [name, content] of files) {
    const p = path.join(dir, name)
    fs.mkdirSync(path.dirname(p), { recursive: true })
    fs.writeFileSync(p, content)
  }
}

/** Imports a bundle written to disk, as Node does (a fresh URL each time). */
export async function importBundle(file: string): Promise<{ default: MpscnnManifest; layers?: MpscnnLayer[] }> {
  if (!fs.existsSync(file)) throw new Error(`no bundle at ${file}`)
  return (await import(/* @vite-ignore */ `${pathToFileURL(file).href}?t=${Date.now()}`)) as { default: MpscnnManifest }
}

// ---------------------------------------------------------------------------------------
// Floats
// ---------------------------------------------------------------------------------------

/** float32 values of `bytes[offset, offset + byteLength)`, copied (no alignment needed). */
export function f32At(bytes: Uint8Array, offset = 0, byteLength = bytes.byteLength - offset): Float32Array {
  if (byteLength % 4 !== 0) throw new Error(`${byteLength} bytes is not a whole number of float32`)
  if (offset + byteLength > bytes.byteLength) throw new Error(`range ${offset}+${byteLength} is past the end (${bytes.byteLength} bytes)`)
  // A copy (Buffer#slice would share the pool): aligned, exactly the range.
  return new Float32Array(new Uint8Array(bytes.subarray(offset, offset + byteLength)).buffer)
}

/** IEEE half values of `bytes[offset, offset + byteLength)`, decoded by the test helper (not by src). */
export function f16At(bytes: Uint8Array, offset = 0, byteLength = bytes.byteLength - offset): Float32Array {
  if (byteLength % 2 !== 0) throw new Error(`${byteLength} bytes is not a whole number of float16`)
  if (offset + byteLength > bytes.byteLength) throw new Error(`range ${offset}+${byteLength} is past the end (${bytes.byteLength} bytes)`)
  const bits = new Uint16Array(new Uint8Array(bytes.subarray(offset, offset + byteLength)).buffer)
  return Float32Array.from(bits, float16BitsToFloat32)
}

/**
 * Asserts `actual` matches `expected` element by element: `|a - e| <= tol(e)`.
 * Reports the first and the worst mismatch (one expect per array, not per value).
 */
export function expectFloatsClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string, tol: (e: number) => number = (e) => 1e-5 * Math.max(1, Math.abs(e))): void {
  expect(actual.length, `${label}: length`).toBe(expected.length)
  let bad = 0
  let first = -1
  let worst = -1
  let worstErr = 0
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]
    const e = expected[i]
    const err = Math.abs(a - e)
    if (!(err <= tol(e))) {
      bad++
      if (first < 0) first = i
      if (!(err <= worstErr)) {
        worstErr = err
        worst = i
      }
    }
  }
  if (bad > 0) {
    expect.fail(
      `${label}: ${bad} of ${expected.length} values differ; first at [${first}]: got ${actual[first]}, expected ${expected[first]}; ` +
        `worst at [${worst}]: got ${actual[worst]}, expected ${expected[worst]}`,
    )
  }
}

/** Rounding to nearest half: at most half a half-ulp (2^-11 relative, 2^-25 for subnormals), plus the oracle's float32 slack. */
export const halfTolerance = (e: number): number => Math.abs(e) * (2 ** -11 + 2 ** -20) + 2 ** -25

// ---------------------------------------------------------------------------------------
// Checking a build
// ---------------------------------------------------------------------------------------

export interface BuildUnderTest {
  /** The manifest as the bundled module exports it. */
  manifest: MpscnnManifest
  /** Every `.dat` file the bundler emitted: output file name -> bytes. */
  assets: Map<string, Uint8Array>
  /** Maps a manifest URL to an emitted file name (fails the test when it cannot). */
  fileOf: (url: string) => string
  precision?: 'float32' | 'float16'
  /** Packed: the alignment every offset must be a multiple of. */
  packedAlign?: number
}

export function sameShape(layer: MpscnnLayer, e: ExpectedLayer): void {
  const where = `layer ${e.name}`
  expect(layer.name, where).toBe(e.name)
  expect(layer.kind, where).toBe(e.kind)
  expect(layer.weights.shape, `${where}: weight shape`).toEqual(e.shape)
  expect(layer.bias.shape, `${where}: bias shape`).toEqual([e.shape[0]])
  expect([layer.outputChannels, layer.kernelHeight, layer.kernelWidth, layer.inputChannels], `${where}: channels and kernel`).toEqual(e.shape)
  expect([layer.strideY, layer.strideX], `${where}: stride`).toEqual([e.stride, e.stride])
  expect(layer.padding, `${where}: padding`).toBe(e.padding)
}

/**
 * The central check of a build: the manifest has the oracle's layers; every URL is an
 * emitted file; the emitted `.dat` files are exactly the referenced ones; and the bytes
 * at each tensor's place equal the oracle (float32 within 1e-5, float16 within half
 * precision, biases float32).
 */
export function checkBuild(b: BuildUnderTest, expected: ExpectedLayer[] = oracle().layers): void {
  const precision = b.precision ?? 'float32'
  const m = b.manifest
  expect(m.source).toBe('model.pb')
  expect(m.precision).toBe(precision)
  expect(m.sha256).toMatch(/^[0-9a-f]{64}$/)
  expect(m.layers.map((l) => l.name)).toEqual(expected.map((e) => e.name))
  // The module carries the network description: every layer is one encode, input to softmax.
  expect(m.network!.nodes.filter((n) => n.layer).map((n) => n.layer).sort()).toEqual(expected.map((e) => e.name).sort())
  expect(m.network!.inputs.map((i) => i.image)).toEqual(['Mul'])
  expect(m.network!.outputs).toEqual([{ image: 'softmax', tfNode: 'softmax' }])

  const referenced = new Set<string>()
  const perFile = new Map<string, { offset: number; end: number; what: string }[]>()
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]
    const layer = m.layers[i]
    sameShape(layer, e)
    for (const which of ['weights', 'bias'] as const) {
      const t = layer[which]
      const what = `${e.name}.${which}`
      const isHalf = which === 'weights' && precision === 'float16'
      expect(t.dtype, `${what}: dtype`).toBe(isHalf ? 'float16' : 'float32')
      const want = which === 'weights' ? e.weights : e.bias
      expect(t.byteLength, `${what}: byteLength`).toBe(want.length * (isHalf ? 2 : 4))
      const file = b.fileOf(t.url)
      const bytes = b.assets.get(file)
      if (!bytes) expect.fail(`${what}: URL ${t.url} -> ${file}, which is not among the emitted files ${[...b.assets.keys()].slice(0, 6).join(', ')}...`)
      referenced.add(file)
      if (b.packedAlign !== undefined) expect(t.offset % b.packedAlign, `${what}: offset ${t.offset} aligned to ${b.packedAlign}`).toBe(0)
      else expect(t.offset, `${what}: offset`).toBe(0)
      if (b.packedAlign === undefined) expect(bytes.byteLength, `${what}: file size`).toBe(t.byteLength)
      const list = perFile.get(file) ?? []
      list.push({ offset: t.offset, end: t.offset + t.byteLength, what })
      perFile.set(file, list)
      if (isHalf) expectFloatsClose(f16At(bytes, t.offset, t.byteLength), want, what, halfTolerance)
      else expectFloatsClose(f32At(bytes, t.offset, t.byteLength), want, what)
    }
  }
  // Exactly the referenced files were emitted, and no two tensors overlap.
  expect([...b.assets.keys()].sort()).toEqual([...referenced].sort())
  if (b.packedAlign === undefined) expect(referenced.size).toBe(2 * expected.length)
  else expect(referenced.size).toBe(1)
  for (const [file, ranges] of perFile) {
    ranges.sort((x, y) => x.offset - y.offset)
    for (let i = 1; i < ranges.length; i++) {
      expect(ranges[i].offset, `${ranges[i].what} overlaps ${ranges[i - 1].what} in ${file}`).toBeGreaterThanOrEqual(ranges[i - 1].end)
    }
    expect(b.assets.get(file)!.byteLength, `${file}: size`).toBeGreaterThanOrEqual(ranges[ranges.length - 1].end)
  }
}

/** `assets/weights_conv-<hash>.dat`: the bundler's content hash (hex or base64url, 8 chars). */
export function hashedName(stem: string): RegExp {
  return new RegExp(`^assets/${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[A-Za-z0-9_-]{8}\\.dat$`)
}

/** Each layer's files are named after it: `<prefix>weights_<layer><suffix>.dat`. */
export function checkFileNames(manifest: MpscnnManifest, fileOf: (url: string) => string, expectName: (stem: string) => RegExp | string): void {
  for (const layer of manifest.layers) {
    for (const [which, t] of [['weights', layer.weights], ['bias', layer.bias]] as const) {
      const want = expectName(`${which}_${layer.name}`)
      const got = fileOf(t.url)
      if (typeof want === 'string') expect(got).toBe(want)
      else expect(got).toMatch(want)
    }
  }
}

/** A `file:` URL -> the path relative to `dir` (fails unless it is inside `dir`). */
export function fileUrlIn(dir: string): (url: string) => string {
  return (url) => {
    expect(url, 'a file: URL').toMatch(/^file:\/\//)
    const rel = path.relative(dir, fileURLToPath(url))
    expect(rel.startsWith('..') || path.isAbsolute(rel), `${url} is inside ${dir}`).toBe(false)
    return rel.split(path.sep).join('/')
  }
}

/** `<prefix><fileName>` -> fileName (fails unless the URL starts with the prefix). */
export function urlWithPrefix(prefix: string): (url: string) => string {
  return (url) => {
    expect(url.startsWith(prefix), `${url} starts with ${prefix}`).toBe(true)
    return url.slice(prefix.length)
  }
}

/** Asserts that a promise rejects, and returns the error. */
export async function rejection(p: Promise<unknown>): Promise<Error & { plugin?: string; id?: string; code?: string }> {
  try {
    await p
  } catch (e) {
    return e as Error
  }
  return expect.fail('the build succeeded; it should have failed')
}

/** The error's whole text: message plus what bundlers put around it (Rollup's `plugin`, esbuild's `errors`). */
export function errorText(e: unknown): string {
  const x = e as { message?: string; plugin?: string; id?: string; errors?: { text?: string; pluginName?: string }[] }
  const parts = [String(x.message ?? e)]
  for (const er of x.errors ?? []) parts.push(`${er.pluginName ?? ''} ${er.text ?? ''}`)
  return parts.join('\n')
}
