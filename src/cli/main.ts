/**
 * `mpscnn convert <model> [--out-dir DIR] [--dat-dir REF] [--packed] [--hash]
 *                 [--precision float32|float16] [--align N]`
 * `mpscnn cache clean [--cache-dir DIR]`
 *
 * Converts layer by layer, writing each tensor as soon as it is laid out, into a
 * temporary folder that is renamed into place only when everything succeeded: a failed
 * run leaves an earlier output folder exactly as it was.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { convertModel, type Precision } from '../fold/convert.js'
import { isMpscnnError } from '../base/errors.js'
import { planAssets, type AssetPlan } from '../emit/assets.js'
import { manifestJson } from '../emit/manifest.js'
import { halfToFloat } from '../base/half.js'
import { formatBytes } from '../base/format.js'
import { modelStem } from '../emit/assets.js'
import { cleanCache } from '../io/cache.js'
import { attachLayout, readModelMemory, type ModelMemory } from '../io/read.js'
import { compiled, reserve } from '../fold/simd.js'
import { Worker } from 'node:worker_threads'
import { workerExecArgv } from '../base/worker-options.js'
import type { WorkerInit, WorkerJob, WorkerReply, WorkerRun } from '../parallel/layout-worker.js'
import { jobQueueEnds, takeJob } from '../parallel/job-queue.js'
import { resolveNetworkOptions, resolveOptions, type NetworkSettings } from '../plugin/options.js'
import { buildNetwork } from '../network/index.js'

const USAGE = `Usage:
  mpscnn convert <model.pb|model.pbtxt> [options]
      --out-dir DIR        where to write the .dat files and manifest.json (default: <model>-mpscnn)
      --dat-dir REF        compare every written file with the reference .dat files in REF
      --packed             one <model>.dat holding every tensor, with offsets in manifest.json
      --align N            alignment of tensors in the packed file (default: 256)
      --hash               content-hashed file names (weights_<layer>-<hash>.dat)
      --precision P        float32 (default) or float16 weights
      --quiet              print nothing but errors
      --input-shape H,W,C  the network input's size, where the graph leaves it unknown
      --outputs A,B        the network's outputs (TF node names; default: the graph's sinks)
      --layers-only        no network description in manifest.json, layers and weights only
  mpscnn cache clean [--cache-dir DIR]
      empty the build cache (default: node_modules/.cache/unplugin-mpscnn)
  mpscnn --help | --version`

class UsageError extends Error {}

interface ConvertArgs {
  model: string
  outDir?: string
  datDir?: string
  packed: boolean
  hash: boolean
  precision: Precision
  align: number
  quiet: boolean
  network: NetworkSettings
}

function parseConvert(argv: string[]): ConvertArgs {
  const a: ConvertArgs = { model: '', packed: false, hash: false, precision: 'float32', align: 256, quiet: false, network: { network: true, inputShape: undefined, outputs: undefined } }
  const net: Parameters<typeof resolveNetworkOptions>[0] = {}
  const value = (i: number, flag: string) => {
    const v = argv[i + 1]
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`)
    return v
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const take = () => (inline !== undefined ? inline : value(i++, flag))
    switch (flag) {
      case '--out-dir': a.outDir = take(); break
      case '--dat-dir': a.datDir = take(); break
      case '--packed': a.packed = true; break
      case '--hash': a.hash = true; break
      case '--quiet': a.quiet = true; break
      case '--layers-only': net.network = false; break
      case '--input-shape': net.inputShape = take().split(',').map(Number) as unknown as [number, number, number]; break
      case '--outputs': net.outputs = take().split(','); break
      case '--precision': {
        const p = take()
        if (p !== 'float32' && p !== 'float16') throw new UsageError(`--precision must be float32 or float16, not ${JSON.stringify(p)}`)
        a.precision = p
        break
      }
      case '--align': {
        const n = Number(take())
        if (!Number.isInteger(n) || n < 4 || (n & (n - 1)) !== 0) throw new UsageError('--align must be a power of two of at least 4')
        a.align = n
        break
      }
      default:
        if (flag.startsWith('-')) throw new UsageError(`unknown option ${flag}`)
        if (a.model) throw new UsageError(`one model at a time (got ${JSON.stringify(a.model)} and ${JSON.stringify(flag)})`)
        a.model = flag
    }
  }
  if (!a.model) throw new UsageError('convert needs a model file')
  try {
    a.network = resolveNetworkOptions(net, (k) => ({ network: '--layers-only', inputShape: '--input-shape', outputs: '--outputs' })[k]!)
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^unplugin-mpscnn: /, ''))
  }
  return a
}

function readReference(file: string): Float32Array | null {
  let buf: Buffer
  try {
    buf = fs.readFileSync(file)
  } catch {
    return null
  }
  const copy = new Uint8Array(buf.byteLength - (buf.byteLength % 4))
  copy.set(buf.subarray(0, copy.length))
  return new Float32Array(copy.buffer)
}

function maxDelta(ours: Float32Array | Uint16Array, ref: Float32Array | null): number {
  if (!ref || ref.length !== ours.length) return Infinity
  let m = 0
  if (ours instanceof Uint16Array) {
    for (let i = 0; i < ours.length; i++) m = Math.max(m, Math.abs(halfToFloat(ours[i]) - ref[i]))
  } else {
    for (let i = 0; i < ours.length; i++) {
      const d = Math.abs(ours[i] - ref[i])
      if (d > m || d !== d) m = d !== d ? Infinity : d
    }
  }
  return m
}

/** Replaces `dest` by `src` (both folders), keeping the old one until the new one is in place. */
function swapInto(src: string, dest: string): void {
  let old: string | undefined
  if (fs.existsSync(dest)) {
    old = `${dest}.old-${process.pid}`
    fs.renameSync(dest, old)
  }
  try {
    fs.renameSync(src, dest)
  } catch (e) {
    if (old) fs.renameSync(old, dest)
    throw e
  }
  if (old) fs.rmSync(old, { recursive: true, force: true })
}

/** Below this size a layout worker costs more than it saves. */
const HELPER_MIN_BYTES = 16 << 20
/** Creating a file costs about as much as laying out and writing this many bytes (measured here). */
const FILE_COST_BYTES = 350_000

/**
 * Starts a layout worker before it is needed: booting a worker thread takes some 40 ms,
 * which bin/mpscnn.js spends while the CLI's own code loads. It idles until `main` hands
 * it a model (see LayoutHelper).
 */
export function startLayoutWorker(): Worker {
  return new Worker(new URL('../parallel/layout-worker.js', import.meta.url), { execArgv: workerExecArgv() })
}

/**
 * An idle layout worker: the one `main` was handed, or the last one a conversion used.
 * Kept (unref'd: it never keeps the process alive) so that the next conversion in this
 * process does not wait for a worker to boot.
 */
let spareWorker: Worker | undefined

function takeSpareWorker(): Worker | undefined {
  const w = spareWorker
  spareWorker = undefined
  w?.ref()
  return w
}

function keepSpareWorker(w: Worker): void {
  if (spareWorker) {
    void w.terminate()
    return
  }
  w.unref()
  spareWorker = w
}

/** A worker thread that hashes the model, then lays out and writes the layers it is sent. */
class LayoutHelper {
  private readonly worker: Worker
  readonly sha256: Promise<string>
  private readonly reply: Promise<WorkerReply>
  /** Once both the hash and the layout reply are in, the worker is idle again. */
  private hashed = false
  private replied = false
  constructor(
    private readonly init: WorkerInit,
    started?: Worker,
  ) {
    this.worker = started ?? startLayoutWorker()
    trace(`layout worker ${this.worker.threadId}${started ? ', already running' : ', starting'}`)
    this.worker.postMessage(init)
    let onHash!: (h: string) => void
    let onReply!: (r: WorkerReply) => void
    this.sha256 = new Promise((resolve) => (onHash = resolve))
    this.reply = new Promise((resolve) => (onReply = resolve))
    const failed = new Promise<never>((_, reject) => {
      this.worker.once('error', reject)
      this.worker.once('exit', (code) => reject(new Error(`the layout worker exited with code ${code}`)))
    })
    failed.catch(() => {})
    this.worker.on('message', (m: { sha256: string } | WorkerReply) => {
      if ('sha256' in m) {
        this.hashed = true
        onHash(m.sha256)
      } else {
        this.replied = true
        onReply(m)
      }
    })
    this.sha256 = Promise.race([failed, this.sha256])
    this.reply = Promise.race([failed, this.reply])
    this.sha256.catch(() => {})
    this.reply.catch(() => {})
  }
  get size(): number {
    return this.init.size
  }
  run(run: WorkerRun): Promise<WorkerReply> {
    this.worker.postMessage(run)
    // Tells the worker, which may be hashing, to come and take its share of the jobs.
    Atomics.store(this.init.progress, 1, 1)
    Atomics.notify(this.init.progress, 0)
    return this.reply
  }
  /** Keeps the worker for the next conversion if it finished this one, else stops it. */
  async close(): Promise<void> {
    for (const event of ['message', 'error', 'exit']) this.worker.removeAllListeners(event)
    if (this.hashed && this.replied) keepSpareWorker(this.worker)
    else await this.worker.terminate()
  }
}

/** MPSCNN_TRACE=1: when each phase of a conversion ended, on stderr. */
const tracing = !!process.env.MPSCNN_TRACE
let traceStart = 0
function trace(what: string): void {
  if (tracing) {
    const now = performance.now()
    process.stderr.write(`mpscnn: trace: ${(now - traceStart).toFixed(1)} ms (${now.toFixed(1)} ms since the process started) ${what}\n`)
  }
}

async function convert(a: ConvertArgs): Promise<number> {
  const t0 = performance.now()
  traceStart = t0
  const file = a.model
  // The worker starts while the file is read and hashes each chunk as it arrives.
  let helper: LayoutHelper | undefined
  const progress = new Int32Array(new SharedArrayBuffer(8))
  const signal = (n: number) => {
    Atomics.store(progress, 0, n)
    Atomics.notify(progress, 0)
  }
  let m: ModelMemory
  try {
    m = readModelMemory(file, file, {
      beforeRead(mem) {
        if (mem.bytes.length >= HELPER_MIN_BYTES && mem.bytes.length < 2 ** 31 && !a.datDir) {
          helper = new LayoutHelper({ memory: mem.memory, size: mem.bytes.length, progress, kernel: compiled(), precision: a.precision, hash: a.hash && !a.packed, packed: a.packed, traceOrigin: tracing ? performance.timeOrigin : undefined }, takeSpareWorker())
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
    return await convertWith(a, m, helper, t0)
  } finally {
    await helper?.close()
  }
}

async function convertWith(a: ConvertArgs, m: ModelMemory, helper: LayoutHelper | undefined, t0: number): Promise<number> {
  const file = a.model
  const model = convertModel(m.bytes, { file, precision: a.precision, transient: true })
  // Before any layout: a fully connected layer after an NCHW flatten gets its inputs permuted.
  const network = a.network.network ? buildNetwork(model.graph, file, model.plans, a.network) : undefined
  trace('parse and plan')
  const digest = helper ? helper.sha256 : Promise.resolve(createHash('sha256').update(m.bytes).digest('hex'))
  attachLayout(m, model.layoutRegion)
  if (!a.quiet) for (const w of model.warnings) process.stderr.write(`mpscnn: warning: ${w}\n`)
  const stem = modelStem(file)
  const plan: AssetPlan = planAssets(model.layers, { packed: a.packed, align: a.align, modelName: stem, precision: a.precision })
  const outDir = path.resolve(a.outDir ?? `${stem}-mpscnn`)
  const tmp = `${outDir}.tmp-${process.pid}`
  fs.rmSync(tmp, { recursive: true, force: true })
  fs.mkdirSync(tmp, { recursive: true })
  const report: string[] = []
  const progress = new Progress(model.layers.length, a.quiet)
  const hashed = new Map<string, string>() // plan file name -> hashed name
  const hashName = (name: string, h: string) => `${name.slice(0, -4)}-${h}.dat`
  let overall = 0
  const total = plan.files.reduce((n, f) => n + f.size, 0)
  try {
    const packedPath = plan.packed ? path.join(tmp, plan.files[0].name) : undefined
    const packed = packedPath ? fs.openSync(packedPath, 'w') : undefined
    try {
      if (packed !== undefined) fs.ftruncateSync(packed, plan.files[0].size)
      // Share the work through one queue: layers whose weights sit in the shared buffer,
      // costliest first (bytes to lay out and write, plus creating each file, which
      // dominates for small layers). Both threads take jobs until none is left, so
      // neither waits for the other whatever its pace. The rest stay on this thread.
      const queue: WorkerJob[] = []
      const perFile = plan.packed ? 0 : FILE_COST_BYTES
      const cost = (i: number) => plan.layers[i].weights.byteLength + plan.layers[i].bias.byteLength + 2 * perFile
      if (helper && plan.layers.length <= 0xffff) {
        for (const i of plan.layers.map((_, i) => i).sort((x, y) => cost(y) - cost(x))) {
          const job = model.job(i)
          if (!job) continue
          const l = plan.layers[i]
          const at = (t: typeof l.weights) => ({ path: packedPath ?? path.join(tmp, t.file), offset: t.offset })
          queue.push({ ...job, weightsAt: at(l.weights), biasAt: at(l.bias) })
        }
      }
      const ends = jobQueueEnds(queue.length)
      const costs = queue.map((j) => cost(j.layer))
      const remoteDone = queue.length ? helper!.run({ jobs: queue, ends, costs, out: reserve(m.memory, model.layoutRegion), capacity: model.layoutRegion }) : undefined
      // Weights come back as a view of a buffer the next layer reuses: write them now.
      const layOutHere = (i: number) => {
        const out = model.layOut(i)
        const p = plan.layers[i]
        for (const [t, arr] of [[p.weights, out.weights], [p.bias, out.bias]] as const) {
          const view = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength)
          if (packed !== undefined) fs.writeSync(packed, view, 0, view.byteLength, t.offset)
          else {
            let name = t.file
            if (a.hash) hashed.set(t.file, (name = hashName(t.file, createHash('sha256').update(view).digest('hex').slice(0, 8))))
            fs.writeFileSync(path.join(tmp, name), view)
          }
        }
        if (a.datDir) overall = compareLayer(a.datDir, out, report, overall)
        progress.tick(i + 1)
      }
      trace('plan')
      const queued = new Set(queue.map((j) => j.layer))
      for (let i = 0; i < plan.layers.length; i++) if (!queued.has(i)) layOutHere(i)
      let mine = plan.layers.length - queued.size
      // This thread takes the cheapest jobs, the worker the costliest: this thread's output
      // region stays small, and neither waits for the other.
      for (let k = takeJob(ends, 'back'); k >= 0; k = takeJob(ends, 'back'), mine++) layOutHere(queue[k].layer)
      trace(`this thread's ${mine} layers`)
      if (remoteDone) {
        const r = await remoteDone
        trace(`the worker's ${r.done.length} layers`)
        // The worker skips what it cannot lay out; doing that layer here raises its error.
        for (const i of r.failed) layOutHere(i)
        for (const [i, wh, bh] of r.hashes) {
          const l = plan.layers[i]
          for (const [t, h] of [[l.weights, wh], [l.bias, bh]] as const) {
            hashed.set(t.file, hashName(t.file, h))
            fs.renameSync(path.join(tmp, t.file), path.join(tmp, hashName(t.file, h)))
          }
        }
      }
    } finally {
      if (packed !== undefined) fs.closeSync(packed)
    }
    if (packedPath && a.hash) {
      const h = createHash('sha256').update(fs.readFileSync(packedPath)).digest('hex').slice(0, 8)
      const name = plan.files[0].name
      hashed.set(name, hashName(name, h))
      fs.renameSync(packedPath, path.join(tmp, hashName(name, h)))
    }
    for (const l of plan.layers) for (const t of [l.weights, l.bias]) t.file = hashed.get(t.file) ?? t.file
    fs.writeFileSync(path.join(tmp, 'manifest.json'), manifestJson({ source: path.basename(file), sha256: await digest, precision: model.precision }, plan, network))
    swapInto(tmp, outDir)
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
    for (const line of report) process.stdout.write(`${line}\n`)
    if (a.datDir) process.stdout.write(`max delta over all layers: ${overall.toFixed(6)}\n`)
    process.stdout.write(`${path.basename(file)}: ${model.layers.length} layers, ${formatBytes(total)}, converted in ${Math.round(ms)} ms -> ${path.relative(process.cwd(), outDir) || '.'}\n`)
  }
  return a.datDir && !(overall < 1e-3) ? 3 : 0
}

/**
 * A progress line on a TTY, shown only once a conversion has taken more than a second
 * (MPSCNN_PROGRESS_DELAY_MS changes that, for tests).
 */
class Progress {
  private readonly start = performance.now()
  private readonly delay = Number(process.env.MPSCNN_PROGRESS_DELAY_MS ?? 1000)
  private shown = false
  constructor(
    private readonly total: number,
    quiet: boolean,
    private readonly enabled = !quiet && process.stderr.isTTY === true,
  ) {}
  tick(done: number): void {
    if (!this.enabled || performance.now() - this.start < this.delay) return
    this.shown = true
    const width = 30
    const filled = Math.round((done / this.total) * width)
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} layers`)
  }
  done(): void {
    if (this.shown) process.stderr.write('\r\x1b[K')
    this.shown = false
  }
}

function compareLayer(refDir: string, out: { info: { name: string }; weights: Float32Array | Uint16Array; bias: Float32Array }, report: string[], overall: number): number {
  const name = out.info.name
  const w = maxDelta(out.weights, readReference(path.join(refDir, `weights_${name}.dat`)))
  const b = maxDelta(out.bias, readReference(path.join(refDir, `bias_${name}.dat`)))
  const fmt = (d: number) => (Number.isFinite(d) ? d.toFixed(6) : 'missing or wrong size')
  report.push(`${name}  [max delta: w=${fmt(w)} b=${fmt(b)}]`)
  return Math.max(overall, w, b)
}

/**
 * Runs the CLI. `layoutWorker`: a worker from `startLayoutWorker()`, started early by the
 * caller, for a large model to use.
 */
export async function main(argv: string[], layoutWorker?: Worker): Promise<number> {
  if (layoutWorker) keepSpareWorker(layoutWorker)
  try {
    const [cmd, ...rest] = argv
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      process.stdout.write(`${USAGE}\n`)
      return cmd === undefined ? 2 : 0
    }
    if (cmd === '--version' || cmd === '-v') {
      // Loaded here only: version.js reads package.json when it loads.
      const { packageVersion } = await import('../base/version.js')
      process.stdout.write(`${packageVersion()}\n`)
      return 0
    }
    if (cmd === 'convert') return await convert(parseConvert(rest))
    if (cmd === 'cache' && rest[0] === 'clean') {
      let dir: string | undefined
      for (let i = 1; i < rest.length; i++) {
        if (rest[i] === '--cache-dir') dir = rest[++i]
        else if (rest[i].startsWith('--cache-dir=')) dir = rest[i].slice('--cache-dir='.length)
        else throw new UsageError(`unknown option ${rest[i]}`)
      }
      const cacheDir = dir ? path.resolve(dir) : resolveOptions({}).cacheDir
      const removed = await cleanCache(cacheDir)
      process.stdout.write(`mpscnn: removed ${removed} cache entr${removed === 1 ? 'y' : 'ies'} from ${cacheDir}\n`)
      return 0
    }
    throw new UsageError(`unknown command ${JSON.stringify(argv.join(' '))}`)
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`mpscnn: ${e.message}\n${USAGE}\n`)
      return 2
    }
    if (isMpscnnError(e)) {
      process.stderr.write(`mpscnn: ${e.message}\n`)
      return 1
    }
    const err = e as NodeJS.ErrnoException
    if (err && typeof err.code === 'string' && err.syscall) {
      process.stderr.write(`mpscnn: ${err.message}\n`)
      return 1
    }
    process.stderr.write(`mpscnn: internal error: ${(e as Error)?.message ?? String(e)} (please report it; set MPSCNN_DEBUG=1 for a stack trace)\n`)
    if (process.env.MPSCNN_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`)
    return 1
  }
}
