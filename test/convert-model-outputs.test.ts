/**
 * What convertModel and parseModel (src/fold/convert.ts) give a caller: the format chosen by the
 * file's content (a .pbtxt name only adds to it), unnamed nodes in text refused, each layer's
 * weights kept intact unless the caller asks for transient views (of the SIMD layout's region),
 * the working memory of the largest layer, and a layout job only for float32 weights inside the
 * caller's own bytes.
 */
import { describe, expect, it } from 'vitest'
import { convertModel, parseModel, sha256Hex } from '../src/fold/convert.js'
import { jobPlan, layOut } from '../src/fold/materialize.js'
import { attach, detach, modelMemory, regionSize, reserve } from '../src/fold/simd.js'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import { quantConst } from './helpers/graphs.js'
import { formatGraphDefText } from './helpers/pbtxt-writer.js'

const T = { T: attr.type('DT_FLOAT') }
const conv = (b: GraphBuilder, name: string, w: string) => b.op(`${name}/Conv2D`, 'Conv2D', ['x', w], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })

/** Two convolutions of `x`: `a` 1x1, 2 -> 3 (weights 1..6), `b` 3x3, 2 -> 4 (weights 0.5, 1, 1.5, ...). */
function twoConvs(): GraphBuilder {
  const b = new GraphBuilder()
  b.placeholder('x', [1, 4, 4, 2])
  conv(b, 'a', b.constF32('a/weights', [1, 1, 2, 3], [1, 2, 3, 4, 5, 6]))
  conv(b, 'b', b.constF32('b/weights', [3, 3, 2, 4], Float32Array.from({ length: 72 }, (_, i) => (i + 1) / 2)))
  return b
}

describe('parseModel', () => {
  const text = new TextEncoder().encode('node { name: "c" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } } }\n')

  it('reads a text GraphDef by its content, whatever the file is called', () => {
    expect(parseModel(text, 'model.pb').node.map((n) => [n.name, n.op])).toEqual([['c', 'Const']])
  })

  it('reads a binary GraphDef as binary though its name contains .pbtxt', () => {
    const bytes = twoConvs().encode()
    expect(parseModel(bytes, 'model.pbtxt.pb').node.map((n) => n.name)).toEqual(['x', 'a/weights', 'a/Conv2D', 'b/weights', 'b/Conv2D'])
  })

  it('refuses a node without a name in text, saying which', () => {
    const unnamed = new TextEncoder().encode('node { name: "a" op: "NoOp" }\nnode { op: "Const" }\n')
    expect(() => parseModel(unnamed, 'model.pbtxt')).toThrow(expect.objectContaining({ code: 'BAD_GRAPH', file: 'model.pbtxt', message: expect.stringContaining('node #1 (op "Const") has no name. Fix the text-format GraphDef or export it again') }))
  })
})

describe('convertModel', () => {
  it('keeps each laid-out layer intact while the next is laid out (the model in wasm memory, laid out with SIMD, as the pipeline does)', () => {
    const model = twoConvs().encode()
    const m = modelMemory(model.length, true)
    m.bytes.set(model)
    const converted = convertModel(m.bytes, { file: 'm.pb' })
    attach(m.memory, m.bytes.buffer, reserve(m.memory, converted.layoutRegion), converted.layoutRegion)
    try {
      const [a, b] = [...converted.outputs()]
      // MPS order [out][in] of the TF [in][out] weights: a's 1..6, and b's (k * 4 + o + 1) / 2 at [o][k].
      expect(Array.from(a.weights)).toEqual([1, 4, 2, 5, 3, 6])
      expect(Array.from(b.weights)).toEqual(Array.from({ length: 72 }, (_, i) => ((i % 18) * 4 + Math.floor(i / 18) + 1) / 2))
    } finally {
      detach(m.bytes.buffer)
    }
  })

  it('tells the working memory of its largest layer', () => {
    const m = convertModel(twoConvs().encode(), { file: 'm.pb' })
    expect(m.layoutRegion).toBe(Math.max(regionSize(2, 3), regionSize(18, 4)))
    expect(regionSize(18, 4)).toBeGreaterThan(regionSize(2, 3))
  })

  it('gives a layout job for float32 weights inside the model bytes: where they are in those bytes, laid out as layOut does', () => {
    // A Node Buffer from the encoder: a view at some offset into a larger pooled buffer.
    const bytes = twoConvs().encode()
    const m = convertModel(bytes, { file: 'm.pb' })
    const job = m.job(0)!
    expect(job).toMatchObject({ layer: 0, weightsShape: [1, 1, 2, 3], srcLength: 24 })
    expect(Array.from(new Float32Array(Uint8Array.from(bytes.subarray(job.srcOffset, job.srcOffset + job.srcLength)).buffer))).toEqual([1, 2, 3, 4, 5, 6])
    expect(m.job(1)).toMatchObject({ layer: 1, weightsShape: [3, 3, 2, 4], srcLength: 288 })
    for (const i of [0, 1]) expect(layOut(jobPlan(m.job(i)!, bytes), 'float32', 'm.pb', false).weights).toEqual(m.layOut(i).weights)
  })

  it('gives no job for weights computed while folding, or parsed from text (not inside the bytes)', () => {
    const b = new GraphBuilder()
    b.placeholder('x', [1, 4, 4, 2])
    quantConst(b, 'q', 'DT_QUINT8', [1, 1, 2, 3], [0, 1, 2, 3, 4, 5])
    b.constF32('min', [], [0])
    b.constF32('max', [], [1])
    conv(b, 'a', b.op('w', 'Dequantize', ['q', 'min', 'max'], { T: attr.type('DT_QUINT8') }))
    expect(convertModel(b.encode(), { file: 'q.pb' }).job(0)).toBeUndefined()
    const text = new TextEncoder().encode(formatGraphDefText(twoConvs().graph()))
    const m = convertModel(text, { file: 'm.pbtxt' })
    expect(m.layers).toHaveLength(2)
    expect(m.job(0)).toBeUndefined()
  })
})

describe('sha256Hex', () => {
  it('is SHA-256 in lowercase hex (FIPS 180-2 test vector "abc")', () => {
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })
})
