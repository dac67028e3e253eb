/**
 * The constant folder (src/fold/constant.ts) on small graphs: each unary and binary op it folds,
 * numpy broadcasting in every direction, Reshape with -1, ExpandDims with a negative axis,
 * Squeeze, and what is not constant. Expected values are written out by hand.
 */
import { describe, expect, it } from 'vitest'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import { fold as foldWith, type Build } from './helpers/folding.js'
import { quantConst } from './helpers/graphs.js'

const fold = (build: Build, out = 'out', stats = { steps: 0 }) => foldWith(build, out, { stats })

const c = (b: GraphBuilder, name: string, shape: number[], values: number[]) => b.const(name, { shape, values })
const close = (got: number[] | undefined, want: number[]) => {
  expect(got).toHaveLength(want.length)
  want.forEach((w, i) => expect(got![i]).toBeCloseTo(w, 6))
}

describe('constant folding', () => {
  for (const [op, x, want] of [
    ['Rsqrt', [4, 0.25], [0.5, 2]],
    ['Sqrt', [4, 9], [2, 3]],
    ['Reciprocal', [2, -4], [0.5, -0.25]],
    ['Inv', [8, 0.5], [0.125, 2]],
    ['Neg', [3, -1], [-3, 1]],
    ['Square', [3, -2], [9, 4]],
    ['Exp', [0, 1], [1, Math.E]],
    ['Log', [1, Math.E], [0, 1]],
    ['Abs', [-3, 2], [3, 2]],
  ] as const) {
    it(`folds ${op}`, () => {
      const v = fold((b) => {
        c(b, 'x', [2], [...x])
        b.op('out', op, ['x'])
      })
      expect(v?.shape).toEqual([2])
      close(v?.data, [...want])
    })
  }

  for (const [op, want] of [
    ['Add', [7, 3]],
    ['AddV2', [7, 3]],
    ['BiasAdd', [7, 3]],
    ['Sub', [3, -5]],
    ['Mul', [10, -4]],
    ['RealDiv', [2.5, -0.25]],
    ['Div', [2.5, -0.25]],
    ['Maximum', [5, 4]],
    ['Minimum', [2, -1]],
    ['SquaredDifference', [9, 25]],
  ] as const) {
    it(`folds ${op}`, () => {
      const v = fold((b) => {
        c(b, 'x', [2], [5, -1])
        c(b, 'y', [2], [2, 4])
        b.op('out', op, ['x', 'y'])
      })
      expect(v).toEqual({ shape: [2], data: [...want] })
    })
  }

  it('broadcasts a scalar on either side, and two shapes against each other', () => {
    const bin = (xs: number[], x: number[], ys: number[], y: number[]) =>
      fold((b) => {
        c(b, 'x', xs, x)
        c(b, 'y', ys, y)
        b.op('out', 'Sub', ['x', 'y'])
      })
    expect(bin([2], [5, 7], [], [1])).toEqual({ shape: [2], data: [4, 6] })
    expect(bin([], [10], [3], [1, 2, 3])).toEqual({ shape: [3], data: [9, 8, 7] })
    expect(bin([1], [10], [3], [1, 2, 3])).toEqual({ shape: [3], data: [9, 8, 7] })
    // [2, 3] - [3], [2, 3] - [2, 1] and [3] - [2, 3]: numpy broadcasting, the result as large as the larger operand.
    expect(bin([2, 3], [1, 2, 3, 4, 5, 6], [3], [1, 2, 3])).toEqual({ shape: [2, 3], data: [0, 0, 0, 3, 3, 3] })
    expect(bin([2, 3], [1, 2, 3, 4, 5, 6], [2, 1], [10, 20])).toEqual({ shape: [2, 3], data: [-9, -8, -7, -16, -15, -14] })
    expect(bin([3], [1, 2, 3], [2, 3], [1, 2, 3, 4, 5, 6])).toEqual({ shape: [2, 3], data: [0, 0, 0, -3, -3, -3] })
    // [2, 3, 2] - [3, 1]: rank 3 against rank 2.
    expect(bin([2, 3, 2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [3, 1], [0, 10, 20])).toEqual({ shape: [2, 3, 2], data: [1, 2, -7, -6, -15, -14, 7, 8, -1, 0, -9, -8] })
    // A result larger than both operands ([1, 3] - [2, 1]) is left to run time, not expanded here.
    expect(bin([1, 3], [1, 2, 3], [2, 1], [10, 20])).toBeNull()
  })

  it('refuses shapes that do not broadcast, naming both', () => {
    expect(() =>
      fold((b) => {
        c(b, 'x', [2], [1, 2])
        c(b, 'y', [3], [1, 2, 3])
        b.op('out', 'Add', ['x', 'y'])
      }),
    ).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH', node: 'out', message: expect.stringContaining('shapes [2] and [3]') }))
  })

  it('a BiasAdd is folded only with a vector bias', () => {
    const v = fold((b) => {
      c(b, 'x', [2], [1, 2])
      c(b, 'y', [1, 2], [1, 1])
      b.op('out', 'BiasAdd', ['x', 'y'])
    })
    expect(v).toBeNull()
  })

  it('reshapes (with -1), expands (with a negative axis) and squeezes, keeping the data', () => {
    const shaped = (op: string, x: number[], arg?: number[]) =>
      fold((b) => {
        c(b, 'x', x, [1, 2, 3, 4, 5, 6])
        if (arg) c(b, 'a', [arg.length], arg)
        b.op('out', op, arg ? ['x', 'a'] : ['x'])
      })
    expect(shaped('Reshape', [6], [3, -1])).toEqual({ shape: [3, 2], data: [1, 2, 3, 4, 5, 6] })
    expect(shaped('Reshape', [6], [-1])).toEqual({ shape: [6], data: [1, 2, 3, 4, 5, 6] })
    expect(shaped('Reshape', [2, 3], [1, 6])?.shape).toEqual([1, 6])
    expect(shaped('Reshape', [6], [4, -1])).toBeNull()
    expect(shaped('Reshape', [6], [2, 2])).toBeNull()
    expect(shaped('Reshape', [6], [3, -2])).toBeNull()
    expect(shaped('Reshape', [6], [2.5, 2])).toBeNull()
    expect(shaped('ExpandDims', [2, 3], [0])?.shape).toEqual([1, 2, 3])
    expect(shaped('ExpandDims', [2, 3], [-1])?.shape).toEqual([2, 3, 1])
    expect(shaped('ExpandDims', [2, 3], [-2])?.shape).toEqual([2, 1, 3])
    expect(shaped('ExpandDims', [2, 3], [1])).toEqual({ shape: [2, 1, 3], data: [1, 2, 3, 4, 5, 6] })
    expect(shaped('Squeeze', [1, 2, 1, 3])).toEqual({ shape: [2, 3], data: [1, 2, 3, 4, 5, 6] })
  })

  it('follows Identity and Cast, and gives null for what depends on a placeholder or an unknown op', () => {
    expect(
      fold((b) => {
        c(b, 'x', [1], [4])
        b.op('i', 'Identity', ['x'])
        b.op('k', 'Cast', ['i'])
        b.op('out', 'Neg', ['k'])
      }),
    ).toEqual({ shape: [1], data: [-4] })
    const withInput = (op: string, inputs: string[]) =>
      fold((b) => {
        c(b, 'x', [1], [4])
        b.placeholder('p', [1])
        b.op('out', op, inputs)
      })
    expect(withInput('Neg', ['p'])).toBeNull()
    expect(withInput('Add', ['x', 'p'])).toBeNull()
    expect(withInput('Add', ['p', 'x'])).toBeNull()
    expect(withInput('Reshape', ['p', 'x'])).toBeNull()
    expect(withInput('Reshape', ['x', 'p'])).toBeNull()
    expect(withInput('ExpandDims', ['x', 'p'])).toBeNull()
    expect(withInput('Squeeze', ['p'])).toBeNull()
    expect(withInput('Relu', ['x'])).toBeNull()
    expect(withInput('Add', ['x:1', 'x'])).toBeNull()
  })

  it('evaluates a deep expression with its own stack, each operand resolved in a counted step', () => {
    // Add(Neg(x), y): Add asks for Neg, Neg for x, Neg reads x, Add reads Neg, asks for y, reads y.
    const stats = { steps: 0 }
    const v = fold(
      (b) => {
        c(b, 'x', [1], [2])
        c(b, 'y', [1], [5])
        b.op('n', 'Neg', ['x'])
        b.op('out', 'Add', ['n', 'y'])
      },
      'out',
      stats,
    )
    expect(v).toEqual({ shape: [1], data: [3] })
    expect(stats.steps).toBe(6)
    // 12000 nested ops: recursion would overflow the call stack.
    const deep = { steps: 0 }
    const d = fold(
      (b) => {
        c(b, 'n0', [1], [7])
        for (let i = 1; i <= 12000; i++) b.op(`n${i}`, i % 2 ? 'Neg' : 'Abs', [`n${i - 1}`])
      },
      'n12000',
      deep,
    )
    expect(d?.data[0]).toBe(7)
    expect(deep.steps).toBe(24000)
  })

  it('refuses inconsistent quantization parameters, naming the node', () => {
    const deq = (mins: number[], attrs: Parameters<GraphBuilder['op']>[3]) => () =>
      fold((b) => {
        quantConst(b, 'q', 'DT_QUINT8', [2, 3], [0, 1, 2, 3, 4, 5])
        c(b, 'mins', [mins.length], mins)
        c(b, 'maxs', [mins.length], mins.map((m) => m + 1))
        b.op('out', 'Dequantize', ['q', 'mins', 'maxs'], { T: attr.type('DT_QUINT8'), ...attrs })
      })
    const refused = (code: string, text: string) => expect.objectContaining({ code, node: 'out', message: expect.stringContaining(text) })
    expect(deq([0, 1], {})).toThrow(refused('SHAPE_MISMATCH', 'Dequantize has 2 min and 2 max values for the whole tensor (axis -1)'))
    expect(deq([0, 1], { axis: attr.i(1) })).toThrow(refused('SHAPE_MISMATCH', 'for axis 1 of shape [2, 3]'))
    expect(deq([0, 1], { axis: attr.i(2) })).toThrow(refused('SHAPE_MISMATCH', 'for axis 2 of shape [2, 3]'))
    expect(deq([0, 1], { axis: attr.i(0), mode: attr.s('MIN_FIRST') })).toThrow(refused('UNSUPPORTED', 'MIN_FIRST mode with an axis'))
    expect(deq([0], { mode: attr.s('ROUNDED') })).toThrow(refused('UNSUPPORTED', 'Dequantize mode "ROUNDED" is not one of'))
    // Two slices along axis 0, each with its own range, fold.
    expect(deq([0, 1], { axis: attr.i(0) })()?.shape).toEqual([2, 3])
    const fq = (attrs: Parameters<GraphBuilder['op']>[3]) => () =>
      fold((b) => {
        c(b, 'x', [2], [0.5, 1])
        b.op('out', 'FakeQuantWithMinMaxArgs', ['x'], attrs)
      })
    expect(fq({ num_bits: attr.i(1) })).toThrow(refused('BAD_GRAPH', 'has num_bits 1; TensorFlow takes 2 to 16'))
    expect(fq({ num_bits: attr.i(17) })).toThrow(refused('BAD_GRAPH', 'has num_bits 17'))
    expect(fq({ min: attr.f(2), max: attr.f(1) })).toThrow(refused('BAD_GRAPH', 'has min 2 larger than max 1'))
    expect(fq({ num_bits: attr.i(2) })()?.shape).toEqual([2])
    expect(fq({ num_bits: attr.i(16), min: attr.f(1), max: attr.f(1) })()?.shape).toEqual([2])
  })
})
