/**
 * `mpscnn verify` (src/cli/verify.ts), the built CLI as a process: in memory, on a folder written
 * by `mpscnn convert` (--assets), and on that folder after its manifest.json was edited by hand;
 * pictures (--image), a PNG and a JPEG written by the decoders' own encoders.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import jpeg from 'jpeg-js'
import { PNG } from 'pngjs'
import { afterAll, describe, expect, it } from 'vitest'
import { verifyModel } from './helpers/graphs.js'

const BIN = fileURLToPath(new URL('../bin/mpscnn.js', import.meta.url))
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-cli-verify-'))
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }))
const mpscnn = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: TMP, encoding: 'utf8' })

/** verify's small classifier, written into TMP. */
function model(): string {
  const file = path.join(TMP, 'model.pb')
  fs.writeFileSync(file, verifyModel())
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

  it('the tolerance: 1e-4 for float32 and 2e-2 for float16 by default; --tolerance below the difference fails (exit 1)', () => {
    const report = (...args: string[]) => {
      const p = mpscnn('verify', file, '--samples', '1', '--json', ...args)
      return { status: p.status, ...(JSON.parse(p.stdout) as { ok: boolean; tolerance: number; outputs: { maxRel: number }[] }) }
    }
    expect(report()).toMatchObject({ status: 0, ok: true, tolerance: 1e-4 })
    // float16 weights differ from the graph's by more than the float32 bound, within their own.
    const f16 = report('--precision', 'float16')
    expect(f16).toMatchObject({ status: 0, ok: true, tolerance: 2e-2 })
    const diff = f16.outputs[0].maxRel
    expect(diff).toBeGreaterThan(1e-4)
    expect(report('--precision', 'float16', '--tolerance', String(diff / 2))).toMatchObject({ status: 1, ok: false, tolerance: diff / 2 })
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

  it('--image: a PNG (grey + alpha gradient, 5 x 9) and a JPEG (colour, 16 x 12) are two more samples, named in the table and the JSON', () => {
    const png = new PNG({ width: 5, height: 9 })
    for (let i = 0; i < 5 * 9; i++) png.data.set([i * 5, i * 5, i * 5, 255 - i], i * 4)
    const pngFile = path.join(TMP, 'grey.png')
    fs.writeFileSync(pngFile, PNG.sync.write(png))
    const rgba = Buffer.alloc(16 * 12 * 4)
    for (let i = 0; i < 16 * 12; i++) rgba.set([(i * 7) % 256, (i * 13) % 256, 255 - (i % 256), 255], i * 4)
    const jpgFile = path.join(TMP, 'colour.jpg')
    fs.writeFileSync(jpgFile, jpeg.encode({ width: 16, height: 12, data: rgba }, 90).data)

    const p = mpscnn('verify', file, '--samples', '1', '--image', pngFile, '--image', jpgFile, '--json')
    expect(p.stderr).toBe('')
    expect(p.status).toBe(0)
    const report = JSON.parse(p.stdout)
    expect(report).toMatchObject({ ok: true, samples: 3, outputs: [{ tfNode: 'prob' }] })
    expect(report.inputs.map((s: { input: string }) => s.input)).toEqual(['seed 1 #0', 'grey.png', 'colour.jpg'])
    for (const s of report.inputs) expect(s.maxRel).toBeLessThanOrEqual(report.tolerance)

    const text = mpscnn('verify', file, '--samples', '1', '--image', jpgFile)
    expect(text.status).toBe(0)
    expect(text.stdout).toMatch(/prob\s+\S+\s+\S+\s+2\/2\s+2\/2/)
    expect(text.stdout).toMatch(/image colour\.jpg: max rel \S+, top-1 agrees/)
  })

  it('--image on a file that is not a picture, or a damaged PNG: one NOT_AN_IMAGE line naming it (exit 1)', () => {
    const txt = path.join(TMP, 'notes.txt')
    fs.writeFileSync(txt, 'not a picture\n')
    const p = mpscnn('verify', file, '--image', txt)
    expect(p.status).toBe(1)
    expect(p.stdout).toBe('')
    expect(p.stderr.trim().split('\n')).toHaveLength(1)
    expect(p.stderr).toContain(`${txt}: is not a JPEG or PNG file`)

    const cut = path.join(TMP, 'cut.png')
    const png = new PNG({ width: 4, height: 4 })
    fs.writeFileSync(cut, PNG.sync.write(png).subarray(0, 40))
    const q = mpscnn('verify', file, '--image', cut)
    expect(q.status).toBe(1)
    expect(q.stderr).toContain(`${cut}: the PNG decoder refused it`)
  })

  it('usage errors: exit 2 with one line', () => {
    const p = mpscnn('verify', file, '--samples', '0')
    expect(p.status).toBe(2)
    expect(p.stderr).toContain('--samples must be an integer >= 1')
    const q = mpscnn('verify', file, '--image', 'missing.png')
    expect(q.status).toBe(2)
    expect(q.stderr).toContain('--image missing.png: no such file')
  })
})
