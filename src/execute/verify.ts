/**
 * verify: the converted network (the executor, MPS semantics, the manifest alone) against the
 * original graph (the reference, TensorFlow.js's graph executor) on seeded inputs. Per output:
 * max abs and relative difference, top-1 and top-5 agreement. When it fails, every image of
 * the first failing sample is compared with the reference tensor of the same TF node, and the
 * first node (in encode order) whose image exceeds the tolerance is named with its MPS
 * parameters: a layer, an offset, a channel offset.
 */
import type { MpscnnManifest, MpscnnNetworkNode } from '../base/manifest-types.js'
import { MpscnnError } from '../base/errors.js'
import type { GraphDef } from '../graphdef/schema.js'
import type { Backend } from './backend.js'
import { createExecutor, type Executor, type ExecutorOptions } from './executor.js'
import { imageInput, type VerifyImage } from './image.js'
import { createReference, type Reference } from './reference.js'
import { loadManifest } from '../runtime.js'
import { attrString } from '../fold/attrs.js'
import { parseInput } from '../fold/graph.js'

/** Default tolerances on the relative difference (max abs difference / max |reference|, at least 1). */
export const TOLERANCE = { float32: 1e-4, float16: 2e-2 } as const

export interface VerifyOptions {
  /** Seeded random inputs. @default 8 */
  samples?: number
  /** @default 1 */
  seed?: number
  /** Pass when every output's relative difference is at most this. @default TOLERANCE[manifest.precision] */
  tolerance?: number
  /** @default 'cpu' */
  backend?: Backend
  /** Passed to the executor (tensor URL base, fetch). */
  load?: ExecutorOptions['load']
  /**
   * Pictures checked after the seeded inputs, one sample each: resized to the input (bilinear),
   * raw values (0..255) through the input's `preprocess` (src/execute/image.ts). @default []
   */
  images?: VerifyImage[]
}

export interface SampleReport {
  /** `seed S #i` for a seeded input, the picture's name otherwise. */
  input: string
  /** The largest relative difference over the outputs. */
  maxRel: number
  /** Whether top-1 agrees on every output. */
  top1: boolean
}

export interface OutputReport {
  image: string
  tfNode: string
  maxAbs: number
  /** maxAbs / max(1, max |reference|). */
  maxRel: number
  /** Samples whose top-1 class agrees. */
  top1: number
  /** Samples whose top-5 classes agree as sets. */
  top5: number
}

export interface VerifyReport {
  ok: boolean
  samples: number
  tolerance: number
  precision: 'float32' | 'float16'
  outputs: OutputReport[]
  /** Every sample (seeded inputs, then pictures), in order. */
  inputs: SampleReport[]
  /** When it fails: the first node whose image exceeds the tolerance, with its MPS parameters. */
  firstDivergence?: { node: string; image: string; maxRel: number; parameters: Partial<MpscnnNetworkNode> }
}

/** A seeded PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const topK = (a: Float32Array, k: number): number[] => [...a.keys()].sort((i, j) => a[j] - a[i] || i - j).slice(0, k)

function diff(got: Float32Array, want: Float32Array): { maxAbs: number; maxRel: number; worst: number } {
  let maxAbs = 0
  let scale = 1
  let worst = 0
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i])
    if (!(d <= maxAbs)) [maxAbs, worst] = [Number.isNaN(d) ? Infinity : d, i]
    scale = Math.max(scale, Math.abs(want[i]))
  }
  return { maxAbs, maxRel: maxAbs / scale, worst }
}

/** A reference tensor in NHWC order: NCHW ones `[1, C, H, W]` of an `H x W x C` image transposed. */
function asNhwc(data: Float32Array, shape: number[], img: { width: number; height: number; featureChannels: number }): Float32Array | null {
  const { width: w, height: h, featureChannels: c } = img
  if (data.length !== w * h * c) return null
  if (shape.length === 4 && shape[1] === c && shape[2] === h && shape[3] === w && shape[3] !== c) {
    const out = new Float32Array(data.length)
    for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(y * w + x) * c + ch] = data[(ch * h + y) * w + x]
    return out
  }
  return data
}

/**
 * How the reference is fed the network input: the graph's own layout. The network reads the
 * input as NCHW when a node reading it has data_format NCHW (src/network/builder.ts); the
 * executor always takes NHWC, so the same values go to the reference transposed to [1, C, H, W].
 */
function referenceFeed(graphDef: GraphDef, tfNode: string, [, h, w, c]: readonly number[]): (x: Float32Array) => { x: Float32Array; shape: number[] } {
  const reads = (i: string) => {
    const r = parseInput(i)
    return r !== null && r.name === tfNode && r.output === 0
  }
  const nchw = graphDef.node.some((n) => n.input.some(reads) && attrString(n, 'data_format', 'NHWC') === 'NCHW')
  if (!nchw) return (x) => ({ x, shape: [1, h, w, c] })
  return (x) => {
    const out = new Float32Array(x.length)
    for (let y = 0; y < h; y++) for (let i = 0; i < w; i++) for (let ch = 0; ch < c; ch++) out[(ch * h + y) * w + i] = x[(y * w + i) * c + ch]
    return { x: out, shape: [1, c, h, w] }
  }
}

export async function verify(graphDef: GraphDef, manifest: MpscnnManifest, options: VerifyOptions = {}): Promise<VerifyReport> {
  const file = manifest.source ?? 'model'
  const net = manifest.network
  if (!net) throw new MpscnnError('BAD_MANIFEST', file, 'the manifest has no network description', { hint: 'Convert the model again (without --layers-only / network: false)' })
  const samples = options.samples ?? 8
  if (!Number.isInteger(samples) || samples < 1) throw new TypeError(`unplugin-mpscnn: option samples must be a positive integer, got ${JSON.stringify(samples)}`)
  const tolerance = options.tolerance ?? TOLERANCE[manifest.precision]
  if (!(tolerance >= 0)) throw new TypeError(`unplugin-mpscnn: option tolerance must be a number >= 0, got ${JSON.stringify(tolerance)}`)
  const backend = options.backend ?? 'cpu'
  const images = options.images ?? []
  if (!Array.isArray(images)) throw new TypeError(`unplugin-mpscnn: option images must be an array of { name, width, height, channels, data }, got ${typeof images}`)
  const input = net.inputs[0]
  const { width: iw, height: ih, featureChannels: ic } = net.images[input.image]
  const raws = images.map((img) => ({ name: img.name, raw: imageInput(img, ih, iw, ic) }))
  const ex = await createExecutor(manifest, { backend, load: options.load })
  let ref: Reference
  try {
    ref = await createReference(graphDef, { input: input.tfNode, outputs: net.outputs.map((o) => o.tfNode), backend, file })
  } catch (e) {
    ex.dispose()
    throw e
  }
  try {
    const outputs: OutputReport[] = net.outputs.map((o) => ({ image: o.image, tfNode: o.tfNode, maxAbs: 0, maxRel: 0, top1: 0, top5: 0 }))
    const seed = options.seed ?? 1
    const rand = prng(seed)
    const size = ex.inputShape.reduce((a, b) => a * b, 1)
    const c = ex.inputShape[3]
    const p = input.preprocess
    const pre = (v: number, i: number) => (p ? v * p.scale[i % c] + p.bias[i % c] : v)
    const feed = referenceFeed(graphDef, input.tfNode, ex.inputShape)
    const inputs: SampleReport[] = []
    let failing: Float32Array | undefined
    for (let s = 0; s < samples + raws.length; s++) {
      const picture = raws[s - samples]
      // A picture: the executor applies preprocess itself, the reference is fed after it.
      // Seeded: with preprocessing, raw pixels in [0, 255] through it; otherwise values in [-1, 1].
      const x = picture ? picture.raw.map(pre) : Float32Array.from({ length: size }, (_, i) => (p ? pre(rand() * 255, i) : rand() * 2 - 1))
      const got = picture ? await ex.run(picture.raw, { preprocess: true }) : await ex.run(x)
      const fed = feed(x)
      const want = await ref.run(fed.x, fed.shape)
      const sample: SampleReport = { input: picture ? picture.name : `seed ${seed} #${s}`, maxRel: 0, top1: true }
      inputs.push(sample)
      let bad = false
      net.outputs.forEach((o, k) => {
        const g = got.get(o.image)!.data
        const w = want.get(o.tfNode)!.data
        const d = g.length === w.length ? diff(g, w) : { maxAbs: Infinity, maxRel: Infinity }
        const r = outputs[k]
        r.maxAbs = Math.max(r.maxAbs, d.maxAbs)
        r.maxRel = Math.max(r.maxRel, d.maxRel)
        sample.maxRel = Math.max(sample.maxRel, d.maxRel)
        if (g.length === w.length && topK(g, 1)[0] === topK(w, 1)[0]) r.top1++
        else sample.top1 = false
        if (g.length === w.length && topK(g, 5).sort().join() === topK(w, 5).sort().join()) r.top5++
        if (!(d.maxRel <= tolerance)) bad = true
      })
      if (bad) failing ??= x
    }
    const report: VerifyReport = { ok: failing === undefined, samples: samples + raws.length, tolerance, precision: manifest.precision, outputs, inputs }
    if (failing) report.firstDivergence = await firstDivergence(manifest, failing, feed(failing), tolerance, ex, ref)
    return report
  } finally {
    ex.dispose()
    ref.dispose()
  }
}

/** {@link verify} on a conversion folder: its `manifest.json` (a path or URL), weights next to it. */
export async function verifyManifestFile(graphDef: GraphDef, manifestJson: string | URL, options: VerifyOptions = {}): Promise<VerifyReport> {
  return verify(graphDef, await loadManifest(manifestJson), options)
}

/** Every image of one sample against the reference tensor of the same TF node: the first node whose image diverges. */
async function firstDivergence(
  manifest: MpscnnManifest,
  x: Float32Array,
  fed: { x: Float32Array; shape: number[] },
  tolerance: number,
  ex: Executor,
  ref: Reference,
): Promise<VerifyReport['firstDivergence']> {
  const net = manifest.network!
  const images = await ex.runWithImages(x)
  const all = await ref.runAll(fed.x, fed.shape)
  // An image is complete after the last node writing it; check images in that order.
  const lastWriter = new Map<string, number>()
  net.nodes.forEach((n, i) => lastWriter.set(n.destination, i))
  const order = [...lastWriter].sort((a, b) => a[1] - b[1])
  for (const [image, i] of order) {
    const want = all.get(image)
    const got = images.get(image)
    if (!want || !got) continue
    const w = asNhwc(want.data, want.shape, net.images[image])
    if (!w) continue
    const d = diff(got.data, w)
    if (d.maxRel <= tolerance) continue
    // The writer of the worst channel: a producer writing at a channel offset, or the last writer.
    const ch = d.worst % net.images[image].featureChannels
    const writers = net.nodes.filter((n) => n.destination === image)
    const node = writers.find((n) => ch >= n.destinationFeatureChannelOffset && ch < n.destinationFeatureChannelOffset + (n.outputFeatureChannels ?? channelsOf(net, n))) ?? net.nodes[i]
    const { kind, name, source, offset, edgeMode, destinationFeatureChannelOffset, neuron, layer, kernel, stride } = node
    return { node: name, image, maxRel: d.maxRel, parameters: { kind, source, offset, edgeMode, destinationFeatureChannelOffset, neuron, layer, kernel, stride } }
  }
  return undefined
}

/** The channels a node writes: its source's for per-pixel kinds. */
function channelsOf(net: NonNullable<MpscnnManifest['network']>, n: MpscnnNetworkNode): number {
  const src = Array.isArray(n.source) ? n.source[0] : n.source
  return net.images[src]?.featureChannels ?? 0
}
