/**
 * One pipeline (src/pipeline/pipeline.ts) serves the plugin and the CLI: what a bundler
 * emits (the memory sink, through a real esbuild build) and what `mpscnn convert` writes
 * (the file sink, on one thread, or two with the layout worker's threshold lowered through
 * main's `tuning`) are the same bytes and the same manifest data, file names and URLs
 * apart, for every output option: packed or not, hashed or not, float32 or float16.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { MpscnnManifest } from '../src/runtime.js'
import { runCliInOneProcess, type CliRun } from './helpers/cli-runs.js'
import { DIST, fileUrlIn, importBundle, importDist, makeApp, oracle, removeApps, writeOutputs, type App } from './bundlers/helpers.js'

let esbuild: typeof import('esbuild')
let mpscnn: (typeof import('../src/plugin/esbuild.js'))['default']
let app: App

beforeAll(async () => {
  mpscnn = (await importDist<typeof import('../src/plugin/esbuild.js')>('plugin/esbuild.js')).default
  esbuild = await import('esbuild')
  app = makeApp()
})
afterAll(removeApps)

interface Combo {
  packed: boolean
  hash: boolean
  precision: 'float32' | 'float16'
}
const combos: Combo[] = []
for (const packed of [false, true]) for (const hash of [false, true]) for (const precision of ['float32', 'float16'] as const) combos.push({ packed, hash, precision })
const label = (c: Combo) => `${c.packed ? 'packed' : 'files'} ${c.hash ? 'hash' : 'no hash'} ${c.precision}`

/** A converted model, names aside: the manifest with each tensor's file/url replaced by the bytes of its whole file. */
interface Output {
  manifest: Record<string, unknown>
  /** Tensor index (weights, bias, weights, ...) -> the bytes of the file it is in, and its file's name. */
  files: { name: string; bytes: Buffer }[]
}

/** Layer records without the tensors' file or url (compared apart, as bytes). */
function normalise(manifest: MpscnnManifest, bytesOf: (ref: string) => Buffer, nameOf: (ref: string) => string): Output {
  const files: Output['files'] = []
  const strip = (t: Record<string, unknown>) => {
    const ref = (t.url ?? t.file) as string
    files.push({ name: nameOf(ref), bytes: bytesOf(ref) })
    const { url: _u, file: _f, ...rest } = t
    return rest
  }
  const layers = manifest.layers.map((l) => ({ ...l, weights: strip(l.weights as unknown as Record<string, unknown>), bias: strip(l.bias as unknown as Record<string, unknown>) }))
  return { manifest: JSON.parse(JSON.stringify({ ...manifest, layers })) as Record<string, unknown>, files }
}

async function pluginOutput(c: Combo): Promise<Output> {
  const outdir = path.join(app.dir, `plugin-${label(c).replace(/ /g, '-')}`)
  const result = await esbuild.build({
    absWorkingDir: app.dir,
    entryPoints: [app.entry],
    bundle: true,
    format: 'esm',
    outdir,
    logLevel: 'silent',
    write: false,
    // No cache: every build runs the pipeline.
    plugins: [mpscnn({ cache: false, packed: c.packed, hash: c.hash, precision: c.precision })],
  })
  writeOutputs(outdir, result.outputFiles.map((f) => [path.relative(outdir, f.path), f.contents] as [string, Uint8Array]))
  const manifest = (await importBundle(path.join(outdir, 'main.js'))).default
  const fileOf = fileUrlIn(outdir)
  return normalise(manifest, (url) => fs.readFileSync(path.join(outdir, fileOf(url))), (url) => path.basename(fileOf(url)))
}

function cliOutput(dir: string): Output {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as MpscnnManifest
  return normalise(manifest, (file) => fs.readFileSync(path.join(dir, file)), (file) => file)
}

it('the plugin (memory sink) and the CLI (file sink, one thread or two) give the same bytes and manifest data for every option', async () => {
  const threads = { one: undefined, two: { layoutWorkerMinBytes: 0 } }
  const runs: CliRun[] = combos.flatMap((c) =>
    Object.entries(threads).map(([n, tuning]) => ({
      label: `${label(c)} ${n}`,
      argv: ['convert', 'model.pb', '--out-dir', `cli-${label(c).replace(/ /g, '-')}-${n}`, '--quiet', '--precision', c.precision, ...(c.packed ? ['--packed'] : []), ...(c.hash ? ['--hash'] : [])],
      tuning,
    })),
  )
  const cli = runCliInOneProcess(runs, app.dir, DIST)
  const layers = oracle().layers.length
  for (const c of combos) {
    const plugin = await pluginOutput(c)
    expect(plugin.files).toHaveLength(2 * layers)
    // The file sink names files by content exactly as the bundler does: <stem>-<8 hex digits>.dat.
    for (const f of plugin.files) expect(/-[0-9a-f]{8}\.dat$/.test(f.name), `${label(c)}: ${f.name}`).toBe(c.hash)
    for (const n of Object.keys(threads)) {
      const what = `${label(c)}, CLI on ${n} thread(s)`
      const r = cli.get(`${label(c)} ${n}`)!
      expect([r.exit, r.stderr], what).toEqual([0, ''])
      // Below the threshold no worker runs; above it, the worker hashes the model and lays out
      // its share (layout-worker.test.ts has models where a packed share is not empty).
      if (n === 'one') expect(r.workerLayers, what).toBeUndefined()
      else expect(r.workerLayers, what).toBeGreaterThan(c.packed ? -1 : 0)
      const out = cliOutput(path.join(app.dir, `cli-${label(c).replace(/ /g, '-')}-${n}`))
      expect(out.manifest, what).toEqual(plugin.manifest)
      expect(out.files.map((f) => /-[0-9a-f]{8}\.dat$/.test(f.name)), what).toEqual(plugin.files.map(() => c.hash))
      out.files.forEach((f, i) => expect(f.bytes.equals(plugin.files[i].bytes), `${what}: tensor ${i} (${f.name})`).toBe(true))
    }
  }
})
