/**
 * What the plugin does for one model import, without any bundler: read the file,
 * convert it (or take it from the cache), write the optional `.pb.d.ts`, and describe
 * the result in one log line.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { ConvertedAssets } from '../emit/assets.js'
import { readModelMemoryInParallel, type ModelMemory } from '../io/read.js'
import { sha256Hex } from '../fold/convert.js'
import { manifestDts } from '../emit/manifest.js'
import { outputAffectingOptions, type ResolvedOptions } from './options.js'
import { entryKey, hasEntry, indexedDigest, readEntry, recordDigest, removeAbandoned, sameStamp, stampOf, writeEntry, type FileStamp } from '../io/cache.js'
import { CONVERTER_VERSION } from '../base/version.js'
import { formatBytes, plural } from '../base/format.js'

/**
 * This process's own path index: what the on-disk one does not trust yet (a file
 * changed in the last two seconds), so that watch rebuilds do not hash it again. Keyed
 * on the same stamp (size, mtime, ctime, inode, device).
 */
const recentDigests = new Map<string, { stamp: FileStamp; sha256: string }>()

/** Cache entries being written, by key. */
const pendingWrites = new Map<string, Promise<unknown>>()

/** Per cache folder, the removal of what killed builds left in it: once per process, in the background. */
const leftoverSweeps = new Map<string, Promise<void>>()

/** Resolves when every cache entry this process started writing is on disk (and leftovers are removed). */
export function cacheWritesSettled(): Promise<unknown> {
  return Promise.all([...pendingWrites.values(), ...leftoverSweeps.values()])
}

export interface LoadedModel {
  assets: ConvertedAssets
  fromCache: boolean
  /** `inception_v3.pb: 95 layers, 91.2 MB, converted in 180 ms` */
  summary: string
}


function writeIfChanged(file: string, content: string): void {
  try {
    if (fs.readFileSync(file, 'utf8') === content) return
  } catch {}
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, content)
  fs.renameSync(tmp, file)
}

/** How messages name a model: relative to the project root when inside it. */
export function displayPath(file: string, root: string): string {
  const rel = path.relative(root, file)
  return rel && !rel.startsWith('..') ? rel : file
}

export async function loadModel(file: string, options: ResolvedOptions, root: string, warn: (msg: string) => void): Promise<LoadedModel> {
  const display = displayPath(file, root)
  const t0 = performance.now()
  let m: Promise<ModelMemory> | undefined
  const read = () => (m ??= readModelMemoryInParallel(file, display))
  const cacheOpts = { dir: options.cacheDir, maxBytes: options.cacheMaxBytes }
  const keyOf = (digest: string) => entryKey(digest, CONVERTER_VERSION, outputAffectingOptions(options))
  let stat: fs.Stats | undefined
  let digest: string | undefined
  if (options.cache) {
    if (!leftoverSweeps.has(cacheOpts.dir)) leftoverSweeps.set(cacheOpts.dir, removeAbandoned(cacheOpts.dir).catch(() => {}))
    try {
      stat = await fs.promises.stat(file)
    } catch {
      await read() // raises the clear error
      throw new Error('unreachable')
    }
    // Fast path: an unchanged file (path and stamp) is not hashed again. A file seen
    // before but changed since is hashed first: touched without a change, it is a hit.
    const mem = recentDigests.get(file)
    const index = mem && sameStamp(mem.stamp, stampOf(stat)) ? { digest: mem.sha256, seen: true } : await indexedDigest(cacheOpts, file, stat)
    digest = index.digest
    if (!digest && index.seen) {
      digest = sha256Hex((await read()).bytes)
      await recordDigest(cacheOpts, file, stat, digest) // trusted from now on if the file has settled
    }
    if (digest) recentDigests.set(file, { stamp: stampOf(stat), sha256: digest })
    if (digest) {
      const key = keyOf(digest)
      await pendingWrites.get(key)
      const hit = await readEntry(cacheOpts, key, display)
      if (hit.kind === 'hit') return done(hit.assets, true)
      if (hit.kind === 'corrupt') warn(`${display}: cache entry ${key.slice(0, 12)} was corrupt (${hit.reason}); converting again`)
    }
  }
  // The converter is loaded on first use (a build served from the cache never loads it),
  // while the thread pool reads the model.
  const converter = import('../parallel/scheduler.js')
  converter.catch(() => {}) // awaited below, unless the read fails first
  const { bytes, memory } = await read()
  const { convertScheduled } = await converter
  const assets = await convertScheduled({ bytes, memory, sha256: null }, display, options)
  // The digest is the cache key. Hashed here, after the conversion: a worker that hashed
  // meanwhile bought nothing the bench could measure (docs/performance.md, "What each piece buys").
  const sha256 = digest ?? sha256Hex(bytes)
  assets.header.sha256 = sha256
  if (options.cache && stat) {
    if (!digest) {
      await recordDigest(cacheOpts, file, stat, sha256)
      recentDigests.set(file, { stamp: stampOf(stat), sha256 })
    }
    const key = keyOf(sha256)
    await pendingWrites.get(key)
    if (digest || !hasEntry(cacheOpts, key)) {
      // Written while the bundler goes on with the build; a later read of the same key waits for it.
      const p = writeEntry(cacheOpts, key, assets, display)
        .catch((e: Error) => warn(`${display}: could not write the cache (${e.message}); the build goes on without it`))
        .finally(() => pendingWrites.delete(key))
      pendingWrites.set(key, p)
    }
  }
  return done(assets, false)

  function done(assets: ConvertedAssets, fromCache: boolean): LoadedModel {
    const ms = performance.now() - t0
    if (options.dts) writeIfChanged(`${file}.d.ts`, manifestDts(assets.plan.layers.map((l) => l.info.name), assets.network && Object.keys(assets.network.images)))
    let total = 0
    for (const f of assets.files.values()) total += f.byteLength
    const how = fromCache ? 'from cache' : 'converted'
    return { assets, fromCache, summary: `${path.basename(file)}: ${plural(assets.plan.layers.length, 'layer')}, ${formatBytes(total)}, ${how} in ${Math.round(ms)} ms` }
  }
}
