/**
 * `mpscnn verify <model> [--assets DIR] [--samples N] [--seed S] [--image FILE]... [--tolerance T]
 *                [--json] [--precision P] [--packed] [--backend cpu|wasm]`: the converted network,
 * run with MPS semantics (src/execute/executor.ts), against the original graph run by
 * TensorFlow.js, on seeded inputs and pictures (src/execute/verify.ts). Exit 1 when the tolerance
 * is exceeded or a picture cannot be decoded (NOT_AN_IMAGE).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseModel, type Precision } from '../fold/convert.js'
import { manifestJson } from '../emit/manifest.js'
import { convertToAssets } from '../pipeline/convert-to-assets.js'
import { helpText, parseCommand, UsageError, type Command } from './args.js'
import { readImage } from './image.js'

export const VERIFY: Command = {
  name: 'verify',
  args: '<model.pb|model.pbtxt> [options]',
  summary: 'run the converted network and compare it with the TensorFlow graph',
  about: `Runs the converted network as MPS would (the manifest's offsets, edge modes, channel offsets and
weights as stored) and the original graph with TensorFlow.js, on seeded random inputs, and prints per
output the max absolute and relative difference (each --image FILE, a JPEG or PNG resized to the input,
is one more sample) and top-1 / top-5 agreement. On failure it names the
first node whose image differs, with its MPS parameters. Needs @tensorflow/tfjs-core,
-backend-cpu, -backend-wasm and -converter.`,
  flags: [
    { name: 'assets', value: 'DIR', help: 'check this conversion folder (its manifest.json); default: convert in memory' },
    { name: 'samples', value: 'N', help: 'seeded random inputs (default: 8)' },
    { name: 'seed', value: 'S', help: 'their seed (default: 1)' },
    { name: 'image', value: 'FILE', help: 'also a JPEG or PNG picture, resized to the input (bilinear), 0..255 through its preprocess; repeatable' },
    { name: 'tolerance', value: 'T', help: 'max relative difference (default: 1e-4 for float32, 2e-2 for float16)' },
    { name: 'precision', value: 'P', help: 'without --assets: float32 (default) or float16' },
    { name: 'packed', help: 'without --assets: convert packed' },
    { name: 'backend', value: 'B', help: 'cpu (default) or wasm' },
    { name: 'json', help: 'print the report as JSON' },
  ],
  notes: 'Exit status: 0 within the tolerance, 1 beyond it or on a bad model or picture (NOT_AN_IMAGE), 2 on a usage error.',
  examples: [
    ['mpscnn verify inception_v3.pb', 'convert in memory and compare on 8 inputs'],
    ['mpscnn verify inception_v3.pb --image cat.jpg --image dog.png', '8 seeded inputs and two pictures'],
    ['mpscnn verify inception_v3.pb --assets inception_v3-mpscnn --samples 2', 'check an existing conversion'],
  ],
}

const int = (v: string | true | undefined, name: string, dflt: number, min: number): number => {
  if (v === undefined) return dflt
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, not ${JSON.stringify(v)}`, VERIFY)
  return n
}

const fmt = (n: number) => (n === 0 ? '0' : n.toExponential(2))

/** `mpscnn verify ...`: the arguments after `verify`. */
export async function verifyCommand(argv: string[], print: (text: string) => void): Promise<number> {
  const { values: v, lists, positionals, help } = parseCommand(VERIFY, argv)
  if (help) {
    print(helpText(VERIFY))
    return 0
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `verify takes one model (got ${positionals.length})` : 'verify needs a model file', VERIFY)
  const file = positionals[0]
  const samples = int(v.samples, 'samples', 8, 1)
  const seed = int(v.seed, 'seed', 1, 0)
  const tolerance = v.tolerance === undefined ? undefined : Number(v.tolerance)
  if (tolerance !== undefined && !(tolerance >= 0)) throw new UsageError(`--tolerance must be a number >= 0, not ${JSON.stringify(v.tolerance)}`, VERIFY)
  const precision = (v.precision ?? 'float32') as Precision
  if (precision !== 'float32' && precision !== 'float16') throw new UsageError(`--precision must be float32 or float16, not ${JSON.stringify(precision)}`, VERIFY)
  const backend = v.backend ?? 'cpu'
  if (backend !== 'cpu' && backend !== 'wasm') throw new UsageError(`--backend must be cpu or wasm, not ${JSON.stringify(backend)}`, VERIFY)
  if (typeof v.assets === 'string' && (v.precision !== undefined || v.packed)) throw new UsageError('--precision and --packed convert in memory; with --assets the folder is checked as it is', VERIFY)

  const bytes = new Uint8Array(fs.readFileSync(file))
  const graphDef = parseModel(bytes, file)
  const images = []
  for (const image of lists.image ?? []) {
    if (!fs.existsSync(image)) throw new UsageError(`--image ${image}: no such file`, VERIFY)
    images.push(await readImage(image))
  }
  const { verifyManifestFile } = await import('../execute/verify.js')
  const options = { samples, seed, tolerance, backend: backend as 'cpu' | 'wasm', images }
  let report
  if (typeof v.assets === 'string') {
    const json = path.resolve(v.assets, 'manifest.json')
    if (!fs.existsSync(json)) throw new UsageError(`${v.assets} has no manifest.json (is it a folder written by mpscnn convert?)`, VERIFY)
    report = await verifyManifestFile(graphDef, json, options)
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-verify-'))
    try {
      const assets = convertToAssets({ bytes, sha256: null }, file, { packed: !!v.packed, align: 256, precision })
      for (const [name, data] of assets.files) fs.writeFileSync(path.join(dir, name), data)
      fs.writeFileSync(path.join(dir, 'manifest.json'), manifestJson(assets.header, assets.plan, assets.network))
      report = await verifyManifestFile(graphDef, path.join(dir, 'manifest.json'), options)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  if (v.json) print(`${JSON.stringify({ model: path.basename(file), ...report }, null, 2)}\n`)
  else {
    const rows = [['output', 'max abs', 'max rel', 'top-1', 'top-5'], ...report.outputs.map((o) => [o.tfNode, fmt(o.maxAbs), fmt(o.maxRel), `${o.top1}/${report.samples}`, `${o.top5}/${report.samples}`])]
    const widths = rows[0].map((_, k) => Math.max(...rows.map((r) => r[k].length)))
    print(`mpscnn: verify ${path.basename(file)} (${report.precision}, ${report.samples} samples, tolerance ${report.tolerance}, ${backend})\n`)
    for (const r of rows) print(`  ${r.map((c, k) => c.padEnd(widths[k])).join('  ').trimEnd()}\n`)
    for (const s of report.inputs.slice(samples)) print(`  image ${s.input}: max rel ${fmt(s.maxRel)}, top-1 ${s.top1 ? 'agrees' : 'DIFFERS'}\n`)
    const d = report.firstDivergence
    if (report.ok) print('mpscnn: ok: within the tolerance\n')
    else print(`mpscnn: FAILED: the difference exceeds the tolerance${d ? `; first diverging node ${JSON.stringify(d.node)} (image ${JSON.stringify(d.image)}, max rel ${fmt(d.maxRel)}): ${JSON.stringify(d.parameters)}` : ''}\n`)
  }
  return report.ok ? 0 : 1
}
