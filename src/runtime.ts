/**
 * `unplugin-mpscnn/runtime`: the manifest's types and small helpers to load a layer's
 * tensors, in the browser (fetch) and in Node (fetch for http(s), the file system for
 * paths and file: URLs). A packed model's file is fetched once and shared by every view.
 */
import { halfToFloat } from './base/half.js'

import type { MpscnnLayer, MpscnnManifest, MpscnnTensor } from './base/manifest-types.js'

export type {
  MpscnnImage,
  MpscnnLayer,
  MpscnnLayerKind,
  MpscnnManifest,
  MpscnnNetwork,
  MpscnnNetworkInput,
  MpscnnNetworkNode,
  MpscnnNeuron,
  MpscnnNodeKind,
  MpscnnTensor,
} from './base/manifest-types.js'

/** Finds a layer by name; with a generated `.pb.d.ts` a misspelt name fails type checking. */
export function getLayer<Name extends string>(manifest: MpscnnManifest<Name>, name: NoInfer<Name>): MpscnnLayer<Name> {
  const layer = manifest.layers.find((l) => l.name === name)
  if (!layer) throw new Error(`unplugin-mpscnn: no layer named ${JSON.stringify(name)} in ${manifest.source}`)
  return layer
}

/** A tensor of the CLI's `manifest.json`: `file`, a name in its output folder, in place of `url`. */
export interface MpscnnFileTensor extends Omit<MpscnnTensor, 'url'> {
  file: string
}

/** A layer of the CLI's `manifest.json`, as `JSON.parse` gives it. */
export interface MpscnnFileLayer extends Omit<MpscnnLayer, 'weights' | 'bias'> {
  weights: MpscnnFileTensor
  bias: MpscnnFileTensor
}

export interface LoadOptions {
  /**
   * Base that relative URLs resolve against. Default: the page's URL in a browser, the
   * working directory in Node. A `file` of the CLI's manifest.json resolves against it as
   * a folder: `{ base: 'Inception' }` reads `Inception/weights_conv.dat`.
   */
  base?: string | URL
  /** The fetch to use. Default: `globalThis.fetch`. */
  fetch?: typeof fetch
  /**
   * Where fetched files are kept, by URL, so that the layers of one packed file fetch it once.
   * Default: one map for the whole page or process, which keeps every file it ever loaded:
   * give a map of your own to let them go with it (the executor does, once its weights are
   * uploaded).
   */
  cache?: Map<string, Promise<ArrayBuffer>>
}

const files = new Map<string, Promise<ArrayBuffer>>()

function resolveUrl(url: string, base: string | URL | undefined): URL {
  if (base !== undefined) return new URL(url, base)
  const loc = (globalThis as { location?: { href: string } }).location
  if (loc) return new URL(url, loc.href)
  if (/^[a-z][a-z0-9+.-]*:/i.test(url)) return new URL(url)
  // Node: a plain path, relative to the working directory.
  const cwd = (globalThis as { process?: { cwd(): string } }).process?.cwd() ?? '/'
  return new URL(url, `file://${cwd.replace(/\\/g, '/').replace(/\/?$/, '/')}`)
}

async function readFileUrl(url: URL): Promise<ArrayBuffer> {
  const spec = 'node:fs/promises'
  const fs = (await import(/* webpackIgnore: true */ /* @vite-ignore */ spec)) as typeof import('node:fs/promises')
  const buf = await fs.readFile(url)
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer
}

function cacheOf(options: LoadOptions): Map<string, Promise<ArrayBuffer>> {
  const c = options.cache ?? files
  if (!(c instanceof Map)) throw new TypeError(`unplugin-mpscnn: option cache must be a Map, got ${typeof c}`)
  return c
}

/** The whole file behind a tensor, fetched once per URL (per `options.cache`). */
export function loadFile(url: string, options: LoadOptions = {}): Promise<ArrayBuffer> {
  const u = resolveUrl(url, options.base)
  const key = u.href
  const files = cacheOf(options)
  let p = files.get(key)
  if (!p) {
    p = (async () => {
      if (u.protocol === 'file:') return readFileUrl(u)
      const res = await (options.fetch ?? fetch)(u.href)
      if (!res.ok) throw new Error(`unplugin-mpscnn: fetching ${u.href} failed with HTTP ${res.status}`)
      // A server's fallback page (an SPA's index.html) is not a weights file.
      const type = res.headers.get('content-type') ?? ''
      if (/^\s*text\/html\b/i.test(type)) {
        throw new Error(`unplugin-mpscnn: ${u.href} answered with an HTML page (Content-Type ${type}), not a weights file: the server does not serve this URL`)
      }
      return res.arrayBuffer()
    })()
    files.set(key, p)
    p.catch(() => files.delete(key))
  }
  return p
}

/** Where a tensor's bytes are: its `url`, or its `file` in the folder `base` (the CLI's manifest.json). */
function tensorUrl(t: MpscnnTensor | MpscnnFileTensor, options: LoadOptions = {}): { url: string; options: LoadOptions } {
  if ('url' in t && typeof t.url === 'string') return { url: t.url, options }
  const file = (t as Partial<MpscnnFileTensor>).file
  if (typeof file !== 'string') throw new Error('unplugin-mpscnn: this tensor has neither a url nor a file (is it a layer of a manifest?)')
  const base = options.base === undefined ? undefined : String(resolveUrl(String(options.base), undefined)).replace(/\/?$/, '/')
  return { url: file, options: { ...options, base } }
}

/** A tensor's raw view: Float32Array for float32, Uint16Array of IEEE half bits for float16. No copy. */
export async function loadTensor(t: MpscnnTensor | MpscnnFileTensor, options?: LoadOptions): Promise<Float32Array | Uint16Array> {
  const { url, options: o } = tensorUrl(t, options)
  const buf = await loadFile(url, o)
  if (t.offset + t.byteLength > buf.byteLength) {
    throw new Error(`unplugin-mpscnn: ${url} has ${buf.byteLength} bytes, the manifest expects ${t.offset + t.byteLength}`)
  }
  return t.dtype === 'float16' ? new Uint16Array(buf, t.offset, t.byteLength / 2) : new Float32Array(buf, t.offset, t.byteLength / 4)
}

/** A layer's folded weights as float32 (a view for float32 models, decoded for float16). */
export async function loadWeights(layer: MpscnnLayer | MpscnnFileLayer, options?: LoadOptions): Promise<Float32Array> {
  const raw = await loadTensor(layer.weights, options)
  if (raw instanceof Float32Array) return raw
  const out = new Float32Array(raw.length)
  for (let i = 0; i < raw.length; i++) out[i] = halfToFloat(raw[i])
  return out
}

/** A layer's folded bias (always float32): a view, no copy. */
export async function loadBias(layer: MpscnnLayer | MpscnnFileLayer, options?: LoadOptions): Promise<Float32Array> {
  return (await loadTensor(layer.bias, options)) as Float32Array
}

/**
 * Reads a manifest.json (the CLI's, or any manifest as JSON): a path or `file:` URL in
 * Node, an http(s) URL (relative ones against the page in a browser). The returned
 * manifest's tensors have absolute URLs next to the manifest.json, so `loadWeights(layer)`
 * needs no base. Read afresh on each call (the CLI may have rewritten it).
 */
export async function loadManifest(urlOrPath: string | URL, options: LoadOptions = {}): Promise<MpscnnManifest> {
  const u = resolveUrl(String(urlOrPath), options.base)
  let text: string
  if (u.protocol === 'file:') text = new TextDecoder().decode(await readFileUrl(u))
  else {
    const res = await (options.fetch ?? fetch)(u.href)
    if (!res.ok) throw new Error(`unplugin-mpscnn: fetching ${u.href} failed with HTTP ${res.status}`)
    text = await res.text()
  }
  let json: { layers?: unknown }
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new Error(`unplugin-mpscnn: ${u.href} is not a manifest: ${(e as Error).message} (it starts ${JSON.stringify(text.slice(0, 40))})`)
  }
  if (!json || !Array.isArray(json.layers)) throw new Error(`unplugin-mpscnn: ${u.href} is not a manifest: it has no layers array`)
  const at = (t: MpscnnTensor | MpscnnFileTensor): MpscnnTensor => {
    const { file: _file, ...rest } = t as MpscnnTensor & Partial<MpscnnFileTensor>
    return { ...rest, url: new URL(tensorUrl(t).url, u).href }
  }
  const layers = (json.layers as (MpscnnLayer | MpscnnFileLayer)[]).map((l) => ({ ...l, weights: at(l.weights), bias: at(l.bias) }))
  return { ...(json as MpscnnManifest), layers }
}
