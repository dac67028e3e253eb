/**
 * The real CLI (`node bin/mpscnn.js`, running the built `dist/`), spawned as a user would:
 * outputs against the float64 oracle of the generated Inception v3, `--dat-dir`
 * comparison, packed / hashed / float16 outputs, and failures that leave an earlier
 * output folder exactly as it was and print one line.
 */
import type { MpscnnNetwork } from '../src/base/manifest-types.js'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { reflection, type GraphDef } from '../src/graphdef/schema.js'
import { attr, float16BitsToFloat32, GraphBuilder, savedModelBytes } from './helpers/graph-builder.js'
import { makeInceptionV3_2015, type ExpectedLayer } from './helpers/inception.js'
import { formatGraphDefText } from './helpers/pbtxt-writer.js'

const { GraphDefType } = reflection()

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = path.join(ROOT, 'bin', 'mpscnn.js')
const SCALE = 16
const LAYERS = 95

let tmp: string
let oracle: ExpectedLayer[]
let modelBytes: Uint8Array

function run(args: string[], cwd = tmp): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, MPSCNN_DEBUG: '' },
  })
  if (r.error) throw r.error
  return r
}

function describeRun(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status} (signal ${r.signal})\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`
}

function runOk(args: string[], cwd = tmp): SpawnSyncReturns<string> {
  const r = run(args, cwd)
  if (r.status !== 0) throw new Error(`mpscnn ${args.join(' ')} failed: ${describeRun(r)}`)
  return r
}

const p = (...parts: string[]) => path.join(tmp, ...parts)

/**
 * `main(args)` in this process (the same code as bin/mpscnn.js runs, from src/), with what it
 * writes to stdout and stderr: for the many command lines that never reach a conversion.
 */
async function runHere(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const { main } = await import('../src/cli/main.js')
  const out = { stdout: '', stderr: '' }
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write }
  process.stdout.write = ((chunk: string) => ((out.stdout += chunk), true)) as typeof process.stdout.write
  process.stderr.write = ((chunk: string) => ((out.stderr += chunk), true)) as typeof process.stderr.write
  const cwd = process.cwd()
  try {
    process.chdir(tmp)
    return { status: await main(args), ...out }
  } finally {
    process.chdir(cwd)
    process.stdout.write = writes.stdout
    process.stderr.write = writes.stderr
  }
}

function f32(buf: Buffer | Uint8Array): Float32Array {
  const copy = Uint8Array.from(buf)
  return new Float32Array(copy.buffer, 0, copy.byteLength >> 2)
}

function maxDelta(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity
  let m = 0
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i])
    if (!(d <= m)) m = d
  }
  return m
}

function writeDat(file: string, a: Float32Array): void {
  fs.writeFileSync(file, new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
}

/** Every file under `dir` (relative path -> bytes). */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name)
      if (e.isDirectory()) walk(full)
      else out.set(path.relative(dir, full), fs.readFileSync(full))
    }
  }
  walk(dir)
  return out
}

function expectSameTree(dir: string, before: Map<string, Buffer>): void {
  const after = snapshot(dir)
  expect([...after.keys()].sort()).toEqual([...before.keys()].sort())
  for (const [name, bytes] of before) {
    expect(Buffer.compare(after.get(name)!, bytes), `${name} changed`).toBe(0)
  }
}

interface TensorRecord {
  file: string
  offset: number
  byteLength: number
  shape: number[]
  dtype: 'float32' | 'float16'
}

interface Manifest {
  source: string
  sha256: string
  precision: string
  layers: { name: string; kind: string; outputChannels: number; inputChannels: number; weights: TensorRecord; bias: TensorRecord }[]
  network: MpscnnNetwork
}

function readManifest(dir: string): Manifest {
  return JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

/** Checks a manifest against the oracle, returning each tensor's bytes as the files hold them. */
function checkAgainstOracle(dir: string, m: Manifest, tolerance = 1e-5): void {
  expect(m.layers.map((l) => l.name)).toEqual(oracle.map((l) => l.name))
  const files = new Map<string, Buffer>()
  const bytesOf = (t: TensorRecord) => {
    if (!files.has(t.file)) files.set(t.file, fs.readFileSync(path.join(dir, t.file)))
    const buf = files.get(t.file)!
    expect(t.offset + t.byteLength).toBeLessThanOrEqual(buf.length)
    return buf.subarray(t.offset, t.offset + t.byteLength)
  }
  for (let i = 0; i < oracle.length; i++) {
    const want = oracle[i]
    const l = m.layers[i]
    expect(l.kind).toBe(want.kind)
    expect(l.weights.shape).toEqual(want.kind === 'conv' ? want.shape : [want.shape[0], 1, 1, want.shape[3]])
    expect(l.bias.shape).toEqual([want.shape[0]])
    expect(l.bias.dtype).toBe('float32')
    const b = f32(bytesOf(l.bias))
    expect(maxDelta(b, want.bias), `${l.name} bias`).toBeLessThanOrEqual(1e-5)
    const wb = bytesOf(l.weights)
    if (l.weights.dtype === 'float32') {
      expect(l.weights.byteLength).toBe(want.weights.length * 4)
      expect(maxDelta(f32(wb), want.weights), `${l.name} weights`).toBeLessThanOrEqual(tolerance)
    } else {
      expect(l.weights.byteLength).toBe(want.weights.length * 2)
      const u16 = new Uint16Array(Uint8Array.from(wb).buffer)
      for (let k = 0; k < u16.length; k++) {
        const got = float16BitsToFloat32(u16[k])
        const w = want.weights[k]
        // Round to nearest: at most half a float16 ulp (2^-11 relative; 2^-25 absolute near zero),
        // with room for the float32 rounding before it.
        if (!(Math.abs(got - w) <= Math.abs(w) * 2 ** -11 * 1.001 + 2 ** -24)) {
          throw new Error(`${l.name} weights[${k}]: float16 ${got} for ${w}`)
        }
      }
    }
  }
}

/** The line the CLI prints for an error: exactly one, `mpscnn: ` + a message naming the file. */
function expectOneErrorLine(r: SpawnSyncReturns<string>, file: string): string {
  expect(r.status, describeRun(r)).not.toBe(0)
  expect(r.status, describeRun(r)).not.toBeNull()
  expect(r.stderr.endsWith('\n'), describeRun(r)).toBe(true)
  const lines = r.stderr.slice(0, -1).split('\n')
  expect(lines, describeRun(r)).toHaveLength(1)
  const line = lines[0]
  expect(line.startsWith('mpscnn: ')).toBe(true)
  expect(line).toContain(file)
  expect(line).not.toMatch(/^\s+at /m)
  expect(r.stderr).not.toContain('    at ')
  expect(line).not.toContain('internal error')
  return line
}

/** What a run writing an output folder in `parent` left beside it (`<out>.tmp-<pid>`, `<out>.old-<pid>`). */
function leftovers(parent: string): string[] {
  return fs.readdirSync(parent).filter((n) => /\.tmp-|\.old-/.test(n))
}

/**
 * A folder of the test's own, holding a link to the model, for its outputs: leftovers
 * found there are this test's, whatever another test left elsewhere.
 */
function ownDir(name: string): string {
  const dir = p(name)
  fs.mkdirSync(dir)
  fs.linkSync(p('inception.pb'), path.join(dir, 'inception.pb'))
  return dir
}

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first')
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-cli-'))
  const g = makeInceptionV3_2015({ scale: SCALE, seed: 11 })
  oracle = g.layers
  modelBytes = g.bytes
  fs.writeFileSync(p('inception.pb'), g.bytes)
  fs.writeFileSync(p('inception.pbtxt'), formatGraphDefText(GraphDefType.decode(g.bytes) as unknown as GraphDef))
  fs.mkdirSync(p('ref'))
  for (const l of oracle) {
    writeDat(p('ref', `weights_${l.name}.dat`), l.weights)
    writeDat(p('ref', `bias_${l.name}.dat`), l.bias)
  }
})

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})

describe('mpscnn convert', () => {
  let first: SpawnSyncReturns<string>
  let firstDir: string
  let out: string
  beforeAll(() => {
    firstDir = ownDir('first')
    out = path.join(firstDir, 'out')
    first = runOk(['convert', 'inception.pb', '--out-dir', 'out'], firstDir)
  })

  it('converts the scale-16 Inception v3 into 2 x 95 .dat files and manifest.json matching the oracle', () => {
    expect(oracle).toHaveLength(LAYERS)
    const r = first
    expect(r.stdout).toMatch(/^inception\.pb: 95 layers, .* converted in \d+ ms -> out\n$/)
    const names = fs.readdirSync(out).sort()
    expect(names).toHaveLength(2 * LAYERS + 1)
    const want = ['manifest.json', ...oracle.flatMap((l) => [`weights_${l.name}.dat`, `bias_${l.name}.dat`])].sort()
    expect(names).toEqual(want)
    const m = readManifest(out)
    expect(m.source).toBe('inception.pb')
    expect(m.sha256).toBe(sha256(modelBytes))
    expect(m.precision).toBe('float32')
    for (const l of m.layers) {
      expect(l.weights).toMatchObject({ file: `weights_${l.name}.dat`, offset: 0, dtype: 'float32' })
      expect(l.bias).toMatchObject({ file: `bias_${l.name}.dat`, offset: 0, dtype: 'float32', byteLength: l.outputChannels * 4 })
      expect(fs.statSync(path.join(out, l.weights.file)).size).toBe(l.weights.byteLength)
    }
    checkAgainstOracle(out, m)
    // The network description: every layer is one encode, from the preprocessed input to the softmax.
    expect(m.network.nodes.filter((n) => n.layer).map((n) => n.layer).sort()).toEqual(oracle.map((l) => l.name).sort())
    expect(m.network.inputs.map((i) => i.image)).toEqual(['Mul'])
    expect(m.network.outputs).toEqual([{ image: 'softmax', tfNode: 'softmax' }])
    // And file by file, as Apple's loader reads them.
    for (const l of oracle) {
      expect(maxDelta(f32(fs.readFileSync(path.join(out, `weights_${l.name}.dat`))), l.weights)).toBeLessThanOrEqual(1e-5)
      expect(maxDelta(f32(fs.readFileSync(path.join(out, `bias_${l.name}.dat`))), l.bias)).toBeLessThanOrEqual(1e-5)
    }
    expect(leftovers(firstDir)).toEqual([])
  })

  it('writes to <model>-mpscnn by default, and the .pbtxt gives the same files as the .pb', () => {
    fs.mkdirSync(p('txt'))
    fs.copyFileSync(p('inception.pbtxt'), p('txt', 'inception.pbtxt'))
    runOk(['convert', 'inception.pbtxt', '--quiet'], p('txt'))
    const fromText = snapshot(p('txt', 'inception-mpscnn'))
    const fromBinary = snapshot(out)
    expect([...fromText.keys()].sort()).toEqual([...fromBinary.keys()].sort())
    // Not necessarily the same bytes: the binary path may lay tensor_content out with float32
    // SIMD arithmetic, the text path in float64; both are held to the oracle.
    for (const [name, bytes] of fromBinary) {
      if (name === 'manifest.json') continue
      expect(fromText.get(name)!.length, name).toBe(bytes.length)
      expect(maxDelta(f32(fromText.get(name)!), f32(bytes)), name).toBeLessThanOrEqual(1e-6)
    }
    const mt = readManifest(p('txt', 'inception-mpscnn'))
    expect(mt.source).toBe('inception.pbtxt')
    expect(mt.layers).toEqual(readManifest(out).layers)
    checkAgainstOracle(p('txt', 'inception-mpscnn'), mt)
    expect(leftovers(p('txt'))).toEqual([])
  })

  it('replaces an earlier output folder completely', () => {
    const own = ownDir('replace')
    const dir = path.join(own, 'out')
    runOk(['convert', 'inception.pb', '--out-dir', dir, '--hash', '--quiet'], own)
    const stale = fs.readdirSync(dir).find((n) => /-[0-9a-f]{8}\.dat$/.test(n))!
    runOk(['convert', 'inception.pb', '--out-dir', dir, '--quiet'], own)
    expect(fs.existsSync(path.join(dir, stale))).toBe(false)
    expect(fs.readdirSync(dir)).toHaveLength(2 * LAYERS + 1)
    expect(leftovers(own)).toEqual([])
  })

  it('stdout closed early by the reader (`| true`): no stack trace, the output still complete', () => {
    const q = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`
    const own = ownDir('piped')
    const r = spawnSync('/bin/sh', ['-c', `${q(process.execPath)} ${q(BIN)} convert inception.pb --out-dir out --dat-dir ../ref | true`], { cwd: own, encoding: 'utf8', timeout: 60_000 })
    expect(r.stderr).not.toContain('    at ')
    expect(r.stderr).not.toContain('EPIPE')
    expect(fs.readdirSync(path.join(own, 'out'))).toHaveLength(2 * LAYERS + 1)
    expect(leftovers(own)).toEqual([])
  })

  it('--quiet prints nothing on success', () => {
    const own = ownDir('quiet')
    const r = runOk(['convert', 'inception.pb', '--out-dir', 'out', '--quiet'], own)
    expect(r.stdout).toBe('')
    expect(fs.readdirSync(path.join(own, 'out'))).toHaveLength(2 * LAYERS + 1)
    expect(leftovers(own)).toEqual([])
  })
})

describe('--dat-dir', () => {
  it('against the oracle files: one line per layer with zero deltas, the verdict, exit 0', () => {
    const r = runOk(['convert', 'inception.pb', '--out-dir', 'cmp', '--dat-dir', 'ref'])
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(LAYERS + 3)
    for (let i = 0; i < LAYERS; i++) {
      expect(lines[i]).toBe(`${oracle[i].name}  [max delta: w=0 b=0]`)
    }
    expect(lines[LAYERS]).toBe('max delta over all layers: 0')
    expect(lines[LAYERS + 1]).toBe('95 of 95 layers within 1e-3 of the reference')
    expect(lines[LAYERS + 2]).toMatch(/^inception\.pb: 95 layers/)
  })

  it('with a perturbed reference: that layer\'s delta in exponent form, the overall one, exit 3; a missing file is "not in the reference", a file of another size a difference', () => {
    fs.cpSync(p('ref'), p('ref2'), { recursive: true })
    const victim = oracle[37]
    const w = Float32Array.from(victim.weights)
    w[3] += 0.25
    writeDat(p('ref2', `weights_${victim.name}.dat`), w)
    const b = Float32Array.from(oracle[5].bias)
    b[0] -= 0.125
    writeDat(p('ref2', `bias_${oracle[5].name}.dat`), b)
    fs.rmSync(p('ref2', `bias_${oracle[90].name}.dat`))
    fs.writeFileSync(p('ref2', `weights_${oracle[91].name}.dat`), new Uint8Array(8))

    const r = run(['convert', 'inception.pb', '--out-dir', 'cmp2', '--dat-dir', 'ref2'])
    expect(r.status, describeRun(r)).toBe(3)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toContain(`${victim.name}  [max delta: w=2.5e-1 b=0]`)
    expect(lines).toContain(`${oracle[5].name}  [max delta: w=0 b=1.25e-1]`)
    expect(lines).toContain(`${oracle[90].name}  [max delta: w=0 b=not in the reference]`)
    expect(lines).toContain(`${oracle[91].name}  [max delta: w=8 bytes, ${oracle[91].weights.length * 4} expected b=0]`)
    expect(lines).toContain(`${oracle[0].name}  [max delta: w=0 b=0]`)
    expect(lines.filter((l) => l.includes('[max delta:'))).toHaveLength(LAYERS)
    expect(lines).toContain('max delta over all layers: 2.5e-1')
    expect(lines).toContain(`3 layers differ from the reference by more than 1e-3 or in size: "${oracle[5].name}", "${victim.name}" and "${oracle[91].name}"`)
    expect(lines).toContain(`1 layer not in the reference (not compared): "${oracle[90].name}"`)
  })

  it('with only the perturbed weight: the overall line carries its delta', () => {
    fs.cpSync(p('ref'), p('ref3'), { recursive: true })
    const victim = oracle[60]
    const w = Float32Array.from(victim.weights)
    w[w.length - 1] += 0.5
    writeDat(p('ref3', `weights_${victim.name}.dat`), w)
    const r = run(['convert', 'inception.pb', '--out-dir', 'cmp3', '--dat-dir', 'ref3'])
    expect(r.status).toBe(3)
    expect(r.stdout).toContain(`\n${victim.name}  [max delta: w=5e-1 b=0]\n`)
    expect(r.stdout).toContain('\nmax delta over all layers: 5e-1\n')
  })

  it('a delta within tolerance keeps its magnitude (3.8e-7, not 0.000000), and a reference lacking some layers exits 4', () => {
    fs.cpSync(p('ref'), p('ref4'), { recursive: true })
    const victim = oracle[10]
    const w = Float32Array.from(victim.weights)
    const k = w.findIndex((x) => Math.abs(x) > 0.01 && Math.abs(x) < 0.5)
    const bumped = Math.fround(w[k] + 3.8e-7)
    w[k] = bumped
    writeDat(p('ref4', `weights_${victim.name}.dat`), w)
    const delta = Math.abs(bumped - victim.weights[k])
    expect(delta).toBeGreaterThan(1e-7)
    const shown = delta.toExponential(2).replace(/\.?0+e/, 'e')
    const whole = run(['convert', 'inception.pb', '--out-dir', 'cmp4', '--dat-dir', 'ref4'])
    expect(whole.status, describeRun(whole)).toBe(0)
    expect(whole.stdout).toContain(`\n${victim.name}  [max delta: w=${shown} b=0]\n`)
    expect(whole.stdout).toContain(`\nmax delta over all layers: ${shown}\n`)

    for (const l of oracle.slice(80, 83)) fs.rmSync(p('ref4', `weights_${l.name}.dat`))
    fs.rmSync(p('ref4', `bias_${oracle[83].name}.dat`))
    const partial = run(['convert', 'inception.pb', '--out-dir', 'cmp4', '--dat-dir', 'ref4'])
    expect(partial.status, describeRun(partial)).toBe(4)
    expect(partial.stdout).toContain(`\n${oracle[80].name}  [max delta: w=not in the reference b=0]\n`)
    expect(partial.stdout).toContain(`\n4 layers not in the reference (not compared): "${oracle[80].name}", "${oracle[81].name}", "${oracle[82].name}" and 1 more\n`)
    expect(partial.stdout).toContain('\n91 of 95 layers within 1e-3 of the reference\n')
    expect(partial.stdout).not.toContain('differ')
  })

  it('a reference folder that does not exist, is a file, or holds none of the layers: one error naming it, exit 1, nothing written', () => {
    fs.mkdirSync(p('unrelated'))
    fs.writeFileSync(p('unrelated', 'weights_other.dat'), new Uint8Array(16))
    const cases: [string, string][] = [
      [p('nonexistent'), 'the reference folder (--dat-dir) does not exist'],
      ['inception.pb', 'the reference folder (--dat-dir) is a file, not a folder'],
      ['unrelated', "the reference folder (--dat-dir) holds none of the model's 190 files (weights_conv.dat, bias_conv.dat, ...)"],
    ]
    for (const [ref, says] of cases) {
      const r = run(['convert', 'inception.pb', '--out-dir', 'cmp5', '--dat-dir', ref])
      expect(r.status, describeRun(r)).toBe(1)
      expect(r.stdout).toBe('')
      expect(r.stderr.replace(/^mpscnn: warning: .*\n/gm, '')).toBe(`mpscnn: ${ref}: ${says}. Give --dat-dir the folder that holds weights_<layer>.dat and bias_<layer>.dat${ref === 'unrelated' ? ' of this model' : ''}\n`)
      expect(fs.existsSync(p('cmp5'))).toBe(false)
      expect(leftovers(tmp)).toEqual([])
    }
  })
})

describe('--packed, --align, --hash, --precision', () => {
  function checkPacked(dir: string, align: number, hashed: boolean): Manifest {
    const m = readManifest(dir)
    const names = fs.readdirSync(dir).sort()
    expect(names).toHaveLength(2)
    const dat = names.find((n) => n !== 'manifest.json')!
    if (hashed) expect(dat).toMatch(/^inception-[0-9a-f]{8}\.dat$/)
    else expect(dat).toBe('inception.dat')
    const bytes = fs.readFileSync(path.join(dir, dat))
    if (hashed) expect(dat).toBe(`inception-${sha256(bytes).slice(0, 8)}.dat`)
    let end = 0
    for (const l of m.layers) {
      for (const t of [l.weights, l.bias]) {
        expect(t.file).toBe(dat)
        expect(t.offset % align, `${l.name} at ${t.offset}`).toBe(0)
        expect(t.offset).toBeGreaterThanOrEqual(end)
        end = t.offset + t.byteLength
      }
    }
    expect(bytes.length).toBe(end)
    checkAgainstOracle(dir, m)
    return m
  }

  it('--packed: one inception.dat, every tensor at a multiple of 256', () => {
    runOk(['convert', 'inception.pb', '--out-dir', 'packed', '--packed'])
    checkPacked(p('packed'), 256, false)
  })

  it('--packed --align 1024', () => {
    runOk(['convert', 'inception.pb', '--out-dir', 'packed1024', '--packed', '--align', '1024'])
    const m = checkPacked(p('packed1024'), 1024, false)
    // Not merely 256-aligned by chance.
    expect(m.layers.every((l) => l.bias.offset % 1024 === 0)).toBe(true)
    runOk(['convert', 'inception.pb', '--out-dir', 'packed4', '--packed', '--align=4'])
    checkPacked(p('packed4'), 4, false)
  })

  it('--hash: content-hashed names, referenced by manifest.json', () => {
    runOk(['convert', 'inception.pb', '--out-dir', 'hashed', '--hash'])
    const dir = p('hashed')
    const m = readManifest(dir)
    const referenced = new Set<string>()
    for (const l of m.layers) {
      expect(l.weights.file).toMatch(new RegExp(`^weights_${l.name}-[0-9a-f]{8}\\.dat$`))
      expect(l.bias.file).toMatch(new RegExp(`^bias_${l.name}-[0-9a-f]{8}\\.dat$`))
      for (const t of [l.weights, l.bias]) {
        const bytes = fs.readFileSync(path.join(dir, t.file))
        expect(t.file.slice(-12, -4)).toBe(sha256(bytes).slice(0, 8))
        expect(bytes.length).toBe(t.byteLength)
        referenced.add(t.file)
      }
    }
    expect(fs.readdirSync(dir).sort()).toEqual([...referenced, 'manifest.json'].sort())
    checkAgainstOracle(dir, m)
  })

  it('--packed --hash: one hashed <model>-<hash>.dat', () => {
    runOk(['convert', 'inception.pb', '--out-dir', 'packedhash', '--packed', '--hash'])
    checkPacked(p('packedhash'), 256, true)
  })

  it('--precision float16: half weights, float32 biases', () => {
    runOk(['convert', 'inception.pb', '--out-dir', 'half', '--precision', 'float16'])
    const m = readManifest(p('half'))
    expect(m.precision).toBe('float16')
    for (const l of m.layers) expect(l.weights.dtype).toBe('float16')
    checkAgainstOracle(p('half'), m)
    expect(m.layers.map((l) => l.weights.byteLength * 2)).toEqual(oracle.map((l) => l.weights.length * 4))
  })

  it('--precision float16 --packed', () => {
    runOk(['convert', 'inception.pb', '--out-dir', 'halfpacked', '--precision=float16', '--packed'])
    const m = checkPacked(p('halfpacked'), 256, false)
    expect(m.precision).toBe('float16')
  })
})

describe('bad inputs: one line on stderr, the earlier output untouched', () => {
  const GOOD = 'keep'
  let parent: string
  let before: Map<string, Buffer>

  /**
   * A folder of the test's own, holding a copy of the earlier output `keep/` (never
   * written to itself): changes to it and leftovers beside it are this test's.
   */
  function caseDir(name: string): string {
    const dir = path.join(parent, name)
    fs.cpSync(path.join(parent, GOOD), path.join(dir, GOOD), { recursive: true })
    return dir
  }

  beforeAll(() => {
    parent = p('bad')
    fs.mkdirSync(parent)
    runOk(['convert', path.join(tmp, 'inception.pb'), '--out-dir', path.join(parent, GOOD), '--quiet'])
    before = snapshot(path.join(parent, GOOD))
    expect(before.size).toBe(2 * LAYERS + 1)

    const w = (name: string, data: Uint8Array | string) => fs.writeFileSync(path.join(parent, name), data)
    w('empty.pb', new Uint8Array(0))
    w('truncated.pb', modelBytes.subarray(0, Math.floor(modelBytes.length * 0.6)))
    const jpeg = new Uint8Array(4096)
    for (let i = 0; i < jpeg.length; i++) jpeg[i] = (i * 2654435761) >>> 24
    jpeg.set([0xff, 0xd8, 0xff, 0xe1, 0x00, 0x18, 0x45, 0x78, 0x69, 0x66])
    w('photo.pb', jpeg)
    w('saved_model.pb', savedModelBytes(modelBytes))
    w('lfs.pb', `version https://git-lfs.github.com/spec/v1\noid sha256:${'ab12'.repeat(16)}\nsize ${modelBytes.length}\n`)
    w('nan.pb', nanModel())
    const text = fs.readFileSync(p('inception.pbtxt'), 'utf8').split('\n')
    text[1234] = text[1234].replace(':', '')
    w('broken.pbtxt', text.join('\n'))
  })

  const cases: [string, string, RegExp][] = [
    ['empty file', 'empty.pb', /the file is empty/],
    ['truncated file', 'truncated.pb', /truncated/],
    ['JPEG named .pb', 'photo.pb', /JPEG/],
    ['SavedModel', 'saved_model.pb', /SavedModel.*Freeze the graph/],
    ['Git LFS pointer', 'lfs.pb', /git lfs pull/],
    ['missing file', 'missing.pb', /no such file/],
    ['NaN weights', 'nan.pb', /node "conv\/weights": weights hold NaN/],
    ['pbtxt syntax error', 'broken.pbtxt', /line 1235, column \d+/],
  ]

  for (const [what, name, says] of cases) {
    it(`${what}: exit 1, "mpscnn: ${name}: ...", ${GOOD}/ untouched`, () => {
      const file = path.join(parent, name)
      const dir = caseDir(`case-${name}`)
      const r = run(['convert', file, '--out-dir', path.join(dir, GOOD)])
      expect(r.status, describeRun(r)).toBe(1)
      const line = expectOneErrorLine(r, file)
      expect(line.startsWith(`mpscnn: ${file}: `)).toBe(true)
      expect(line).toMatch(says)
      expect(r.stdout).toBe('')
      expectSameTree(path.join(dir, GOOD), before)
      expect(leftovers(dir)).toEqual([])
    })
  }

  it('relative paths are named as given, and no default output folder appears', () => {
    const dir = caseDir('relative')
    fs.copyFileSync(path.join(parent, 'empty.pb'), path.join(dir, 'empty.pb'))
    const r = run(['convert', 'empty.pb'], dir)
    expect(expectOneErrorLine(r, 'empty.pb')).toBe('mpscnn: empty.pb: the file is empty. Export the frozen GraphDef again')
    expect(fs.existsSync(path.join(dir, 'empty-mpscnn'))).toBe(false)
    expect(leftovers(dir)).toEqual([])
  })

  it('a directory given as the model: exit 1, one line', () => {
    const dir = caseDir('directory')
    fs.mkdirSync(path.join(dir, 'saved_model_dir'))
    const r = run(['convert', 'saved_model_dir', '--out-dir', GOOD], dir)
    expect(expectOneErrorLine(r, 'saved_model_dir')).toMatch(/directory/)
    expectSameTree(path.join(dir, GOOD), before)
    expect(leftovers(dir)).toEqual([])
  })

  it('a failure after some layers were written (float16 overflow in the last layer) leaves nothing behind', () => {
    const dir = caseDir('overflow')
    const file = path.join(dir, 'overflow.pb')
    fs.writeFileSync(file, overflowModel())
    for (const extra of [[], ['--packed'], ['--hash']]) {
      const r = run(['convert', file, '--out-dir', path.join(dir, GOOD), '--precision', 'float16', ...extra])
      expect(r.status, describeRun(r)).toBe(1)
      const line = expectOneErrorLine(r, file)
      expect(line).toMatch(/node "late\/weights": layer "late": folded weight 1000000 .* overflows float16/)
      expectSameTree(path.join(dir, GOOD), before)
      expect(leftovers(dir)).toEqual([])
    }
    // The same model converts in float32.
    runOk(['convert', file, '--out-dir', path.join(dir, 'overflow-f32'), '--quiet'])
  })
})

describe('the network flags', () => {
  it('--input-shape sizes an unknown input, --outputs picks the outputs before an unsupported op, --layers-only leaves the network out', () => {
    const b = new GraphBuilder()
    b.placeholder('input', [-1, -1, -1, 3])
    b.constF32('conv/weights', [3, 3, 3, 4], new Float32Array(108).fill(0.5))
    b.op('conv/Conv2D', 'Conv2D', ['input', 'conv/weights'], { ...convAttrs, strides: attr.ints([1, 2, 2, 1]) })
    b.op('relu', 'Relu', ['conv/Conv2D'], { T: attr.type('DT_FLOAT') })
    b.op('loop', 'While', ['relu'], { T: attr.type('DT_FLOAT') })
    const dir = p('flags')
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, 'small.pb'), b.encode())
    const fails = (args: string[], says: RegExp) => {
      const r = run(['convert', 'small.pb', ...args], dir)
      expect(r.status, describeRun(r)).toBe(1)
      expect(expectOneErrorLine(r, 'small.pb')).toMatch(says)
    }
    fails([], /node "input": the network input "input" has shape \[\?, \?, \?, 3\].*--input-shape 224,224,3/)
    fails(['--input-shape', '9,9,3'], /1 op type on the path from the input to the outputs has no MPS counterpart: While \(e\.g\. "loop"/)
    runOk(['convert', 'small.pb', '--input-shape', '9,9,3', '--outputs', 'relu', '--out-dir', 'net'], dir)
    const net = readManifest(path.join(dir, 'net')).network
    expect(net.images).toEqual({ input: { width: 9, height: 9, featureChannels: 3 }, relu: { width: 5, height: 5, featureChannels: 4 } })
    expect(net.nodes).toMatchObject([{ kind: 'convolution', source: 'input', destination: 'relu', neuron: { type: 'relu' }, layer: 'conv' }])
    runOk(['convert', 'small.pb', '--layers-only', '--out-dir', 'plain'], dir)
    const plain = readManifest(path.join(dir, 'plain'))
    expect(plain.network).toBeUndefined()
    expect(plain.layers.map((l) => l.name)).toEqual(['conv'])
    for (const bad of [['--input-shape', '9,9'], ['--input-shape', '9,x,3'], ['--outputs', '']]) {
      const r = run(['convert', 'small.pb', ...bad], dir)
      expect(r.status, describeRun(r)).toBe(2)
      expect(r.stderr).toMatch(bad[0] === '--outputs' ? /--outputs/ : /--input-shape must be \[height, width, channels\]/)
    }
  })
})

describe('a fully connected layer after an NCHW flatten', () => {
  it('its weights are written in MPSCNNFullyConnected\'s [out][H][W][C] order (rows permuted from TF\'s C, H, W)', () => {
    const b = new GraphBuilder()
    b.placeholder('input', [1, 2, 3, 4])
    b.constF32('conv/weights', [1, 1, 4, 4], new Float32Array(16).fill(0.5))
    b.op('conv/Conv2D', 'Conv2D', ['input', 'conv/weights'], convAttrs)
    b.constI32('perm', [4], [0, 3, 1, 2])
    b.op('nchw', 'Transpose', ['conv/Conv2D', 'perm'], { T: attr.type('DT_FLOAT') })
    b.constI32('shape', [2], [1, 24])
    b.op('flat', 'Reshape', ['nchw', 'shape'], { T: attr.type('DT_FLOAT') })
    const w = Float32Array.from({ length: 24 * 3 }, (_, i) => i)
    b.constF32('fc/weights', [24, 3], w)
    b.op('fc/MatMul', 'MatMul', ['flat', 'fc/weights'], { T: attr.type('DT_FLOAT') })
    const dir = p('nchw')
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, 'nchw.pb'), b.encode())
    runOk(['convert', 'nchw.pb', '--out-dir', 'out', '--quiet'], dir)
    const got = f32(fs.readFileSync(path.join(dir, 'out', 'weights_fc.dat')))
    for (let o = 0; o < 3; o++) for (let h = 0; h < 2; h++) for (let x = 0; x < 3; x++) for (let c = 0; c < 4; c++) {
      expect(got[((o * 2 + h) * 3 + x) * 4 + c]).toBe(w[(c * 6 + h * 3 + x) * 3 + o])
    }
    expect(readManifest(path.join(dir, 'out')).network.nodes.find((n) => n.kind === 'fullyConnected')).toMatchObject({ kernel: { width: 3, height: 2 }, inputFeatureChannels: 4 })
  })
})

describe('other commands', () => {
  it('mpscnn cache clean --cache-dir DIR removes the cache folder', () => {
    const dir = p('cache')
    fs.mkdirSync(path.join(dir, 'entries'), { recursive: true })
    fs.mkdirSync(path.join(dir, 'paths'), { recursive: true })
    fs.writeFileSync(path.join(dir, 'entries', `${'a'.repeat(64)}.bin`), 'x')
    fs.writeFileSync(path.join(dir, 'entries', `${'b'.repeat(64)}.bin`), 'y')
    fs.writeFileSync(path.join(dir, 'paths', `${'c'.repeat(32)}.json`), '{}')
    const r = runOk(['cache', 'clean', '--cache-dir', dir])
    expect(r.stdout).toBe(`mpscnn: removed 2 cache entries from ${dir}\n`)
    expect(fs.existsSync(dir)).toBe(false)
    // Again, with --cache-dir=DIR and nothing there.
    const again = runOk(['cache', 'clean', `--cache-dir=${dir}`])
    expect(again.stdout).toContain('removed 0 cache entries')
  })

  it('an unknown option: exit 2, the nearest known option and the usage on stderr, nothing on stdout', async () => {
    const r = run(['convert', 'inception.pb', '--out-dri', 'x'])
    expect(r.status).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe('mpscnn: unknown option --out-dri (did you mean --out-dir?)\nUsage:\n  mpscnn convert <model.pb|model.pbtxt> [options]\nRun "mpscnn convert --help" for the options and examples.\n')
    expect((await runHere(['convert', 'inception.pb', '--pakced'])).stderr).toMatch(/^mpscnn: unknown option --pakced \(did you mean --packed\?\)\n/)
    expect((await runHere(['convert', 'inception.pb', '--precison', 'float16'])).stderr).toMatch(/^mpscnn: unknown option --precison \(did you mean --precision\?\)\n/)
    expect((await runHere(['cache', 'clean', '--cache-dri', 'x'])).stderr).toMatch(/^mpscnn: unknown option --cache-dri \(did you mean --cache-dir\?\)\n/)
    expect((await runHere(['convrt', 'inception.pb'])).stderr).toMatch(/^mpscnn: unknown command "convrt" \(did you mean convert\?\)\n/)
    // Nothing near: no suggestion.
    const far = await runHere(['convert', 'inception.pb', '--frobnicate'])
    expect(far.stderr).toMatch(/^mpscnn: unknown option --frobnicate\nUsage:\n/)
    expect(far.stderr).not.toContain('    at ')
    expect(fs.existsSync(p('inception-mpscnn'))).toBe(false)
  })

  it('bad option values and commands: exit 2 with the usage on stderr', async () => {
    const cases: [string[], RegExp][] = [
      [['convert', 'inception.pb', '--align', '100'], /--align must be a power of two/],
      [['convert', 'inception.pb', '--precision', 'float64'], /--precision must be float32 or float16/],
      [['convert', 'inception.pb', '--max-expansion', '0.5'], /--max-expansion must be a number of at least 1/],
      [['convert', 'inception.pb', '--max-expansion=many'], /--max-expansion must be a number of at least 1/],
      [['convert', 'inception.pb', '--out-dir'], /--out-dir needs a value/],
      [['convert', 'inception.pb', '--out-dir', '--packed'], /--out-dir needs a value/],
      [['convert', 'inception.pb', '--packed=yes'], /--packed takes no value/],
      [['convert'], /convert needs a model file/],
      [['convert', 'a.pb', 'b.pb'], /one model at a time/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['cache'], /cache needs a command: clean/],
      [['cache', 'purge'], /unknown command "cache purge"/],
      [['cache', 'clean', '--nope'], /unknown option --nope/],
      [[], /no command given/],
    ]
    for (const [args, says] of cases) {
      const r = await runHere(args)
      expect(r.status, args.join(' ')).toBe(2)
      expect(r.stdout, args.join(' ')).toBe('')
      expect(r.stderr, args.join(' ')).toMatch(/^mpscnn: .+\nUsage:\n  mpscnn .*\n(  mpscnn .*\n)*Run "mpscnn( \w+)* --help" for the options and examples\.\n$/)
      expect(r.stderr.split('\n')[0], args.join(' ')).toMatch(says)
    }
  })

  it('--help and -h of every command and subcommand: its usage, options and examples on stdout, exit 0', async () => {
    const helps: [string[], string, string[]][] = [
      [['--help'], 'mpscnn convert <model.pb|model.pbtxt> [options]', ['convert', 'verify', 'cache', '--version']],
      [['verify', '-h'], 'mpscnn verify <model.pb|model.pbtxt> [options]', ['--assets DIR', '--samples N', '--image FILE', '--tolerance T', 'Exit status:']],
      [['help'], 'mpscnn cache clean [--cache-dir DIR]', ['convert', 'cache']],
      [['convert', '--help'], 'mpscnn convert <model.pb|model.pbtxt> [options]', ['--out-dir DIR', '--dat-dir REF', '--packed', '--align N', '--hash', '--precision P', '--quiet', 'Exit status:', '  4  --dat-dir']],
      [['convert', 'inception.pb', '-h', '--frobnicate'], 'mpscnn convert <model.pb|model.pbtxt> [options]', ['--out-dir DIR']],
      [['help', 'convert'], 'mpscnn convert <model.pb|model.pbtxt> [options]', ['--dat-dir REF']],
      [['cache', '--help'], 'mpscnn cache clean [--cache-dir DIR]', ['clean']],
      [['cache', 'clean', '-h'], 'mpscnn cache clean [--cache-dir DIR]', ['--cache-dir DIR', 'NOT_A_CACHE']],
      [['help', 'cache', 'clean'], 'mpscnn cache clean [--cache-dir DIR]', ['--cache-dir DIR']],
    ]
    for (const [args, usage, mentions] of helps) {
      const r = await runHere(args)
      expect(r.status, args.join(' ')).toBe(0)
      expect(r.stderr, args.join(' ')).toBe('')
      expect(r.stdout.startsWith(`Usage:\n  ${usage}\n`) || r.stdout.includes(`\n  ${usage}\n`), args.join(' ')).toBe(true)
      for (const m of [...mentions, '-h, --help', 'Examples:\n  # ']) expect(r.stdout, `${args.join(' ')}: ${m}`).toContain(m)
    }
    expect(fs.existsSync(p('inception-mpscnn'))).toBe(false)
  })

  it('the built CLI: --help and -h on stdout with exit 0, no arguments a usage error on stderr with exit 2', () => {
    for (const args of [['convert', '--help'], ['convert', '-h'], ['cache', 'clean', '--help']]) {
      const r = runOk(args)
      expect(r.stdout, args.join(' ')).toMatch(/^Usage:\n  mpscnn /)
      expect(r.stderr).toBe('')
    }
    const none = run([])
    expect(none.status).toBe(2)
    expect(none.stdout).toBe('')
    expect(none.stderr).toMatch(/^mpscnn: no command given\nUsage:\n/)
  })

  it('--version', () => {
    const v = runOk(['--version'])
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
    expect(v.stdout).toBe(`${pkg.version}\n`)
  })
})

// ---------------------------------------------------------------------------------------
// Models for the failure cases
// ---------------------------------------------------------------------------------------


const convAttrs = { T: attr.type('DT_FLOAT'), padding: attr.s('SAME'), strides: attr.ints([1, 1, 1, 1]) }

function nanModel(): Uint8Array {
  const b = new GraphBuilder()
  b.placeholder('input', [1, 8, 8, 3])
  const w = new Float32Array(3 * 3 * 3 * 8).fill(0.25)
  w[11] = NaN
  b.constF32('conv/weights', [3, 3, 3, 8], w)
  b.op('conv/Conv2D', 'Conv2D', ['input', 'conv/weights'], convAttrs)
  return b.encode()
}

/** 20 layers that convert, then one whose weight overflows float16. No warnings. */
function overflowModel(): Uint8Array {
  const b = new GraphBuilder()
  b.placeholder('input', [1, 8, 8, 8])
  let x = 'input'
  for (let i = 0; i < 20; i++) {
    b.constF32(`l${i}/weights`, [3, 3, 8, 8], new Float32Array(3 * 3 * 8 * 8).fill(0.01 * (i + 1)))
    x = b.op(`l${i}/Conv2D`, 'Conv2D', [x, `l${i}/weights`], convAttrs)
  }
  const w = new Float32Array(3 * 3 * 8 * 8).fill(0.5)
  w[100] = 1e6
  b.constF32('late/weights', [3, 3, 8, 8], w)
  b.op('late/Conv2D', 'Conv2D', [x, 'late/weights'], convAttrs)
  return b.encode()
}
