/**
 * What constant folding charges to the bound on materialised bytes (src/fold/budget.ts): every
 * array it allocates, a splat constant's expansion and each folded op's result, so that a bound
 * too small for them is one TOO_LARGE error naming the node, and the error's sizes add up.
 */
import { describe, expect, it } from 'vitest'
import { MaterializeBudget } from '../src/fold/budget.js'
import { attr, type GraphBuilder } from './helpers/graph-builder.js'
import { fold, folderOf, type Build } from './helpers/folding.js'
import { quantConst } from './helpers/graphs.js'

/** 100 float32 values in tensor_content: a view of the file, which costs nothing. */
const hundred = (b: GraphBuilder, name: string) => b.constF32(name, [100], Float32Array.from({ length: 100 }, (_, i) => i / 100))

const tooLarge = (node: string, what: string) => expect.objectContaining({ code: 'TOO_LARGE', node, file: 'f.pb', message: expect.stringContaining(`${what} needs`) })

describe('folding is charged for what it allocates', () => {
  // 100 results take at least 400 bytes (float32): a bound of 100 refuses each op.
  it.each([
    ['Neg', 'folding Neg', (b: GraphBuilder) => b.op('out', 'Neg', [hundred(b, 'x')])],
    ['Mul by a scalar', 'folding Mul', (b: GraphBuilder) => b.op('out', 'Mul', [hundred(b, 'x'), b.constF32('y', [], [2])])],
    ['FakeQuantWithMinMaxArgs', 'folding FakeQuantWithMinMaxArgs', (b: GraphBuilder) => b.op('out', 'FakeQuantWithMinMaxArgs', [hundred(b, 'x')])],
  ] as const)('%s of 100 values', (_, what, build: Build) => {
    expect(fold(build, 'out')?.data).toHaveLength(100)
    expect(() => fold(build, 'out', { limit: 100 })).toThrow(tooLarge('out', what))
  })

  it('a splat constant of 100 float32 values, expanded', () => {
    const build: Build = (b) => b.const('splat', { shape: [100], values: [0.5], encoding: 'splat' })
    expect(fold(build, 'splat', { limit: 400 })?.data).toHaveLength(100)
    expect(() => fold(build, 'splat', { limit: 100 })).toThrow(tooLarge('splat', 'expanding this constant'))
  })

  it('a Dequantize of 100 values, beyond what reading its quantized constant took', () => {
    const build: Build = (b) => {
      quantConst(b, 'q', 'DT_QUINT8', [100], Array.from({ length: 100 }, (_, i) => i))
      b.constF32('min', [], [0])
      b.constF32('max', [], [1])
      b.op('out', 'Dequantize', ['q', 'min', 'max'], { T: attr.type('DT_QUINT8') })
    }
    // What the operands alone cost, measured on a folder without a bound.
    const budget = new MaterializeBudget('f.pb')
    const operands = folderOf(build, { budget })
    for (const name of ['q', 'min', 'max']) operands.value({ name, output: 0 })
    const used = budget.used
    expect(fold(build, 'out', { limit: used + 400 })?.data).toHaveLength(100)
    expect(() => fold(build, 'out', { limit: used + 100 })).toThrow(tooLarge('out', 'folding Dequantize'))
  })
})

describe('the bound refused', () => {
  it('says what the charge would bring the total to: what was used plus the charge', () => {
    const b = new MaterializeBudget('m.pb', 3000)
    b.charge(1000, 'a', 'x')
    expect(() => b.charge(2500, 'c', 'folding Mul')).toThrow(expect.objectContaining({ message: expect.stringContaining('folding Mul needs 2.5 kB, which would bring what the conversion materialises to 3.5 kB, past its bound of 3.0 kB') }))
  })
})
