/**
 * `mpscnn convert <model> [--out-dir DIR] [--dat-dir REF] [--packed] [--hash]
 *                 [--precision float32|float16] [--align N] [--quiet]`
 *
 * Converts layer by layer, writing each tensor as soon as it is laid out, into a
 * temporary folder that is renamed into place only when everything succeeded: a failed
 * run leaves an earlier output folder exactly as it was. Which folders it may replace,
 * and how it recovers from a killed run: out-dir.ts. A large model's layers are shared
 * with a second thread: the pipeline (pipeline/pipeline.ts) with a file sink does both.
 */
import { resolveNetworkOptions, type NetworkSettings } from '../plugin/options.js'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Precision } from '../fold/convert.js'
import { modelStem } from '../emit/assets.js'
import { manifestJson } from '../emit/manifest.js'
import { formatBytes, plural } from '../base/format.js'
import { readModelMemory, type ModelMemory } from '../io/read.js'
import { compiled } from '../fold/simd.js'
import { prepareOutDir, swapInto, tmpDirFor } from '../io/out-dir.js'
import { Pipeline } from '../pipeline/pipeline.js'
import { FileSink } from '../pipeline/sinks.js'
import { LayoutHelper, takeSpareWorker } from '../parallel/layout-helper.js'
import { helpText, parseCommand, UsageError, type Command } from './args.js'
import { Comparison, EXIT_DIFFERENT, EXIT_INCOMPLETE } from './compare.js'
import { Progress } from './progress.js'
import { startTrace, trace, tracing } from './trace.js'

export const CONVERT: Command = {
  name: 'convert',
  args: '<model.pb|model.pbtxt> [options]',
  summary: 'convert a frozen GraphDef into MPSCNN .dat files and manifest.json',
  about: `Converts a TensorFlow frozen GraphDef (binary .pb or text .pbtxt): folds each batch norm into its
convolution, lays the weights out as MPSCNNConvolution reads them ([out][kH][kW][in]), and writes
weights_<layer>.dat and bias_<layer>.dat per layer (raw little-endian float32, no header, as in
Apple's MetalImageRecognition sample; to within float32 rounding of a float64 fold) and manifest.json.
On a terminal, a conversion that takes over a second shows a progress bar on stderr.`,
  flags: [
    { name: 'out-dir', value: 'DIR', help: 'output folder (default: <model>-mpscnn): new, empty, or an earlier output,\nwhich it replaces whole; a failed run leaves it untouched' },
    { name: 'dat-dir', value: 'REF', help: 'compare every tensor with REF/weights_<layer>.dat and bias_<layer>.dat\n(one line per layer, then the largest difference; see the exit statuses)' },
    { name: 'packed', help: 'one <model>.dat holding every tensor, offsets in manifest.json' },
    { name: 'align', value: 'N', help: 'alignment of each tensor in the packed file, a power of two >= 4 (default: 256)' },
    { name: 'hash', help: 'content-hashed file names (weights_<layer>-<hash8>.dat)' },
    { name: 'precision', value: 'P', help: 'float32 (default) or float16 (IEEE half weights; biases stay float32)' },
    { name: 'input-shape', value: 'H,W,C', help: "the network input's size, where the graph leaves it unknown" },
    { name: 'outputs', value: 'A,B', help: "the network's outputs (TF node names; default: the graph's sinks)" },
    { name: 'layers-only', help: 'no network description in manifest.json: layers and weights only' },
    { name: 'max-expansion', value: 'N', help: 'refuse a model that would materialise more than max(64 MiB, N x its size)\n(default: 16)' },
    { name: 'quiet', short: 'q', help: 'print nothing but errors (no summary, no progress bar)' },
  ],
  notes: `Exit status:
  0  converted (with --dat-dir: every layer within 1e-3 of the reference)
  1  an error (one line on stderr: mpscnn: <file>: <problem>. <what to do>); nothing was written
  2  a usage error
  ${EXIT_DIFFERENT}  --dat-dir: a layer differs from the reference by more than 1e-3, or in size
  ${EXIT_INCOMPLETE}  --dat-dir: some layers are not in the reference; all the others are within 1e-3`,
  examples: [
    ['mpscnn convert inception_v3.pb', 'convert into inception_v3-mpscnn/'],
    ['mpscnn convert inception_v3.pb --out-dir Inception --dat-dir ../MetalImageRecognition/data', "convert into Inception/ and compare every tensor with Apple's sample files"],
    ['mpscnn convert model.pbtxt --packed --align 4096 --precision float16', 'one model-mpscnn/model.dat of half-precision weights, each tensor at a multiple of 4096 bytes'],
  ],
}

interface ConvertArgs {
  model: string
  /** As given, or `<model>-mpscnn`. */
  outDir: string
  datDir?: string
  packed: boolean
  hash: boolean
  precision: Precision
  align: number
  maxExpansion?: number
  quiet: boolean
  network: NetworkSettings
}

/** The arguments after `convert`, checked; undefined for --help. */
function parseConvert(argv: string[]): ConvertArgs | undefined {
  const { values: v, positionals, help } = parseCommand(CONVERT, argv)
  if (help) return undefined
  if (positionals.length === 0) throw new UsageError('convert needs a model file', CONVERT)
  if (positionals.length > 1) throw new UsageError(`one model at a time (got ${positionals.map((p) => JSON.stringify(p)).join(' and ')})`, CONVERT)
  const model = positionals[0]
  const precision = v.precision ?? 'float32'
  if (precision !== 'float32' && precision !== 'float16') throw new UsageError(`--precision must be float32 or float16, not ${JSON.stringify(precision)}`, CONVERT)
  const align = Number(v.align ?? 256)
  if (!Number.isInteger(align) || align < 4 || (align & (align - 1)) !== 0) throw new UsageError(`--align must be a power of two of at least 4, not ${JSON.stringify(v.align)}`, CONVERT)
  const maxExpansion = v['max-expansion'] === undefined ? undefined : Number(v['max-expansion'])
  if (maxExpansion !== undefined && !(maxExpansion >= 1)) throw new UsageError(`--max-expansion must be a number of at least 1, not ${JSON.stringify(v['max-expansion'])}`, CONVERT)
  const str = (x: string | true | undefined) => (typeof x === 'string' ? x : undefined)
  let network: NetworkSettings
  try {
    const net = { network: !v['layers-only'], inputShape: str(v['input-shape'])?.split(',').map(Number) as [number, number, number] | undefined, outputs: str(v.outputs)?.split(',') }
    network = resolveNetworkOptions(net, (k) => ({ network: '--layers-only', inputShape: '--input-shape', outputs: '--outputs' })[k]!)
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^unplugin-mpscnn: /, ''), CONVERT)
  }
  return { model, outDir: str(v['out-dir']) ?? `${modelStem(model)}-mpscnn`, datDir: str(v['dat-dir']), packed: !!v.packed, hash: !!v.hash, precision, align, maxExpansion, quiet: !!v.quiet, network }
}

/** Below this size a layout worker costs more than it saves. */
const HELPER_MIN_BYTES = 16 << 20

/** How `mpscnn convert` spreads its work. */
export interface ConvertTuning {
  /** Models of this many bytes and more are laid out by this thread and a layout worker together. @default 16 MiB */
  layoutWorkerMinBytes?: number
}

/** `mpscnn convert ...`: the arguments after `convert`. */
export async function convertCommand(argv: string[], print: (text: string) => void, tuning: ConvertTuning = {}): Promise<number> {
  const args = parseConvert(argv)
  if (args) return await convert(args, tuning)
  print(helpText(CONVERT))
  return 0
}

async function convert(a: ConvertArgs, tuning: ConvertTuning): Promise<number> {
  const t0 = performance.now()
  startTrace()
  const file = a.model
  prepareOutDir(path.resolve(a.outDir), a.outDir, file)
  const comparison = a.datDir !== undefined ? new Comparison(path.resolve(a.datDir), a.datDir) : undefined
  // The worker starts while the file is read and hashes each chunk as it arrives.
  let helper: LayoutHelper | undefined
  const progress = new Int32Array(new SharedArrayBuffer(4))
  const signal = (n: number) => {
    Atomics.store(progress, 0, n)
    Atomics.notify(progress, 0)
  }
  let m: ModelMemory
  try {
    m = readModelMemory(file, file, {
      beforeRead(mem) {
        if (mem.bytes.length >= (tuning.layoutWorkerMinBytes ?? HELPER_MIN_BYTES) && mem.bytes.length < 2 ** 31 && !a.datDir) {
          helper = new LayoutHelper({ memory: mem.memory, size: mem.bytes.length, progress, kernel: compiled(), precision: a.precision, file, hash: a.hash && !a.packed, packed: a.packed, traceOrigin: tracing ? performance.timeOrigin : undefined }, takeSpareWorker(), trace)
        }
      },
      progress: signal,
    })
  } catch (e) {
    signal(-1)
    await helper?.close()
    throw e
  }
  trace('read')
  if (helper && m.bytes.length !== helper.size) {
    signal(-1) // the file shrank while being read
    await helper.close()
    helper = undefined
  }
  try {
    return await convertWith(a, m, helper, t0, comparison, tuning)
  } finally {
    await helper?.close()
  }
}

async function convertWith(a: ConvertArgs, m: ModelMemory, helper: LayoutHelper | undefined, t0: number, comparison: Comparison | undefined, tuning: ConvertTuning): Promise<number> {
  const file = a.model
  const outDir = path.resolve(a.outDir)
  const tmp = tmpDirFor(outDir)
  const sink = new FileSink(tmp, a.hash)
  let progress: Progress | undefined
  let stems: string[] = []
  const pipeline = new Pipeline(m, file, a, sink, {
    onLayer: (i, out) => comparison?.layer(out.info.name, stems[i], out.weights, out.bias),
    onProgress: (done) => progress!.update(done),
    trace,
  })
  stems = pipeline.stems
  const { model, plan } = pipeline
  const digest = helper ? helper.sha256 : Promise.resolve(createHash('sha256').update(m.bytes).digest('hex'))
  if (!a.quiet) for (const w of model.warnings) process.stderr.write(`mpscnn: warning: ${w}\n`)
  comparison?.expectLayers(stems)
  fs.rmSync(tmp, { recursive: true, force: true })
  fs.mkdirSync(tmp, { recursive: true })
  progress = new Progress({ total: model.layers.length, quiet: a.quiet, start: t0 })
  const total = plan.files.reduce((n, f) => n + f.size, 0)
  try {
    const r = helper ? await pipeline.runShared(helper) : pipeline.run()
    fs.writeFileSync(path.join(tmp, 'manifest.json'), manifestJson({ source: r.header.source, sha256: await digest, precision: r.header.precision }, r.plan, r.network))
    swapInto(tmp, outDir, a.outDir)
    trace('manifest written, output in place')
  } catch (e) {
    progress.done()
    await helper?.close() // it may still be writing into tmp
    fs.rmSync(tmp, { recursive: true, force: true })
    throw e
  }
  progress.done()
  const ms = performance.now() - t0
  if (!a.quiet) {
    if (comparison) for (const line of comparison.report()) process.stdout.write(`${line}\n`)
    process.stdout.write(`${path.basename(file)}: ${plural(model.layers.length, 'layer')}, ${formatBytes(total)}, converted in ${Math.round(ms)} ms -> ${path.relative(process.cwd(), outDir) || '.'}\n`)
  }
  return comparison?.exitStatus() ?? 0
}
