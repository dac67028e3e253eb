/**
 * How the constant folder walks a graph (src/fold/constant.ts): the operands each op reads on
 * the folder's own stack (counted in its `steps`: asking for an operand not yet evaluated is one
 * step, reading it another), pass-through ops and Cast followed without being evaluated, cycles
 * and missing nodes that are not constants, and errors raised again on every call.
 */
import { describe, expect, it } from 'vitest'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import { fold, folderOf, type Build } from './helpers/folding.js'
import { quantConst } from './helpers/graphs.js'

const c = (b: GraphBuilder, name: string, shape: number[], values: number[]) => b.const(name, { shape, values })

/** The steps folding node `out` takes, and that it is a constant. */
function steps(build: Build): number {
  const stats = { steps: 0 }
  expect(fold(build, 'out', { stats })).not.toBeNull()
  return stats.steps
}

describe('the constant folder reads each operand on its own stack', () => {
  it('three operands for Dequantize and FakeQuantWithMinMaxVars, two for Reshape and ExpandDims, one for Squeeze and FakeQuantWithMinMaxArgs', () => {
    const ranged = (op: string) => (b: GraphBuilder) => {
      if (op === 'Dequantize') quantConst(b, 'x', 'DT_QUINT8', [2], [0, 255])
      else c(b, 'x', [2], [0.25, 0.5])
      c(b, 'min', [], [-1])
      c(b, 'max', [], [1])
      b.op('out', op, ['x', 'min', 'max'], op === 'Dequantize' ? { T: attr.type('DT_QUINT8') } : {})
    }
    // Each operand a Const not yet evaluated: asked for (its value pushed and computed), then read.
    expect(steps(ranged('Dequantize'))).toBe(6)
    expect(steps(ranged('FakeQuantWithMinMaxVars'))).toBe(6)
    const shaped = (op: string, arg: number[]) => (b: GraphBuilder) => {
      c(b, 'x', [1, 2], [1, 2])
      b.constI32('a', [arg.length], arg)
      b.op('out', op, ['x', 'a'])
    }
    expect(steps(shaped('Reshape', [2]))).toBe(4)
    expect(steps(shaped('ExpandDims', [0]))).toBe(4)
    const single = (op: string) => (b: GraphBuilder) => {
      c(b, 'x', [1, 2], [1, 2])
      b.op('out', op, ['x'])
    }
    expect(steps(single('Squeeze'))).toBe(2)
    expect(steps(single('FakeQuantWithMinMaxArgs'))).toBe(2)
  })

  it('follows Identity and Cast to the constant behind them without evaluating them: one ask and one read', () => {
    expect(
      steps((b) => {
        c(b, 'x', [1], [4])
        b.op('i', 'Identity', ['x'])
        b.op('k', 'Cast', ['i'], { SrcT: attr.type('DT_FLOAT'), DstT: attr.type('DT_FLOAT') })
        b.op('s', 'StopGradient', ['k'])
        b.op('out', 'Neg', ['s'])
      }),
    ).toBe(2)
  })

  it('a second output of a node is not a constant, and is not evaluated to find that out', () => {
    const stats = { steps: 0 }
    expect(
      fold(
        (b) => {
          c(b, 'x', [1], [4])
          b.op('out', 'Neg', ['x:1'])
        },
        'out',
        { stats },
      ),
    ).toBeNull()
    expect(stats.steps).toBe(1)
  })
})

describe('what the constant folder does not take for a constant', () => {
  it('a cycle through a computed op and an Identity', () => {
    expect(
      fold((b) => {
        b.op('out', 'Neg', ['loop'])
        b.op('loop', 'Identity', ['out'])
      }),
    ).toBeNull()
  })

  it('a node the graph does not have', () => {
    const folder = folderOf((b) => c(b, 'x', [1], [4]))
    expect(folder.value({ name: 'ghost', output: 0 })).toBeNull()
    expect(folder.isConstant('ghost')).toBe(false)
    expect(folder.isConstant('x')).toBe(true)
  })

  it('a Dequantize or FakeQuantWithMinMaxVars with any operand from a placeholder', () => {
    const ranged = (op: string, inputs: string[]) =>
      fold((b) => {
        quantConst(b, 'q', 'DT_QUINT8', [2], [0, 255])
        c(b, 'f', [2], [0.25, 0.5])
        c(b, 'min', [], [-1])
        c(b, 'max', [], [1])
        b.placeholder('p', [])
        b.op('out', op, inputs, op === 'Dequantize' ? { T: attr.type('DT_QUINT8') } : {})
      })
    expect(ranged('Dequantize', ['p', 'min', 'max'])).toBeNull()
    expect(ranged('Dequantize', ['q', 'p', 'max'])).toBeNull()
    expect(ranged('Dequantize', ['q', 'min', 'p'])).toBeNull()
    expect(ranged('FakeQuantWithMinMaxVars', ['f', 'min', 'p'])).toBeNull()
    expect(ranged('Dequantize', ['q', 'min', 'max'])?.shape).toEqual([2])
  })
})

describe('errors while folding', () => {
  /** Add(x, w), w a Dequantize of a float constant, which TensorFlow refuses. */
  const broken = (b: GraphBuilder) => {
    c(b, 'x', [2], [1, 2])
    c(b, 'f', [2], [1, 2])
    c(b, 'min', [], [0])
    c(b, 'max', [], [1])
    b.op('w', 'Dequantize', ['f', 'min', 'max'], { T: attr.type('DT_QUINT8') })
    b.op('out', 'Add', ['x', 'w'])
  }

  it('are raised again on every call, not remembered as "not a constant"', () => {
    const folder = folderOf(broken)
    const refused = expect.objectContaining({ code: 'UNSUPPORTED_DTYPE', node: 'w' })
    expect(() => folder.value({ name: 'out', output: 0 })).toThrow(refused)
    expect(() => folder.value({ name: 'out', output: 0 })).toThrow(refused)
    expect(() => folder.value({ name: 'w', output: 0 })).toThrow(refused)
  })

  it('leave a node constant for isConstant, which raises nothing', () => {
    const folder = folderOf(broken)
    expect(folder.isConstant('w')).toBe(true)
    expect(folder.isConstant('out')).toBe(true)
  })

  it('a Const without a value is a damaged graph, naming the node', () => {
    expect(() =>
      fold((b) => {
        b.op('empty', 'Const', [], { dtype: attr.type('DT_FLOAT') })
        b.op('out', 'Neg', ['empty'])
      }),
    ).toThrow(expect.objectContaining({ code: 'BAD_GRAPH', node: 'empty', file: 'f.pb', message: expect.stringContaining('Const has no value') }))
  })
})
