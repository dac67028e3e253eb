/**
 * Which `.dat` files a model becomes and where each tensor sits in them. The plan is
 * computed from layer shapes alone, before any weight is laid out, so that writers
 * can stream: `chunks()` yields each tensor's bytes with its file and offset.
 */
import { basename } from 'node:path'
import type { ConvertedModel, OutputLayer, Precision } from '../fold/convert.js'
import type { LayerInfo } from '../fold/layers.js'
import type { ManifestHeader } from './manifest.js'
import type { MpscnnNetwork } from '../base/manifest-types.js'

/** `models/inception_v3.pb` -> `inception_v3`: the packed file's and the unhashed folder's name. */
export function modelStem(file: string): string {
  return basename(file).replace(/\.(pb|pbtxt)$/i, '')
}

export type Dtype = 'float32' | 'float16'

/** Where one tensor lives: a logical file name (not yet a URL) and a byte range. */
export interface TensorPlacement {
  file: string
  offset: number
  byteLength: number
  shape: number[]
  dtype: Dtype
}

export interface LayerPlacement {
  info: LayerInfo
  weights: TensorPlacement
  bias: TensorPlacement
}

export interface AssetFile {
  /** Apple's names: `weights_<layer>.dat`, `bias_<layer>.dat`, or `<model>.dat` when packed. */
  name: string
  size: number
}

export interface AssetPlan {
  packed: boolean
  files: AssetFile[]
  layers: LayerPlacement[]
}

export interface AssetOptions {
  /** One `<model>.dat` holding every tensor instead of two files per layer. */
  packed: boolean
  /** Alignment of each tensor inside the packed file, in bytes. */
  align: number
  /** The packed file's stem. */
  modelName: string
  precision: Precision
}

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

export function planAssets(layers: LayerInfo[], o: AssetOptions): AssetPlan {
  const wBytes = o.precision === 'float16' ? 2 : 4
  const wDtype: Dtype = o.precision
  const files: AssetFile[] = []
  const placed: LayerPlacement[] = []
  if (o.packed) {
    const name = `${o.modelName}.dat`
    let offset = 0
    const place = (shape: number[], bytesPer: number, dtype: Dtype): TensorPlacement => {
      offset = Math.ceil(offset / o.align) * o.align
      const t = { file: name, offset, byteLength: count(shape) * bytesPer, shape, dtype }
      offset += t.byteLength
      return t
    }
    for (const info of layers) {
      const weights = place(info.weightShape, wBytes, wDtype)
      const bias = place([info.outputChannels], 4, 'float32')
      placed.push({ info, weights, bias })
    }
    files.push({ name, size: offset })
  } else {
    for (const info of layers) {
      const weights: TensorPlacement = { file: `weights_${info.name}.dat`, offset: 0, byteLength: count(info.weightShape) * wBytes, shape: info.weightShape, dtype: wDtype }
      const bias: TensorPlacement = { file: `bias_${info.name}.dat`, offset: 0, byteLength: info.outputChannels * 4, shape: [info.outputChannels], dtype: 'float32' }
      files.push({ name: weights.file, size: weights.byteLength }, { name: bias.file, size: bias.byteLength })
      placed.push({ info, weights, bias })
    }
  }
  return { packed: o.packed, files, layers: placed }
}

export interface Chunk {
  file: string
  offset: number
  bytes: Uint8Array
}

function bytesOf(a: Float32Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}

/** Lays the model out layer by layer, yielding each tensor's bytes at its place. */
export function* chunks(model: ConvertedModel, plan: AssetPlan): Generator<Chunk> {
  let i = 0
  for (const out of model.outputs() as Iterable<OutputLayer>) {
    const p = plan.layers[i++]
    yield { file: p.weights.file, offset: p.weights.offset, bytes: bytesOf(out.weights) }
    yield { file: p.bias.file, offset: p.bias.offset, bytes: bytesOf(out.bias) }
  }
}

/** Every file of the plan, in memory (what a bundler's emitFile needs). */
export function buildFiles(model: ConvertedModel, plan: AssetPlan): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>()
  if (plan.packed) for (const f of plan.files) files.set(f.name, new Uint8Array(f.size))
  for (const c of chunks(model, plan)) {
    if (plan.packed) files.get(c.file)!.set(c.bytes, c.offset)
    else files.set(c.file, c.bytes)
  }
  return files
}

/** A converted model in memory: what the bundler integrations emit and the cache stores. */
export interface ConvertedAssets {
  header: ManifestHeader
  plan: AssetPlan
  /** File name -> bytes. */
  files: Map<string, Uint8Array>
  warnings: string[]
  /** The network description (absent with `network: false`). */
  network?: MpscnnNetwork
}
