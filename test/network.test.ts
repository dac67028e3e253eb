/**
 * The network description (src/network): graphs of every kind built with the project's
 * graph builder, checked against TensorFlow's own padding formulas computed here.
 */
import { describe, expect, it } from 'vitest'
import type { MpscnnNetwork, MpscnnNetworkNode } from '../src/base/manifest-types.js'
import { convertModel } from '../src/fold/convert.js'
import { buildNetwork, type NetworkOptions } from '../src/network/index.js'
import { convertToAssets } from '../src/pipeline/convert-to-assets.js'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import * as graphs from './helpers/graphs.js'
import { silentlyDropped } from './helpers/no-silent-drops.js'

let seed = 7
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1
const randn = (n: number) => Float32Array.from({ length: n }, rand)

function network(b: GraphBuilder, opts: NetworkOptions = {}): MpscnnNetwork {
  // Every graph of this file also checks the property: no weighted op dropped in silence.
  expect(silentlyDropped(b.encode(), 'test.pb', opts)).toEqual([])
  const m = convertModel(b.encode(), { file: 'test.pb' })
  return buildNetwork(m.graph, 'test.pb', m.plans, opts)
}

function refused(b: GraphBuilder, opts: NetworkOptions = {}): { code: string; message: string } {
  try {
    network(b, opts)
  } catch (e) {
    return e as { code: string; message: string }
  }
  throw new Error('the network was not refused')
}

const T = { T: attr.type('DT_FLOAT') }

/** A Conv2D with random constant weights [kh, kw, cin, cout]; returns its output's name. */
const conv = (b: GraphBuilder, name: string, input: string, o: graphs.ConvOptions): string => graphs.conv(b, randn, name, input, o)

function byName(net: MpscnnNetwork, name: string): MpscnnNetworkNode {
  const n = net.nodes.find((x) => x.name === name)
  if (!n) throw new Error(`no node ${name} in ${net.nodes.map((x) => x.name).join(', ')}`)
  return n
}

/** TensorFlow's window for one dimension, straight from its padding rules. */
function tfWindow(size: number, k: number, s: number, d: number, padding: 'SAME' | 'VALID', before = 0, after = 0) {
  const kEff = (k - 1) * d + 1
  const n = size + before + after
  const out = padding === 'SAME' ? Math.ceil(n / s) : Math.floor((n - kEff) / s) + 1
  const total = padding === 'SAME' ? Math.max((out - 1) * s + kEff - n, 0) : 0
  const first = -before - Math.floor(total / 2) + 0 // + 0: no -0
  return { out, first, last: first + (out - 1) * s + kEff - 1 }
}

/** The window an MPS encode reads, in source coordinates, per Apple's definition of `offset`. */
function mpsWindow(offset: number, k: number, s: number, d: number, out: number) {
  const kEff = (k - 1) * d + 1
  const first = offset - Math.floor(kEff / 2)
  return { out, first, last: first + (out - 1) * s + kEff - 1 }
}

describe('padding as MPS does it', () => {
  const cases: [number, number, number, number, 'SAME' | 'VALID'][] = []
  for (const size of [7, 8]) for (const k of [1, 2, 3, 4]) for (const s of [1, 2]) for (const p of ['SAME', 'VALID'] as const) if (k <= size) cases.push([size, k, s, 1, p])
  cases.push([9, 3, 1, 2, 'SAME'], [9, 3, 2, 2, 'VALID'])
  it.each(cases)('conv on %i px, kernel %i, stride %i, dilation %i, %s reads the pixels TF reads', (size, k, s, d, p) => {
    const net = network(graphs.paddingConvs(size, [{ name: 'c', k, s, d, padding: p }]))
    const n = byName(net, 'c/Conv2D')
    const img = net.images[n.destination]
    for (const [dim, src] of [['y', size], ['x', size + 3]] as const) {
      const tf = tfWindow(src, k, s, d, p)
      const out = dim === 'y' ? img.height : img.width
      expect(mpsWindow(n.offset[dim], k, s, d, out)).toEqual(tf)
    }
    expect(n.edgeMode).toBe('zero')
  })

  it('folds an explicit zero Pad into the convolution that reads it, and into a max pool (zero edge), not an average pool', () => {
    const net = network(graphs.explicitPad())
    const c = byName(net, 'c/Conv2D')
    const mp = byName(net, 'mp')
    expect(c.tf).toContain('pad')
    expect(c.source).toBe('x')
    expect([c.edgeMode, mp.edgeMode]).toEqual(['zero', 'zero'])
    for (const n of [c, mp]) {
      const img = net.images[n.destination]
      expect(mpsWindow(n.offset.y, 3, 2, 1, img.height)).toEqual(tfWindow(8, 3, 2, 1, 'VALID', 2, 1))
      expect(mpsWindow(n.offset.x, 3, 2, 1, img.width)).toEqual(tfWindow(9, 3, 2, 1, 'VALID', 0, 3))
    }
    expect(net.nodes.map((n) => n.kind)).not.toContain('reshape')

    const a = new GraphBuilder()
    a.placeholder('x', [1, 8, 8, 4])
    a.constI32('pads', [4, 2], [0, 0, 1, 1, 1, 1, 0, 0])
    a.op('pad', 'Pad', ['x', 'pads'], T)
    a.op('ap', 'AvgPool', ['pad'], { ...T, ksize: attr.ints([1, 3, 3, 1]), strides: attr.ints([1, 1, 1, 1]), padding: attr.s('VALID') })
    conv(a, 'c', 'ap', { cin: 4, cout: 4 })
    const e = refused(a)
    expect(e.code).toBe('UNSUPPORTED_OP')
    expect(e.message).toMatch(/AvgPool \(e\.g\. "ap"/)
    // A Pad read by anything else is refused at that reader, with the reason.
    a.remove('ap')
    a.op('ap', 'Relu', ['pad'], T)
    expect(refused(a).message).toContain('Relu (e.g. "ap": it reads the explicit "pad", which MPS folds only into a convolution or a max pool)')
    // Reflection padding has no edge mode that reads like it.
    const m = new GraphBuilder()
    m.placeholder('x', [1, 8, 8, 4])
    m.constI32('pads', [4, 2], [0, 0, 1, 1, 1, 1, 0, 0])
    m.op('mirror', 'MirrorPad', ['x', 'pads'], { ...T, mode: attr.s('REFLECT') })
    conv(m, 'c', 'mirror', { cin: 4, cout: 4, padding: 'VALID' })
    expect(refused(m).message).toContain('MirrorPad (e.g. "mirror": MPS has no counterpart)')
  })

  it('pools: max pool clamps (never changes a maximum), average pool clamps (TF leaves padding out of the count)', () => {
    const net = network(graphs.pools())
    const mp = byName(net, 'mp')
    const ap = byName(net, 'ap')
    expect([mp.kind, mp.edgeMode, ap.kind, ap.edgeMode]).toEqual(['poolingMax', 'clamp', 'poolingAverage', 'clamp'])
    expect(mpsWindow(mp.offset.y, 3, 2, 1, net.images.mp.height)).toEqual(tfWindow(7, 3, 2, 1, 'SAME'))
    expect(mpsWindow(mp.offset.x, 3, 2, 1, net.images.mp.width)).toEqual(tfWindow(8, 3, 2, 1, 'SAME'))
    expect(mpsWindow(ap.offset.y, 2, 2, 1, net.images.ap.height)).toEqual(tfWindow(4, 2, 2, 1, 'SAME'))
    expect(ap.kernel).toEqual({ width: 2, height: 2 })
    expect(ap.stride).toEqual({ x: 2, y: 2 })
  })
})

describe('the op table', () => {
  it('residual Add of two images, standalone and fused neurons, softmax', () => {
    const net = network(graphs.residualNeurons())
    expect(net.nodes.map((n) => [n.kind, n.neuron?.type ?? null])).toEqual([
      ['convolution', 'relu6'],
      ['add', null],
      ['neuron', 'relu'],
      ['neuron', 'sigmoid'],
      ['logSoftMax', null],
    ])
    expect(byName(net, 'res').source).toEqual(['c1/relu6', 'x'])
    expect(byName(net, 'c1/Conv2D').tf).toEqual(['c1/Conv2D', 'c1/relu6'])
    expect(net.outputs).toEqual([{ image: 'lsm', tfNode: 'lsm' }])
    expect(net.inputs).toEqual([{ image: 'x', tfNode: 'x', placeholder: 'x', before: [] }])
  })

  it('the other neurons of the table, Sub and Mul of two images, PadV2 with 0 folded, and StopGradient, Snapshot, PlaceholderWithDefault as no encode', () => {
    const b = new GraphBuilder()
    b.placeholder('x', [1, 6, 6, 4])
    b.op('pwd', 'PlaceholderWithDefault', ['x'], { dtype: attr.type('DT_FLOAT') })
    b.constI32('pads', [4, 2], [0, 0, 1, 1, 1, 1, 0, 0])
    b.constF32('zero', [], [0])
    b.op('pad', 'PadV2', ['pwd', 'pads', 'zero'], T)
    const c1 = conv(b, 'c1', 'pad', { cin: 4, cout: 4, padding: 'VALID' })
    b.op('sub', 'Sub', [c1, 'x'], T)
    let y = 'sub'
    for (const op of ['Tanh', 'Elu', 'LeakyRelu', 'Softplus', 'Softsign', 'Abs']) y = b.op(op.toLowerCase(), op, [y], op === 'LeakyRelu' ? { ...T, alpha: attr.f(0.25) } : T)
    b.op('snap', 'Snapshot', [y], T)
    b.op('stop', 'StopGradient', ['snap'], T)
    b.op('mul', 'Mul', ['stop', c1], T)
    const net = network(b)
    expect(net.nodes.map((n) => [n.kind, n.neuron?.type ?? null])).toEqual([
      ['convolution', null],
      ['subtract', null],
      ...['tanh', 'elu', 'leakyRelu', 'softPlus', 'softSign', 'absolute'].map((t) => ['neuron', t]),
      ['multiply', null],
    ])
    expect(byName(net, 'leakyrelu').neuron).toMatchObject({ a: 0.25 })
    // The pass-through ops are views: their image is their input's, with no encode.
    expect(byName(net, 'c1/Conv2D')).toMatchObject({ source: 'pwd', edgeMode: 'zero' })
    expect(byName(net, 'c1/Conv2D').tf).toContain('pad')
    expect(net.images.pwd).toEqual(net.images.x)
    expect(byName(net, 'mul').source).toEqual(['abs', 'c1/Conv2D'])
  })

  it('global average pooling spelled as Mean, then a fully connected layer and its BiasAdd folded', () => {
    const net = network(graphs.meanFullyConnected())
    const gap = byName(net, 'gap')
    expect(gap).toMatchObject({ kind: 'poolingAverage', kernel: { width: 4, height: 3 }, offset: { x: 2, y: 1 }, source: 'c/Conv2D' })
    expect(net.images.gap).toEqual({ width: 1, height: 1, featureChannels: 8 })
    const fc = byName(net, 'fc/MatMul')
    expect(fc).toMatchObject({ kind: 'fullyConnected', layer: 'fc', source: 'gap', destination: 'fc/BiasAdd', kernel: { width: 1, height: 1 }, inputFeatureChannels: 8, outputFeatureChannels: 10 })
    expect(fc.tf).toEqual(['fc/MatMul', 'fc/BiasAdd'])
    expect(byName(net, 'prob').kind).toBe('softMax')
  })

  for (const spelling of ['Reshape', 'Keras Flatten'] as const) {
    it(`fully connected after a flatten (${spelling}) reads the H x W x C image with kernel = the image size`, () => {
      const net = network(graphs.flatten(spelling)) // 2 x 2 x 3 flattened
      expect(byName(net, 'fc/MatMul')).toMatchObject({ source: 'c/Conv2D', kernel: { width: 2, height: 2 }, inputFeatureChannels: 3, offset: { x: 1, y: 1 } })
      expect(net.nodes.map((n) => n.kind)).toEqual(['convolution', 'fullyConnected'])
    })
  }

  it('an NCHW graph: the input read as [1, C, H, W], convolutions and pools in NCHW, a flatten in C, H, W order', () => {
    const net = network(graphs.nchw())
    expect(net.images.x).toEqual({ width: 6, height: 7, featureChannels: 3 })
    expect(net.images['c/Conv2D']).toEqual({ width: 3, height: 4, featureChannels: 4 })
    expect(net.images.p).toEqual({ width: 1, height: 2, featureChannels: 4 })
    expect(byName(net, 'fc/MatMul')).toMatchObject({ source: 'p', kernel: { width: 1, height: 2 }, inputFeatureChannels: 4 })
  })

  it('a flatten of an NCHW tensor (Transpose) permutes the weight rows to MPSCNNFullyConnected\'s H, W, C order', () => {
    const { b, w } = graphs.nchwFlatten() // a 3 x 4 x 5 convolution transposed to NCHW
    const bytes = b.encode()
    const assets = convertToAssets({ bytes, sha256: null }, 'nchw.pb', { packed: false, align: 256, precision: 'float32' })
    expect(assets.network!.nodes.find((n) => n.name === 'fc/MatMul')).toMatchObject({ kernel: { width: 4, height: 3 }, inputFeatureChannels: 5 })
    const f = assets.files.get('weights_fc.dat')!
    const got = new Float32Array(f.buffer, f.byteOffset, f.byteLength / 4)
    // MPS: [o][h][w][c]; TF's row of (c, h, w) after the transpose is c * 12 + h * 4 + w.
    for (let o = 0; o < 7; o++) for (let h = 0; h < 3; h++) for (let x = 0; x < 4; x++) for (let ch = 0; ch < 5; ch++) {
      expect(got[((o * 3 + h) * 4 + x) * 5 + ch]).toBe(w[(ch * 12 + h * 4 + x) * 7 + o])
    }
    // Without the network, the layer keeps TF's order.
    const plain = convertToAssets({ bytes, sha256: null }, 'nchw.pb', { packed: false, align: 256, precision: 'float32', network: { network: false } })
    const p = plain.files.get('weights_fc.dat')!
    expect(new Float32Array(p.buffer, p.byteOffset, p.byteLength / 4)[1]).toBe(w[7])
    expect(plain.network).toBeUndefined()
  })

  it('upsampling, an unfolded batch norm on the input, a Relu6 fused into a depthwise convolution, preprocessing', () => {
    const net = network(graphs.upsamplingBatchNorm())
    expect(net.inputs[0]).toEqual({ image: 'scaled', tfNode: 'scaled', placeholder: 'x', before: [], preprocess: { scale: [0.5, 0.5, 0.5], bias: [-0.5, -1, -1.5], tf: ['centered', 'scaled'], from: 'x' } })
    const bn = byName(net, 'bn')
    expect(bn.kind).toBe('batchNormalization')
    expect(bn.scale).toEqual([1, 1, 1, 1])
    expect(bn.bias).toEqual([0, 1, -1, 0])
    expect(byName(net, 'dw')).toMatchObject({ kind: 'depthwiseConvolution', neuron: { type: 'relu6' }, destination: 'dw/relu6' })
    expect(byName(net, 'up')).toMatchObject({ kind: 'upsampling', mode: 'nearest', stride: { x: 3, y: 2 } })
    expect(net.images.up).toEqual({ width: 12, height: 8, featureChannels: 4 })
  })

  it('drops training leftovers: dropout with keep_prob 1, CheckNumerics and Identity chains', () => {
    const net = network(graphs.trainingLeftovers())
    // The Relu reads the convolution's value unchanged, so the convolution takes it as its neuron.
    expect(net.nodes.map((n) => [n.kind, n.neuron?.type, n.destination])).toEqual([['convolution', 'relu', 'out']])
    expect(net.nodes[0].tf).toEqual(['c/Conv2D', 'out'])
  })

  it('joins concatenations the MPS way: producers write at channel offsets, nested joins flatten, a concatenation node stays for the input', () => {
    const net = network(graphs.nestedConcat())
    const at = (n: string) => [byName(net, n).destination, byName(net, n).destinationFeatureChannelOffset]
    expect([at('a/Conv2D'), at('c/Conv2D'), at('d/Conv2D'), at('p')]).toEqual([['both', 0], ['both', 8], ['both', 12], ['both', 24]])
    expect(byName(net, 'both')).toMatchObject({ kind: 'concatenation', source: ['x'], sourceFeatureChannelOffsets: [28] })
    expect(net.images.both.featureChannels).toBe(32)
    expect(Object.keys(net.images).sort()).toEqual(['both', 'x'])
  })

  it('a producer whose output is also read elsewhere, or whose offset is not a multiple of 4, is copied by a concatenation node', () => {
    const net = network(graphs.concatCopied())
    expect(byName(net, 'j')).toMatchObject({ source: ['a/Conv2D', 'c/Conv2D'], sourceFeatureChannelOffsets: [0, 6] })
  })
})

describe('real-world spellings', () => {
  it('a TF2 Keras export: StatefulPartitionedCall scopes, numeric constants, BiasAdd then FusedBatchNormV3, Relu6, Mean, Dense, Softmax, a final Identity', () => {
    const s = graphs.KERAS_SCOPE
    const net = network(graphs.keras())
    expect(net.nodes.map((n) => [n.kind, n.name, n.neuron?.type ?? null])).toEqual([
      ['convolution', `${s}/conv2d/Conv2D`, 'relu6'],
      ['poolingAverage', `${s}/gap/Mean`, null],
      ['fullyConnected', `${s}/dense/MatMul`, null],
      ['softMax', `${s}/dense/Softmax`, null],
    ])
    expect(net.nodes[0].tf).toEqual([`${s}/conv2d/Conv2D`, `${s}/conv2d/BiasAdd`, `${s}/bn/FusedBatchNormV3`, `${s}/re_lu/Relu6`])
    expect(net.images[`${s}/re_lu/Relu6`]).toEqual({ width: 4, height: 4, featureChannels: 8 })
    expect(net.outputs).toEqual([{ image: `${s}/dense/Softmax`, tfNode: 'Identity' }])
    // The weight constants `2687`, `2699` carry no scope: the layers are named after their op's.
    expect(net.nodes.filter((n) => n.layer).map((n) => n.layer)).toEqual(['model_conv2d', 'model_dense'])
  })

  it('names a layer whose weight constant has no scope after its op\'s scope, numbering two in one scope', () => {
    const b = new GraphBuilder()
    b.placeholder('input_1', [1, 4, 4, 3])
    b.constF32('2687', [1, 1, 3, 4], randn(12))
    b.op('model_11/conv2d_33/Conv2D', 'Conv2D', ['input_1', '2687'], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
    b.constF32('2699', [1, 1, 4, 4], randn(16))
    b.op('model_11/conv2d_33/Conv2D_1', 'Conv2D', ['model_11/conv2d_33/Conv2D', '2699'], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
    b.constF32('scoped/weights', [1, 1, 4, 2], randn(8))
    b.op('other/Conv2D', 'Conv2D', ['model_11/conv2d_33/Conv2D_1', 'scoped/weights'], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
    const m = convertModel(b.encode(), { file: 'tf2.pb' })
    expect(m.layers.map((l) => l.name)).toEqual(['model_11_conv2d_33', 'model_11_conv2d_33_2', 'scoped'])
  })
})

describe('refusals and options', () => {
  it('names every op type with no MPS counterpart on the path, with one example node, in one UNSUPPORTED_OP error', () => {
    const b = new GraphBuilder()
    b.placeholder('x', [1, 6, 6, 4])
    const c = conv(b, 'c', 'x', { cin: 4, cout: 4 })
    // Instance normalization spelled out.
    b.constI32('axes', [2], [1, 2])
    b.op('in/mean', 'Mean', [c, 'axes'], { ...T, keep_dims: attr.b(true) })
    b.op('in/sqdiff', 'SquaredDifference', [c, 'in/mean'], T)
    b.op('in/var', 'Mean', ['in/sqdiff', 'axes'], { ...T, keep_dims: attr.b(true) })
    b.op('in/sub', 'Sub', [c, 'in/mean'], T)
    b.op('in/rsqrt', 'Rsqrt', ['in/var'], T)
    b.op('in/out', 'Mul', ['in/sub', 'in/rsqrt'], T)
    b.op('boxes', 'NonMaxSuppressionV3', ['in/out', 'in/out', 'in/out', 'in/out', 'in/out'], T)
    b.op('loop', 'While', ['boxes'], T)
    b.op('loop2', 'While', ['loop'], T)
    const e = refused(b)
    expect(e.code).toBe('UNSUPPORTED_OP')
    for (const s of ['SquaredDifference (e.g. "in/sqdiff"', 'Sub (e.g. "in/sub"', 'Rsqrt (e.g. "in/rsqrt"', 'NonMaxSuppressionV3 (e.g. "boxes"', 'While (e.g. "loop"']) expect(e.message).toContain(s)
    expect(e.message).not.toContain('loop2')
    expect(e.message.split('\n')).toHaveLength(1)
    // Picking an output before them describes the network that is there.
    expect(network(b, { outputs: ['in/mean'] }).outputs).toEqual([{ image: 'in/mean', tfNode: 'in/mean' }])
  })

  it('a TF1 while loop (a cycle through Merge and NextIteration) is refused by name, not followed forever', () => {
    const b = new GraphBuilder()
    b.placeholder('x', [1, 4, 4, 3])
    const c = conv(b, 'c', 'x', { cin: 3, cout: 4 })
    b.op('loop/Enter', 'Enter', [c], T)
    b.op('loop/Merge', 'Merge', ['loop/Enter', 'loop/NextIteration'], T)
    b.op('loop/body', 'Relu', ['loop/Merge'], T)
    b.op('loop/NextIteration', 'NextIteration', ['loop/body'], T)
    b.op('loop/Exit', 'Exit', ['loop/Merge'], T)
    const e = refused(b)
    expect(e.code).toBe('UNSUPPORTED_OP')
    for (const op of ['Enter', 'Merge', 'NextIteration', 'Exit']) expect(e.message).toContain(`${op} (e.g. "loop/${op === 'Enter' ? 'Enter' : op}"`)
  })

  it('an input of unknown size is an INPUT_SHAPE error that names the option, and inputShape gives it', () => {
    const b = new GraphBuilder()
    b.placeholder('x', [-1, -1, -1, 3])
    conv(b, 'c', 'x', { cin: 3, cout: 4, stride: 2 })
    const e = refused(b)
    expect(e.code).toBe('INPUT_SHAPE')
    expect(e.message).toMatch(/test\.pb: node "x": the network input "x" has shape \[\?, \?, \?, 3\].*inputShape/)
    expect(network(b, { inputShape: [9, 10, 3] }).images['c/Conv2D']).toEqual({ width: 5, height: 5, featureChannels: 4 })
    expect(refused(b, { inputShape: [9, 10, 4] }).code).toBe('INPUT_SHAPE')
  })

  it('outputs default to the sinks; an unknown output is a BAD_OUTPUT error', () => {
    const b = new GraphBuilder()
    b.placeholder('x', [1, 4, 4, 3])
    const c = conv(b, 'c', 'x', { cin: 3, cout: 4 })
    b.op('r', 'Relu', [c], T)
    b.op('s', 'Sigmoid', [c], T)
    expect(network(b).outputs.map((o) => o.tfNode)).toEqual(['r', 's'])
    expect(refused(b, { outputs: ['nope'] }).code).toBe('BAD_OUTPUT')
    // A graph without a Placeholder has no input to describe a network from.
    const noInput = new GraphBuilder()
    noInput.constF32('image', [1, 4, 4, 3], new Float32Array(48))
    conv(noInput, 'c', 'image', { cin: 3, cout: 4 })
    const e = refused(noInput)
    expect([e.code, e.message]).toEqual(['BAD_OUTPUT', 'test.pb: the graph has no Placeholder, so the network has no input. Convert the weights only with network: false (CLI --layers-only)'])
  })
})
