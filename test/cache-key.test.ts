/**
 * What the cache key is made of, in real Rollup builds sharing one cache: the model's
 * sha256 and the options that change the output, the packed `align` among them.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { OutputChunk } from 'rollup'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Options } from '../src/plugin/options.js'
import { ageFiles, importBundle, importDist, makeApp, removeApps, type App, type MpscnnManifest } from './bundlers/helpers.js'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import { mulberry32 } from './helpers/inception.js'

let rollup: (typeof import('rollup'))['rollup']
let mpscnn: (typeof import('../src/plugin/rollup.js'))['default']

beforeAll(async () => {
  mpscnn = (await importDist<typeof import('../src/plugin/rollup.js')>('plugin/rollup.js')).default
  rollup = (await import('rollup')).rollup
})
afterAll(removeApps)

let builds = 0

/**
 * Builds `app` with Rollup, writes it to a folder of its own (an imported bundle stays in
 * the module cache under its path), and returns what its entry exports, with the log lines.
 */
async function build(app: App, opts: Options): Promise<{ exported: unknown; logs: string[] }> {
  const logs: string[] = []
  const bundle = await rollup({ input: app.entry, plugins: [mpscnn({ cacheDir: app.cacheDir, ...opts })], onLog: (_l, log) => void logs.push(log.message) })
  const dir = path.join(app.outDir, String(++builds))
  const { output } = await bundle.write({ dir, format: 'es' })
  await bundle.close()
  const entry = output.find((o): o is OutputChunk => o.type === 'chunk' && o.isEntry)!
  return { exported: (await importBundle(path.join(dir, entry.fileName))).default, logs }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const entries = (app: App) => fs.readdirSync(path.join(app.cacheDir, 'entries')).filter((f) => f.endsWith('.bin'))

/** One MatMul layer, [k][o] weights from `seed`: a model of more than 16 MiB when k * o * 4 is. */
function matMulModel(k: number, o: number, seed: number): { bytes: Uint8Array; weights: Float32Array } {
  const rnd = mulberry32(seed)
  const w = Float32Array.from({ length: k * o }, () => rnd() - 0.5)
  const b = new GraphBuilder()
  b.placeholder('input', [1, k])
  b.constF32('fc/weights', [k, o], w)
  b.op('fc/MatMul', 'MatMul', ['input', 'fc/weights'], { T: attr.type('DT_FLOAT'), transpose_a: attr.b(false), transpose_b: attr.b(false) })
  // MPSCNN order: [o][k].
  const weights = new Float32Array(k * o)
  for (let i = 0; i < k; i++) for (let j = 0; j < o; j++) weights[j * k + i] = w[i * o + j]
  return { bytes: b.encode(), weights }
}

describe('the cache key, in real builds sharing one cache', () => {
  it('two different models of 16 MiB and more get their own entries, and each its own weights back', async () => {
    const models = [1, 2].map((seed) => matMulModel(2048, 2048, seed))
    for (const m of models) expect(m.bytes.byteLength).toBeGreaterThanOrEqual(16 << 20)
    const app = makeApp({ model: models[0].bytes, modelName: 'a.pb', files: { 'b.pb': models[1].bytes }, main: "import a from './a.pb'\nimport b from './b.pb'\nexport default [a, b]\n" })
    ageFiles(app) // the second build finds both through the path index
    for (const [round, how] of [[1, 'converted'], [2, 'from cache']] as const) {
      const { exported, logs } = await build(app, {})
      const manifests = exported as MpscnnManifest[]
      for (const name of ['a.pb', 'b.pb']) expect(logs.filter((l) => l.includes(`${name}: 1 layer,`) && l.includes(how)), `build ${round}: ${name}`).toHaveLength(1)
      manifests.forEach((m, i) => {
        expect(m.sha256, `build ${round}`).toBe(sha256(models[i].bytes))
        const w = fs.readFileSync(new URL(m.layers[0].weights.url))
        expect(Buffer.from(models[i].weights.buffer).equals(w), `build ${round}: model ${i}'s weights`).toBe(true)
      })
      expect(entries(app)).toHaveLength(2)
    }
  })

  it('a packed build with align 4096 after one with align 256 is converted again, every tensor 4096-aligned', async () => {
    const app = makeApp()
    const offsets = async (align: number) => {
      const { exported, logs } = await build(app, { packed: true, align })
      const m = exported as MpscnnManifest
      return { offsets: m.layers.flatMap((l) => [l.weights.offset, l.bias.offset]), fromCache: logs.some((l) => l.includes('from cache')) }
    }
    const first = await offsets(256)
    expect(first.fromCache).toBe(false)
    expect(first.offsets.every((o) => o % 256 === 0)).toBe(true)
    expect(first.offsets.some((o) => o % 4096 !== 0)).toBe(true)
    const second = await offsets(4096)
    expect(second.fromCache).toBe(false)
    expect(second.offsets.filter((o) => o % 4096 !== 0)).toEqual([])
    expect(entries(app)).toHaveLength(2)
    // Each is served from its own entry afterwards.
    for (const [align, want] of [[256, first.offsets], [4096, second.offsets]] as const) {
      const again = await offsets(align)
      expect(again).toEqual({ offsets: want, fromCache: true })
    }
  })
})
