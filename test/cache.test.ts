/**
 * The persistent cache, on real files: hits, misses, the path fast path, corrupt and
 * truncated entries, concurrent builds sharing one cache, pruning, and `cache clean`.
 */
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { cacheWritesSettled, loadModel } from '../src/plugin/core.js'
import { resolveOptions } from '../src/plugin/options.js'
import { makeInceptionV3_2015 } from './helpers/inception.js'

const repo = path.resolve(__dirname, '..')
const fixture = makeInceptionV3_2015({ scale: 16, seed: 7 })
const other = makeInceptionV3_2015({ scale: 16, seed: 8 })

function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-cache-'))
}

function setup() {
  const dir = tmpdir()
  const model = path.join(dir, 'model.pb')
  fs.writeFileSync(model, fixture.bytes)
  // Old enough for the path index to trust its mtime.
  const old = new Date(Date.now() - 60_000)
  fs.utimesSync(model, old, old)
  const options = resolveOptions({ cacheDir: path.join(dir, 'cache') }, dir)
  const warnings: string[] = []
  // Entries are written in the background; a build waits for them in writeBundle.
  const load = async (o = options) => {
    const r = await loadModel(model, o, dir, (m) => warnings.push(m))
    await cacheWritesSettled()
    return r
  }
  return { dir, model, options, warnings, load }
}

function expectMatchesOracle(files: Map<string, Uint8Array>, layers = fixture.layers) {
  for (const l of layers) {
    const w = files.get(`weights_${l.name}.dat`)!
    expect(new Float32Array(Uint8Array.from(w).buffer)).toEqual(l.weights.map((v) => v))
  }
}

function entries(cacheDir: string) {
  return fs.readdirSync(path.join(cacheDir, 'entries')).filter((f) => f.endsWith('.bin'))
}

describe('persistent cache', () => {
  it('converts once, then serves identical bytes from the cache', async () => {
    const s = setup()
    const first = await s.load()
    expect(first.fromCache).toBe(false)
    expect(first.summary).toMatch(/^model\.pb: 95 layers, [\d.]+ kB, converted in \d+ ms$/)
    const second = await s.load()
    expect(second.fromCache).toBe(true)
    expect(second.summary).toMatch(/from cache/)
    expect([...second.assets.files.keys()]).toEqual([...first.assets.files.keys()])
    for (const [k, v] of first.assets.files) expect(Buffer.compare(Buffer.from(v), Buffer.from(second.assets.files.get(k)!))).toBe(0)
    expect(second.assets.header).toEqual(first.assets.header)
    expect(fs.readdirSync(path.join(s.options.cacheDir, 'paths'))).toHaveLength(1)
    // Nothing to report: the entry was written and read back without a problem.
    expect(s.warnings).toEqual([])
    expect(second.assets.warnings).toEqual(first.assets.warnings)
    // The network description comes back with the weights.
    expect(first.assets.network?.nodes.length).toBeGreaterThan(95)
    expect(second.assets.network).toEqual(first.assets.network)
  })

  it('a changed model is converted again, never served stale', async () => {
    const s = setup()
    await s.load()
    fs.writeFileSync(s.model, other.bytes)
    const again = await s.load()
    expect(again.fromCache).toBe(false)
    expectMatchesOracle(again.assets.files, other.layers)
  })

  it('the same bytes under a new mtime are found by content hash', async () => {
    const s = setup()
    await s.load()
    const now = new Date()
    fs.utimesSync(s.model, now, now)
    expect((await s.load()).fromCache).toBe(true)
  })

  it('the key covers output options: float16 and packed are separate entries', async () => {
    const s = setup()
    await s.load()
    const half = await s.load(resolveOptions({ cacheDir: s.options.cacheDir, precision: 'float16' }, s.dir))
    const packed = await s.load(resolveOptions({ cacheDir: s.options.cacheDir, packed: true }, s.dir))
    expect(half.fromCache).toBe(false)
    expect(packed.fromCache).toBe(false)
    expect(half.assets.header.precision).toBe('float16')
    expect([...packed.assets.files.keys()]).toEqual(['model.dat'])
    expect(entries(s.options.cacheDir)).toHaveLength(3)
  })

  for (const damage of ['flip', 'truncate', 'empty'] as const) {
    it(`a ${damage === 'flip' ? 'modified' : damage === 'truncate' ? 'truncated' : 'emptied'} entry is reported once, rebuilt, never served`, async () => {
      const s = setup()
      await s.load()
      const [entry] = entries(s.options.cacheDir)
      const file = path.join(s.options.cacheDir, 'entries', entry)
      const buf = fs.readFileSync(file)
      if (damage === 'flip') {
        buf[Math.floor(buf.length / 2)] ^= 0x40
        fs.writeFileSync(file, buf)
      } else fs.writeFileSync(file, damage === 'truncate' ? buf.subarray(0, buf.length - 1000) : Buffer.alloc(0))
      const again = await s.load()
      expect(again.fromCache).toBe(false)
      expect(s.warnings).toHaveLength(1)
      expect(s.warnings[0]).toMatch(/model\.pb: cache entry \w+ was corrupt .*converting again/)
      expectMatchesOracle(again.assets.files)
      const third = await s.load()
      expect(third.fromCache).toBe(true)
      expect(s.warnings).toHaveLength(1)
    })
  }

  it('an entry of several read chunks (read in parallel, checked as it arrives) is served intact, and damage to its last chunk is caught', async () => {
    const big = makeInceptionV3_2015({ scale: 4, seed: 9 })
    const s = setup()
    fs.writeFileSync(s.model, big.bytes)
    const old = new Date(Date.now() - 60_000)
    fs.utimesSync(s.model, old, old)
    const first = await s.load()
    const [entry] = entries(s.options.cacheDir)
    const file = path.join(s.options.cacheDir, 'entries', entry)
    expect(fs.statSync(file).size).toBeGreaterThan(4 << 20) // more than one 4 MB chunk
    const second = await s.load()
    expect(second.fromCache).toBe(true)
    expectMatchesOracle(second.assets.files, big.layers)
    for (const [name, bytes] of first.assets.files) expect(Buffer.from(second.assets.files.get(name)!).equals(Buffer.from(bytes)), name).toBe(true)
    const buf = fs.readFileSync(file)
    buf[buf.length - 10] ^= 0x01
    fs.writeFileSync(file, buf)
    const third = await s.load()
    expect(third.fromCache).toBe(false)
    expect(s.warnings.join('\n')).toMatch(/was corrupt \(checksum mismatch/)
  })

  it('cache: false writes nothing', async () => {
    const s = setup()
    const r = await s.load(resolveOptions({ cacheDir: s.options.cacheDir, cache: false }, s.dir))
    expect(r.fromCache).toBe(false)
    expect(fs.existsSync(s.options.cacheDir)).toBe(false)
  })

  it('prunes least recently used entries past cacheMaxBytes', async () => {
    const s = setup()
    const o = (extra: object) => resolveOptions({ cacheDir: s.options.cacheDir, ...extra }, s.dir)
    const sizeOf = () => entries(s.options.cacheDir).map((e) => fs.statSync(path.join(s.options.cacheDir, 'entries', e)).size)
    const tick = () => new Promise((r) => setTimeout(r, 30))
    await s.load(o({}))
    const [full] = sizeOf()
    await tick()
    await s.load(o({ precision: 'float16' }))
    await tick()
    expect((await s.load(o({}))).fromCache).toBe(true) // float32 is now the most recently used
    await tick()
    // Room for the float32 and the packed entry, not the float16 one too.
    await s.load(o({ packed: true, cacheMaxBytes: Math.floor(full * 2.3) }))
    expect(entries(s.options.cacheDir)).toHaveLength(2)
    expect((await s.load(o({}))).fromCache).toBe(true)
    expect((await s.load(o({ packed: true }))).fromCache).toBe(true)
    expect((await s.load(o({ precision: 'float16' }))).fromCache).toBe(false)
  })
})

describe('builds sharing one cache', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(repo, 'dist/plugin/rollup.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
  })

  it('two rollup builds at once on a cold cache both succeed with correct output', async () => {
    const dir = tmpdir()
    fs.writeFileSync(path.join(dir, 'model.pb'), fixture.bytes)
    fs.writeFileSync(path.join(dir, 'main.js'), "import m from './model.pb'\nexport default m\n")
    const script = `
      import { rollup } from ${JSON.stringify(path.join(repo, 'node_modules/rollup/dist/es/rollup.js'))}
      import mpscnn from ${JSON.stringify(path.join(repo, 'dist/plugin/rollup.js'))}
      const out = process.argv[2]
      const b = await rollup({ input: ${JSON.stringify(path.join(dir, 'main.js'))}, plugins: [mpscnn({ cacheDir: ${JSON.stringify(path.join(dir, 'cache'))} })], onLog() {} })
      await b.write({ dir: out, format: 'es' })
    `
    fs.writeFileSync(path.join(dir, 'build.mjs'), script)
    const run = (out: string) =>
      new Promise<number>((resolve) => {
        const p = spawn(process.execPath, [path.join(dir, 'build.mjs'), path.join(dir, out)], { stdio: 'inherit' })
        p.on('exit', (code) => resolve(code ?? 1))
      })
    const codes = await Promise.all([run('a'), run('b')])
    expect(codes).toEqual([0, 0])
    for (const out of ['a', 'b']) {
      const mod = await import(path.join(dir, out, 'main.js'))
      const m = mod.default
      expect(m.layers).toHaveLength(95)
      for (const [i, l] of fixture.layers.entries()) {
        const url = new URL(m.layers[i].weights.url)
        expect(new Float32Array(Uint8Array.from(fs.readFileSync(url)).buffer)).toEqual(l.weights)
      }
    }
    // One valid entry, no temporary files left.
    expect(fs.readdirSync(path.join(dir, 'cache/entries')).filter((f) => f.endsWith('.tmp'))).toEqual([])
    expect(fs.readdirSync(path.join(dir, 'cache/entries'))).toHaveLength(1)
  })

  it('a model written a moment ago is served from the cache by the next build process', async () => {
    const dir = tmpdir()
    fs.writeFileSync(path.join(dir, 'model.pb'), fixture.bytes) // mtime: now, too fresh to trust
    fs.writeFileSync(path.join(dir, 'main.js'), "import m from './model.pb'\nexport default m\n")
    const script = `
      import { rollup } from ${JSON.stringify(path.join(repo, 'node_modules/rollup/dist/es/rollup.js'))}
      import mpscnn from ${JSON.stringify(path.join(repo, 'dist/plugin/rollup.js'))}
      const b = await rollup({ input: ${JSON.stringify(path.join(dir, 'main.js'))}, plugins: [mpscnn({ cacheDir: ${JSON.stringify(path.join(dir, 'cache'))} })],
        onLog(level, log) { if (log.plugin === 'unplugin-mpscnn') console.log(log.message) } })
      await b.write({ dir: ${JSON.stringify(path.join(dir, 'out'))}, format: 'es' })
    `
    fs.writeFileSync(path.join(dir, 'build.mjs'), script)
    const build = () => spawnSync(process.execPath, [path.join(dir, 'build.mjs')], { encoding: 'utf8' })
    const first = build()
    expect(first.status).toBe(0)
    expect(first.stdout).toMatch(/model\.pb: 95 layers, .* converted in/)
    const second = build()
    expect(second.status).toBe(0)
    expect(second.stdout).toMatch(/model\.pb: 95 layers, .* from cache in/)
  })

  it('`mpscnn cache clean` empties the cache', async () => {
    const s = setup()
    await s.load()
    const r = spawnSync(process.execPath, [path.join(repo, 'bin/mpscnn.js'), 'cache', 'clean', '--cache-dir', s.options.cacheDir], { encoding: 'utf8' })
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/removed 1 cache entry/)
    expect(fs.existsSync(s.options.cacheDir)).toBe(false)
  })
})
