/**
 * Mutation fuzzing of the converter (the built `dist/`), in a child process with a memory
 * cap and a timeout, so that a hang, a stack overflow or a memory blow-up fails the test
 * instead of the test runner. See `test/fuzz/runner.mjs` for the mutations.
 *
 * `npm test` runs a quick fuzz (120 iterations, a few seconds); `npm run fuzz` a long one.
 * MPSCNN_FUZZ_SEED and MPSCNN_FUZZ_ITERATIONS override the defaults:
 *   MPSCNN_FUZZ_SEED=$RANDOM MPSCNN_FUZZ_ITERATIONS=50000 npx vitest run test/hostile/fuzz.test.ts
 * A finding names its seed and iteration; replay it alone with
 *   node test/fuzz/runner.mjs <seed> <iteration> --pb ... --pbtxt ... --repro out.bin
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { reflection, type GraphDef } from '../../src/graphdef/schema.js'
import { makeInceptionV3_2015 } from '../helpers/inception.js'
import { formatGraphDefText } from '../helpers/pbtxt-writer.js'

const { GraphDefType } = reflection()

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const RUNNER = path.join(ROOT, 'test', 'fuzz', 'runner.mjs')
const SEED = Number(process.env.MPSCNN_FUZZ_SEED ?? 20251126)
const ITERATIONS = Number(process.env.MPSCNN_FUZZ_ITERATIONS ?? 120)
const TIMEOUT_MS = Math.max(120_000, ITERATIONS * 100)
const RSS_LIMIT_MB = 1024

let tmp: string
let pb: string
let pbtxt: string

interface Summary {
  summary: true
  seed: number
  iterations: number
  textIterations: number
  converted: number
  codes: Record<string, number>
  findings: number
  peakRssMb: number
  slowest: { ms: number; iteration: number }
  seconds: number
}

interface Finding {
  kind: string
  seed: number
  iteration: number
  mutation: string
  [k: string]: unknown
}

function runFuzzer(args: string[], timeoutMs: number): { status: number | null; findings: Finding[]; summary?: Summary; report: string } {
  const state = path.join(tmp, `state-${args.join('_').replace(/[^\w-]/g, '')}.json`)
  const r = spawnSync(process.execPath, ['--max-old-space-size=768', RUNNER, ...args, '--pb', pb, '--pbtxt', pbtxt, '--state', state, '--rss-limit-mb', String(RSS_LIMIT_MB)], {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  })
  const lines = (r.stdout ?? '').split('\n').filter(Boolean)
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l) as Finding | Summary
    } catch {
      return null
    }
  })
  const summary = parsed.find((x): x is Summary => !!x && 'summary' in x)
  const findings = parsed.filter((x): x is Finding => !!x && !('summary' in x))
  let report = ''
  if (r.error || r.signal) {
    const at = fs.existsSync(state) ? fs.readFileSync(state, 'utf8') : '(no state written)'
    report += `the fuzzer was killed (${r.error?.message ?? r.signal}) after ${timeoutMs} ms: a hang or a crash of the process. Last input: ${at}\n`
  }
  if (r.status !== 0 || findings.length) {
    report += `exit ${r.status}\n${findings.map((f) => JSON.stringify(f, null, 2)).join('\n')}\n--- stderr\n${(r.stderr ?? '').slice(0, 4000)}\n`
  }
  return { status: r.status, findings, summary, report }
}

beforeAll(() => {
  for (const f of ['fold/convert.js', 'base/errors.js', 'graphdef/schema.js']) {
    if (!fs.existsSync(path.join(ROOT, 'dist', f))) throw new Error(`dist/${f} is missing: run \`npm run build\` first`)
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-fuzz-'))
  const g = makeInceptionV3_2015({ scale: 16, seed: 3, expected: false })
  pb = path.join(tmp, 'model.pb')
  pbtxt = path.join(tmp, 'model.pbtxt')
  fs.writeFileSync(pb, g.bytes)
  fs.writeFileSync(pbtxt, formatGraphDefText(GraphDefType.decode(g.bytes) as unknown as GraphDef))
})

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})

describe('fuzzing', () => {
  it(
    `${ITERATIONS} mutations of a scale-16 Inception v3 (.pb and .pbtxt): only MpscnnErrors, bounded memory`,
    () => {
      const r = runFuzzer([String(SEED), String(ITERATIONS), '--text-share', '0.2'], TIMEOUT_MS)
      if (r.report) console.error(r.report)
      expect(r.findings, r.report).toEqual([])
      expect(r.status, r.report).toBe(0)
      const s = r.summary!
      expect(s.iterations).toBe(ITERATIONS)
      expect(s.textIterations).toBeGreaterThanOrEqual(Math.floor(ITERATIONS * 0.2) - 1)
      expect(s.peakRssMb).toBeLessThan(RSS_LIMIT_MB)
      // The mutations reach past the decoder: some inputs still convert, and the planner's
      // errors show up next to the decoder's.
      expect(s.converted).toBeGreaterThan(0)
      for (const code of ['TRUNCATED', 'NOT_PROTOBUF', 'CORRUPT', 'PBTXT_SYNTAX', 'BAD_SHAPE', 'BAD_GRAPH', 'UNSUPPORTED_DTYPE']) {
        expect(s.codes[code] ?? 0, `${code} in ${JSON.stringify(s.codes)}`).toBeGreaterThan(0)
      }
      console.log(`fuzz: ${JSON.stringify(s)}`)
    },
    TIMEOUT_MS + 30_000,
  )

  // Targeted mutations, a few iterations each: [what, seed, iterations, mutation].
  const targeted: [string, number, number, string][] = [
    ['chains of 100 to 30000 pass-through ops before or after a layer: no stack overflow', 2, 8, 'deepChain'],
    ['an affine op whose third (unused) input closes a cycle: no hang', 2, 4, 'affineCycle'],
    ['a constant bomb (two 16384-element splats broadcast into 2^28) stays within memory and time', 1, 1, 'constantBomb'],
    ["a layer's weights replaced by splats of up to 1 GiB, through Neg ops: refused within memory", 3, 6, 'splatBomb'],
  ]
  for (const [what, seed, iterations, mutation] of targeted) {
    it(
      what,
      () => {
        const r = runFuzzer([String(seed), String(iterations), '--text-share', '0', '--only', mutation, '--slow-ms', '5000'], 60_000)
        if (r.report) console.error(r.report)
        expect(r.findings, r.report).toEqual([])
        expect(r.status, r.report).toBe(0)
        expect(r.summary!.peakRssMb).toBeLessThan(RSS_LIMIT_MB)
      },
      90_000,
    )
  }
})
