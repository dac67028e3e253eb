/**
 * What the plugin does for one model import, without any bundler: read the file,
 * convert it (or take it from the cache), write the optional `.pb.d.ts`, and describe
 * the result in one log line.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { ConvertedAssets } from './pipeline.js'
import { convertScheduled } from './scheduler.js'
import { readModelMemory, type ModelMemory } from './read.js'
import { manifestDts } from './emit/manifest.js'
import { outputAffectingOptions, type ResolvedOptions } from './options.js'
import { entryKey, modelDigest, readEntry, writeEntry } from './cache.js'
import { CONVERTER_VERSION } from './version.js'
import { formatBytes } from './format.js'

/** Cache entries being written, by key. */
const pendingWrites = new Map<string, Promise<unknown>>()

/** Resolves when every cache entry this process started writing is on disk. */
export function cacheWritesSettled(): Promise<unknown> {
  return Promise.all(pendingWrites.values())
}

export interface LoadedModel {
  assets: ConvertedAssets
  fromCache: boolean
  /** `inception_v3.pb: 95 layers, 91.2 MB, converted in 180 ms` */
  summary: string
}


export function writeIfChanged(file: string, content: string): void {
  try {
    if (fs.readFileSync(file, 'utf8') === content) return
  } catch {}
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, content)
  fs.renameSync(tmp, file)
}

export async function loadModel(file: string, options: ResolvedOptions, root: string, warn: (msg: string) => void): Promise<LoadedModel> {
  const rel = path.relative(root, file)
  const display = rel && !rel.startsWith('..') ? rel : file
  const t0 = performance.now()
  let m: ModelMemory | undefined
  const read = () => (m ??= readModelMemory(file, display))
  let assets: ConvertedAssets | undefined
  let key: string | undefined
  let digest: string | undefined
  const cacheOpts = { dir: options.cacheDir, maxBytes: options.cacheMaxBytes }
  if (options.cache) {
    let stat: fs.Stats
    try {
      stat = await fs.promises.stat(file)
    } catch {
      read() // raises the clear error
      throw new Error('unreachable')
    }
    digest = await modelDigest(cacheOpts, file, stat, async () => read().bytes)
    key = entryKey(digest, CONVERTER_VERSION, outputAffectingOptions(options))
    await pendingWrites.get(key)
    const hit = await readEntry(cacheOpts, key)
    if (hit.kind === 'hit') assets = hit.assets
    else if (hit.kind === 'corrupt') warn(`${display}: cache entry ${key.slice(0, 12)} was corrupt (${hit.reason}); converting again`)
  }
  const fromCache = assets !== undefined
  if (!assets) {
    const { bytes, memory } = read()
    assets = await convertScheduled({ bytes, memory, sha256: digest }, display, options)
    if (key) {
      // Written while the bundler goes on with the build; a later read of the same key waits for it.
      const k = key
      const p = writeEntry(cacheOpts, k, assets)
        .catch((e: Error) => warn(`${display}: could not write the cache (${e.message}); the build goes on without it`))
        .finally(() => pendingWrites.delete(k))
      pendingWrites.set(k, p)
    }
  }
  const ms = performance.now() - t0
  if (options.dts) writeIfChanged(`${file}.d.ts`, manifestDts(assets.plan.layers.map((l) => l.info.name)))
  let total = 0
  for (const f of assets.files.values()) total += f.byteLength
  return {
    assets,
    fromCache,
    summary: `${path.basename(file)}: ${assets.plan.layers.length} layers, ${formatBytes(total)}, ${fromCache ? `from cache in ${Math.round(ms)} ms` : `converted in ${Math.round(ms)} ms`}`,
  }
}
