/**
 * The executor: runs a manifest's network (`manifest.network`) with MPS semantics, on
 * TensorFlow.js (docs/executor.md). It reads only the manifest and the weights as stored,
 * never the GraphDef, so that what it computes is what the MPS encodes the manifest describes
 * compute: `offset`, `edgeMode`, `destinationFeatureChannelOffset`, `neuron`, `kernel`, `stride`
 * as Apple's headers define them, not TF's padding.
 *
 *   const ex = await createExecutor(await loadManifest('Inception/manifest.json'), { backend: 'wasm' })
 *   const out = await ex.run(imageNHWC)              // Map: output image name -> { data, shape }
 *   const all = await ex.runWithImages(imageNHWC)    // every image the network computes
 *
 * Windows (MPSCNNKernel.h): destination pixel x of a kernel with window kEff (dilated), stride
 * s and offset o reads source pixels `o - floor(kEff / 2) + s * x ...` (kEff of them). The
 * source is padded (zeros for edgeMode zero, edge replication for clamp) and sliced so that a
 * VALID tfjs op with stride s reads exactly those windows. Average pooling with clamp shrinks
 * the window to the image: a sum over the zero-padded source divided by the count of image pixels.
 */
import type * as Tfc from '@tensorflow/tfjs-core'
import { MpscnnError } from '../base/errors.js'
import type { MpscnnLayer, MpscnnManifest, MpscnnNetworkNode, MpscnnNeuron } from '../base/manifest-types.js'
import { loadBias, loadWeights, type LoadOptions } from '../runtime.js'
import { loadCore, useBackend, type Backend, type WasmPaths } from './backend.js'
import { Images } from './images.js'
import { fusedActivation, neuron, window, zeroInserted, zeroWindow } from './mps.js'

export interface ExecutorOptions {
  /** tfjs backend. @default 'cpu' */
  backend?: Backend
  /** Where relative tensor URLs resolve (runtime.ts's LoadOptions.base), and the fetch to use. */
  load?: LoadOptions
  /**
   * Browser only: where tfjs-backend-wasm's `.wasm` files are, as the folder holding them
   * (a URL prefix ending in `/`) or as one URL per file name (`{ 'tfjs-backend-wasm.wasm': url,
   * 'tfjs-backend-wasm-simd.wasm': url, ... }`, e.g. from a bundler's `?url` imports). Node
   * uses the package's dist folder.
   */
  wasmPaths?: WasmPaths
}

export interface RunOptions {
  /** The input is the raw image (before `inputs[0].preprocess`): apply `x * scale[c] + bias[c]` first. @default false */
  preprocess?: boolean
  /**
   * Called after each node with its name and the milliseconds it took (`performance.now()`
   * around its encode, the data it wrote awaited), in encode order. Waiting for the data makes
   * the time the node's own on any backend, at the cost of one sync per node: leave it out when
   * only the outputs matter.
   */
  onNode?: (name: string, ms: number) => void
}

export interface ExecutorTensor {
  data: Float32Array
  /** NHWC: `[1, height, width, featureChannels]`. */
  shape: number[]
}

export interface Executor {
  readonly backend: Backend
  /** The input image's shape, `[1, height, width, featureChannels]`. */
  readonly inputShape: readonly number[]
  /** Runs the network on one NHWC float input; the outputs by output image name. */
  run(input: Float32Array, options?: RunOptions): Promise<Map<string, ExecutorTensor>>
  /** Runs the network; every image it computes (the input included), by image name. */
  runWithImages(input: Float32Array, options?: RunOptions): Promise<Map<string, ExecutorTensor>>
  /** Frees the weights. */
  dispose(): void
}

type Tensor4 = Tfc.Tensor4D

/** A layer's weights as tfjs tensors: `filter` in tfjs's layout, `bias` [out]. */
interface Weights {
  filter: Tfc.Tensor4D
  bias: Tfc.Tensor1D
}

const KNOWN = new Set<MpscnnNetworkNode['kind']>([
  'convolution', 'depthwiseConvolution', 'fullyConnected', 'convolutionTranspose', 'poolingMax', 'poolingAverage', 'neuron', 'add', 'subtract', 'multiply',
  'softMax', 'logSoftMax', 'reshape', 'upsampling', 'batchNormalization', 'concatenation',
])

const NEURONS = new Set<MpscnnNeuron['type']>(['relu', 'relu6', 'linear', 'sigmoid', 'tanh', 'elu', 'leakyRelu', 'softPlus', 'softSign', 'absolute'])

export async function createExecutor(model: MpscnnManifest, options: ExecutorOptions = {}): Promise<Executor> {
  const file = typeof model?.source === 'string' ? model.source : 'model'
  const backend = options.backend ?? 'cpu'
  if (backend !== 'cpu' && backend !== 'wasm') throw new TypeError(`unplugin-mpscnn: option backend must be 'cpu' or 'wasm', got ${JSON.stringify(backend)}`)
  checkWasmPaths(options.wasmPaths)
  const net = model?.network
  const bad = (problem: string, node?: string, hint = 'Convert the model again (without --layers-only / network: false)'): MpscnnError =>
    new MpscnnError('BAD_MANIFEST', file, problem, { node, hint })
  if (!net || !Array.isArray(net.nodes) || !net.images || !Array.isArray(net.inputs) || net.inputs.length !== 1) {
    throw bad(net ? `the network has ${net.inputs?.length ?? 0} inputs; the executor runs networks with one` : 'the manifest has no network description')
  }
  for (const n of net.nodes) {
    if (!KNOWN.has(n.kind)) throw bad(`the executor does not know the node kind ${JSON.stringify(n.kind)}`, n.name, 'Update unplugin-mpscnn')
    if (n.neuron && !NEURONS.has(n.neuron.type)) throw bad(`the executor does not know the neuron ${JSON.stringify(n.neuron.type)}`, n.name, 'Update unplugin-mpscnn')
  }
  const input = net.inputs[0]
  const inImage = net.images[input.image]
  if (!inImage) throw bad(`the input image ${JSON.stringify(input.image)} is not in network.images`)
  const inputShape = [1, inImage.height, inImage.width, inImage.featureChannels]

  const tf = await loadCore(file)
  await useBackend(tf, backend, file, options.wasmPaths)

  // Weights, once: as stored (float16 decoded by the runtime), in tfjs's layouts.
  const layers = new Map(model.layers.map((l) => [l.name, l]))
  const weights = new Map<string, Weights>()
  const disposeAll = () => {
    for (const w of weights.values()) tf.dispose([w.filter, w.bias])
    weights.clear()
  }
  // The files stay only while the weights are uploaded (unless the caller keeps a cache): a
  // process that verifies build after build must not keep every build's weights, nor read a
  // rewritten file's old bytes.
  const load: LoadOptions = { ...options.load, cache: options.load?.cache ?? new Map() }
  try {
    for (const n of net.nodes) {
      if (n.layer === undefined || weights.has(n.name)) continue
      const layer = layers.get(n.layer)
      if (!layer) throw bad(`its layer ${JSON.stringify(n.layer)} is not in the manifest's layers`, n.name)
      weights.set(n.name, await layerWeights(tf, n, layer, load, bad))
    }
  } catch (e) {
    disposeAll()
    throw e
  }

  // The index of the last node that reads or writes each image (outputs are kept to the end).
  const lastUse = new Map<number, string[]>()
  {
    const last = new Map<string, number>()
    net.nodes.forEach((n, i) => {
      for (const name of [n.source, n.destination].flat()) last.set(name, i)
    })
    for (const o of net.outputs) last.delete(o.image)
    for (const [name, i] of last) lastUse.set(i, [...(lastUse.get(i) ?? []), name])
  }

  const execute = async (x: Float32Array, run: RunOptions, all: boolean): Promise<Map<string, ExecutorTensor>> => {
    const size = inputShape.reduce((a, b) => a * b, 1)
    if (run.onNode !== undefined && typeof run.onNode !== 'function') throw new TypeError(`unplugin-mpscnn: run option onNode must be a function, got ${typeof run.onNode}`)
    if (!(x instanceof Float32Array) || x.length !== size) {
      throw new MpscnnError('SHAPE_MISMATCH', file, `the input has ${(x as { length?: number })?.length} values but the network input ${JSON.stringify(input.image)} is [${inputShape.join(', ')}] (${size} values, a Float32Array in NHWC order)`, { node: input.tfNode })
    }
    await useBackend(tf, backend, file, options.wasmPaths)
    const images = new Images(tf, net.images)
    try {
      let t: Tensor4 = tf.tensor4d(x, inputShape as [number, number, number, number])
      if (run.preprocess) {
        const p = input.preprocess
        if (p) {
          const pre = tf.tidy(() => tf.add(tf.mul(t, tf.tensor1d(p.scale)), tf.tensor1d(p.bias)) as Tensor4)
          t.dispose()
          t = pre
        }
      }
      images.write(input.image, t, 0)
      const now = (): number => globalThis.performance.now()
      for (const [i, n] of net.nodes.entries()) {
        const start = run.onNode ? now() : 0
        const out = tf.tidy(() => encode(tf, n, images, weights.get(n.name), bad))
        if (n.kind !== 'concatenation') images.write(n.destination, out as Tensor4, n.destinationFeatureChannelOffset ?? 0) // a concatenation wrote its parts
        if (run.onNode) {
          await images.read(n.destination).data()
          run.onNode(n.name, now() - start)
        }
        // Bounded memory: without runWithImages, an image goes once nothing later uses it.
        if (!all) for (const name of lastUse.get(i) ?? []) images.drop(name)
      }
      const names = all ? images.names() : net.outputs.map((o) => o.image)
      const result = new Map<string, ExecutorTensor>()
      for (const name of names) {
        const img = images.read(name)
        result.set(name, { data: Float32Array.from(await img.data()), shape: img.shape.slice() })
      }
      return result
    } finally {
      images.dispose()
    }
  }

  return {
    backend,
    inputShape,
    run: (x, o = {}) => execute(x, o, false),
    runWithImages: (x, o = {}) => execute(x, o, true),
    dispose: disposeAll,
  }
}

/** TypeError unless `wasmPaths` is absent, a string, or an object of strings. */
function checkWasmPaths(p: unknown): void {
  if (p === undefined || typeof p === 'string') return
  if (p !== null && typeof p === 'object' && !Array.isArray(p) && Object.values(p).every((v) => typeof v === 'string')) return
  throw new TypeError(`unplugin-mpscnn: option wasmPaths must be a folder URL or an object of file name -> URL strings, got ${JSON.stringify(p)}`)
}

/** A weighted node's filter in tfjs's layout and its bias. */
async function layerWeights(tf: typeof Tfc, n: MpscnnNetworkNode, layer: MpscnnLayer, load: LoadOptions | undefined, bad: (p: string, node?: string) => MpscnnError): Promise<Weights> {
  const w = await loadWeights(layer, load)
  const b = await loadBias(layer, load)
  const out = layer.outputChannels
  if (n.kind === 'depthwiseConvolution') {
    // [channels][kH][kW] -> [kH, kW, channels, 1]
    const [c, kh, kw] = layer.weights.shape
    if (c * kh * kw !== w.length) throw bad(`its weights hold ${w.length} values, not ${c} x ${kh} x ${kw}`, n.name)
    return tf.tidy(() => ({ filter: tf.expandDims(tf.transpose(tf.tensor3d(w, [c, kh, kw]), [1, 2, 0]), 3) as Tfc.Tensor4D, bias: tf.tensor1d(Float32Array.from(b)) }))
  }
  // convolution [out][kH][kW][in / groups]; fullyConnected [out][H][W][C] over the kernel = the image it reads.
  const kh = n.kind === 'fullyConnected' ? n.kernel?.height ?? 1 : layer.kernelHeight
  const kw = n.kind === 'fullyConnected' ? n.kernel?.width ?? 1 : layer.kernelWidth
  const cin = w.length / (out * kh * kw)
  if (!Number.isInteger(cin) || b.length !== out) throw bad(`its weights hold ${w.length} values and its bias ${b.length}, which do not fit ${out} outputs and a ${kw} x ${kh} kernel`, n.name)
  return tf.tidy(() => ({ filter: tf.transpose(tf.tensor4d(w, [out, kh, kw, cin]), [1, 2, 3, 0]) as Tfc.Tensor4D, bias: tf.tensor1d(Float32Array.from(b)) }))
}

/** One encode: its result (written at its destinationFeatureChannelOffset by the caller). */
function encode(tf: typeof Tfc, n: MpscnnNetworkNode, images: Images, w: Weights | undefined, bad: (p: string, node?: string) => MpscnnError): Tfc.Tensor | undefined {
  const src = (k = 0): Tensor4 => images.read(Array.isArray(n.source) ? n.source[k] : n.source)
  const dest = images.shapes[n.destination]
  if (!dest) throw bad(`its destination ${JSON.stringify(n.destination)} is not in network.images`, n.name)
  const kernelNode = (): Tensor4 => {
    const k = n.kernel ?? { width: 1, height: 1 }
    const s = n.stride ?? { x: 1, y: 1 }
    const d = n.dilation ?? { x: 1, y: 1 }
    return window(tf, src(), n, { k, s, d, dest }, n.edgeMode === 'clamp' ? 'clamp' : 'zero')
  }
  switch (n.kind) {
    case 'convolution':
    case 'fullyConnected':
    case 'depthwiseConvolution': {
      const k = n.kernel ?? { width: 1, height: 1 }
      const s = n.stride ?? { x: 1, y: 1 }
      const d = n.dilation ?? { x: 1, y: 1 }
      const groups = n.groups ?? 1
      // tfjs refuses a stride and a dilation both above 1: the windows at stride 1 over the
      // same region, then every s-th of them (per pixel, the bias and neuron commute with that).
      const split = (s.x > 1 || s.y > 1) && (d.x > 1 || d.y > 1)
      const strides: [number, number] = split ? [1, 1] : [s.y, s.x]
      const dilations: [number, number] = [d.y, d.x]
      const every = (y: Tfc.Tensor4D): Tfc.Tensor4D => (split ? (tf.stridedSlice(y, [0, 0, 0, 0], y.shape, [1, s.y, s.x, 1]) as Tfc.Tensor4D) : y)
      // Zero edge mode: tfjs's explicit padding pads the region with zeros inside the op,
      // and the bias and (where tfjs has it) the neuron run fused into the same op.
      const zero = n.edgeMode !== 'clamp'
      const { x, pad } = zero ? zeroWindow(tf, src(), n, { k, s, d, dest }) : { x: kernelNode(), pad: 'valid' as const }
      const biased = (y: Tfc.Tensor) => neuron(tf, tf.add(every(y as Tfc.Tensor4D), w!.bias), n.neuron)
      // tf.fused.depthwiseConv2d takes no explicit padding.
      if (n.kind === 'depthwiseConvolution') return biased(tf.depthwiseConv2d(x, w!.filter, strides, pad, 'NHWC', dilations))
      if (groups > 1) {
        const cin = x.shape[3] / groups
        const cout = w!.filter.shape[3] / groups
        const parts = []
        for (let g = 0; g < groups; g++) {
          const xs = tf.slice(x, [0, 0, 0, g * cin], [-1, -1, -1, cin])
          const fs = tf.slice(w!.filter, [0, 0, 0, g * cout], [-1, -1, -1, cout])
          parts.push(tf.conv2d(xs, fs, strides, pad, 'NHWC', dilations))
        }
        return biased(tf.concat(parts, 3))
      }
      const activation = fusedActivation(n.neuron)
      const y = every(tf.fused.conv2d({ x, filter: w!.filter, strides, pad, dataFormat: 'NHWC', dilations, bias: w!.bias, activation: activation ?? 'linear' }))
      return activation ? y : neuron(tf, y, n.neuron)
    }
    case 'convolutionTranspose': {
      // Stride 1 over the intermediate image, pixel 0's window centred at kernelOffset + offset * stride (docs/network.md).
      const [s, c, one] = [n.stride ?? { x: 1, y: 1 }, n.kernelOffset ?? { x: 0, y: 0 }, { x: 1, y: 1 }]
      const at = { ...n, offset: { x: c.x + n.offset.x * s.x, y: c.y + n.offset.y * s.y } }
      const { x, pad } = zeroWindow(tf, zeroInserted(tf, src(), s), at, { k: n.kernel!, s: one, d: one, dest })
      return neuron(tf, tf.add(tf.conv2d(x, w!.filter, 1, pad), w!.bias), n.neuron)
    }
    case 'poolingMax': {
      const k = n.kernel!
      const s = n.stride ?? { x: 1, y: 1 }
      return tf.maxPool(kernelNode(), [k.height, k.width], [s.y, s.x], 'valid')
    }
    case 'poolingAverage': {
      const k = n.kernel!
      const s = n.stride ?? { x: 1, y: 1 }
      const one = { x: 1, y: 1 }
      // Zero edge mode: padding counts (divided by the whole window). Clamp: "shrink-to-edge"
      // (MPSCNNKernel.h), the sum over the window's image pixels divided by their count, which
      // is what tfjs's avgPool computes over its own (explicit) padding.
      const w = { k, s, d: one, dest }
      if (n.edgeMode !== 'clamp') return tf.avgPool(window(tf, src(), n, w, 'zero'), [k.height, k.width], [s.y, s.x], 'valid')
      const { x, pad } = zeroWindow(tf, src(), n, w)
      return tf.avgPool(x, [k.height, k.width], [s.y, s.x], pad)
    }
    case 'neuron':
      return neuron(tf, src(), n.neuron)
    case 'add':
      return tf.add(src(0), src(1))
    case 'subtract':
      return tf.sub(src(0), src(1))
    case 'multiply':
      return tf.mul(src(0), src(1))
    case 'softMax':
      return tf.softmax(src()) as Tensor4
    case 'logSoftMax':
      return tf.logSoftmax(src()) as Tensor4
    case 'reshape':
      // MPSNNReshape: H, W, C order.
      return tf.reshape(src(), [1, dest.height, dest.width, dest.featureChannels])
    case 'upsampling': {
      const size: [number, number] = [dest.height, dest.width]
      return n.mode === 'bilinear' ? tf.image.resizeBilinear(src(), size, n.alignCorners ?? false) : tf.image.resizeNearestNeighbor(src(), size, n.alignCorners ?? false)
    }
    case 'batchNormalization':
      return tf.add(tf.mul(src(), tf.tensor1d(n.scale!)), tf.tensor1d(n.bias!))
    case 'concatenation': {
      const sources = Array.isArray(n.source) ? n.source : [n.source]
      const at = n.sourceFeatureChannelOffsets ?? []
      sources.forEach((_, k) => images.write(n.destination, tf.keep(tf.clone(src(k))), (n.destinationFeatureChannelOffset ?? 0) + (at[k] ?? 0)))
      return undefined
    }
    default:
      throw bad(`the executor does not know the node kind ${JSON.stringify(n.kind)}`, n.name)
  }
}
