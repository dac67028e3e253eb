/**
 * `mpscnn verify` (src/cli/verify.ts), the built CLI as a process: in memory, on a folder written
 * by `mpscnn convert` (--assets), and on that folder after its manifest.json was edited by hand.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import { mulberry32 } from './helpers/inception.js'

const BIN = fileURLToPath(new URL('../bin/mpscnn.js', import.meta.url))
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-cli-verify-'))
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }))
const mpscnn = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: TMP, encoding: 'utf8' })

const T = { T: attr.type('DT_FLOAT') }
const r = mulberry32(3)
const rand = (n: number) => Float32Array.from({ length: n }, () => r() * 2 - 1)

/** x (7 x 7 x 3) -> conv 3x3 SAME + Relu -> average pool 3x3 SAME -> conv 1x1 stride 2 -> softmax. */
function model(): string {
  const b = new GraphBuilder()
  b.placeholder('x', [1, 7, 7, 3])
  b.constF32('c1/w', [3, 3, 3, 8], rand(216))
  b.op('c1', 'Conv2D', ['x', 'c1/w'], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  b.op('r1', 'Relu', ['c1'], T)
  b.op('pool', 'AvgPool', ['r1'], { ...T, ksize: attr.ints([1, 3, 3, 1]), strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  b.constF32('c2/w', [1, 1, 8, 4], rand(32))
  b.op('c2', 'Conv2D', ['pool', 'c2/w'], { ...T, strides: attr.ints([1, 2, 2, 1]), padding: attr.s('SAME') })
  b.op('prob', 'Softmax', ['c2'], T)
  const file = path.join(TMP, 'model.pb')
  fs.writeFileSync(file, b.encode())
  return file
}

describe('mpscnn verify', () => {
  const file = model()

  it('in memory: prints the table and passes (exit 0)', () => {
    const p = mpscnn('verify', file, '--samples', '2')
    expect(p.stderr).toBe('')
    expect(p.status).toBe(0)
    expect(p.stdout).toMatch(/prob\s+\S+\s+\S+\s+2\/2\s+2\/2/)
    expect(p.stdout).toContain('mpscnn: ok')
  })

  it('--assets on a folder written by mpscnn convert, --json; then a hand-edited manifest.json fails naming the node (exit 1)', () => {
    const out = path.join(TMP, 'out')
    expect(mpscnn('convert', file, '--out-dir', out, '--quiet').status).toBe(0)
    const ok = mpscnn('verify', file, '--assets', out, '--samples', '2', '--json')
    expect(ok.status).toBe(0)
    const report = JSON.parse(ok.stdout)
    expect(report).toMatchObject({ ok: true, samples: 2, precision: 'float32', outputs: [{ tfNode: 'prob', top1: 2 }] })

    const json = path.join(out, 'manifest.json')
    const m = JSON.parse(fs.readFileSync(json, 'utf8'))
    m.network.nodes.find((n: { name: string }) => n.name === 'pool').edgeMode = 'zero'
    fs.writeFileSync(json, JSON.stringify(m))
    const bad = mpscnn('verify', file, '--assets', out, '--samples', '2')
    expect(bad.status).toBe(1)
    expect(bad.stdout).toContain('mpscnn: FAILED')
    expect(bad.stdout).toContain('first diverging node "pool"')
    expect(bad.stdout).toContain('"edgeMode":"zero"')
  })

  it('usage errors: exit 2 with one line', () => {
    const p = mpscnn('verify', file, '--samples', '0')
    expect(p.status).toBe(2)
    expect(p.stderr).toContain('--samples must be an integer >= 1')
  })
})
