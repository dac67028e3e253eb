/**
 * What each piece of performance machinery buys: the same end-to-end operation on the
 * full-size model with the piece and without it (the simplest alternative), as medians of
 * interleaved rounds (with, without, with, ...). Run by bench/run.mjs (step h), or alone:
 *
 *   node --expose-gc bench/pieces.mjs [model.pb] [rounds] [piece]      (npm run build first)
 *
 * `piece`: only the pieces whose name matches this regular expression.
 *
 * Every sample is a fresh child process, cold as a CLI run or a build is. The alternatives
 * are real code paths: an injected parameter of the CLI (`main`'s tuning) or of src/ (the
 * hash worker's threshold, a layout region not attached), or the simplest alternative
 * written here from the modules of dist/ (a plain read and a copy into the model memory,
 * one sequential read, one conversion after another). The first, untimed round checks that
 * both variants give the same bytes.
 *
 * Prints a markdown table, and as its last line the same as JSON (for bench/run.mjs).
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'

const REPO = fileURLToPath(new URL('..', import.meta.url))
const TMP = path.join(REPO, 'bench/.tmp')
const dist = (f) => pathToFileURL(path.join(REPO, 'dist', f)).href
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b)
  const i = (s.length - 1) * q
  return s[Math.floor(i)] + (s[Math.ceil(i)] - s[Math.floor(i)]) * (i - Math.floor(i))
}

// ---------------------------------------------------------------------------------------
// The operations, one per child process: `--child <case> <model> <out> <check>`. Each prints
// one JSON line: ms (the operation, timed inside; the CLI cases are timed from outside),
// peak RSS, and with <check> a digest of what it produced.
// ---------------------------------------------------------------------------------------

/** sha256 over a sequence of byte arrays, in order. */
function digestOf(parts) {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest('hex')
}

const bytesOf = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

// What the operations use, loaded before any is timed (a child runs one).
let io, convertModel, sha256Hex, convertToAssets, convertScheduled
async function load() {
  io = await import(dist('io/read.js'))
  ;({ convertModel, sha256Hex } = await import(dist('fold/convert.js')))
  ;({ convertToAssets } = await import(dist('pipeline/convert-to-assets.js')))
  ;({ convertScheduled } = await import(dist('parallel/scheduler.js')))
}

/** Parse, plan and lay out every layer from `mem`, with the SIMD kernel or with the scalar JS layout. */
function layOutAll(mem, model, simd, check) {
  const m = convertModel(mem.bytes, { file: model, transient: true })
  if (simd) io.attachLayout(mem, m.layoutRegion)
  const h = check ? createHash('sha256') : undefined
  for (const out of m.outputs()) h?.update(bytesOf(out.weights)).update(bytesOf(out.bias))
  return h?.digest('hex')
}

/** The plugin's conversion of a model it has not seen, without the cache: read, convert in memory, sha256. */
async function pluginConvert(model, { parallelRead }) {
  const { bytes, memory } = parallelRead ? await io.readModelMemoryInParallel(model) : io.readModelMemory(model)
  const a = convertToAssets({ bytes, memory, sha256: null }, model, { packed: false, align: 256, precision: 'float32' })
  a.header.sha256 = sha256Hex(bytes)
  return a
}

const assetsDigest = (a) => digestOf([a.header.sha256, ...[...a.files].flatMap(([n, b]) => [n, b])])

const CASES = {
  // The SIMD kernel: the layout of every layer from the model memory, kernel vs scalar JS.
  'simd:on': (model, check) => {
    const mem = io.readModelMemory(model)
    return timed(() => layOutAll(mem, model, true, check))
  },
  'simd:off': (model, check) => {
    const mem = io.readModelMemory(model)
    return timed(() => layOutAll(mem, model, false, check))
  },
  // Reading straight into the wasm memory vs a plain read copied into one (the kernel needs it there).
  'wasm:on': (model, check) => timed(() => layOutAll(io.readModelMemory(model), model, true, check)),
  'wasm:off': (model, check) => timed(() => layOutAll(io.toModelMemory(fs.readFileSync(model)), model, true, check)),
  // Neither the kernel nor the wasm memory: a plain read, the scalar layout.
  'plain:off': (model, check) => timed(() => layOutAll({ bytes: fs.readFileSync(model) }, model, false, check)),
  // The plugin: parallel chunked reads vs one sequential read.
  'pread:on': (model, check) => plugin(model, check, { parallelRead: true }),
  'pread:off': (model, check) => plugin(model, check, { parallelRead: false }),
  // Three models in one build: convert workers (the scheduler's choice) vs one after another.
  'multi:on': (model, check) => multi(model, check, true),
  'multi:off': (model, check) => multi(model, check, false),
}

/** Wall and CPU time (all threads) of `fn`, and what it returns as `digest`. */
async function timed(fn) {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const digest = await fn()
  const ms = performance.now() - t0
  const c = process.cpuUsage(c0)
  return { ms, cpu: (c.user + c.system) / 1000, digest }
}

function plugin(model, check, how) {
  return timed(async () => {
    const a = await pluginConvert(model, how)
    return check ? assetsDigest(a) : undefined
  })
}

function multi(model, check, together) {
  return timed(async () => {
    const o = { packed: false, align: 256, precision: 'float32' }
    const names = ['a.pb', 'b.pb', 'c.pb']
    const mems = await Promise.all(names.map(() => io.readModelMemoryInParallel(model)))
    const convert = (m, i) => convertScheduled({ bytes: m.bytes, memory: m.memory, sha256: null }, names[i], o)
    let out
    if (together) out = await Promise.all(mems.map(convert))
    else {
      out = []
      for (let i = 0; i < mems.length; i++) out.push(await convert(mems[i], i))
    }
    return check ? digestOf(out.map(assetsDigest)) : undefined
  })
}

/** The CLI as bin/mpscnn.js runs it (its worker started before the bundle loads), with `tuning`. */
async function cliChild(model, out, variant) {
  const tuning = { one: { layoutWorkerMinBytes: Infinity }, two: {} }[variant]
  const worker = variant === 'one' ? undefined : new Worker(new URL('../dist/parallel/layout-worker.js', import.meta.url))
  const { main } = await import(dist('cli/bundle.js'))
  const code = await main(['convert', model, '--out-dir', out, '--quiet'], worker, tuning)
  if (code !== 0) throw new Error(`mpscnn convert exited with ${code}`)
}

const argv = process.argv.slice(2)
if (argv[0] === '--child') {
  const [, c, model, out, check] = argv
  let r = {}
  if (c.startsWith('cli:')) await cliChild(model, out, c.slice(4))
  else {
    await load()
    r = await CASES[c](model, check === '1')
  }
  const u = process.resourceUsage()
  process.stdout.write(`${JSON.stringify({ cpu: (u.userCPUTime + u.systemCPUTime) / 1000, ...r, rss: u.maxRSS * 1024 })}\n`)
  process.exit(0)
}

// ---------------------------------------------------------------------------------------
// The parent: pieces, rounds, table.
// ---------------------------------------------------------------------------------------

const MODEL = path.resolve(argv[0] ?? path.join(TMP, 'inception_v3_2015.pb'))
const ROUNDS = Math.max(7, Number(argv[1] ?? 9) || 9)
const ONLY = argv[2]
if (!fs.existsSync(path.join(REPO, 'dist/cli/bundle.js'))) throw new Error('dist/ is missing: run `npm run build` first')
if (!fs.existsSync(MODEL)) throw new Error(`${MODEL} is missing: \`npm run bench\` generates it`)
fs.mkdirSync(TMP, { recursive: true })
const OUT = path.join(TMP, 'pieces-out')

/** Each piece: what it does, its case with it and without it, and whether its memory matters. */
const PIECES = [
  { piece: 'SIMD layout kernel (fold/simd.ts, wasm/transpose.wat, scripts/build-wasm.mjs)', op: 'parse, plan and lay out all 95 layers from memory', on: 'simd:on', off: 'simd:off', without: 'scalar JS layout (fold/layout.ts)' },
  { piece: 'read into the wasm memory (io/read.ts)', op: 'read + parse, plan, SIMD layout', on: 'wasm:on', off: 'wasm:off', without: 'plain read, copied into a wasm memory', rss: true },
  { piece: 'SIMD kernel and wasm memory together', op: 'read + parse, plan, layout', on: 'wasm:on', off: 'plain:off', without: 'plain read, scalar JS layout', rss: true },
  { piece: "CLI's layout worker (parallel/layout-worker.ts, layout-helper.ts, bin/mpscnn.js)", op: '`mpscnn convert`, whole process', on: 'cli:two', off: 'cli:one', without: 'one thread (sha256 on it too)', rss: true },
  { piece: "plugin's parallel chunked read (io/read.ts readInParallel)", op: 'plugin conversion: read, convert, sha256', on: 'pread:on', off: 'pread:off', without: 'one sequential read into the same memory' },
  { piece: 'convert workers (parallel/scheduler.ts, convert-worker.ts), 3 models', op: 'read 3 models + convert all 3', on: 'multi:on', off: 'multi:off', without: 'one conversion after another', rss: true },
]

function filesDigest(dir) {
  const names = fs.readdirSync(dir).sort()
  return digestOf(names.flatMap((n) => [n, fs.readFileSync(path.join(dir, n))]))
}

function sample(c, check) {
  fs.rmSync(OUT, { recursive: true, force: true })
  spawnSync('sync')
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', c, MODEL, OUT, check ? '1' : '0'], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 })
  const wall = performance.now() - t0
  if (r.status !== 0) throw new Error(`${c} failed (${r.status ?? r.signal}):\n${r.stderr}`)
  const j = JSON.parse(r.stdout.trim().split('\n').pop())
  if (c.startsWith('cli:')) {
    j.ms = wall
    if (check) j.digest = filesDigest(OUT)
  }
  return j
}

const problems = []
const rows = []
const log = (s) => process.stderr.write(`${s}\n`)
log(`pieces: ${ROUNDS} rounds, ${path.relative(REPO, MODEL)} (${(fs.statSync(MODEL).size / 1e6).toFixed(1)} MB), load average ${os.loadavg()[0].toFixed(2)}`)
for (const p of PIECES.filter((p) => !ONLY || new RegExp(ONLY).test(p.piece))) {
  const on = []
  const off = []
  for (let round = -1; round < ROUNDS; round++) {
    // Alternate which goes first, so that neither always runs after the same other. A case
    // two pieces share runs again for each: with and without stay next to each other in time.
    const got = Object.fromEntries((round % 2 ? [p.off, p.on] : [p.on, p.off]).map((c) => [c, sample(c, round < 0)]))
    const [x, y] = [got[p.on], got[p.off]]
    if (round < 0) {
      if (x.digest !== y.digest) problems.push(`${p.piece}: with and without it, the outputs differ`)
      continue
    }
    on.push(x)
    off.push(y)
  }
  const diffs = on.map((x, i) => off[i].ms - x.ms)
  const row = {
    piece: p.piece,
    op: p.op,
    without: p.without,
    with: median(on.map((x) => x.ms)),
    withoutMs: median(off.map((x) => x.ms)),
    buys: median(diffs),
    iqr: [quantile(diffs, 0.25), quantile(diffs, 0.75)],
    cpuWith: median(on.map((x) => x.cpu)),
    cpuWithout: median(off.map((x) => x.cpu)),
    rssWith: p.rss ? median(on.map((x) => x.rss)) : undefined,
    rssWithout: p.rss ? median(off.map((x) => x.rss)) : undefined,
    samples: { with: on.map((x) => Math.round(x.ms)), without: off.map((x) => Math.round(x.ms)) },
  }
  rows.push(row)
  log(`  ${p.piece}: ${Math.round(row.with)} vs ${Math.round(row.withoutMs)} ms, buys ${Math.round(row.buys)} ms (per-round IQR ${row.iqr.map(Math.round).join(' to ')})`)
}

const ms = (x) => `${Math.round(x)}`
const mb = (x) => (x === undefined ? '' : `${(x / 1e6).toFixed(0)}`)
const table = [
  '| piece | operation (95.7 MB model) | without it | with (ms) | without (ms) | buys (ms) | buys, middle half of rounds (ms) | CPU with / without (ms) | peak RSS with / without (MB) |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.piece} | ${r.op} | ${r.without} | ${ms(r.with)} | ${ms(r.withoutMs)} | ${ms(r.buys)} | ${ms(r.iqr[0])} to ${ms(r.iqr[1])} | ${ms(r.cpuWith)} / ${ms(r.cpuWithout)} | ${r.rssWith === undefined ? '' : `${mb(r.rssWith)} / ${mb(r.rssWithout)}`} |`),
].join('\n')
process.stdout.write(`${table}\n\n(${ROUNDS} rounds, medians; "buys": median over rounds of without minus with; CPU: all threads of the process, the CLI's from its start; node ${process.version}, ${os.cpus()[0]?.model} x ${os.cpus().length}, ${new Date().toISOString()})\n`)
for (const p of problems) process.stdout.write(`FAIL: ${p}\n`)
process.stdout.write(`${JSON.stringify({ rounds: ROUNDS, rows, problems })}\n`)
fs.rmSync(OUT, { recursive: true, force: true })
if (problems.length) process.exitCode = 1
