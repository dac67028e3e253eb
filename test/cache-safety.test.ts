/**
 * Nothing lost, nothing left behind by the cache: `mpscnn cache clean` removes
 * only what it recognises as the cache's own and refuses any other folder, and the next
 * build removes the temporary files of builds that were killed (real processes,
 * SIGKILLed while writing an entry), never those of a build still running.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cacheWritesSettled, loadModel } from '../src/plugin/core.js'
import { resolveOptions } from '../src/plugin/options.js'
import { makeInceptionV3_2015 } from './helpers/inception.js'
import { exitedPid, killWhen, runningProcess } from './helpers/processes.js'

const repo = path.resolve(__dirname, '..')
const model = makeInceptionV3_2015({ scale: 16, seed: 21, expected: false }).bytes
let tmp: string

function clean(cacheDir: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [path.join(repo, 'bin/mpscnn.js'), 'cache', 'clean', '--cache-dir', cacheDir], { encoding: 'utf8' })
}

/** Every file under `dir`, relative, sorted. */
function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort()
}

/** A folder with the model, and a cache in `cache/` filled by one build (this process). */
async function builtCache(): Promise<{ dir: string; file: string; cacheDir: string; load: (cacheDir: string) => Promise<boolean> }> {
  const dir = fs.mkdtempSync(path.join(tmp, 'project-'))
  const file = path.join(dir, 'model.pb')
  fs.writeFileSync(file, model)
  const old = new Date(Date.now() - 60_000) // old enough for the path index to trust
  fs.utimesSync(file, old, old)
  const load = async (cacheDir: string) => {
    const r = await loadModel(file, resolveOptions({ cacheDir }, dir), dir, () => {})
    await cacheWritesSettled()
    return r.fromCache
  }
  const cacheDir = path.join(dir, 'cache')
  expect(await load(cacheDir)).toBe(false)
  return { dir, file, cacheDir, load }
}

/** The name writeAtomic gives the temporary file of `name` written by process `pid`. */
const tmpName = (name: string, pid: number) => `${name}.${pid}.0123abcd.tmp`

beforeAll(() => {
  if (!fs.existsSync(path.join(repo, 'dist', 'cli', 'bundle.js'))) throw new Error('dist/ is missing: run `npm run build` first')
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-cache-safety-'))
})

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})

describe('mpscnn cache clean', () => {
  it('refuses a folder that is not a cache (--cache-dir src) and removes nothing', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'project-'))
    const src = path.join(dir, 'src')
    fs.mkdirSync(path.join(src, 'lib'), { recursive: true })
    fs.writeFileSync(path.join(src, 'main.js'), 'export {}\n')
    fs.writeFileSync(path.join(src, 'lib', 'util.js'), 'export {}\n')
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine\n')
    for (const [cacheDir, says] of [
      [src, 'is not an unplugin-mpscnn cache: it holds "lib" and "main.js"; nothing was removed'],
      [path.join(dir, 'notes.txt'), 'is not a folder, so not an unplugin-mpscnn cache'],
    ]) {
      const r = clean(cacheDir)
      expect(r.status, r.stderr).toBe(1)
      expect(r.stdout).toBe('')
      expect(r.stderr).toBe(`mpscnn: ${cacheDir}: ${says}. Check --cache-dir\n`)
    }
    expect(files(dir)).toEqual(['notes.txt', 'src/lib/util.js', 'src/main.js'])
  })

  it('refuses a cache holding a file of someone else, and removes nothing', async () => {
    const { cacheDir } = await builtCache()
    fs.writeFileSync(path.join(cacheDir, 'entries', 'keep.txt'), 'mine\n')
    const before = files(cacheDir)
    const r = clean(cacheDir)
    expect(r.status).toBe(1)
    expect(r.stderr).toBe(`mpscnn: ${cacheDir}: is not an unplugin-mpscnn cache: it holds "entries/keep.txt"; nothing was removed. Check --cache-dir\n`)
    expect(files(cacheDir)).toEqual(before)
  })

  it("removes the entries, the path index and a killed build's temporary files; a running build's stay", async () => {
    const { cacheDir } = await builtCache()
    const [entry] = fs.readdirSync(path.join(cacheDir, 'entries'))
    const [record] = fs.readdirSync(path.join(cacheDir, 'paths'))
    const running = runningProcess()
    try {
      const dead = exitedPid()
      fs.writeFileSync(path.join(cacheDir, 'entries', tmpName(entry, dead)), 'half an entry')
      fs.writeFileSync(path.join(cacheDir, 'paths', tmpName(record, dead)), '{')
      const live = path.join('entries', tmpName(entry, running.pid!))
      fs.writeFileSync(path.join(cacheDir, live), 'being written')
      const r = clean(cacheDir)
      expect(r.status, r.stderr).toBe(0)
      expect(r.stdout).toBe(`mpscnn: removed 1 cache entry from ${cacheDir}\n`)
      expect(files(cacheDir)).toEqual([live])
    } finally {
      running.kill()
    }
  })
})

describe('temporary files of killed builds', () => {
  it("the next build, served from the cache, removes a killed build's temporary files, not a running one's", async () => {
    const { cacheDir, load, dir } = await builtCache()
    // A cache this process has not used yet, holding the same entry and index.
    const next = path.join(dir, 'next-cache')
    fs.cpSync(cacheDir, next, { recursive: true })
    const [entry] = fs.readdirSync(path.join(next, 'entries'))
    const [record] = fs.readdirSync(path.join(next, 'paths'))
    const running = runningProcess()
    try {
      const dead = exitedPid()
      const killed = [path.join('entries', tmpName(entry, dead)), path.join('paths', tmpName(record, dead))]
      fs.copyFileSync(path.join(next, 'entries', entry), path.join(next, killed[0]))
      fs.writeFileSync(path.join(next, killed[1]), '{"file":')
      const live = path.join('entries', tmpName(entry, running.pid!))
      fs.writeFileSync(path.join(next, live), 'being written')
      expect(await load(next)).toBe(true)
      expect(files(next)).toEqual([path.join('entries', entry), live, path.join('paths', record)].sort())
    } finally {
      running.kill()
    }
  })

  it('a temporary file over an hour old is removed even when its PID is running (the PID may have been taken again)', async () => {
    const { cacheDir, load, dir } = await builtCache()
    const next = path.join(dir, 'next-cache')
    fs.cpSync(cacheDir, next, { recursive: true })
    const [entry] = fs.readdirSync(path.join(next, 'entries'))
    const running = runningProcess()
    try {
      const stale = path.join('entries', tmpName(entry, running.pid!))
      const fresh = path.join('entries', tmpName(entry, process.pid))
      for (const f of [stale, fresh]) fs.writeFileSync(path.join(next, f), 'being written')
      const hoursAgo = new Date(Date.now() - 2 * 3600_000)
      fs.utimesSync(path.join(next, stale), hoursAgo, hoursAgo)
      expect(await load(next)).toBe(true)
      const left = files(next)
      expect(left).toContain(fresh)
      expect(left).not.toContain(stale)
    } finally {
      running.kill()
    }
  })

  it('a build killed while writing its entry leaves a temporary file that the next build removes', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'killed-'))
    const file = path.join(dir, 'model.pb')
    fs.writeFileSync(file, model)
    const cacheDir = path.join(dir, 'cache')
    const script = path.join(dir, 'build.mjs')
    fs.writeFileSync(
      script,
      `import { cacheWritesSettled, loadModel } from ${JSON.stringify(path.join(repo, 'dist/plugin/core.js'))}
import { resolveOptions } from ${JSON.stringify(path.join(repo, 'dist/plugin/options.js'))}
await loadModel(${JSON.stringify(file)}, resolveOptions({ cacheDir: ${JSON.stringify(cacheDir)} }), ${JSON.stringify(dir)}, () => {})
await cacheWritesSettled()
`,
    )
    const tmpFiles = () => {
      try {
        return fs.readdirSync(path.join(cacheDir, 'entries')).filter((n) => n.endsWith('.tmp'))
      } catch {
        return []
      }
    }
    // Killed the moment its entry's temporary file appears (a build that got past it is tried again).
    for (let attempt = 0; attempt < 3 && tmpFiles().length === 0; attempt++) {
      fs.rmSync(cacheDir, { recursive: true, force: true })
      await killWhen(spawn(process.execPath, [script], { stdio: 'ignore' }), () => tmpFiles().length > 0)
    }
    expect(tmpFiles()).toHaveLength(1)
    const options = resolveOptions({ cacheDir }, dir)
    expect((await loadModel(file, options, dir, () => {})).fromCache).toBe(false)
    await cacheWritesSettled()
    expect(tmpFiles()).toEqual([])
    expect(fs.readdirSync(path.join(cacheDir, 'entries'))).toHaveLength(1)
  })
})
