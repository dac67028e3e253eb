/**
 * What the plugin does for one model import, without any bundler: read the file,
 * convert it (or take it from the cache), write the optional `.pb.d.ts`, and describe
 * the result in one log line.
 */
import fs from 'node:fs'
import path from 'node:path'
import { MpscnnError } from './errors.js'
import type { ConvertedAssets } from './pipeline.js'
import { convertScheduled } from './scheduler.js'
import { manifestDts } from './emit/manifest.js'
import { outputAffectingOptions, type ResolvedOptions } from './options.js'
import { entryKey, modelDigest, readEntry, writeEntry } from './cache.js'
import { CONVERTER_VERSION } from './version.js'

export interface LoadedModel {
  assets: ConvertedAssets
  fromCache: boolean
  /** `inception_v3.pb: 95 layers, 91.2 MB, converted in 180 ms` */
  summary: string
}

export function formatBytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`
  return `${n} B`
}

export async function readModelFile(file: string, display: string): Promise<Buffer> {
  try {
    return await fs.promises.readFile(file)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new MpscnnError('NOT_FOUND', display, 'no such file', { hint: 'Check the import path' })
    if (code === 'EISDIR') throw new MpscnnError('NOT_FOUND', display, 'this is a directory, not a model file', { hint: 'For a SavedModel folder, freeze the graph into a .pb first' })
    throw new MpscnnError('READ_FAILED', display, `cannot be read (${code ?? (e as Error).message})`)
  }
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
  let bytes: Buffer | undefined
  const read = async () => (bytes ??= await readModelFile(file, display))
  let assets: ConvertedAssets | undefined
  let key: string | undefined
  const cacheOpts = { dir: options.cacheDir, maxBytes: options.cacheMaxBytes }
  if (options.cache) {
    let stat: fs.Stats
    try {
      stat = await fs.promises.stat(file)
    } catch {
      await read() // raises the clear error
      throw new Error('unreachable')
    }
    const digest = await modelDigest(cacheOpts, file, stat, read)
    key = entryKey(digest, CONVERTER_VERSION, outputAffectingOptions(options))
    const hit = await readEntry(cacheOpts, key)
    if (hit.kind === 'hit') assets = hit.assets
    else if (hit.kind === 'corrupt') warn(`${display}: cache entry ${key.slice(0, 12)} was corrupt (${hit.reason}); converting again`)
  }
  const fromCache = assets !== undefined
  if (!assets) {
    assets = await convertScheduled(await read(), display, options)
    if (key) {
      try {
        await writeEntry(cacheOpts, key, assets)
      } catch (e) {
        warn(`${display}: could not write the cache (${(e as Error).message}); the build goes on without it`)
      }
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
