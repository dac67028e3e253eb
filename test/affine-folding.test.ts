/**
 * What folds into a layer's per-channel (scale, bias) and what does not, on a 1x1 Conv2D over
 * one input channel with weights [2, -3], so that every expected value is worked out by hand:
 * the layer computes y[o] = x * w[o] * scale[o] + bias[o], and MPSCNN gets w[o] * scale[o].
 * What cannot fold is left to the app and named in a warning; what makes the graph invalid
 * (a constant that cannot broadcast, a non-finite value) is refused, naming the node.
 */
import { describe, expect, it } from 'vitest'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import { conv1x1, convert, firstLayer } from './helpers/fold-cases.js'
import { expectNodeRefusal } from './helpers/refusal.js'

const W = [2, -3]

/** input -> conv (weights W), then `op` reading conv at input `at` and a constant of `shape` at the other. */
function withOp(op: string, shape: number[], values: number[], o: { at?: 0 | 1; format?: 'NHWC' | 'NCHW'; attrs?: Record<string, ReturnType<typeof attr.s>> } = {}): GraphBuilder {
  const b = new GraphBuilder()
  conv1x1(b, W, { format: o.format })
  b.constF32('c', shape, values)
  b.op('op', op, o.at === 1 ? ['c', 'conv'] : ['conv', 'c'], { T: attr.type('DT_FLOAT'), ...o.attrs })
  return b
}

const NOT_FOLDED = /1 batch-norm or affine op was not folded into any layer and must be applied by the app: \w+ "op"/

function notFolded(b: GraphBuilder): void {
  const l = firstLayer(b)
  expect(l.folded).toEqual([])
  expect(l.weights).toEqual(W)
  expect(l.bias).toEqual([0, 0])
  expect(l.warnings.join('\n')).toMatch(NOT_FOLDED)
}

describe('constants that broadcast one value per channel fold', () => {
  it('shape [C], [1, 1, 1, C], [1] and [] (a scalar)', () => {
    expect(firstLayer(withOp('Add', [2], [0.5, -1])).bias).toEqual([0.5, -1])
    const r4 = firstLayer(withOp('AddV2', [1, 1, 1, 2], [0.5, -1]))
    expect(r4.bias).toEqual([0.5, -1])
    expect(r4.folded).toEqual(['op'])
    expect(firstLayer(withOp('Mul', [1], [3])).weights).toEqual([6, -9])
    expect(firstLayer(withOp('Mul', [], [3])).weights).toEqual([6, -9])
    expect(firstLayer(withOp('Add', [], [0.25])).bias).toEqual([0.25, 0.25])
  })

  it('on NCHW, the channels are axis 1: shape [C, 1, 1] and [1, 1] (a scalar of rank 2)', () => {
    expect(firstLayer(withOp('Add', [2, 1, 1], [0.5, -1], { format: 'NCHW' })).bias).toEqual([0.5, -1])
    expect(firstLayer(withOp('Mul', [1, 1], [0.5], { format: 'NCHW' })).weights).toEqual([1, -1.5])
  })

  it('c - x negates the scale and subtracts the bias so far from c; x - c subtracts c', () => {
    const b = new GraphBuilder()
    conv1x1(b, W)
    b.constF32('b', [2], [1, 2])
    b.op('bias', 'BiasAdd', ['conv', 'b'])
    b.constF32('c', [2], [10, 20])
    b.op('rsub', 'Sub', ['c', 'bias'])
    b.constF32('d', [2], [0.5, 0.25])
    b.op('sub', 'Sub', ['rsub', 'd'])
    const l = firstLayer(b)
    expect(l.folded).toEqual(['bias', 'rsub', 'sub'])
    expect(l.weights).toEqual([-2, 3])
    // 10 - (x*2 + 1) - 0.5, 20 - (x*-3 + 2) - 0.25
    expect(l.bias).toEqual([8.5, 17.75])
  })

  it('x / c divides scale and bias; c / x is no affine map and stays', () => {
    const b = new GraphBuilder()
    conv1x1(b, W)
    b.constF32('b', [2], [1, 2])
    b.op('bias', 'BiasAdd', ['conv', 'b'])
    b.constF32('c', [2], [2, 4])
    b.op('div', 'RealDiv', ['bias', 'c'])
    const l = firstLayer(b)
    expect(l.weights).toEqual([1, -0.75])
    expect(l.bias).toEqual([0.5, 0.5])
    notFolded(withOp('RealDiv', [2], [2, 4], { at: 1 }))
  })
})

describe('what does not fold stays in the graph, named in a warning', () => {
  it('a constant that varies along another dimension, or adds one', () => {
    notFolded(withOp('Add', [1, 2, 1, 2], [1, 2, 3, 4]))
    notFolded(withOp('Add', [1, 1, 1, 1, 2], [1, 2]))
  })

  it('a sum of two activations is no affine op, and no warning', () => {
    const b = new GraphBuilder()
    conv1x1(b, W)
    b.placeholder('y', [1, 2, 2, 2])
    b.op('sum', 'Add', ['conv', 'y'])
    const l = firstLayer(b)
    expect(l.folded).toEqual([])
    expect(l.warnings).toEqual([])
  })

  it('two ops left: the warning counts them', () => {
    const b = withOp('RealDiv', [2], [2, 4], { at: 1 })
    b.constF32('c2', [1, 2, 1, 2], [1, 2, 3, 4])
    b.op('op2', 'Mul', ['op', 'c2'])
    expect(convert(b).warnings.join('\n')).toMatch(/2 batch-norm or affine ops were not folded into any layer and must be applied by the app: RealDiv "op", Mul "op2"/)
  })

  it('BiasAdd: the bias must be input 1, of rank 1, on the layer\'s channel axis', () => {
    notFolded(withOp('BiasAdd', [2], [1, 2], { at: 1 }))
    // TensorFlow's BiasAdd takes a 1-D bias only: not a [1, C] one, nor a scalar.
    notFolded(withOp('BiasAdd', [1, 2], [1, 2]))
    notFolded(withOp('BiasAdd', [], [1]))
    // NHWC BiasAdd on an NCHW value adds along W, not along the channels.
    notFolded(withOp('BiasAdd', [2], [1, 2], { format: 'NCHW' }))
    const nchw = firstLayer(withOp('BiasAdd', [2], [1, 2], { format: 'NCHW', attrs: { data_format: attr.s('NCHW') } }))
    expect(nchw.folded).toEqual(['op'])
    expect(nchw.bias).toEqual([1, 2])
  })
})

/** FusedBatchNormV3 `bn` of `x` with gamma [1, 2], beta [0.5, 0], mean [1, -1], variance [3, 15], epsilon 1. */
function fusedBn(b: GraphBuilder, x: string, o: { format?: string; mean?: string; meanValues?: number[] } = {}): string {
  b.constF32('gamma', [2], [1, 2])
  b.constF32('beta', [2], [0.5, 0])
  const mean = o.mean ?? b.constF32('mean', [2], o.meanValues ?? [1, -1])
  b.constF32('variance', [2], [3, 15])
  return b.op('bn', 'FusedBatchNormV3', [x, 'gamma', 'beta', mean, 'variance'], {
    T: attr.type('DT_FLOAT'), epsilon: attr.f(1), is_training: attr.b(false), data_format: attr.s(o.format ?? 'NHWC'),
  })
}

describe('batch norms', () => {
  it('FusedBatchNormV3 folds: scale gamma / sqrt(var + eps), bias beta - mean * that', () => {
    const b = new GraphBuilder()
    conv1x1(b, W)
    fusedBn(b, 'conv')
    const l = firstLayer(b)
    // s = [1 / 2, 2 / 4]; bias = [(0 - 1) * 0.5 + 0.5, (0 + 1) * 0.5 + 0]
    expect(l.weights).toEqual([1, -1.5])
    expect(l.bias).toEqual([0, 0.5])
  })

  it('a batch norm in another data format than the layer, or reading the layer at another input, stays', () => {
    const b = new GraphBuilder()
    conv1x1(b, W)
    fusedBn(b, 'conv', { format: 'NCHW' })
    expect(firstLayer(b).folded).toEqual([])
    const m = new GraphBuilder()
    conv1x1(m, W)
    m.placeholder('x2', [1, 2, 2, 2])
    fusedBn(m, 'x2', { mean: 'conv' })
    expect(firstLayer(m).folded).toEqual([])
  })

  it('a batch norm on a fully connected layer\'s (rank 2) output stays', () => {
    const b = new GraphBuilder()
    b.placeholder('input', [1, 2])
    b.constF32('fc/weights', [2, 2], [1, 2, 3, 4])
    b.op('fc', 'MatMul', ['input', 'fc/weights'])
    fusedBn(b, 'fc')
    const l = firstLayer(b)
    expect(l.folded).toEqual([])
    expect(l.warnings.join('\n')).toMatch(/FusedBatchNormV3 "bn"/)
  })

  it('a parameter from a variable: NOT_FROZEN; from an activation: NOT_CONSTANT; naming the batch norm', () => {
    const b = new GraphBuilder()
    conv1x1(b, W)
    b.op('mean', 'VariableV2', [], { dtype: attr.type('DT_FLOAT') })
    b.op('mean/read', 'Identity', ['mean'])
    fusedBn(b, 'conv', { mean: 'mean/read' })
    expect(expectNodeRefusal(() => convert(b), 'NOT_FROZEN', 'bn').message).toMatch(/batch-norm mean come from "VariableV2" "mean", not a constant/)
    const a = new GraphBuilder()
    conv1x1(a, W)
    a.op('relu', 'Relu', ['input'])
    fusedBn(a, 'conv', { mean: 'relu' })
    expectNodeRefusal(() => convert(a), 'NOT_CONSTANT', 'bn')
  })

  it('a NaN parameter: NON_FINITE, naming the parameter and channel', () => {
    const b = new GraphBuilder()
    conv1x1(b, W)
    fusedBn(b, 'conv', { meanValues: [NaN, 0] })
    expect(expectNodeRefusal(() => convert(b), 'NON_FINITE', 'bn').message).toMatch(/batch-norm mean holds NaN at channel 0/)
  })

  function globalBn(attrs: Record<string, ReturnType<typeof attr.f>>): GraphBuilder {
    const b = new GraphBuilder()
    conv1x1(b, W)
    b.constF32('mean', [2], [1, -1])
    b.constF32('variance', [2], [3, 15])
    b.constF32('beta', [2], [0.5, 0])
    b.constF32('gamma', [2], [1, 2])
    b.op('bn', 'BatchNormWithGlobalNormalization', ['conv', 'mean', 'variance', 'beta', 'gamma'], { T: attr.type('DT_FLOAT'), ...attrs })
    return b
  }

  it('BatchNormWithGlobalNormalization without gamma (scale_after_normalization false) folds', () => {
    const l = firstLayer(globalBn({ variance_epsilon: attr.f(1), scale_after_normalization: attr.b(false) }))
    // s = [1 / 2, 1 / 4]; bias = [-1 * 0.5 + 0.5, 1 * 0.25 + 0]
    expect(l.weights).toEqual([1, -0.75])
    expect(l.bias).toEqual([0, 0.25])
  })

  it('BatchNormWithGlobalNormalization lacking a required attribute: BAD_GRAPH naming it', () => {
    expect(expectNodeRefusal(() => convert(globalBn({ scale_after_normalization: attr.b(true) })), 'BAD_GRAPH', 'bn').message).toMatch(/lacks the required attribute variance_epsilon/)
    expect(expectNodeRefusal(() => convert(globalBn({ variance_epsilon: attr.f(1) })), 'BAD_GRAPH', 'bn').message).toMatch(/lacks the required attribute scale_after_normalization/)
  })
})

describe('invalid constants are refused, naming the op', () => {
  it('one that cannot broadcast against the channels: SHAPE_MISMATCH', () => {
    expect(expectNodeRefusal(() => convert(withOp('Add', [3], [1, 2, 3])), 'SHAPE_MISMATCH', 'op').message).toMatch(/shape \[3\] has 3 values along the channels but the layer has 2/)
  })

  it('a NaN: NON_FINITE at its channel', () => {
    expect(expectNodeRefusal(() => convert(withOp('Add', [2], [NaN, 1])), 'NON_FINITE', 'op').message).toMatch(/holds NaN at channel 0/)
  })
})
