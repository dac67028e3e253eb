/**
 * How the affine ops on a network's input compose into its preprocessing (src/fold/preprocessing.ts):
 * each op (Add, Sub from either side, Mul, Div and RealDiv by a constant) applied to
 * `y = x * scale + bias`, scalars and per-channel vectors mixed in one chain, up to 8 values
 * written out; and the chains that are not preprocessing (a constant divided by the input, an
 * integer or non-per-channel constant, vectors of different lengths, a cycle) keep the "not
 * folded" warning. The expected formulas are worked out by hand.
 */
import { describe, expect, it } from 'vitest'
import { convertModel } from '../src/fold/convert.js'
import { attr, GraphBuilder, type DataTypeName } from './helpers/graph-builder.js'

const T = { T: attr.type('DT_FLOAT') }

/**
 * The warnings of `image` [1, 4, 4, c] -> the ops `chain` adds (it returns the last one's
 * name) -> a 1x1 convolution (c -> 2).
 */
function warnings(c: number, chain: (b: GraphBuilder) => string, dtype: DataTypeName = 'DT_FLOAT'): string[] {
  const b = new GraphBuilder()
  b.placeholder('image', [1, 4, 4, c], dtype)
  const last = chain(b)
  b.constF32('conv/weights', [1, 1, c, 2], Float32Array.from({ length: c * 2 }, (_, i) => i / 10))
  b.op('conv/Conv2D', 'Conv2D', [last, 'conv/weights'], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  return convertModel(b.encode(), { file: 'net.pb' }).warnings
}

const preprocessing = (ops: string, formula: string) => [`net.pb: the input's preprocessing, ${ops}, is not part of the weights: the app must apply it to the input "image" before the first layer: ${formula}`]
const notFolded = (ops: string, count = 1) => [`net.pb: ${count} batch-norm or affine op${count > 1 ? 's were' : ' was'} not folded into any layer and must be applied by the app: ${ops}`]

/** `op(name)(b, x, constant)`: the op on x and a float32 constant of `shape` (scalar when []). */
const affine = (b: GraphBuilder, name: string, op: string, x: string, values: number[], shape = values.length === 1 ? [] : [values.length], constFirst = false) => {
  b.constF32(`${name}/c`, shape, values)
  return b.op(name, op, constFirst ? [`${name}/c`, x] : [x, `${name}/c`], T)
}

describe("the input's preprocessing, composed", () => {
  it('Div by 255: y = x * (1 / 255)', () => {
    expect(warnings(3, (b) => affine(b, 'div', 'Div', 'image', [255]))).toEqual(preprocessing('Div "div"', 'y = x * 0.00392157 + 0 (every channel)'))
  })

  it('Add 1, then Mul 0.5: y = (x + 1) * 0.5 = x * 0.5 + 0.5', () => {
    expect(warnings(3, (b) => affine(b, 'mul', 'Mul', affine(b, 'add', 'Add', 'image', [1]), [0.5]))).toEqual(preprocessing('Add "add", Mul "mul"', 'y = x * 0.5 + 0.5 (every channel)'))
  })

  it('a constant minus the input: y = 1 - x = x * -1 + 1, and after an Add 2: y = 1 - (x + 2) = x * -1 + -1', () => {
    expect(warnings(3, (b) => affine(b, 'sub', 'Sub', 'image', [1], [], true))).toEqual(preprocessing('Sub "sub"', 'y = x * -1 + 1 (every channel)'))
    expect(warnings(3, (b) => affine(b, 'sub', 'Sub', affine(b, 'add', 'Add', 'image', [2]), [1], [], true))).toEqual(preprocessing('Add "add", Sub "sub"', 'y = x * -1 + -1 (every channel)'))
  })

  it('a per-channel Mul, then a scalar Add, then a per-channel Sub', () => {
    // x * [2, 4, 8] + 1 - [1, 2, 3]
    const w = warnings(3, (b) => affine(b, 'sub', 'Sub', affine(b, 'add', 'AddV2', affine(b, 'mul', 'Mul', 'image', [2, 4, 8]), [1]), [1, 2, 3]))
    expect(w).toEqual(preprocessing('Mul "mul", AddV2 "add", Sub "sub"', 'y = x * scale + bias per channel, scale [2, 4, 8], bias [0, -1, -2]'))
  })

  it('8 values are all written out', () => {
    const w = warnings(8, (b) => affine(b, 'mul', 'Mul', 'image', [1, 2, 3, 4, 5, 6, 7, 8]))
    expect(w).toEqual(preprocessing('Mul "mul"', 'y = x * scale + bias per channel, scale [1, 2, 3, 4, 5, 6, 7, 8], bias [0, 0, 0, 0, 0, 0, 0, 0]'))
  })
})

describe('not the input\'s preprocessing', () => {
  it('a constant divided by the input', () => {
    expect(warnings(3, (b) => affine(b, 'div', 'RealDiv', 'image', [2], [], true))).toEqual(notFolded('RealDiv "div"'))
  })

  it('a constant that is not one value per channel ([4, 3] on a [1, 4, 4, 3] image)', () => {
    expect(warnings(3, (b) => affine(b, 'add', 'Add', 'image', Array.from({ length: 12 }, (_, i) => i), [4, 3]))).toEqual(notFolded('Add "add"'))
  })

  it('an integer constant (on an int32 image, cast to float after)', () => {
    const w = warnings(
      3,
      (b) => {
        b.constI32('sub/c', [], [128])
        b.op('sub', 'Sub', ['image', 'sub/c'], { T: attr.type('DT_INT32') })
        return b.op('cast', 'Cast', ['sub'], { SrcT: attr.type('DT_INT32'), DstT: attr.type('DT_FLOAT') })
      },
      'DT_INT32',
    )
    expect(w).toEqual(notFolded('Sub "sub"'))
  })

  it('per-channel vectors of different lengths, either way round', () => {
    expect(warnings(3, (b) => affine(b, 'add', 'Add', affine(b, 'mul', 'Mul', 'image', [2, 3]), [1, 2, 3]))).toEqual(notFolded('Mul "mul", Add "add"', 2))
    expect(warnings(3, (b) => affine(b, 'add', 'Add', affine(b, 'mul', 'Mul', 'image', [1, 2, 3]), [2, 3]))).toEqual(notFolded('Mul "mul", Add "add"', 2))
  })

  it('an op whose input comes out of a cycle of Cast ops (a damaged graph): the search ends', () => {
    const w = warnings(3, (b) => {
      b.op('castA', 'Cast', ['castB'])
      b.op('castB', 'Cast', ['castA'])
      return affine(b, 'sub', 'Sub', 'castA', [1])
    })
    expect(w).toEqual(notFolded('Sub "sub"'))
  })
})

describe('a batch norm on the input', () => {
  it('is reported as an op not folded, not read as preprocessing (it is no Sub, Add, Mul or Div)', () => {
    const b = new GraphBuilder()
    b.placeholder('input', [1, 4, 4, 2])
    for (const [n, v] of [['gamma', [2, 3]], ['beta', [0.5, 1]], ['mean', [0.1, 0.2]], ['variance', [1, 4]]] as const) b.constF32(`bn/${n}`, [2], [...v])
    b.op('bn/FusedBatchNorm', 'FusedBatchNorm', ['input', 'bn/gamma', 'bn/beta', 'bn/mean', 'bn/variance'], { epsilon: attr.f(0.001), is_training: attr.b(false) })
    b.constF32('layer/weights', [1, 1, 2, 3], [1, 2, 3, 4, 5, 6])
    b.op('layer/Conv2D', 'Conv2D', ['bn/FusedBatchNorm', 'layer/weights'], { strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
    const { warnings } = convertModel(b.encode(), { file: 'bn.pb' })
    expect(warnings).toEqual(['bn.pb: 1 batch-norm or affine op was not folded into any layer and must be applied by the app: FusedBatchNorm "bn/FusedBatchNorm"'])
  })
})
