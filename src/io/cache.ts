/**
 * A persistent, content-addressed cache of converted models.
 *
 *   <cacheDir>/entries/<key>.bin   one file per conversion: magic, header JSON, the
 *                                  files' bytes, and a CRC-32 of all that at the end
 *   <cacheDir>/paths/<hash>.json   fast path: model path -> its stamp (size, mtime, ctime,
 *                                  inode, device), sha256
 *
 * The key is sha256(entry format, converter version, output options, sha256 of the
 * model's bytes). An entry holds nothing taken from the model's path: it is written as if
 * the model were `model.pb` and read back under the reader's own name, so a renamed model,
 * or another with the same bytes, shares the entry and is named after itself.
 * The path index only saves re-hashing a model whose stamp is unchanged; any doubt
 * falls back to hashing the content. Entries are written to a temporary
 * file and renamed into place, so a reader sees a whole entry or none; a corrupt or
 * truncated one fails its checksum, is reported, deleted and rebuilt, never served.
 * A temporary file that a killed build left (its PID in its name) is removed by the
 * next build; `mpscnn cache clean` removes only what it recognises as the cache's own.
 */
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { modelStem, packedFileName, type ConvertedAssets, type TensorPlacement } from '../emit/assets.js'
import { readInParallel } from './read.js'
import { MpscnnError } from '../base/errors.js'
import { formatNames } from '../base/format.js'
import { isRunning, pidOf } from '../base/pid.js'

const MAGIC = 'MPSCNNC1'
const MAGIC_BYTES = Buffer.from(MAGIC)

interface CacheOptions {
  dir: string
  maxBytes: number
}

interface Header {
  assets: Omit<ConvertedAssets, 'files'>
  files: { name: string; size: number }[]
}

function crc32(data: Uint8Array, seed = 0): number {
  return zlib.crc32(data, seed)
}

function pathKey(file: string): string {
  return createHash('sha256').update(path.resolve(file)).digest('hex').slice(0, 32)
}

/**
 * Part of every key: bump when what an entry holds changes, so that older entries are
 * never read as newer ones (2: entries hold no name taken from the model's path).
 */
const ENTRY_FORMAT = 2

export function entryKey(contentSha256: string, version: string, outputOptions: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify([ENTRY_FORMAT, version, outputOptions, contentSha256])).digest('hex')
}

/**
 * What the path index knows a file by: its size and mtime, which a user can set back
 * (`touch -d`), and its ctime, inode and device, which they cannot: any write or
 * `utimes` moves the ctime, a file replaced by another has another inode.
 */
export interface FileStamp {
  size: number
  mtimeMs: number
  ctimeMs: number
  ino: number
  dev: number
}

export function stampOf(stat: fs.Stats): FileStamp {
  return { size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, ino: stat.ino, dev: stat.dev }
}

export function sameStamp(a: FileStamp | undefined, b: FileStamp): boolean {
  return a !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino && a.dev === b.dev
}

/**
 * What the path index says of this file: its sha256 when its stamp is the one recorded
 * and the record can be trusted (`digest`), and whether it has a record at all (`seen`:
 * the file was converted or looked up before, so a cache entry for its content may well
 * exist, and hashing it first is worth it).
 */
export async function indexedDigest(opts: CacheOptions, file: string, stat: fs.Stats): Promise<{ digest?: string; seen: boolean }> {
  let rec: { file: string; stamp?: FileStamp; sha256: string; trusted: boolean }
  try {
    rec = JSON.parse(await fs.promises.readFile(indexPath(opts, file), 'utf8'))
  } catch {
    return { seen: false }
  }
  const fresh = rec.trusted === true && rec.file === path.resolve(file) && sameStamp(rec.stamp, stampOf(stat)) && /^[0-9a-f]{64}$/.test(rec.sha256)
  return { digest: fresh ? rec.sha256 : undefined, seen: true }
}

/**
 * Records a file's sha256 in the path index. For a file changed within the last two
 * seconds (by its mtime or its ctime: timestamps are coarse, it could change again
 * unseen) the record only says the path was seen; its digest is not trusted.
 */
export async function recordDigest(opts: CacheOptions, file: string, stat: fs.Stats, sha256: string): Promise<void> {
  const trusted = Date.now() - Math.max(stat.mtimeMs, stat.ctimeMs) > 2000
  await writeAtomic(indexPath(opts, file), JSON.stringify({ file: path.resolve(file), stamp: stampOf(stat), sha256, trusted })).catch(() => {})
}

function indexPath(opts: CacheOptions, file: string): string {
  return path.join(opts.dir, 'paths', `${pathKey(file)}.json`)
}

/** Is there an entry for this key (not checked: a damaged one is found when read)? */
export function hasEntry(opts: CacheOptions, key: string): boolean {
  return fs.existsSync(entryPath(opts, key))
}

async function writeAtomic(file: string, data: string | Uint8Array | Uint8Array[]): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    if (Array.isArray(data)) {
      const fh = await fs.promises.open(tmp, 'w')
      try {
        await fh.writev(data)
      } finally {
        await fh.close()
      }
    } else {
      await fs.promises.writeFile(tmp, data)
    }
    await fs.promises.rename(tmp, file)
  } catch (e) {
    await fs.promises.rm(tmp, { force: true })
    throw e
  }
}

/** The model name entries are stored under (see `renamed`). */
const ENTRY_MODEL = 'model.pb'

/**
 * The same assets under another model file name (`from` and `to` as `convertToAssets` was
 * given them): the manifest's `source`, the packed file's name and the file the warnings
 * name are all that a model's path changes. The bytes are not copied.
 */
function renamed(assets: ConvertedAssets, from: string, to: string): ConvertedAssets {
  const [oldDat, newDat] = [packedFileName(modelStem(from)), packedFileName(modelStem(to))]
  const dat = (name: string) => (assets.plan.packed && name === oldDat ? newDat : name)
  const tensor = (t: TensorPlacement): TensorPlacement => ({ ...t, file: dat(t.file) })
  const prefix = `${from}: `
  return {
    header: { ...assets.header, source: path.basename(to) },
    plan: {
      packed: assets.plan.packed,
      files: assets.plan.files.map((f) => ({ ...f, name: dat(f.name) })),
      layers: assets.plan.layers.map((l) => ({ info: l.info, weights: tensor(l.weights), bias: tensor(l.bias) })),
    },
    files: new Map([...assets.files].map(([name, bytes]) => [dat(name), bytes])),
    warnings: assets.warnings.map((w) => (w.startsWith(prefix) ? `${to}: ${w.slice(prefix.length)}` : w)),
    network: assets.network,
  }
}

type ReadResult = { kind: 'hit'; assets: ConvertedAssets } | { kind: 'miss' } | { kind: 'corrupt'; reason: string }

function entryPath(opts: CacheOptions, key: string): string {
  return path.join(opts.dir, 'entries', `${key}.bin`)
}

/** Reads the entry `key` for the model `model` (its name as `convertToAssets` was given it). */
export async function readEntry(opts: CacheOptions, key: string, model: string): Promise<ReadResult> {
  const file = entryPath(opts, key)
  let buf: Buffer
  // The CRC runs over the body (all but its last 4 bytes) as the read goes, in order.
  let crc = 0
  let checked = 0
  try {
    const fh = await fs.promises.open(file, 'r')
    try {
      const size = (await fh.stat()).size
      buf = Buffer.allocUnsafeSlow(size)
      const body = size - 4
      const end = await readInParallel(fh.fd, buf, (read) => {
        const to = Math.min(read, body)
        if (to > checked) crc = crc32(buf.subarray(checked, to), crc)
        checked = Math.max(checked, to)
      })
      if (end < size) buf = buf.subarray(0, end)
    } finally {
      await fh.close()
    }
  } catch {
    return { kind: 'miss' }
  }
  const corrupt = async (reason: string): Promise<ReadResult> => {
    await fs.promises.rm(file, { force: true })
    return { kind: 'corrupt', reason }
  }
  if (buf.length < MAGIC_BYTES.length + 8 || !buf.subarray(0, MAGIC_BYTES.length).equals(MAGIC_BYTES)) return corrupt('bad header')
  const body = buf.subarray(0, buf.length - 4)
  if (checked !== body.length) crc = crc32(body) // the file shrank while being read
  if (crc !== buf.readUInt32LE(buf.length - 4)) return corrupt('checksum mismatch (truncated or modified)')
  const hlen = buf.readUInt32LE(MAGIC_BYTES.length)
  let pos = MAGIC_BYTES.length + 4
  let header: Header
  try {
    header = JSON.parse(buf.toString('utf8', pos, pos + hlen)) as Header
  } catch {
    return corrupt('unreadable header')
  }
  pos += hlen
  const files = new Map<string, Uint8Array>()
  for (const f of header.files) {
    if (pos + f.size > body.length) return corrupt('shorter than its header says')
    files.set(f.name, buf.subarray(pos, pos + f.size))
    pos += f.size
  }
  const now = new Date()
  await fs.promises.utimes(file, now, now).catch(() => {}) // recency for LRU pruning
  return { kind: 'hit', assets: renamed({ ...header.assets, files }, ENTRY_MODEL, model) }
}

/** Writes the entry `key`: the assets of the model `model` (as `convertToAssets` was given it). */
export async function writeEntry(opts: CacheOptions, key: string, assets: ConvertedAssets, model: string): Promise<void> {
  const { files, ...rest } = renamed(assets, model, ENTRY_MODEL)
  const header: Header = { assets: rest, files: [...files].map(([name, b]) => ({ name, size: b.byteLength })) }
  const hjson = Buffer.from(JSON.stringify(header))
  const head = Buffer.alloc(MAGIC_BYTES.length + 4)
  MAGIC_BYTES.copy(head)
  head.writeUInt32LE(hjson.length, MAGIC_BYTES.length)
  const parts: Uint8Array[] = [head, hjson, ...files.values()]
  let crc = 0
  for (const p of parts) crc = crc32(p, crc)
  const tail = Buffer.alloc(4)
  tail.writeUInt32LE(crc >>> 0)
  parts.push(tail)
  await writeAtomic(entryPath(opts, key), parts)
  await prune(opts).catch(() => {})
}

/** Removes least recently used entries until the cache fits in `maxBytes`. */
async function prune(opts: CacheOptions): Promise<number> {
  const dir = path.join(opts.dir, 'entries')
  let names: string[]
  try {
    names = await fs.promises.readdir(dir)
  } catch {
    return 0
  }
  const entries: { file: string; size: number; atime: number }[] = []
  for (const n of names) {
    const file = path.join(dir, n)
    try {
      const st = await fs.promises.stat(file)
      if (n.endsWith('.tmp')) {
        if (isAbandoned(n, st)) await fs.promises.rm(file, { force: true })
        continue
      }
      entries.push({ file, size: st.size, atime: st.mtimeMs })
    } catch {}
  }
  let total = entries.reduce((a, e) => a + e.size, 0)
  entries.sort((a, b) => a.atime - b.atime)
  let removed = 0
  for (const e of entries) {
    if (total <= opts.maxBytes) break
    await fs.promises.rm(e.file, { force: true })
    total -= e.size
    removed++
  }
  return removed
}

/** What the cache's folders hold: entries, path records, and writeAtomic's temporary files (`<name>.<pid>.<random>.tmp`). */
const OWN_NAMES = { entries: /^[0-9a-f]{64}\.bin$/, paths: /^[0-9a-f]{32}\.json$/ }
const TMP_NAME = /^(?:[0-9a-f]{64}\.bin|[0-9a-f]{32}\.json)\.(\d+)\.[0-9a-f]{8}\.tmp$/

/**
 * Is this temporary file one that a killed writer left: its process has exited (or, for
 * a PID taken again since, it is over an hour old)? A running writer's file is not.
 */
function isAbandoned(name: string, st: fs.Stats): boolean {
  const m = TMP_NAME.exec(name)
  const pid = m ? pidOf(m[1]) : undefined
  return pid !== undefined && (!isRunning(pid) || Date.now() - st.mtimeMs > 3600_000)
}

/** Removes the temporary files that builds killed while writing left in the cache. */
export async function removeAbandoned(dir: string): Promise<void> {
  for (const sub of Object.keys(OWN_NAMES)) {
    const names = await fs.promises.readdir(path.join(dir, sub)).catch(() => [])
    for (const n of names) {
      if (!TMP_NAME.test(n)) continue
      const file = path.join(dir, sub, n)
      const st = await fs.promises.stat(file).catch(() => undefined)
      if (st && isAbandoned(n, st)) await fs.promises.rm(file, { force: true })
    }
  }
}

/**
 * `mpscnn cache clean`: removes every entry and path record, the temporary files of
 * killed builds, and then the folders, if that empties them. A folder holding anything
 * else is not a cache: it is refused, and nothing is removed. Returns how many entries
 * it removed.
 */
export async function cleanCache(dir: string): Promise<number> {
  let top: fs.Dirent[]
  try {
    top = await fs.promises.readdir(dir, { withFileTypes: true })
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return 0
    if (code === 'ENOTDIR') throw new MpscnnError('NOT_A_CACHE', dir, 'is not a folder, so not an unplugin-mpscnn cache', { hint: 'Check --cache-dir' })
    throw e
  }
  const remove: string[] = []
  const strangers: string[] = []
  let n = 0
  for (const t of top) {
    const own = OWN_NAMES[t.name as keyof typeof OWN_NAMES]
    if (!own || !t.isDirectory()) {
      strangers.push(t.name)
      continue
    }
    for (const f of await fs.promises.readdir(path.join(dir, t.name), { withFileTypes: true })) {
      const file = path.join(dir, t.name, f.name)
      if (f.isFile() && own.test(f.name)) {
        remove.push(file)
        if (t.name === 'entries') n++
      } else if (f.isFile() && TMP_NAME.test(f.name)) {
        const st = await fs.promises.stat(file).catch(() => undefined)
        if (st && isAbandoned(f.name, st)) remove.push(file)
      } else strangers.push(path.join(t.name, f.name))
    }
  }
  if (strangers.length) {
    throw new MpscnnError('NOT_A_CACHE', dir, `is not an unplugin-mpscnn cache: it holds ${formatNames(strangers)}; nothing was removed`, { hint: 'Check --cache-dir' })
  }
  for (const file of remove) await fs.promises.rm(file, { force: true })
  // Each folder goes once it is empty (a running build's temporary file keeps it).
  const rmdir = (d: string) => fs.promises.rmdir(d).catch(() => {})
  for (const t of top) await rmdir(path.join(dir, t.name))
  if (top.length) await rmdir(dir)
  return n
}
