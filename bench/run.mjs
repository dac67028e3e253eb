/**
 * `npm run bench` (= `npm run build && node --expose-gc bench/run.mjs`).
 *
 * Measures the converter on the full-size Inception v3 2015 GraphDef (95.7 MB, random
 * weights, generated once into bench/.tmp/), each measure as the median of RUNS runs
 * interleaved with its baseline in this same process run (ours, baseline, ours, ...):
 *
 *   a. CLI, whole process, vs a numpy + protobuf implementation of the original script
 *      (bench/baseline_numpy.py), vs `cp model.pb`, and vs a Node process that only
 *      reads the model and writes the same files (bench/io-floor.mjs: what any Node
 *      converter pays). Also both CLI and numpy into their previous output, as when a
 *      conversion is run again.
 *   b. The CLI's code path in this process (`main` of dist/cli/main.js) vs the same I/O floor
 *      (`ioFloor` of bench/io-floor.mjs: read, same files written, folder swap) in this process.
 *   c. Peak RSS of the CLI (GNU time %M) vs the model's size.
 *   d. Vite builds (one child process each, bench/vite-build.mjs): cold (fresh cacheDir)
 *      and warm (populated cacheDir) with the plugin vs the same app importing the
 *      model as `model.pb?url`.
 *   e. One Vite build of three scale-2 models (seeds 1, 2, 3) vs 3x a one-model build;
 *      every emitted .dat is compared byte for byte with the CLI's output.
 *   f. CLI start-up: `mpscnn --version` (loading bin/mpscnn.js, the CLI bundle and its
 *      argument parser) vs `node -e 0`, whole process: what a heavier parser would cost.
 *   g. The converted network run by the executor (bench/execute.mjs, its own process).
 *   h. What each piece of performance machinery buys (bench/pieces.mjs, its own process):
 *      the same operation with the piece and without it.
 *
 * Prints a markdown table and writes it to bench/results.md. Exit code 0 even when a
 * target is missed (this is a measurement); 1 when an output is wrong or a step fails.
 *
 * Environment: BENCH_RUNS (default 7, at least 5).
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ioFloor } from './io-floor.mjs'

const REPO = fileURLToPath(new URL('..', import.meta.url))
const BENCH = path.join(REPO, 'bench')
const TMP = path.join(BENCH, '.tmp')
const RUNS = Math.max(5, Number(process.env.BENCH_RUNS ?? 7) || 7)
const PYTHON = '/usr/bin/python3'
const GNU_TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined
const MODEL = path.join(TMP, 'inception_v3_2015.pb')
const TOLERANCE = 1e-5

const t00 = performance.now()
const problems = [] // wrong outputs, failed steps: exit code 1
const notes = []

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

const log = (msg) => process.stdout.write(`${msg}\n`)
const rm = (p) => fs.rmSync(p, { recursive: true, force: true })
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const fmtMs = (ms) => `${Math.round(ms)} ms`
const fmtMB = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`
const gc = () => globalThis.gc?.()

function fail(what) {
  problems.push(what)
  log(`\n!!!!! FAIL: ${what}\n`)
}

/** Runs a command to completion; wall time from spawn to exit, and its peak RSS (GNU time). */
function timed(cmd, args, { rss = true } = {}) {
  const rssFile = path.join(TMP, `rss-${process.pid}.txt`)
  const [c, a] = rss && GNU_TIME ? [GNU_TIME, ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args]
  const t0 = performance.now()
  const r = spawnSync(c, a, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 })
  const ms = performance.now() - t0
  if (r.error) throw r.error
  if (r.status !== 0) {
    throw new Error(`${[cmd, ...args].join(' ')} exited with ${r.status ?? r.signal}:\n${r.stderr}${r.stdout}`)
  }
  let rssBytes
  if (rss && GNU_TIME) {
    rssBytes = Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop()) * 1024
    rm(rssFile)
  }
  return { ms, rssBytes, stderr: String(r.stderr), stdout: String(r.stdout) }
}

/**
 * Interleaved measurement: one untimed warm-up round, then `runs` rounds that each run
 * every step once, in order. `prepare` (untimed) runs before each step, then `sync`
 * flushes what earlier steps left to write back, so that no step pays for another's
 * writes (each step's own writes still count).
 */
async function interleave(steps, runs = RUNS) {
  const samples = Object.fromEntries(steps.map((s) => [s.name, []]))
  const extra = Object.fromEntries(steps.map((s) => [s.name, []]))
  for (let round = -1; round < runs; round++) {
    for (const s of steps) {
      await s.prepare?.()
      spawnSync('sync')
      gc()
      const r = await s.run(round)
      if (round >= 0) {
        samples[s.name].push(r.ms)
        extra[s.name].push(r)
      }
      await s.after?.(r, round)
    }
  }
  return { samples, extra }
}

function listFiles(dir) {
  const out = []
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(path.relative(dir, p))
    }
  }
  walk(dir)
  return out.sort()
}

function f32(buf) {
  const copy = buf.byteOffset % 4 === 0 ? buf : Buffer.from(buf)
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength >> 2)
}

/** Max |a - b| over two float32 files' values (Infinity when the sizes differ or a NaN differs). */
function maxDelta(a, b) {
  if (a.byteLength !== b.byteLength || a.byteLength % 4) return Infinity
  const x = f32(a)
  const y = f32(b)
  let m = 0
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i])
    if (!(d <= m)) m = d === d ? d : Infinity
  }
  return m
}

function sha256File(files) {
  const h = createHash('sha256')
  for (const f of files) h.update(fs.readFileSync(f))
  return h.digest('hex')
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

const GENERATOR_FILES = ['test/helpers/inception.ts', 'test/helpers/graph-builder.ts', 'test/fixtures/inception_v3_2015_layers.json', 'bench/gen-model.ts'].map((f) => path.join(REPO, f))

/** Generates `out` (Inception v3 2015, given scale and seed) unless it exists with the right size. */
function ensureModel(out, scale, seed) {
  const stampFile = `${out}.json`
  const generator = sha256File(GENERATOR_FILES)
  try {
    const stamp = JSON.parse(fs.readFileSync(stampFile, 'utf8'))
    if (stamp.scale === scale && stamp.seed === seed && stamp.generator === generator && fs.statSync(out).size === stamp.size) return false
  } catch {}
  const t0 = performance.now()
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(BENCH, 'gen-model.ts'), out, String(scale), String(seed)], { cwd: REPO, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`generating ${out} failed:\n${r.stderr}`)
  const size = Number(r.stdout.trim())
  if (fs.statSync(out).size !== size) throw new Error(`${out}: generator said ${size} bytes, the file has ${fs.statSync(out).size}`)
  fs.writeFileSync(stampFile, JSON.stringify({ scale, seed, size, generator }))
  log(`generated ${path.relative(REPO, out)} (${fmtMB(size)}) in ${fmtMs(performance.now() - t0)}`)
  return true
}

function linkOrCopy(src, dest) {
  rm(dest)
  try {
    fs.linkSync(src, dest)
  } catch {
    fs.copyFileSync(src, dest)
  }
}

/** A Vite app: index.html + main.js (given code) + the given models (hard links). */
function makeApp(dir, mainJs, models) {
  rm(dir)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html>\n<html><head><script type="module" src="/main.js"></script></head><body></body></html>\n')
  fs.writeFileSync(path.join(dir, 'main.js'), mainJs)
  for (const [name, src] of Object.entries(models)) linkOrCopy(src, path.join(dir, name))
  return dir
}

function cliConvert(model, outDir) {
  rm(outDir)
  timed(process.execPath, [path.join(REPO, 'bin/mpscnn.js'), 'convert', model, '--out-dir', outDir, '--quiet'], { rss: false })
}

/** Imports a built app's entry chunk (it sets globalThis.__mpscnnBench) and returns what it set. */
async function builtManifests(outDir) {
  const html = fs.readFileSync(path.join(outDir, 'index.html'), 'utf8')
  const src = /<script[^>]*src="([^"]+)"/.exec(html)?.[1]
  if (!src) throw new Error(`${outDir}/index.html has no script`)
  delete globalThis.__mpscnnBench
  await import(`${pathToFileURL(path.join(outDir, src.replace(/^\//, ''))).href}?t=${Date.now()}-${Math.random()}`)
  const m = globalThis.__mpscnnBench
  delete globalThis.__mpscnnBench
  if (!m) throw new Error(`${outDir}: the entry chunk did not set its manifests`)
  return m
}

/**
 * Checks a Vite build's output: every tensor URL of each manifest points to an emitted
 * file identical to the CLI's file for that model, and no other .dat was emitted.
 * `refs`: manifest key -> CLI output folder. Returns a problem or undefined.
 */
async function checkBuild(outDir, refs) {
  const manifests = await builtManifests(outDir)
  const emitted = new Set(listFiles(outDir).filter((f) => f.endsWith('.dat')))
  const used = new Set()
  let tensors = 0
  for (const [key, refDir] of Object.entries(refs)) {
    const m = manifests[key]
    if (!m?.layers) return `manifest ${key} is missing`
    const refFiles = listFiles(refDir).filter((f) => f.endsWith('.dat'))
    if (m.layers.length * 2 !== refFiles.length) return `${key}: ${m.layers.length} layers, the CLI wrote ${refFiles.length} .dat files`
    for (const l of m.layers) {
      for (const [kind, t] of [['weights', l.weights], ['bias', l.bias]]) {
        const rel = t.url.replace(/^\//, '')
        const ours = fs.readFileSync(path.join(outDir, rel))
        const ref = fs.readFileSync(path.join(refDir, `${kind}_${l.name}.dat`))
        if (t.offset !== 0 || t.byteLength !== ref.byteLength || !ours.equals(ref)) return `${key}: ${rel} differs from the CLI's ${kind}_${l.name}.dat`
        used.add(rel)
        tensors++
      }
    }
  }
  for (const f of emitted) if (!used.has(f)) return `${f} was emitted but no manifest refers to it`
  if (used.size !== tensors) return `${tensors} tensors but ${used.size} distinct files (two tensors share a URL)`
  return undefined
}

// ---------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------

if (!fs.existsSync(path.join(REPO, 'dist/cli/main.js'))) {
  log('dist/ is missing: run `npm run bench` (it builds first)')
  process.exit(1)
}
if (!globalThis.gc) notes.push('run without --expose-gc: no GC between in-process runs')
fs.mkdirSync(TMP, { recursive: true })
ensureModel(MODEL, 1, 1)
const MODEL_SIZE = fs.statSync(MODEL).size

const env = (() => {
  const cpu = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown'
  const py = spawnSync(PYTHON, ['-c', 'import numpy, google.protobuf as p; from google.protobuf.internal import api_implementation as a; print(numpy.__version__, p.__version__, a.Type())'], { encoding: 'utf8' })
  const [numpy, protobuf, backend] = py.status === 0 ? py.stdout.trim().split(' ') : ['?', '?', '?']
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).stdout.trim()
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO, encoding: 'utf8' }).stdout.trim() ? ' (src/ modified)' : ''
  const viteVersion = JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules/vite/package.json'), 'utf8')).version
  return { cpu, cores: os.cpus().length, numpy, protobuf, backend, git: `${git}${dirty}`, vite: viteVersion }
})()
const loadStart = os.loadavg()[0]
log(`bench: ${RUNS} runs per measure, node ${process.version}, ${env.cpu} x ${env.cores}, model ${fmtMB(MODEL_SIZE)}, load average ${loadStart.toFixed(2)}`)

const rows = [] // { measure, ours, base, ratio, target, pass }
const info = [] // { measure, value }
const samplesLog = [] // for results.md

/**
 * A row of the table: ratio = median(ours) / median(baseline), what the target is checked
 * against; `paired` = the per-round ratios (ours_i / baseline_i of the same round), whose
 * median is shown too: steadier when the machine's load changes during the bench.
 */
function addRow(measure, ours, base, fmt, target, paired) {
  const ratio = ours / base
  const pass = target === undefined ? undefined : ratio <= target
  const pr = paired?.length ? median(paired).toFixed(2) : '—'
  rows.push({ measure, ours: fmt(ours), base: fmt(base), ratio: ratio.toFixed(2), paired: pr, target: target === undefined ? '—' : `≤ ${target}`, pass })
  log(`  ${measure}: ${fmt(ours)} vs ${fmt(base)} = ${ratio.toFixed(2)}x (paired ${pr})${target === undefined ? '' : ` (target ≤ ${target}: ${pass ? 'pass' : 'MISS'})`}`)
}
const pairs = (a, b, k = 1) => a.map((x, i) => x / (k * b[i]))

function keepSamples(label, samples) {
  samplesLog.push(`${label}: ${samples.map((s) => Math.round(s)).join(', ')}`)
}

async function step(label, fn) {
  const t0 = performance.now()
  log(`\n## ${label}`)
  try {
    await fn()
  } catch (e) {
    fail(`${label}: ${e?.stack ?? e}`)
  }
  log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`)
}

// ---------------------------------------------------------------------------------------
// a + c. CLI vs numpy vs cp, whole process; peak RSS
// ---------------------------------------------------------------------------------------

const CLI_OUT = path.join(TMP, 'cli-out')
await step('a. CLI vs numpy baseline vs cp (whole process)', async () => {
  const npOut = path.join(TMP, 'numpy-out')
  const cpDest = path.join(TMP, 'cp-dest.pb')
  const floorOut = path.join(TMP, 'node-floor-out')
  const cliAgainOut = path.join(TMP, 'cli-again-out')
  const npAgainOut = path.join(TMP, 'numpy-again-out')
  rm(cliAgainOut)
  rm(npAgainOut)
  let verified = false
  const { samples, extra } = await interleave([
    {
      name: 'cli',
      prepare: () => rm(CLI_OUT),
      run: () => timed(process.execPath, [path.join(REPO, 'bin/mpscnn.js'), 'convert', MODEL, '--out-dir', CLI_OUT, '--quiet']),
    },
    {
      name: 'numpy',
      prepare: () => rm(npOut),
      run: () => timed(PYTHON, [path.join(BENCH, 'baseline_numpy.py'), MODEL, npOut]),
      after: () => {
        if (verified) return
        verified = true
        // The baseline must compute the same thing: every file, within TOLERANCE.
        const ours = listFiles(CLI_OUT).filter((f) => f.endsWith('.dat'))
        const theirs = listFiles(npOut)
        if (ours.length !== 190 || ours.join() !== theirs.join()) {
          fail(`numpy baseline and CLI wrote different files: CLI ${ours.length} .dat, numpy ${theirs.length}; only in CLI: ${ours.filter((f) => !theirs.includes(f)).slice(0, 5)}, only in numpy: ${theirs.filter((f) => !ours.includes(f)).slice(0, 5)}`)
          return
        }
        let worst = 0
        let worstFile = ''
        for (const f of ours) {
          const d = maxDelta(fs.readFileSync(path.join(CLI_OUT, f)), fs.readFileSync(path.join(npOut, f)))
          if (!(d <= worst)) [worst, worstFile] = [d, f]
        }
        if (!(worst <= TOLERANCE)) fail(`numpy baseline and CLI differ: max |delta| ${worst} in ${worstFile} (tolerance ${TOLERANCE})`)
        else log(`  check: numpy and CLI outputs agree, ${ours.length} files, max |delta| ${worst.toExponential(2)}`)
        info.push({ measure: 'numpy vs CLI outputs (190 files), max abs delta', value: worst.toExponential(2) })
      },
    },
    { name: 'cp', prepare: () => rm(cpDest), run: () => timed('cp', [MODEL, cpDest]) },
    // Into the output of the round before (the untimed warm-up round makes the first):
    // the CLI replaces its output folder, the baseline overwrites its files in place.
    { name: 'cliAgain', run: () => timed(process.execPath, [path.join(REPO, 'bin/mpscnn.js'), 'convert', MODEL, '--out-dir', cliAgainOut, '--quiet']) },
    { name: 'numpyAgain', run: () => timed(PYTHON, [path.join(BENCH, 'baseline_numpy.py'), MODEL, npAgainOut]) },
    {
      // After the CLI in each round: takes the file names and sizes from its manifest.
      name: 'nodeFloor',
      prepare: () => rm(floorOut),
      run: () => timed(process.execPath, [path.join(BENCH, 'io-floor.mjs'), MODEL, path.join(CLI_OUT, 'manifest.json'), floorOut]),
    },
  ])
  for (const d of [cpDest, floorOut, cliAgainOut, npAgainOut]) rm(d)
  const cli = median(samples.cli)
  addRow('CLI `convert` vs numpy baseline (whole process, wall)', cli, median(samples.numpy), fmtMs, 0.5, pairs(samples.cli, samples.numpy))
  addRow('CLI `convert` vs `cp model.pb` (whole process, wall)', cli, median(samples.cp), fmtMs, undefined, pairs(samples.cli, samples.cp))
  addRow('CLI `convert` vs a Node process that only reads the model and writes the same files (bench/io-floor.mjs)', cli, median(samples.nodeFloor), fmtMs, undefined, pairs(samples.cli, samples.nodeFloor))
  addRow('that Node I/O floor vs numpy baseline (whole process, wall)', median(samples.nodeFloor), median(samples.numpy), fmtMs, undefined, pairs(samples.nodeFloor, samples.numpy))
  addRow('CLI `convert` vs numpy baseline, both into their previous output', median(samples.cliAgain), median(samples.numpyAgain), fmtMs, undefined, pairs(samples.cliAgain, samples.numpyAgain))
  for (const k of ['cli', 'numpy', 'cp', 'nodeFloor', 'cliAgain', 'numpyAgain']) keepSamples(`a. ${k} ms`, samples[k])
  if (GNU_TIME) {
    const rss = median(extra.cli.map((r) => r.rssBytes))
    addRow('CLI peak RSS (GNU time %M) vs model file size', rss, MODEL_SIZE, fmtMB, 2, extra.cli.map((r) => r.rssBytes / MODEL_SIZE))
    info.push({ measure: 'CLI peak RSS, max of runs', value: fmtMB(Math.max(...extra.cli.map((r) => r.rssBytes))) })
    info.push({ measure: 'numpy baseline peak RSS (median)', value: `${fmtMB(median(extra.numpy.map((r) => r.rssBytes)))} (${(median(extra.numpy.map((r) => r.rssBytes)) / MODEL_SIZE).toFixed(2)}x the model)` })
    samplesLog.push(`c. CLI peak RSS MB: ${extra.cli.map((r) => (r.rssBytes / 1e6).toFixed(1)).join(', ')}`)
  } else {
    notes.push('/usr/bin/time is missing: peak RSS not measured')
  }
})

// ---------------------------------------------------------------------------------------
// b. In-process: the CLI's code path vs an I/O floor
// ---------------------------------------------------------------------------------------

await step('b. in-process CLI code path vs I/O floor', async () => {
  const { main } = await import(pathToFileURL(path.join(REPO, 'dist/cli/main.js')).href)
  const { parseModel, convertModel, sha256Hex } = await import(pathToFileURL(path.join(REPO, 'dist/fold/convert.js')).href)
  const oursOut = path.join(TMP, 'inproc-out')
  const floorOut = path.join(TMP, 'floor-out')
  let layout // [name, size][] of what the CLI writes, taken from its first run
  const stderr = []
  const quietMain = async (argv) => {
    const write = process.stderr.write
    process.stderr.write = (chunk, ...rest) => {
      stderr.push(String(chunk))
      rest.find((x) => typeof x === 'function')?.()
      return true
    }
    try {
      return await main(argv)
    } finally {
      process.stderr.write = write
    }
  }
  const { samples } = await interleave([
    {
      name: 'ours',
      prepare: () => rm(oursOut),
      run: async () => {
        const t0 = performance.now()
        const code = await quietMain(['convert', MODEL, '--out-dir', oursOut, '--quiet'])
        const ms = performance.now() - t0
        if (code !== 0) throw new Error(`main() returned ${code}: ${stderr.join('')}`)
        return { ms }
      },
      after: () => {
        if (layout) return
        layout = listFiles(oursOut).map((f) => [f, fs.statSync(path.join(oursOut, f)).size])
        const a = listFiles(oursOut)
        for (const f of a) {
          const x = fs.readFileSync(path.join(oursOut, f))
          const y = fs.readFileSync(path.join(CLI_OUT, f))
          if (!x.equals(y) && f !== 'manifest.json') {
            fail(`in-process main() wrote ${f} unlike the CLI process`)
            break
          }
        }
      },
    },
    {
      name: 'floor',
      prepare: () => rm(floorOut),
      run: () => {
        const t0 = performance.now()
        ioFloor(MODEL, layout, floorOut)
        return { ms: performance.now() - t0 }
      },
    },
  ])
  const warnings = [...new Set(stderr)].filter((l) => l.trim())
  if (warnings.length) notes.push(`CLI stderr (every run, even with --quiet): ${warnings.map((w) => w.trim()).join(' | ')}`)
  const total = layout.reduce((a, [, s]) => a + s, 0)
  log(`  floor: read ${fmtMB(MODEL_SIZE)}, write ${layout.length} files, ${fmtMB(total)}`)
  addRow('in-process `main(["convert", ...])` vs I/O floor (read + same files written)', median(samples.ours), median(samples.floor), fmtMs, 1.5, pairs(samples.ours, samples.floor))
  keepSamples('b. in-process ms', samples.ours)
  keepSamples('b. I/O floor ms', samples.floor)

  // Breakdown (informational): where the in-process time goes, no writes. The model is
  // read into a model memory and laid out with the SIMD kernel, as the CLI and the plugin do.
  const { readModelMemory, attachLayout } = await import(pathToFileURL(path.join(REPO, 'dist/io/read.js')).href)
  const mem = readModelMemory(MODEL)
  const bytes = mem.bytes
  const parts = { parse: [], 'parse + plan (convertModel)': [], 'parse + plan + fold all layers (no I/O)': [], sha256: [] }
  for (let i = -1; i < RUNS; i++) {
    const t = (k, fn) => {
      gc()
      const t0 = performance.now()
      fn()
      if (i >= 0) parts[k].push(performance.now() - t0)
    }
    t('parse', () => parseModel(bytes, MODEL))
    t('parse + plan (convertModel)', () => convertModel(bytes, { file: MODEL }))
    t('parse + plan + fold all layers (no I/O)', () => {
      const m = convertModel(bytes, { file: MODEL, transient: true })
      attachLayout(mem, m.layoutRegion)
      for (const _ of m.outputs());
    })
    t('sha256', () => sha256Hex(bytes))
  }
  for (const [k, v] of Object.entries(parts)) info.push({ measure: `in-process breakdown: ${k}`, value: fmtMs(median(v)) })
  gc()
  rm(oursOut)
  rm(floorOut)
})

// ---------------------------------------------------------------------------------------
// d. Vite builds: cold / warm with the plugin vs `?url`
// ---------------------------------------------------------------------------------------

const VITE = path.join(BENCH, 'vite-build.mjs')
// The output folder is removed in each step's `prepare`, before the bench's `sync`: deleting
// 191 files left by the previous run costs the file system work that must not land on the
// next timed build.
const viteBuild = (mode, root, outDir, cacheDir) => timed(process.execPath, [VITE, mode, root, outDir, ...(cacheDir ? [cacheDir] : [])], { rss: false })

await step('d. Vite builds: plugin cold / warm vs plain ?url asset', async () => {
  const app = makeApp(path.join(TMP, 'app'), "import model from './model.pb'\nglobalThis.__mpscnnBench = { model }\n", { 'model.pb': MODEL })
  const appUrl = makeApp(path.join(TMP, 'app-url'), "import url from './model.pb?url'\nglobalThis.__mpscnnBench = { url }\n", { 'model.pb': MODEL })
  const appEmpty = makeApp(path.join(TMP, 'app-empty'), 'globalThis.__mpscnnBench = {}\n', {})
  const out = { cold: path.join(TMP, 'vite-out-cold'), warm: path.join(TMP, 'vite-out-warm'), plain: path.join(TMP, 'vite-out-plain'), empty: path.join(TMP, 'vite-out-empty') }
  const coldCache = path.join(TMP, 'vite-cache-cold')
  const warmCache = path.join(TMP, 'vite-cache-warm')
  rm(warmCache)
  rm(out.warm)
  viteBuild('plugin', app, out.warm, warmCache) // populates the warm cache (untimed)
  let checkedCold = false
  let checkedWarm = false
  const check = async (dir, label) => {
    const p = await checkBuild(dir, { model: CLI_OUT })
    if (p) fail(`vite ${label} build: ${p}`)
    else log(`  check: ${label} build emitted 190 .dat files identical to the CLI's`)
  }
  const plain = { name: 'plain', prepare: () => rm(out.plain), run: () => viteBuild('plain', appUrl, out.plain) }
  const { samples } = await interleave([
    {
      name: 'cold',
      prepare: () => (rm(coldCache), rm(out.cold)),
      run: () => viteBuild('plugin', app, out.cold, coldCache),
      after: async () => {
        if (!checkedCold) await check(out.cold, 'cold')
        checkedCold = true
      },
    },
    plain,
    {
      name: 'warm',
      prepare: () => rm(out.warm),
      run: () => viteBuild('plugin', app, out.warm, warmCache),
      after: async () => {
        if (!checkedWarm) await check(out.warm, 'warm')
        checkedWarm = true
      },
    },
    { ...plain, name: 'plain2' },
    { name: 'empty', prepare: () => rm(out.empty), run: () => viteBuild('plain', appEmpty, out.empty) },
  ])
  const entries = fs.readdirSync(path.join(warmCache, 'entries')).filter((f) => f.endsWith('.bin'))
  if (entries.length !== 1) fail(`warm cache holds ${entries.length} entries, expected 1`)
  const plainSamples = [...samples.plain, ...samples.plain2]
  const base = median(plainSamples)
  addRow('Vite build, cold (fresh cacheDir) vs `model.pb?url`', median(samples.cold), base, fmtMs, 1.6, pairs(samples.cold, samples.plain))
  addRow('Vite build, warm (populated cacheDir) vs `model.pb?url`', median(samples.warm), base, fmtMs, 1.15, pairs(samples.warm, samples.plain2))
  info.push({ measure: 'Vite build of the same app without any model (process start + Vite)', value: fmtMs(median(samples.empty)) })
  keepSamples('d. cold ms', samples.cold)
  keepSamples('d. warm ms', samples.warm)
  keepSamples('d. ?url ms', plainSamples)
  keepSamples('d. no model ms', samples.empty)
  for (const d of [...Object.values(out), coldCache, warmCache]) rm(d)
})

// ---------------------------------------------------------------------------------------
// Informational: the plugin's own work per model import, in this process (no Vite)
// ---------------------------------------------------------------------------------------

await step('plugin work per model import, in-process (informational)', async () => {
  const { loadModel, cacheWritesSettled } = await import(pathToFileURL(path.join(REPO, 'dist/plugin/core.js')).href)
  const { readModelMemory } = await import(pathToFileURL(path.join(REPO, 'dist/io/read.js')).href)
  const { convertToAssets } = await import(pathToFileURL(path.join(REPO, 'dist/pipeline/convert-to-assets.js')).href)
  const { resolveOptions } = await import(pathToFileURL(path.join(REPO, 'dist/plugin/options.js')).href)
  const cold = path.join(TMP, 'inproc-cache-cold')
  const warm = path.join(TMP, 'inproc-cache-warm')
  const optsCold = resolveOptions({ cacheDir: cold, quiet: true }, TMP)
  const optsWarm = resolveOptions({ cacheDir: warm, quiet: true }, TMP)
  rm(warm)
  await loadModel(MODEL, optsWarm, TMP, () => {})
  await cacheWritesSettled()
  const time = async (fn) => {
    const t0 = performance.now()
    await fn()
    return { ms: performance.now() - t0 }
  }
  const { samples } = await interleave([
    // Cold includes writing the cache entry (in the background during a build).
    { name: 'cold', prepare: () => rm(cold), run: () => time(async () => (await loadModel(MODEL, optsCold, TMP, () => {}), await cacheWritesSettled())) },
    { name: 'warm', run: () => time(() => loadModel(MODEL, optsWarm, TMP, () => {})) },
    { name: 'convertToAssets', run: () => time(async () => convertToAssets(readModelMemory(MODEL), MODEL, optsCold)) },
  ])
  info.push({ measure: 'plugin `loadModel`, cold cache (read, sha256, convert, write cache entry)', value: fmtMs(median(samples.cold)) })
  info.push({ measure: 'plugin `loadModel`, warm cache (path index, read + check entry)', value: fmtMs(median(samples.warm)) })
  info.push({ measure: 'plugin `convertToAssets` incl. readFile (no cache)', value: fmtMs(median(samples.convertToAssets)) })
  for (const k of Object.keys(samples)) keepSamples(`plugin in-process ${k} ms`, samples[k])
  rm(cold)
  rm(warm)
  gc()
})

// ---------------------------------------------------------------------------------------
// e. Three models in one Vite build vs 3x one
// ---------------------------------------------------------------------------------------

await step('e. Vite build of 3 scale-2 models vs 3x a one-model build', async () => {
  const dir = path.join(TMP, 'multi')
  fs.mkdirSync(dir, { recursive: true })
  const models = { a: 1, b: 2, c: 3 }
  const files = {}
  const refs = {}
  for (const [k, seed] of Object.entries(models)) {
    files[k] = path.join(dir, `model_${k}.pb`)
    ensureModel(files[k], 2, seed)
    refs[k] = path.join(dir, `ref_${k}`)
    cliConvert(files[k], refs[k])
  }
  const sizes = Object.values(files).map((f) => fs.statSync(f).size)
  log(`  models: ${sizes.map(fmtMB).join(', ')}`)
  const multi = makeApp(
    path.join(TMP, 'app-multi'),
    "import a from './model_a.pb'\nimport b from './model_b.pb'\nimport c from './model_c.pb'\nglobalThis.__mpscnnBench = { a, b, c }\n",
    { 'model_a.pb': files.a, 'model_b.pb': files.b, 'model_c.pb': files.c },
  )
  const single = makeApp(path.join(TMP, 'app-single'), "import a from './model_a.pb'\nglobalThis.__mpscnnBench = { a }\n", { 'model_a.pb': files.a })
  const outMulti = path.join(TMP, 'vite-out-multi')
  const outSingle = path.join(TMP, 'vite-out-single')
  const cache = path.join(TMP, 'vite-cache-e')
  let checks = 0
  const { samples } = await interleave([
    {
      name: 'multi',
      prepare: () => (rm(cache), rm(outMulti)),
      run: () => viteBuild('plugin', multi, outMulti, cache),
      after: async () => {
        const p = await checkBuild(outMulti, refs)
        if (p) fail(`3-model vite build: ${p}`)
        checks++
      },
    },
    {
      name: 'single',
      prepare: () => (rm(cache), rm(outSingle)),
      run: () => viteBuild('plugin', single, outSingle, cache),
      after: async () => {
        const p = await checkBuild(outSingle, { a: refs.a })
        if (p) fail(`1-model vite build: ${p}`)
      },
    },
  ])
  log(`  check: ${checks} 3-model builds, each with 3 x 190 .dat files identical to the CLI's conversion of each model`)
  addRow('Vite build, 3 models (scale 2, cold) vs 3 x one-model build', median(samples.multi), 3 * median(samples.single), fmtMs, undefined, pairs(samples.multi, samples.single, 3))
  keepSamples('e. 3-model build ms', samples.multi)
  keepSamples('e. 1-model build ms', samples.single)
  for (const d of [outMulti, outSingle, cache, ...Object.values(refs)]) rm(d)
})

rm(CLI_OUT)
rm(path.join(TMP, 'numpy-out'))

// ---------------------------------------------------------------------------------------
// f. CLI start-up
// ---------------------------------------------------------------------------------------

await step('f. CLI start-up: mpscnn --version vs node -e 0', async () => {
  const { samples } = await interleave([
    { name: 'version', run: () => timed(process.execPath, [path.join(REPO, 'bin/mpscnn.js'), '--version'], { rss: false }) },
    { name: 'node', run: () => timed(process.execPath, ['-e', '0'], { rss: false }) },
  ])
  addRow('CLI start-up: `mpscnn --version` vs `node -e 0` (whole process, wall)', median(samples.version), median(samples.node), fmtMs, undefined, pairs(samples.version, samples.node))
  keepSamples('f. mpscnn --version ms', samples.version)
  keepSamples('f. node -e 0 ms', samples.node)
})

await step('g. the converted network (executor) vs the original graph (tfjs-converter), and mpscnn verify', async () => {
  // Its own process (bench/execute.mjs): TensorFlow.js's memory stays out of the other measures.
  const r = spawnSync(process.execPath, [path.join(BENCH, 'execute.mjs'), MODEL, path.join(TMP, 'execute-out'), String(RUNS)], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`bench/execute.mjs failed (${r.status}):\n${r.stderr}`)
  const g = JSON.parse(r.stdout.trim().split('\n').pop())
  for (const [backend, b] of Object.entries(g.backends)) {
    addRow(`converted network (executor) vs original graph (tfjs-converter), ${backend} backend, one image`, b.ours, b.reference, fmtMs, 0.8, b.samples.ours.map((o, i) => o / b.samples.reference[i]))
    addRow(`the same, CPU time of the process (${backend})`, median(b.cpu.ours), median(b.cpu.reference), fmtMs, undefined, b.cpu.ours.map((o, i) => o / b.cpu.reference[i]))
    keepSamples(`g. executor ${backend} ms`, b.samples.ours)
    keepSamples(`g. reference ${backend} ms`, b.samples.reference)
    keepSamples(`g. executor ${backend} CPU ms`, b.cpu.ours)
    keepSamples(`g. reference ${backend} CPU ms`, b.cpu.reference)
  }
  info.push({ measure: '`mpscnn verify`, 8 samples, wasm backend: wall time', value: fmtMs(g.verify.ms) })
  info.push({ measure: '`mpscnn verify`, 8 samples, wasm backend: peak RSS', value: `${g.verify.rssMB.toFixed(1)} MB` })
})

let piecesTable = ''
await step('h. what each piece of performance machinery buys (with it vs without it)', async () => {
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(BENCH, 'pieces.mjs'), MODEL, String(Math.max(RUNS, 9))], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`bench/pieces.mjs failed (${r.status}):\n${r.stderr}${r.stdout}`)
  const lines = r.stdout.trim().split('\n')
  piecesTable = lines.slice(0, -1).join('\n').trim()
  log(r.stderr.trim())
  for (const row of JSON.parse(lines.at(-1)).rows) {
    keepSamples(`h. ${row.piece}, with it, ms`, row.samples.with)
    keepSamples(`h. ${row.piece}, without it, ms`, row.samples.without)
  }
})

// ---------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------

const totalS = (performance.now() - t00) / 1000
const table = [
  '| measure | ours (median) | baseline (median) | ratio | paired ratio | target | result |',
  '|---|---:|---:|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.measure} | ${r.ours} | ${r.base} | ${r.ratio} | ${r.paired} | ${r.target} | ${r.pass === undefined ? '—' : r.pass ? 'pass' : '**MISS**'} |`),
].join('\n')
const infoTable = ['| informational | value |', '|---|---:|', ...info.map((i) => `| ${i.measure} | ${i.value} |`)].join('\n')
const misses = rows.filter((r) => r.pass === false)
const md = `# unplugin-mpscnn bench

- date: ${new Date().toISOString()}
- node ${process.version}, ${env.cpu}, ${env.cores} cores (${Math.round(os.totalmem() / 2 ** 30)} GiB RAM)
- commit ${env.git}; vite ${env.vite}; numpy ${env.numpy}, protobuf ${env.protobuf} (${env.backend} backend)
- model: Inception v3 2015 GraphDef, random weights, ${fmtMB(MODEL_SIZE)} (${MODEL_SIZE} bytes), 95 layers, 190 .dat files
- ${RUNS} timed runs per measure (after one untimed warm-up round), interleaved with the baseline; ratio = median / median (checked against the target), paired ratio = median of the per-round ratios; the whole bench took ${totalS.toFixed(0)} s
- 1-minute load average ${loadStart.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end (other work on this ${env.cores}-core machine widens the spread: see all samples below)

${table}

${infoTable}

${piecesTable ? `What each piece buys (bench/pieces.mjs):\n\n${piecesTable}\n\n` : ''}${misses.length ? `**Missed targets:** ${misses.map((m) => `${m.measure} (${m.ratio}, target ${m.target})`).join('; ')}\n\n` : ''}${problems.length ? `**FAILURES:**\n\n${problems.map((p) => `- ${p.split('\n')[0]}`).join('\n')}\n\n` : ''}${notes.length ? `Notes:\n\n${notes.map((n) => `- ${n}`).join('\n')}\n\n` : ''}<details><summary>all samples</summary>

${samplesLog.map((s) => `- ${s}`).join('\n')}

</details>
`
fs.writeFileSync(path.join(BENCH, 'results.md'), md)
log(`\n${table}\n\n${infoTable}\n`)
for (const n of notes) log(`note: ${n}`)
if (misses.length) log(`\nMISSED TARGETS (${misses.length}):\n${misses.map((m) => `  - ${m.measure}: ${m.ratio} (target ${m.target})`).join('\n')}`)
if (problems.length) {
  log(`\nFAILURES (${problems.length}) — outputs are wrong or a step did not run:\n${problems.map((p) => `  - ${p.split('\n')[0]}`).join('\n')}`)
  process.exitCode = 1
}
log(`\nwrote bench/results.md (${totalS.toFixed(0)} s)`)
