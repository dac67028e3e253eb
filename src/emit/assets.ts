/**
 * Which `.dat` files a model becomes and where each tensor sits in them. The plan is
 * computed from layer shapes alone, before any weight is laid out, so that writers
 * can stream (pipeline/pipeline.ts hands each tensor to a sink at its place).
 */
import { createHash } from 'node:crypto'
import { basename } from 'node:path'
import type { Precision } from '../fold/convert.js'
import type { LayerInfo } from '../fold/plan-layers.js'
import type { ManifestHeader } from './manifest.js'
import type { MpscnnNetwork } from '../base/manifest-types.js'

/** `models/inception_v3.pb` -> `inception_v3`: the packed file's and the unhashed folder's name. */
export function modelStem(file: string): string {
  return basename(file).replace(/\.(pb|pbtxt)$/i, '')
}

/** Longest file-name stem a layer gets (file systems allow 255 bytes per name). */
const MAX_STEM = 200

/**
 * A name as a portable file-name stem: letters, digits, `_`, `-` and `.` (not first) stay,
 * so Apple's names are unchanged; every other character becomes `~` and the two hex digits
 * of each of its UTF-8 bytes (`a#b` -> `a~23b`, `a b` -> `a~20b`, NUL -> `~00`). A stem over
 * 200 characters is cut and ends with `-` and 8 hex digits of the name's sha256.
 */
export function safeStem(name: string): string {
  let s = ''
  for (const ch of name) {
    if (/[A-Za-z0-9_-]/.test(ch) || (ch === '.' && s !== '')) s += ch
    else for (const b of Buffer.from(ch, 'utf8')) s += `~${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  if (s.length <= MAX_STEM) return s
  const cut = s.slice(0, MAX_STEM - 9).replace(/~[0-9A-F]?$/, '')
  return `${cut}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`
}

/**
 * Each layer's file-name stem, in layer order: its `safeStem`, and `-2`, `-3`, ... after a
 * stem an earlier layer has, ignoring case (so that case-insensitive file systems and
 * bundlers keep every file).
 */
export function layerFileStems(names: readonly string[]): string[] {
  const taken = new Set<string>()
  return names.map((name) => {
    const stem = safeStem(name)
    let s = stem
    for (let n = 2; taken.has(s.toLowerCase()); n++) s = `${stem}-${n}`
    taken.add(s.toLowerCase())
    return s
  })
}

/** The packed file of a model: `<model>.dat`, its stem made portable. */
export function packedFileName(modelName: string): string {
  return `${safeStem(modelName)}.dat`
}

/** A file path (`/`-separated) as a URL path: each segment through encodeURIComponent. */
export function urlPath(file: string): string {
  return file.split('/').map(encodeURIComponent).join('/')
}

type Dtype = 'float32' | 'float16'

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

interface AssetFile {
  /**
   * Apple's names: `weights_<layer>.dat`, `bias_<layer>.dat`, or `<model>.dat` when packed,
   * with the layer's and the model's names made portable by `layerFileStems` / `safeStem`.
   */
  name: string
  size: number
}

export interface AssetPlan {
  packed: boolean
  files: AssetFile[]
  layers: LayerPlacement[]
}

interface AssetOptions {
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
    const name = packedFileName(o.modelName)
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
    const stems = layerFileStems(layers.map((l) => l.name))
    for (const [i, info] of layers.entries()) {
      const weights: TensorPlacement = { file: `weights_${stems[i]}.dat`, offset: 0, byteLength: count(info.weightShape) * wBytes, shape: info.weightShape, dtype: wDtype }
      const bias: TensorPlacement = { file: `bias_${stems[i]}.dat`, offset: 0, byteLength: info.outputChannels * 4, shape: [info.outputChannels], dtype: 'float32' }
      files.push({ name: weights.file, size: weights.byteLength }, { name: bias.file, size: bias.byteLength })
      placed.push({ info, weights, bias })
    }
  }
  return { packed: o.packed, files, layers: placed }
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
