/**
 * The one conversion pipeline, for the plugin and the CLI alike: parse and plan once
 * (convertModel, buildNetwork, planAssets), lay out every layer, on this thread or shared
 * with a second one, and hand each laid-out tensor to a sink (sinks.ts): in memory for
 * bundlers and the cache, streamed into files for the CLI. Its result is the manifest's
 * data, the same for every sink. See docs/performance.md, "The pipeline".
 */
import path from 'node:path'
import { deserializeError } from '../base/errors.js'
import { convertModel, type ConvertedModel, type OutputLayer, type Precision } from '../fold/convert.js'
import { reserve } from '../fold/simd.js'
import { layerFileStems, modelStem, planAssets, type AssetPlan, type LayerPlacement, type TensorPlacement } from '../emit/assets.js'
import type { ManifestHeader } from '../emit/manifest.js'
import { attachLayout, type ModelMemory } from '../io/read.js'
import { buildNetwork } from '../network/index.js'
import type { MpscnnNetwork } from '../base/manifest-types.js'
import { HASH_COST, workerShare, type WorkerJob, type WorkerReply, type WorkerRun } from './worker-jobs.js'

export interface PipelineOptions {
  packed: boolean
  align: number
  precision: Precision
  /** See Options.maxExpansion. */
  maxExpansion?: number
  /** The network description: off, or on with its input shape and outputs (plugin/options.ts). Default: on. */
  network?: { network: boolean; inputShape?: number[]; outputs?: string[] }
}

/** Where laid-out tensors go (sinks.ts). */
export interface TensorSink {
  /** Whether it keeps the views `put` hands it (else a view is reused by the next layer once `put` returns). */
  readonly keepsViews: boolean
  /** Before the first tensor. */
  open(plan: AssetPlan): void
  put(t: TensorPlacement, bytes: Uint8Array): void
  /** Where a second thread writes `t` (a sink without it takes no help from one). */
  pathOf?(t: TensorPlacement): string
  /** `t` was written by a second thread; `hash`: its content hash, when the sink names files by content. */
  putElsewhere?(t: TensorPlacement, hash?: string): void
  /** After the last tensor (or a failure: `ok` false). Returns final file names by plan name, where they differ. */
  close(ok: boolean): Map<string, string>
}

/** A thread that hashes the model, then lays out and writes the layers it is given (parallel/layout-helper.ts). */
export interface SecondThread {
  readonly sha256: Promise<string>
  run(run: WorkerRun): Promise<WorkerReply>
}

interface PipelineHooks {
  /** Layers laid out on this thread, before their views are reused (the CLI's --dat-dir). */
  onLayer?(i: number, out: OutputLayer): void
  /** Layers done so far, on either thread. */
  onProgress?(done: number): void
  /** MPSCNN_TRACE. */
  trace?(what: string): void
}

/** What the pipeline produced, besides what the sink holds: the manifest's data. */
interface PipelineResult {
  header: Omit<ManifestHeader, 'sha256'>
  /** With the sink's final file names. */
  plan: AssetPlan
  warnings: string[]
  network?: MpscnnNetwork
}

/** Creating a file costs about as much as laying out and writing this many bytes (docs/performance.md). */
const FILE_COST_BYTES = 350_000

/** A model parsed and planned, its layers not laid out yet. */
export class Pipeline {
  readonly model: ConvertedModel
  readonly plan: AssetPlan
  readonly network?: MpscnnNetwork
  /** Each layer's file-name stem (emit/assets.ts `layerFileStems`). */
  readonly stems: string[]
  private done = 0
  /** Layers the second thread has finished (runShared). */
  private doneElsewhere = () => 0

  constructor(
    private readonly m: ModelMemory,
    private readonly file: string,
    o: PipelineOptions,
    private readonly sink: TensorSink,
    private readonly hooks: PipelineHooks = {},
  ) {
    this.model = convertModel(m.bytes, { file, precision: o.precision, maxExpansion: o.maxExpansion, transient: !sink.keepsViews })
    // Before any layout: a fully connected layer after an NCHW flatten gets its inputs permuted.
    this.network = (o.network?.network ?? true) ? buildNetwork(this.model.graph, file, this.model.plans, o.network ?? {}) : undefined
    this.plan = planAssets(this.model.layers, { packed: o.packed, align: o.align, modelName: modelStem(file), precision: o.precision })
    this.stems = layerFileStems(this.model.layers.map((l) => l.name))
    hooks.trace?.('parse and plan')
    attachLayout(m, this.model.layoutRegion)
  }

  private layOutHere(i: number): void {
    const out = this.model.layOut(i)
    const p = this.plan.layers[i]
    this.sink.put(p.weights, bytesOf(out.weights))
    this.sink.put(p.bias, bytesOf(out.bias))
    this.hooks.onLayer?.(i, out)
    this.hooks.onProgress?.(++this.done + this.doneElsewhere())
  }

  /** Lays out every layer on this thread. */
  run(): PipelineResult {
    this.sink.open(this.plan)
    let ok = false
    try {
      for (let i = 0; i < this.plan.layers.length; i++) this.layOutHere(i)
      ok = true
    } finally {
      this.rename(this.sink.close(ok))
    }
    return this.result()
  }

  /**
   * Shares the layers with a second thread, which hashes the model and then lays out the
   * costliest layers whose weights sit in the shared model memory (the cost of a layer: bytes
   * to lay out and write, plus creating each file, which dominates for small layers). The
   * share is fixed before either starts (worker-jobs.ts `workerShare`) so that both finish
   * at about the same time; this thread lays out the rest.
   */
  async runShared(second: SecondThread): Promise<PipelineResult> {
    const { plan, model, sink } = this
    sink.open(plan)
    let ok = false
    try {
      const queue: WorkerJob[] = []
      const perFile = plan.packed ? 0 : FILE_COST_BYTES
      const cost = (i: number) => plan.layers[i].weights.byteLength + plan.layers[i].bias.byteLength + 2 * perFile
      if (sink.pathOf) {
        for (const i of plan.layers.map((_, i) => i).sort((x, y) => cost(y) - cost(x))) {
          const job = model.job(i)
          if (!job) continue
          const at = (t: TensorPlacement) => ({ path: sink.pathOf!(t), offset: t.offset })
          queue.push({ ...job, weightsAt: at(plan.layers[i].weights), biasAt: at(plan.layers[i].bias) })
        }
      }
      const jobs = queue.slice(0, workerShare(queue.map((j) => cost(j.layer)), this.m.bytes.length * HASH_COST))
      const done = new Int32Array(new SharedArrayBuffer(4))
      // An empty share too: the worker's reply says it is free for the next conversion.
      const remoteDone = second.run({ jobs, done, out: reserve(this.m.memory, model.layoutRegion), capacity: model.layoutRegion })
      this.doneElsewhere = () => Atomics.load(done, 0)
      this.hooks.trace?.('plan')
      const theirs = new Set(jobs.map((j) => j.layer))
      for (let i = 0; i < plan.layers.length; i++) if (!theirs.has(i)) this.layOutHere(i)
      this.hooks.trace?.(`this thread's ${plan.layers.length - theirs.size} layers`)
      const r = await remoteDone
      this.hooks.trace?.(`the worker's ${r.done.length} layers`)
      // The worker stops at a layer it cannot lay out, with that layer's error.
      if (r.error) throw deserializeError(r.error)
      const hashes = new Map(r.hashes.map(([i, w, b]) => [i, [w, b]]))
      for (const i of r.done) {
        const l: LayerPlacement = plan.layers[i]
        sink.putElsewhere!(l.weights, hashes.get(i)?.[0])
        sink.putElsewhere!(l.bias, hashes.get(i)?.[1])
      }
      ok = true
    } finally {
      this.rename(sink.close(ok))
    }
    return this.result()
  }

  private rename(names: Map<string, string>): void {
    for (const f of this.plan.files) f.name = names.get(f.name) ?? f.name
    for (const l of this.plan.layers) for (const t of [l.weights, l.bias]) t.file = names.get(t.file) ?? t.file
  }

  private result(): PipelineResult {
    return { header: { source: path.basename(this.file), precision: this.model.precision }, plan: this.plan, warnings: this.model.warnings, network: this.network }
  }
}

function bytesOf(a: Float32Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}
