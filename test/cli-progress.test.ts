/**
 * The CLI's progress bar: in this process with a fake clock and a fake terminal (nothing
 * before the delay, a default delay of one second, counts that never go back), then the real
 * CLI on a pseudo-terminal (util-linux `script`) converting a model that takes over a
 * second, and with stderr a pipe.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Progress, type ProgressOptions } from '../src/cli/progress.js'
import { attr, GraphBuilder } from './helpers/graph-builder.js'

/** A stream that records what is written, a terminal or not. */
function screen(isTTY: boolean) {
  const writes: string[] = []
  return { writes, stream: { isTTY, write: (s: string | Uint8Array) => (writes.push(String(s)), true) } }
}

/** The counts drawn, in order. */
const counts = (writes: string[]) => writes.flatMap((w) => [...w.matchAll(/\] (\d+)\/\d+ layers?/g)].map((m) => Number(m[1])))

function progress(o: Omit<ProgressOptions, 'stream' | 'now'>, isTTY = true) {
  const s = screen(isTTY)
  let t = 0
  const p = new Progress({ ...o, stream: s.stream as ProgressOptions['stream'], now: () => t })
  return { p, writes: s.writes, at: (ms: number) => void (t = ms) }
}

describe('Progress (fake clock, fake terminal)', () => {
  it('draws nothing before one second by default, then the bar', () => {
    const { p, writes, at } = progress({ total: 95 })
    for (const [ms, done] of [[0, 1], [500, 2], [999, 3]]) {
      at(ms)
      p.update(done)
    }
    expect(writes).toEqual([])
    at(1000)
    p.update(4)
    expect(writes).toEqual([`\r[#.............................] 4/95 layers`])
  })

  it('counts the layers finished, never backwards, whatever order they arrive in', () => {
    const { p, writes, at } = progress({ total: 95, delayMs: 1000 })
    at(1500)
    // Finished counts as two threads report them: a late, lower one must not be drawn.
    for (const done of [12, 2, 40, 27, 94, 60, 95]) p.update(done)
    expect(counts(writes)).toEqual([12, 40, 94, 95])
    expect(writes.at(-1)).toBe(`\r[${'#'.repeat(30)}] 95/95 layers`)
  })

  it('a slow start: counts reached before the delay are drawn at once when it ends', () => {
    const { p, writes, at } = progress({ total: 10, start: 0, delayMs: 1000 })
    at(200)
    for (let done = 1; done <= 6; done++) p.update(done)
    expect(writes).toEqual([])
    at(1200)
    p.update(5) // late report from the other thread
    expect(counts(writes)).toEqual([6])
  })

  it('done() clears the line it drew, and nothing when it drew none', () => {
    const drawn = progress({ total: 2, delayMs: 0 })
    drawn.p.update(1)
    drawn.p.done()
    expect(drawn.writes.at(-1)).toBe('\r\x1b[K')
    const none = progress({ total: 2 })
    none.p.update(1)
    none.p.done()
    expect(none.writes).toEqual([])
  })

  it('one layer: "1/1 layer"', () => {
    const { p, writes } = progress({ total: 1, delayMs: 0 })
    p.update(1)
    expect(writes).toEqual([`\r[${'#'.repeat(30)}] 1/1 layer`])
  })

  it('draws nothing when the stream is not a terminal, or when quiet', () => {
    for (const [o, tty] of [[{ total: 5, delayMs: 0 }, false], [{ total: 5, delayMs: 0, quiet: true }, true]] as const) {
      const { p, writes, at } = progress(o, tty)
      at(5000)
      p.update(3)
      p.done()
      expect(writes).toEqual([])
    }
  })
})

const repo = path.resolve(__dirname, '..')
const hasScript = fs.existsSync('/usr/bin/script')
const LAYERS = 3001

/**
 * 3000 small layers (6000 files to create: over a second of work however fast the machine)
 * and one large one, so that the model (18 MB) is shared with the layout worker: both threads
 * finish layers, the worker the large one first, this thread the others from the last.
 */
function manyLayers(): Uint8Array {
  const b = new GraphBuilder()
  const convAttrs = { T: attr.type('DT_FLOAT'), padding: attr.s('SAME'), strides: attr.ints([1, 1, 1, 1]) }
  b.placeholder('input', [1, 8, 8, 8])
  let x = 'input'
  const w = new Float32Array(3 * 3 * 8 * 8)
  for (let i = 0; i < LAYERS - 1; i++) {
    w.fill(((i % 13) - 6) / 16)
    b.constF32(`l${i}/weights`, [3, 3, 8, 8], w)
    x = b.op(`l${i}/Conv2D`, 'Conv2D', [x, `l${i}/weights`], convAttrs)
  }
  b.placeholder('wide', [1, 8, 8, 512])
  b.constF32('big/weights', [3, 3, 512, 576], new Float32Array(3 * 3 * 512 * 576).fill(0.01))
  b.op('big/Conv2D', 'Conv2D', ['wide', 'big/weights'], convAttrs)
  return b.encode()
}

describe.skipIf(!hasScript)('the CLI on a terminal', () => {
  let dir: string
  let cli: (out: string) => string
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-tty-'))
    fs.writeFileSync(path.join(dir, 'model.pb'), manyLayers())
    cli = (out) => `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(repo, 'bin/mpscnn.js'))} convert model.pb --out-dir ${out}`
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('shows a bar that counts up once the conversion has run for a second, and clears it before the summary', () => {
    const r = spawnSync('/usr/bin/script', ['-qec', cli('tty-out'), '/dev/null'], { cwd: dir, encoding: 'utf8' })
    expect(r.status, r.stdout).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`\\[#*\\.*\\] \\d+/${LAYERS} layers`))
    const drawn = counts([r.stdout])
    expect(drawn.length).toBeGreaterThan(1)
    for (let i = 1; i < drawn.length; i++) expect(drawn[i], `count ${i}: ${drawn.slice(Math.max(0, i - 3), i + 2).join(' ')}`).toBeGreaterThan(drawn[i - 1])
    expect(drawn.at(-1)).toBeLessThanOrEqual(LAYERS)
    // Cleared, then the summary line.
    expect(r.stdout).toMatch(new RegExp(`layers\\r\\x1b\\[Kmodel\\.pb: ${LAYERS} layers, `))
  })

  it('draws nothing on a terminal with -q (the same conversion, over a second): no bar, no summary', () => {
    const r = spawnSync('/usr/bin/script', ['-qec', `${cli('quiet-out')} -q`, '/dev/null'], { cwd: dir, encoding: 'utf8' })
    expect(r.status, r.stdout).toBe(0)
    expect(r.stdout).toBe('')
    expect(fs.readdirSync(path.join(dir, 'quiet-out'))).toHaveLength(2 * LAYERS + 1)
  })

  it('draws nothing when stderr is not a terminal', () => {
    const r = spawnSync('/bin/sh', ['-c', cli('pipe-out')], { cwd: dir, encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(new RegExp(`^model\\.pb: ${LAYERS} layers, `))
  })
})
