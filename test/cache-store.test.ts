/**
 * The cache store (src/io/cache.ts) through its module API, in one process: entries written
 * and read back under another model name, every kind of damage reported and deleted, the path
 * index's trust rules, LRU pruning, killed writers' temporary files, and `cache clean`'s refusals.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MpscnnError } from '../src/base/errors.js'
import { planAssets, type ConvertedAssets } from '../src/emit/assets.js'
import type { LayerInfo } from '../src/fold/plan-layers.js'
import { cleanCache, entryKey, hasEntry, indexedDigest, readEntry, recordDigest, removeAbandoned, sameStamp, stampOf, writeEntry, type FileStamp } from '../src/io/cache.js'

let dir: string
let cache: { dir: string; maxBytes: number }
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-cache-store-'))
  cache = { dir: path.join(dir, 'cache'), maxBytes: 1 << 30 }
})
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

const layer = (name: string, out: number): LayerInfo => ({
  name,
  kind: 'conv',
  op: 'Conv2D',
  node: name,
  inputChannels: 2,
  outputChannels: out,
  kernelHeight: 1,
  kernelWidth: 1,
  strideY: 1,
  strideX: 1,
  dilationY: 1,
  dilationX: 1,
  groups: 1,
  padding: 'same',
  activation: 'none',
  weightShape: [out, 1, 1, 2],
  folded: [],
})

/** Assets of a two-layer model `model`, packed or one file per tensor, each file's bytes distinct. */
function assets(model: string, packed: boolean): ConvertedAssets {
  const plan = planAssets([layer('conv', 3), layer('fc', 1)], { packed, align: 16, modelName: path.basename(model, '.pb'), precision: 'float32' })
  const files = new Map(plan.files.map((f, i) => [f.name, Uint8Array.from({ length: f.size }, (_, j) => (i * 31 + j) & 0xff)]))
  return {
    header: { source: path.basename(model), sha256: 'ab'.repeat(32), precision: 'float32' },
    plan,
    files,
    warnings: [`${model}: node "x": something to say`, 'a note naming no model'],
  }
}

const KEY = 'c'.repeat(64)
const entryFile = (key = KEY) => path.join(cache.dir, 'entries', `${key}.bin`)
const bytesOf = (m: Map<string, Uint8Array>) => Object.fromEntries([...m].map(([k, v]) => [k, Buffer.from(v).toString('hex')]))

/** A dead process's PID: a child that has exited. */
const deadPid = () => spawnSync('true').pid

describe('entries', () => {
  it('are read back whole under the reader\'s model name: its packed file, source and warnings renamed', async () => {
    const written = assets('models/first.pb', true)
    expect(hasEntry(cache, KEY)).toBe(false)
    await writeEntry(cache, KEY, written, 'models/first.pb')
    expect(hasEntry(cache, KEY)).toBe(true)
    const read = await readEntry(cache, KEY, 'other/second.pb')
    expect(read.kind).toBe('hit')
    if (read.kind !== 'hit') return
    const a = read.assets
    expect(a.header).toEqual({ source: 'second.pb', sha256: 'ab'.repeat(32), precision: 'float32' })
    expect(a.plan.packed).toBe(true)
    expect(a.plan.files.map((f) => f.name)).toEqual(['second.dat'])
    expect(a.plan.layers.flatMap((l) => [l.weights.file, l.bias.file])).toEqual(Array(4).fill('second.dat'))
    expect(a.plan.layers.map((l) => [l.weights.offset, l.bias.offset])).toEqual(written.plan.layers.map((l) => [l.weights.offset, l.bias.offset]))
    expect(a.plan.layers.map((l) => l.info)).toEqual(written.plan.layers.map((l) => l.info))
    expect(bytesOf(a.files)).toEqual({ 'second.dat': bytesOf(written.files)['first.dat'] })
    expect(a.warnings).toEqual(['other/second.pb: node "x": something to say', 'a note naming no model'])
  })

  it('of unpacked assets keep their per-layer file names, whatever the model is called', async () => {
    // Even a model named like one of its files (weights_conv.dat would be its packed file's name).
    const written = assets('weights_conv.pb', false)
    await writeEntry(cache, KEY, written, 'weights_conv.pb')
    const read = await readEntry(cache, KEY, 'b.pb')
    if (read.kind !== 'hit') throw new Error(read.kind)
    expect(read.assets.plan.files).toEqual(written.plan.files)
    expect(Object.keys(bytesOf(read.assets.files))).toEqual(['weights_conv.dat', 'bias_conv.dat', 'weights_fc.dat', 'bias_fc.dat'])
    expect(bytesOf(read.assets.files)).toEqual(bytesOf(written.files))
  })

  it('hold the magic, the header length, the header, the bytes and a CRC-32 of all that', async () => {
    const written = assets('m.pb', true)
    await writeEntry(cache, KEY, written, 'm.pb')
    const buf = fs.readFileSync(entryFile())
    expect(buf.subarray(0, 8).toString()).toBe('MPSCNNC1')
    const hlen = buf.readUInt32LE(8)
    const header = JSON.parse(buf.toString('utf8', 12, 12 + hlen))
    expect(header.files).toEqual([{ name: 'model.dat', size: written.plan.files[0].size }])
    expect(buf.length).toBe(12 + hlen + written.plan.files[0].size + 4)
    expect(buf.readUInt32LE(buf.length - 4)).toBe(zlib.crc32(buf.subarray(0, buf.length - 4)))
    // A read marks the entry as recently used.
    fs.utimesSync(entryFile(), new Date(1e12), new Date(1e12))
    await readEntry(cache, KEY, 'm.pb')
    expect(Math.abs(fs.statSync(entryFile()).mtimeMs - Date.now())).toBeLessThan(60_000)
  })

  it('cannot be written over a folder, and leave no temporary file behind', async () => {
    fs.mkdirSync(entryFile(), { recursive: true })
    await expect(writeEntry(cache, KEY, assets('m.pb', true), 'm.pb')).rejects.toThrow()
    expect(fs.readdirSync(path.dirname(entryFile()))).toEqual([`${KEY}.bin`])
  })

  it('missing is a miss', async () => {
    expect(await readEntry(cache, KEY, 'm.pb')).toEqual({ kind: 'miss' })
  })

  /** Writes an entry whose CRC is right around `body` (magic included). */
  const withCrc = (body: Buffer) => {
    fs.mkdirSync(path.dirname(entryFile()), { recursive: true })
    const tail = Buffer.alloc(4)
    tail.writeUInt32LE(zlib.crc32(body))
    fs.writeFileSync(entryFile(), Buffer.concat([body, tail]))
  }
  const head = (json: string) => {
    const h = Buffer.alloc(12)
    h.write('MPSCNNC1')
    h.writeUInt32LE(Buffer.byteLength(json), 8)
    return Buffer.concat([h, Buffer.from(json)])
  }

  for (const [what, write, reason] of [
    ['too short to hold a header', () => withCrc(Buffer.from('MPSCNNC1')), 'bad header'],
    ['another magic', () => withCrc(Buffer.concat([Buffer.from('MPSCNNC0'), Buffer.alloc(8)])), 'bad header'],
    ['a wrong checksum', () => fs.writeFileSync(entryFile(), Buffer.concat([head('{"files":[]}'), Buffer.alloc(4)])), 'checksum mismatch (truncated or modified)'],
    ['a header that is not JSON', () => withCrc(head('{"files":')), 'unreadable header'],
    ['an empty header, the shortest entry there is', () => withCrc(head('')), 'unreadable header'],
    ['fewer bytes than its header lists', () => withCrc(Buffer.concat([head('{"assets":{},"files":[{"name":"a","size":5}]}'), Buffer.alloc(4)])), 'shorter than its header says'],
  ] as const) {
    it(`with ${what} are reported corrupt ("${reason}") and deleted`, async () => {
      fs.mkdirSync(path.dirname(entryFile()), { recursive: true })
      write()
      expect(await readEntry(cache, KEY, 'm.pb')).toEqual({ kind: 'corrupt', reason })
      expect(fs.existsSync(entryFile())).toBe(false)
    })
  }

  it('with exactly the bytes their header lists are whole', async () => {
    withCrc(Buffer.concat([head('{"assets":{"header":{},"plan":{"packed":false,"files":[],"layers":[]},"warnings":[]},"files":[{"name":"a","size":5}]}'), Buffer.from('hello')]))
    const read = await readEntry(cache, KEY, 'm.pb')
    if (read.kind !== 'hit') throw new Error(read.kind)
    expect(Buffer.from(read.assets.files.get('a')!).toString()).toBe('hello')
  })
})

describe('entryKey', () => {
  it('is sha256 of the entry format, the version, the output options and the content hash', () => {
    const key = entryKey('d'.repeat(64), '1.2.3', { packed: true, align: 16 })
    expect(key).toBe(createHash('sha256').update(JSON.stringify([2, '1.2.3', { packed: true, align: 16 }, 'd'.repeat(64)])).digest('hex'))
    expect(entryKey('d'.repeat(64), '1.2.3', { packed: true, align: 8 })).not.toBe(key)
    expect(entryKey('d'.repeat(64), '1.2.4', { packed: true, align: 16 })).not.toBe(key)
    expect(entryKey('e'.repeat(64), '1.2.3', { packed: true, align: 16 })).not.toBe(key)
  })
})

describe('the path index', () => {
  const stamp: FileStamp = { size: 10, mtimeMs: 1000, ctimeMs: 2000, ino: 3, dev: 4 }
  const stat = (s: Partial<FileStamp> = {}) => ({ ...stamp, atimeMs: 5, birthtimeMs: 6, ...s }) as unknown as fs.Stats
  const sha = '0123456789abcdef'.repeat(4)
  const model = () => path.join(dir, 'model.pb')

  it('knows a file by size, mtime, ctime, inode and device', () => {
    expect(stampOf(stat())).toEqual(stamp)
    expect(sameStamp(stamp, { ...stamp })).toBe(true)
    expect(sameStamp(undefined, stamp)).toBe(false)
    for (const k of Object.keys(stamp) as (keyof FileStamp)[]) expect(sameStamp(stamp, { ...stamp, [k]: stamp[k] + 1 }), k).toBe(false)
  })

  it('gives the recorded digest of a file unchanged since, changed over two seconds before it was recorded', async () => {
    expect(await indexedDigest(cache, model(), stat())).toEqual({ seen: false })
    await recordDigest(cache, model(), stat(), sha)
    expect(await indexedDigest(cache, model(), stat())).toEqual({ digest: sha, seen: true })
    // Another stamp, or another path, is not that file.
    expect(await indexedDigest(cache, model(), stat({ ino: 99 }))).toEqual({ digest: undefined, seen: true })
    expect(await indexedDigest(cache, path.join(dir, 'other.pb'), stat())).toEqual({ seen: false })
  })

  for (const [what, s] of [
    ['its mtime', { mtimeMs: Date.now() }],
    ['its ctime', { ctimeMs: Date.now() }],
  ] as const) {
    it(`only records that it saw a file whose ${what} is within the last two seconds`, async () => {
      await recordDigest(cache, model(), stat(s), sha)
      expect(await indexedDigest(cache, model(), stat(s))).toEqual({ digest: undefined, seen: true })
    })
  }

  it('trusts a digest recorded more than two seconds after the last change, not at exactly two', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(1_000_000)
      await recordDigest(cache, model(), stat({ mtimeMs: 998_000, ctimeMs: 997_000 }), sha)
      expect((await indexedDigest(cache, model(), stat({ mtimeMs: 998_000, ctimeMs: 997_000 }))).digest).toBeUndefined()
      await recordDigest(cache, model(), stat({ mtimeMs: 997_999, ctimeMs: 997_000 }), sha)
      expect((await indexedDigest(cache, model(), stat({ mtimeMs: 997_999, ctimeMs: 997_000 }))).digest).toBe(sha)
    } finally {
      vi.useRealTimers()
    }
  })

  it('distrusts a record of another path or with a malformed digest', async () => {
    await recordDigest(cache, model(), stat(), sha)
    const [name] = fs.readdirSync(path.join(cache.dir, 'paths'))
    const record = path.join(cache.dir, 'paths', name)
    const rec = JSON.parse(fs.readFileSync(record, 'utf8'))
    expect(rec).toEqual({ file: path.resolve(model()), stamp, sha256: sha, trusted: true })
    for (const bad of [{ file: '/elsewhere.pb' }, { sha256: sha.toUpperCase() }, { sha256: `${sha}0` }, { sha256: `x${sha.slice(1)}` }]) {
      fs.writeFileSync(record, JSON.stringify({ ...rec, ...bad }))
      expect((await indexedDigest(cache, model(), stat())).digest, JSON.stringify(bad)).toBeUndefined()
    }
  })
})

describe('pruning', () => {
  it('removes the least recently used entries until the rest fit in maxBytes', async () => {
    const keys = ['1', '2', '3'].map((c) => c.repeat(64))
    for (const [i, key] of keys.entries()) {
      await writeEntry(cache, key, assets('m.pb', true), 'm.pb')
      fs.utimesSync(entryFile(key), new Date((3 - i) * 1e11), new Date((3 - i) * 1e11))
    }
    const size = fs.statSync(entryFile(keys[0])).size
    // The newest write, and the two entries used most recently (keys[0] then keys[1]), fit.
    await writeEntry({ ...cache, maxBytes: 3 * size }, '4'.repeat(64), assets('m.pb', true), 'm.pb')
    expect(fs.readdirSync(path.join(cache.dir, 'entries')).sort()).toEqual([`${keys[0]}.bin`, `${keys[1]}.bin`, `${'4'.repeat(64)}.bin`])
    fs.utimesSync(entryFile('4'.repeat(64)), new Date(4e11), new Date(4e11))
    await writeEntry({ ...cache, maxBytes: 2 * size - 1 }, '5'.repeat(64), assets('m.pb', true), 'm.pb')
    expect(fs.readdirSync(path.join(cache.dir, 'entries')).sort()).toEqual([`${'5'.repeat(64)}.bin`])
  })
})

describe("killed writers' temporary files", () => {
  let made = 0
  const tmp = (sub: 'entries' | 'paths', pid: number, hoursOld = 0) => {
    const random = (0x0123abcd + made++).toString(16).padStart(8, '0')
    const name = sub === 'entries' ? `${'a'.repeat(64)}.bin.${pid}.${random}.tmp` : `${'b'.repeat(32)}.json.${pid}.${random}.tmp`
    const file = path.join(cache.dir, sub, name)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, 'partial')
    const t = new Date(Date.now() - hoursOld * 3600_000)
    fs.utimesSync(file, t, t)
    return name
  }
  const list = (sub: string) => fs.readdirSync(path.join(cache.dir, sub)).sort()

  it('are removed when their writer has exited or the file is over an hour old; a running writer\'s are kept', async () => {
    const dead = deadPid()
    for (const [sub, pid, hours] of [['entries', dead, 0], ['paths', dead, 0], ['entries', process.pid, 2]] as const) tmp(sub, pid, hours)
    const kept = [tmp('entries', process.pid), tmp('paths', process.pid, 0.5)]
    fs.writeFileSync(path.join(cache.dir, 'entries', 'notes.tmp'), '')
    await removeAbandoned(cache.dir)
    expect([...list('entries'), ...list('paths')].sort()).toEqual([...kept, 'notes.tmp'].sort())
    // Without a paths folder, the entries folder is still cleaned.
    fs.rmSync(path.join(cache.dir, 'paths'), { recursive: true })
    tmp('entries', dead)
    await removeAbandoned(cache.dir)
    expect(list('entries')).toEqual([kept[0], 'notes.tmp'].sort())
  })

  it("of a running writer are kept until they are over an hour old, not at exactly an hour", async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(10_000_000_000)
      const name = tmp('entries', process.pid)
      const t = new Date(10_000_000_000 - 3600_000)
      fs.utimesSync(path.join(cache.dir, 'entries', name), t, t)
      await removeAbandoned(cache.dir)
      expect(list('entries')).toEqual([name])
    } finally {
      vi.useRealTimers()
    }
  })

  it('are removed by the next write too (entries folder), and a running writer\'s kept', async () => {
    const dead = tmp('entries', deadPid())
    const running = tmp('entries', process.pid)
    // A .tmp file of another name is not the cache's, however old.
    const other = path.join(cache.dir, 'entries', 'notes.tmp')
    fs.writeFileSync(other, '')
    fs.utimesSync(other, new Date(1e12), new Date(1e12))
    await writeEntry(cache, KEY, assets('m.pb', false), 'm.pb')
    expect(list('entries')).toEqual([running, `${KEY}.bin`, 'notes.tmp'].sort())
    expect(list('entries')).not.toContain(dead)
  })
})

describe('cleanCache', () => {
  it('removes every entry and path record and then the folders, and counts the entries', async () => {
    await writeEntry(cache, KEY, assets('m.pb', true), 'm.pb')
    await writeEntry(cache, 'd'.repeat(64), assets('m.pb', true), 'm.pb')
    await recordDigest(cache, path.join(dir, 'model.pb'), fs.statSync(dir), 'e'.repeat(64))
    tmp2(deadPid())
    expect(await cleanCache(cache.dir)).toBe(2)
    expect(fs.existsSync(cache.dir)).toBe(false)
    expect(await cleanCache(cache.dir)).toBe(0)
  })

  const tmp2 = (pid: number) => {
    const f = path.join(cache.dir, 'paths', `${'b'.repeat(32)}.json.${pid}.0123abcd.tmp`)
    fs.writeFileSync(f, '')
    return f
  }

  it("leaves a running build's temporary file, and the folders holding it", async () => {
    await writeEntry(cache, KEY, assets('m.pb', true), 'm.pb')
    await recordDigest(cache, path.join(dir, 'model.pb'), fs.statSync(dir), 'e'.repeat(64))
    const running = tmp2(process.pid)
    expect(await cleanCache(cache.dir)).toBe(1)
    expect(fs.readdirSync(cache.dir)).toEqual(['paths'])
    expect(fs.readdirSync(path.join(cache.dir, 'paths'))).toEqual([path.basename(running)])
  })

  const inPaths = (name: string) => {
    fs.mkdirSync(path.join(cache.dir, 'paths'), { recursive: true })
    fs.writeFileSync(path.join(cache.dir, 'paths', name), '')
  }

  for (const [what, make, named] of [
    ['a file beside its folders', () => fs.writeFileSync(path.join(cache.dir, 'notes.txt'), ''), 'notes.txt'],
    ['a file named like a folder of its own', () => fs.writeFileSync(path.join(cache.dir, 'paths'), ''), 'paths'],
    ['a stranger inside entries/', () => fs.writeFileSync(path.join(cache.dir, 'entries', 'x.bin'), ''), path.join('entries', 'x.bin')],
    ['a folder inside entries/', () => fs.mkdirSync(path.join(cache.dir, 'entries', `${'f'.repeat(64)}.bin`)), path.join('entries', `${'f'.repeat(64)}.bin`)],
    // Names that an entry's, a path record's or a temporary file's name only starts or ends:
    // someone's copies, not the cache's own.
    ['a copy of an entry', () => fs.writeFileSync(path.join(cache.dir, 'entries', `${KEY}.bin.orig`), ''), path.join('entries', `${KEY}.bin.orig`)],
    ['an entry renamed with a prefix', () => fs.writeFileSync(path.join(cache.dir, 'entries', `old-${KEY}.bin`), ''), path.join('entries', `old-${KEY}.bin`)],
    ['a path record renamed with a prefix', () => inPaths(`x${'b'.repeat(32)}.json`), path.join('paths', `x${'b'.repeat(32)}.json`)],
    ['a copy of a dead build\'s temporary file', () => inPaths(`${'b'.repeat(32)}.json.${deadPid()}.0123abcd.tmp.bak`), path.join('paths', `${'b'.repeat(32)}.json.`)],
    ['a dead build\'s temporary file renamed with a prefix', () => inPaths(`x${'b'.repeat(32)}.json.${deadPid()}.0123abcd.tmp`), path.join('paths', `x${'b'.repeat(32)}.json.`)],
  ] as const) {
    it(`refuses a folder holding ${what}, naming it, and removes nothing`, async () => {
      await writeEntry(cache, KEY, assets('m.pb', true), 'm.pb')
      make()
      const before = fs.readdirSync(cache.dir, { recursive: true }).sort()
      const e = await cleanCache(cache.dir).catch((x: unknown) => x)
      expect(e).toBeInstanceOf(MpscnnError)
      expect((e as MpscnnError).code).toBe('NOT_A_CACHE')
      expect((e as MpscnnError).message).toContain(named)
      expect((e as MpscnnError).message).toContain('nothing was removed. Check --cache-dir')
      expect(fs.readdirSync(cache.dir, { recursive: true }).sort()).toEqual(before)
    })
  }

  it('refuses a path that is a file', async () => {
    const file = path.join(dir, 'file')
    fs.writeFileSync(file, 'x')
    await expect(cleanCache(file)).rejects.toMatchObject({ code: 'NOT_A_CACHE', message: expect.stringContaining('is not a folder, so not an unplugin-mpscnn cache. Check --cache-dir') })
    expect(fs.readFileSync(file, 'utf8')).toBe('x')
  })

  it('passes on an error other than a missing folder or a file (a name too long)', async () => {
    await expect(cleanCache(path.join(dir, 'x'.repeat(300)))).rejects.toMatchObject({ code: 'ENAMETOOLONG' })
  })

  it('leaves an empty folder it is given as it is', async () => {
    fs.mkdirSync(cache.dir)
    expect(await cleanCache(cache.dir)).toBe(0)
    expect(fs.existsSync(cache.dir)).toBe(true)
  })
})
