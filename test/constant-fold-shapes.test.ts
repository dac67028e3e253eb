/**
 * Shapes in constant folding (src/fold/constant.ts): broadcasting compares every dimension, not
 * only the last, and Reshape of an empty tensor, where a 0 in the target shape says nothing
 * about a -1 (TensorFlow cannot infer it, so it is not folded).
 */
import { describe, expect, it } from 'vitest'
import { fold } from './helpers/folding.js'

describe('constant folding shapes', () => {
  it('[2, 2] and [2, 3] do not broadcast: their last dimensions differ', () => {
    expect(() =>
      fold((b) => {
        b.constF32('x', [2, 2], [1, 2, 3, 4])
        b.constF32('y', [2, 3], [1, 2, 3, 4, 5, 6])
        b.op('out', 'Add', ['x', 'y'])
      }),
    ).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH', node: 'out', file: 'f.pb', message: expect.stringContaining('shapes [2, 2] and [2, 3]') }))
  })

  const reshapeEmpty = (target: number[]) =>
    fold((b) => {
      b.constF32('x', [0], [])
      b.constI32('shape', [target.length], target)
      b.op('out', 'Reshape', ['x', 'shape'])
    })

  it('an empty tensor reshapes to [0, 3]', () => {
    expect(reshapeEmpty([0, 3])).toEqual({ shape: [0, 3], data: [] })
  })

  it('an empty tensor to [0, -1] is not folded: the -1 could be anything', () => {
    expect(reshapeEmpty([0, -1])).toBeNull()
  })
})
