/**
 * No weighted op dropped in silence. The property (helpers/no-silent-drops.ts) is
 * checked for every graph of network.test.ts (through its `network()` helper), and here for
 * the real-world spellings (quantized MobileNet, TF2 Keras, transposed convolution), the
 * hostile inputs that convert, and the cases that used to be dropped: a MatMul of two
 * activations and a MatMul inside a TF1 while loop, warned about with `network: false`.
 */
import { describe, expect, it } from 'vitest'
import { convertModel } from '../src/fold/convert.js'
import { buildNetwork } from '../src/network/index.js'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import { silentlyDropped } from './helpers/no-silent-drops.js'
import { hostileInputs } from './hostile/inputs.js'

const T = { T: attr.type('DT_FLOAT') }
const conv = { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') }

/** x -> conv -> flatten -> fc; plus `extra` (which may read `fc/MatMul`). */
function base(extra: (b: GraphBuilder) => void): GraphBuilder {
  const b = new GraphBuilder()
  b.placeholder('x', [1, 2, 2, 3])
  b.constF32('c/weights', [1, 1, 3, 4], new Float32Array(12).fill(0.5))
  b.op('c/Conv2D', 'Conv2D', ['x', 'c/weights'], conv)
  b.constI32('flat/shape', [2], [1, 16])
  b.op('flat/Reshape', 'Reshape', ['c/Conv2D', 'flat/shape'], T)
  b.constF32('fc/weights', [16, 5], new Float32Array(80).fill(0.25))
  b.op('fc/MatMul', 'MatMul', ['flat/Reshape', 'fc/weights'], T)
  extra(b)
  return b
}

describe('no weighted op is dropped in silence', () => {
  it('a MatMul of two activations is not a layer: with network false a warning names and counts it; as a network it is refused by name', () => {
    const b = base((g) => {
      g.placeholder('y', [5, 3])
      g.op('attn/MatMul', 'MatMul', ['fc/MatMul', 'y'], T)
    })
    const m = convertModel(b.encode(), { file: 'attn.pb' })
    expect(m.layers.map((l) => l.node)).toEqual(['c/Conv2D', 'fc/MatMul'])
    expect(m.warnings).toEqual(['attn.pb: 1 weighted op with weights that are not constants: MatMul "attn/MatMul" (its second operand comes from Placeholder "y"); it is not converted'])
    expect(() => buildNetwork(m.graph, 'attn.pb', m.plans)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_OP', message: expect.stringContaining('"attn/MatMul"') }))
    expect(silentlyDropped(b.encode(), 'attn.pb')).toEqual([])
  })

  it('MatMuls inside a TF1 while loop (weights through Enter) are named and counted with network false, refused as a network', () => {
    const b = base((g) => {
      g.op('lstm/Enter', 'Enter', ['fc/MatMul'], T)
      g.op('lstm/Merge', 'Merge', ['lstm/Enter', 'lstm/NextIteration'], T)
      for (const k of ['kernel', 'recurrent']) {
        g.constF32(`lstm/${k}`, [5, 5], new Float32Array(25).fill(0.1))
        g.op(`lstm/${k}/Enter`, 'Enter', [`lstm/${k}`], { ...T, is_constant: attr.b(true), frame_name: attr.s('lstm/while') })
      }
      g.op('lstm/MatMul', 'MatMul', ['lstm/Merge', 'lstm/kernel/Enter'], T)
      g.op('lstm/MatMul_1', 'MatMul', ['lstm/MatMul', 'lstm/recurrent/Enter'], T)
      g.op('lstm/NextIteration', 'NextIteration', ['lstm/MatMul_1'], T)
      g.op('lstm/Exit', 'Exit', ['lstm/Merge'], T)
    })
    const m = convertModel(b.encode(), { file: 'lstm.pb' })
    expect(m.layers.map((l) => l.node)).toEqual(['c/Conv2D', 'fc/MatMul'])
    expect(m.warnings).toHaveLength(1)
    expect(m.warnings[0]).toMatch(/^lstm\.pb: 2 weighted ops with weights that are not constants: MatMul "lstm\/MatMul" \(its second operand comes from Enter "lstm\/kernel\/Enter"\), MatMul "lstm\/MatMul_1" .*; they are not converted$/)
    expect(() => buildNetwork(m.graph, 'lstm.pb', m.plans)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_OP' }))
    expect(silentlyDropped(b.encode(), 'lstm.pb')).toEqual([])
  })

  it('a graph with no layer at all names its weighted ops in the NO_LAYERS error', () => {
    const b = new GraphBuilder()
    b.placeholder('a', [2, 3])
    b.placeholder('w', [3, 4])
    b.op('m/MatMul', 'MatMul', ['a', 'w'], T)
    expect(() => convertModel(b.encode(), { file: 'none.pb' })).toThrow(expect.objectContaining({ code: 'NO_LAYERS', message: expect.stringContaining('MatMul "m/MatMul"') }))
  })

  it.each(hostileInputs().filter((h) => 'ok' in h.expected && h.bytes instanceof Uint8Array && h.bytes.length < 1 << 20).map((h) => [h.name, h] as const))('hostile input that converts: %s', (_, h) => {
    expect(silentlyDropped(h.bytes as Uint8Array, 'hostile.pb')).toEqual([])
  })
})
