/**
 * Planning layers from weighted ops: what each op's attributes and filter shape must be (and
 * the error naming the node otherwise), which node the weights come from, what planning charges
 * against the materialise bound, and a fold that overflows float64.
 */
import { describe, expect, it } from 'vitest'
import { Graph } from '../src/fold/graph.js'
import { planLayers } from '../src/fold/plan-layers.js'
import { conv1x1, convert } from './helpers/fold-cases.js'
import { expectNodeRefusal } from './helpers/refusal.js'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import type { AttrValue } from '../src/graphdef/schema.js'

const SAME = { strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') }

/** input [1, 4, 4, 2] -> `op` named `layer` with a `layer/weights` filter of `shape`. */
function weighted(op: string, shape: number[], attrs: Record<string, AttrValue> = SAME): GraphBuilder {
  const b = new GraphBuilder()
  const n = shape.reduce((a, d) => a * d, 1)
  b.constF32('layer/weights', shape, Array.from({ length: n }, (_, i) => i + 1))
  if (op === 'MatMul') {
    b.placeholder('input', [1, 2])
    b.op('layer', op, ['input', 'layer/weights'], attrs)
  } else if (op === 'Conv2DBackpropInput') {
    b.placeholder('input', [1, 4, 4, 2])
    b.constI32('sizes', [4], [1, 4, 4, 2])
    b.op('layer', op, ['sizes', 'layer/weights', 'input'], attrs)
  } else {
    b.placeholder('input', [1, 4, 4, 2])
    b.op('layer', op, ['input', 'layer/weights'], attrs)
  }
  return b
}

describe('a weighted op that cannot be a layer is refused, naming it', () => {
  it('MatMul with transpose_a, or weights not of rank 2', () => {
    expectNodeRefusal(() => convert(weighted('MatMul', [2, 3], { transpose_a: attr.b(true) })), 'UNSUPPORTED', 'layer')
    expect(expectNodeRefusal(() => convert(weighted('MatMul', [2, 3, 1])), 'BAD_SHAPE', 'layer/weights').message).toMatch(/expected \[in, out\]/)
  })

  it('a convolution filter not of rank 4, a data format or padding MPSCNN lacks', () => {
    expect(expectNodeRefusal(() => convert(weighted('Conv2D', [1, 2, 3])), 'BAD_SHAPE', 'layer/weights').message).toMatch(/expected \[kernelH, kernelW, in, out\]/)
    expect(expectNodeRefusal(() => convert(weighted('Conv2D', [1, 1, 2, 3], { ...SAME, data_format: attr.s('NCDHW') })), 'UNSUPPORTED', 'layer').message).toMatch(/data_format NCDHW/)
    expect(expectNodeRefusal(() => convert(weighted('Conv2D', [1, 1, 2, 3], { ...SAME, padding: attr.s('EXPLICIT') })), 'UNSUPPORTED', 'layer').message).toMatch(/padding "EXPLICIT"/)
  })

  it('a transposed convolution with a dilation in height, width or both', () => {
    for (const d of [[1, 2, 1, 1], [1, 1, 2, 1], [1, 2, 2, 1]]) {
      expect(expectNodeRefusal(() => convert(weighted('Conv2DBackpropInput', [1, 1, 2, 2], { ...SAME, dilations: attr.ints(d) })), 'UNSUPPORTED', 'layer').message).toMatch(/with dilations/)
    }
  })

  it('a zero dimension, named for what it is in that op\'s filter', () => {
    const cases: [string, number[], string, Record<string, AttrValue>?][] = [
      ['Conv2D', [0, 1, 2, 3], 'kernel height'],
      ['Conv2D', [1, 1, 2, 0], 'output channels'],
      ['DepthwiseConv2dNative', [1, 1, 2, 0], 'channel multiplier'],
      ['Conv2DBackpropInput', [1, 1, 0, 2], 'output channels'],
      ['Conv2DBackpropInput', [1, 1, 2, 0], 'input channels'],
      ['MatMul', [0, 3], 'input channels', {}],
      ['MatMul', [2, 0], 'output channels', {}],
      ['MatMul', [0, 2], 'output channels', { transpose_b: attr.b(true) }],
    ]
    for (const [op, shape, dim, attrs] of cases) {
      expect(expectNodeRefusal(() => convert(weighted(op, shape, attrs)), 'BAD_SHAPE', 'layer/weights').message).toContain(`: zero ${dim}, a layer without weights`)
    }
  })

  it('MatMul weights read from a variable: NOT_FROZEN', () => {
    const b = new GraphBuilder()
    b.placeholder('input', [1, 2])
    b.op('w', 'VariableV2', [], { dtype: attr.type('DT_FLOAT') })
    b.op('layer', 'MatMul', ['input', 'w'])
    expectNodeRefusal(() => convert(b), 'NOT_FROZEN', 'layer')
  })
})

describe('weighted ops whose weights are not constants', () => {
  it('are named in a warning, with what their weights come from', () => {
    const b = new GraphBuilder()
    conv1x1(b, [1, 2])
    b.placeholder('y', [2, 2])
    b.placeholder('x', [1, 2])
    b.op('gram', 'MatMul', ['x', 'y'])
    b.op('relu', 'Relu', ['input'])
    b.op('dyn', 'Conv2D', ['input', 'relu'], SAME)
    const w = convert(b).warnings.join('\n')
    expect(w).toContain('MatMul "gram" (its second operand comes from Placeholder "y")')
    expect(w).toContain('Conv2D "dyn" (its filter comes from Relu "relu")')
  })
})

describe('the weights\' node', () => {
  it('is found through Cast and Identity, but a computed filter is its own', () => {
    const b = new GraphBuilder()
    b.placeholder('input', [1, 2, 2, 1])
    b.const('w16', { dtype: 'float16', shape: [1, 1, 1, 2], values: [1, 2] })
    b.op('w/cast', 'Cast', ['w16'], { DstT: attr.type('DT_FLOAT') })
    b.op('w/read', 'Identity', ['w/cast'])
    b.op('conv', 'Conv2D', ['input', 'w/read'], SAME)
    b.constF32('v', [1, 1, 1, 2], [1, 2])
    b.constF32('k', [], [2])
    b.op('v/scaled', 'Mul', ['v', 'k'])
    b.op('conv2', 'Conv2D', ['input', 'v/scaled'], SAME)
    const m = convert(b)
    expect(m.plans.map((p) => p.weightNode)).toEqual(['w16', 'v/scaled'])
    expect(Array.from(m.layOut(1).weights)).toEqual([2, 4])
  })
})

describe('planning', () => {
  it('a transposed convolution: MPSCNN weights [out, kH, kW, in] from TF\'s filter [kH, kW, out, in]', () => {
    const info = convert(weighted('Conv2DBackpropInput', [1, 2, 3, 2])).layers[0]
    expect(info.weightShape).toEqual([3, 1, 2, 2])
    expect([info.inputChannels, info.outputChannels]).toEqual([2, 3])
  })

  it('charges the rotated filter and the laid-out weights and bias against the bound', () => {
    // Filter [1, 1, 2, 3]: 6 floats rotated (24 bytes); laid out as O = 2 rows of K = 3, and 2 biases (32 bytes).
    const graph = new Graph(weighted('Conv2DBackpropInput', [1, 1, 2, 3]).graph(), 'case.pb')
    expect(planLayers(graph, 'case.pb', 56).layers).toHaveLength(1)
    expect(expectNodeRefusal(() => planLayers(graph, 'case.pb', 55), 'TOO_LARGE', 'layer/weights').message).toMatch(/laying out layer/)
    expect(expectNodeRefusal(() => planLayers(graph, 'case.pb', 23), 'TOO_LARGE', 'layer/weights').message).toMatch(/rotating/)
    // A Conv2D [1, 1, 2, 3]: O = 3 rows of K = 2, and 3 biases: 36 bytes.
    const conv = new Graph(weighted('Conv2D', [1, 1, 2, 3]).graph(), 'case.pb')
    expect(planLayers(conv, 'case.pb', 36).layers).toHaveLength(1)
    expectNodeRefusal(() => planLayers(conv, 'case.pb', 35), 'TOO_LARGE', 'layer/weights')
    const steps = planLayers(conv, 'case.pb').stats.steps
    expect(Number.isInteger(steps) && steps > 0).toBe(true)
  })

  it('counts its work: one more op folded is at least one more fold step and one more edge visited', () => {
    const steps = (n: number) => {
      const b = new GraphBuilder()
      let cur = conv1x1(b, [1, 2])
      for (let i = 0; i < n; i++) {
        b.constF32(`b${i}`, [2], [1, 2])
        cur = b.op(`add${i}`, 'BiasAdd', [cur, `b${i}`])
      }
      return planLayers(new Graph(b.graph(), 'case.pb'), 'case.pb').stats.steps
    }
    expect(steps(2) - steps(1)).toBeGreaterThanOrEqual(2)
    expect(steps(3) - steps(2)).toBeGreaterThanOrEqual(2)
  })

  it('a fold that overflows float64: NON_FINITE at the channel, naming the last op folded', () => {
    const b = new GraphBuilder()
    conv1x1(b, [2, -3])
    b.const('big', { dtype: 'float64', shape: [2], values: [1, 1e200] })
    b.op('mul1', 'Mul', ['conv', 'big'])
    b.constF32('one', [], [1])
    b.op('add', 'Add', ['mul1', 'one'])
    b.op('mul2', 'Mul', ['add', 'big'])
    expect(expectNodeRefusal(() => convert(b), 'NON_FINITE', 'mul2').message).toMatch(/folding gives a non-finite scale or bias at channel 1/)
  })
})
