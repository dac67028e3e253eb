/**
 * The reference fixture from ../shared, written by Google's own protobuf encoder: checks
 * the reader against an independent writer and the folding against expected files.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { convertModel } from '../src/fold/convert.js'

const shared = path.resolve(__dirname, '../../shared/fixtures')
const model = path.join(shared, 'inception_v3_2015_mini.pb')
const present = fs.existsSync(model)
if (!present) console.warn(`[shared-fixture.test] skipped: ${shared} is absent (it exists beside the checkout on developer machines and in CI)`)

function f32(file: string): Float32Array {
  const b = fs.readFileSync(file)
  return new Float32Array(Uint8Array.from(b).buffer)
}

describe.skipIf(!present)('inception_v3_2015_mini.pb (../shared)', () => {
  it('converts to the 95 layers of Inception v3 2015, in order, matching the expected files to 1e-5', () => {
    const table = JSON.parse(fs.readFileSync(path.join(shared, 'inception_v3_2015_layers.json'), 'utf8')) as { name: string; op: string; stride?: number; padding?: string }[]
    const expected = JSON.parse(fs.readFileSync(path.join(shared, 'inception_v3_2015_mini.expected/layers.json'), 'utf8')) as Record<string, { shape: number[]; kind: string }>
    const m = convertModel(fs.readFileSync(model), { file: model })
    expect(m.layers.map((l) => l.name)).toEqual(table.map((r) => r.name))
    expect(m.layers).toHaveLength(95)
    let maxDelta = 0
    let i = 0
    for (const out of m.outputs()) {
      const row = table[i++]
      const l = out.info
      expect(l.weightShape).toEqual(expected[l.name].shape)
      expect(l.kind).toBe(expected[l.name].kind)
      if (row.padding) expect(l.padding).toBe(row.padding.toLowerCase())
      if (row.stride) expect([l.strideY, l.strideX]).toEqual([row.stride, row.stride])
      expect(l.activation).toBe(l.kind === 'conv' ? 'relu' : 'none')
      const w = f32(path.join(shared, `inception_v3_2015_mini.expected/weights_${l.name}.dat`))
      const b = f32(path.join(shared, `inception_v3_2015_mini.expected/bias_${l.name}.dat`))
      expect(out.weights.length).toBe(w.length)
      expect(out.bias.length).toBe(b.length)
      for (let k = 0; k < w.length; k++) maxDelta = Math.max(maxDelta, Math.abs(out.weights[k] - w[k]))
      for (let k = 0; k < b.length; k++) maxDelta = Math.max(maxDelta, Math.abs(out.bias[k] - b[k]))
    }
    expect(maxDelta).toBeLessThan(1e-5)
    // The preprocessing Sub and Mul on the decoded image stay in the app; they are named.
    expect(m.warnings.join('\n')).toMatch(/Sub "Sub", Mul "Mul"/)
  })

  it('keeps float32 tensor_content as views into the file where aligned', async () => {
    const { decodeGraphDef } = await import('../src/graphdef/decode.js')
    const bytes = fs.readFileSync(model)
    const g = decodeGraphDef(bytes, model)
    const contents = g.node.map((n) => n.attr.value?.tensor?.tensorContent).filter((c): c is Uint8Array => !!c && c.length > 0)
    expect(contents.length).toBeGreaterThan(95 * 4)
    for (const c of contents) expect(c.buffer).toBe(bytes.buffer)
  })
})
