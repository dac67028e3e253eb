/**
 * A MobileNet v1 laid out the way TF-slim exports it (weights and BN parameters behind
 * Identity `/read` nodes, Relu6, depthwise + pointwise blocks, a 1x1 conv classifier with
 * BiasAdd), with both of slim's batch-norm spellings: FusedBatchNorm, and the older
 * spelled-out `BatchNorm/batchnorm/{add,Rsqrt,mul,mul_1,mul_2,sub,add_1}`.
 */
import { describe, expect, it } from 'vitest'
import { convertModel } from '../src/fold/convert.js'
import { buildNetwork } from '../src/network/index.js'
import { attr, encodeGraphDef, GraphBuilder } from './helpers/graph-builder.js'
import { silentlyDropped } from './helpers/no-silent-drops.js'
import { formatGraphDefText } from './helpers/pbtxt-writer.js'

let seed = 7
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1
const randn = (n: number, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => Math.fround(lo + ((rand() + 1) / 2) * (hi - lo)))

interface Expect {
  name: string
  kind: string
  weights: Float32Array
  bias: Float32Array
}

function slimMobilenet(fused: boolean) {
  const b = new GraphBuilder()
  const expected: Expect[] = []
  b.placeholder('input', [1, 32, 32, 3])
  const constRead = (name: string, shape: number[], values: Float32Array) => {
    b.const(name, { shape, values })
    return b.op(`${name}/read`, 'Identity', [name], { T: attr.type('DT_FLOAT') })
  }
  const bn = (scope: string, x: string, c: number): { out: string; s: Float64Array; shift: Float64Array } => {
    const gamma = randn(c, 0.5, 1.5)
    const beta = randn(c)
    const mean = randn(c)
    const variance = randn(c, 0.2, 2)
    const eps = Math.fround(0.001)
    const g = constRead(`${scope}/BatchNorm/gamma`, [c], gamma)
    const be = constRead(`${scope}/BatchNorm/beta`, [c], beta)
    const m = constRead(`${scope}/BatchNorm/moving_mean`, [c], mean)
    const v = constRead(`${scope}/BatchNorm/moving_variance`, [c], variance)
    let out: string
    if (fused) {
      out = b.op(`${scope}/BatchNorm/FusedBatchNorm`, 'FusedBatchNorm', [x, g, be, m, v], { epsilon: attr.f(0.001), is_training: attr.b(false), data_format: attr.s('NHWC'), T: attr.type('DT_FLOAT') })
    } else {
      const p = `${scope}/BatchNorm/batchnorm`
      b.const(`${p}/add/y`, { shape: [], values: [0.001] })
      b.op(`${p}/add`, 'Add', [v, `${p}/add/y`])
      b.op(`${p}/Rsqrt`, 'Rsqrt', [`${p}/add`])
      b.op(`${p}/mul`, 'Mul', [`${p}/Rsqrt`, g])
      b.op(`${p}/mul_1`, 'Mul', [x, `${p}/mul`])
      b.op(`${p}/mul_2`, 'Mul', [m, `${p}/mul`])
      b.op(`${p}/sub`, 'Sub', [be, `${p}/mul_2`])
      out = b.op(`${p}/add_1`, 'Add', [`${p}/mul_1`, `${p}/sub`])
    }
    const s = Float64Array.from(gamma, (gm, i) => gm / Math.sqrt(variance[i] + eps))
    const shift = Float64Array.from(s, (si, i) => beta[i] - mean[i] * si)
    return { out: b.op(`${scope}/Relu6`, 'Relu6', [out]), s, shift }
  }
  const conv = (scope: string, x: string, k: number, cin: number, cout: number, stride: number) => {
    const w = randn(k * k * cin * cout)
    const r = constRead(`${scope}/weights`, [k, k, cin, cout], w)
    const y = b.op(`${scope}/Conv2D`, 'Conv2D', [x, r], { strides: attr.ints([1, stride, stride, 1]), padding: attr.s('SAME'), data_format: attr.s('NHWC'), T: attr.type('DT_FLOAT') })
    const n = bn(scope, y, cout)
    const wt = new Float32Array(w.length)
    for (let o = 0; o < cout; o++) for (let t = 0; t < k * k * cin; t++) wt[o * k * k * cin + t] = Math.fround(w[t * cout + o] * n.s[o])
    expected.push({ name: scope.replace(/\//g, '_'), kind: 'conv', weights: wt, bias: Float32Array.from(n.shift) })
    return n.out
  }
  const dw = (scope: string, x: string, c: number) => {
    const w = randn(9 * c)
    const r = constRead(`${scope}/depthwise_weights`, [3, 3, c, 1], w)
    const y = b.op(`${scope}/depthwise`, 'DepthwiseConv2dNative', [x, r], { strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME'), data_format: attr.s('NHWC'), T: attr.type('DT_FLOAT') })
    const n = bn(scope, y, c)
    const wt = new Float32Array(w.length)
    for (let ch = 0; ch < c; ch++) for (let t = 0; t < 9; t++) wt[ch * 9 + t] = Math.fround(w[t * c + ch] * n.s[ch])
    expected.push({ name: scope.replace(/\//g, '_'), kind: 'depthwise', weights: wt, bias: Float32Array.from(n.shift) })
    return n.out
  }
  let x = conv('MobilenetV1/Conv2d_0', 'input', 3, 3, 8, 2)
  x = dw('MobilenetV1/Conv2d_1_depthwise', x, 8)
  x = conv('MobilenetV1/Conv2d_1_pointwise', x, 1, 8, 16, 1)
  x = dw('MobilenetV1/Conv2d_2_depthwise', x, 16)
  x = conv('MobilenetV1/Conv2d_2_pointwise', x, 1, 16, 16, 1)
  b.op('MobilenetV1/Logits/AvgPool_1a/AvgPool', 'AvgPool', [x], { ksize: attr.ints([1, 16, 16, 1]), strides: attr.ints([1, 2, 2, 1]), padding: attr.s('VALID') })
  const lw = randn(16 * 10)
  const lb = randn(10)
  const r = constRead('MobilenetV1/Logits/Conv2d_1c_1x1/weights', [1, 1, 16, 10], lw)
  const br = constRead('MobilenetV1/Logits/Conv2d_1c_1x1/biases', [10], lb)
  b.op('MobilenetV1/Logits/Conv2d_1c_1x1/Conv2D', 'Conv2D', ['MobilenetV1/Logits/AvgPool_1a/AvgPool', r], { strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  b.op('MobilenetV1/Logits/Conv2d_1c_1x1/BiasAdd', 'BiasAdd', ['MobilenetV1/Logits/Conv2d_1c_1x1/Conv2D', br], { data_format: attr.s('NHWC') })
  b.const('MobilenetV1/Logits/SpatialSqueeze/dims', { dtype: 'int32', shape: [2], values: [1, 2] })
  b.op('MobilenetV1/Logits/SpatialSqueeze', 'Squeeze', ['MobilenetV1/Logits/Conv2d_1c_1x1/BiasAdd'], { squeeze_dims: attr.ints([1, 2]) })
  b.op('MobilenetV1/Predictions/Softmax', 'Softmax', ['MobilenetV1/Logits/SpatialSqueeze'])
  const lt = new Float32Array(lw.length)
  for (let o = 0; o < 10; o++) for (let i = 0; i < 16; i++) lt[o * 16 + i] = lw[i * 10 + o]
  expected.push({ name: 'MobilenetV1_Logits_Conv2d_1c_1x1', kind: 'conv', weights: lt, bias: lb })
  return { graph: b.graph(), expected }
}

describe('MobileNet v1 as TF-slim exports it', () => {
  for (const fused of [true, false]) {
    for (const text of [false, true]) {
      it(`${fused ? 'FusedBatchNorm' : 'spelled-out batchnorm'}, ${text ? '.pbtxt' : '.pb'}`, () => {
        const { graph, expected } = slimMobilenet(fused)
        const bytes = text ? new TextEncoder().encode(formatGraphDefText(graph)) : encodeGraphDef(graph)
        const m = convertModel(bytes, { file: text ? 'mobilenet_v1.pbtxt' : 'mobilenet_v1.pb' })
        expect(m.warnings).toEqual([])
        expect(m.layers.map((l) => [l.name, l.kind, l.activation])).toEqual(
          expected.map((e) => [e.name, e.kind, e.name.includes('Logits') ? 'none' : 'relu6']),
        )
        expect(m.layers[0]).toMatchObject({ strideX: 2, padding: 'same', weightShape: [8, 3, 3, 3] })
        expect(m.layers[1]).toMatchObject({ weightShape: [8, 3, 3], groups: 8 })
        const outs = [...m.outputs()]
        outs.forEach((o, i) => {
          const e = expected[i]
          let worst = 0
          for (let k = 0; k < e.weights.length; k++) worst = Math.max(worst, Math.abs(o.weights[k] - e.weights[k]))
          for (let k = 0; k < e.bias.length; k++) worst = Math.max(worst, Math.abs(o.bias[k] - e.bias[k]))
          expect(o.weights.length).toBe(e.weights.length)
          expect(worst).toBeLessThan(1e-5)
        })
      })
    }
  }
})

describe('its network description', () => {
  for (const fused of [true, false]) {
    it(`${fused ? 'FusedBatchNorm' : 'spelled-out batchnorm'}: every block one encode with Relu6 fused, the global pool, the 1x1 classifier, the softmax after the squeeze`, () => {
      const bytes = encodeGraphDef(slimMobilenet(fused).graph)
      expect(silentlyDropped(bytes, 'mobilenet_v1.pb')).toEqual([])
      const m = convertModel(bytes, { file: 'mobilenet_v1.pb' })
      const net = buildNetwork(m.graph, 'mobilenet_v1.pb', m.plans)
      expect(net.nodes.map((n) => [n.kind, n.layer ?? n.name, n.neuron?.type ?? null])).toEqual([
        ['convolution', 'MobilenetV1_Conv2d_0', 'relu6'],
        ['depthwiseConvolution', 'MobilenetV1_Conv2d_1_depthwise', 'relu6'],
        ['convolution', 'MobilenetV1_Conv2d_1_pointwise', 'relu6'],
        ['depthwiseConvolution', 'MobilenetV1_Conv2d_2_depthwise', 'relu6'],
        ['convolution', 'MobilenetV1_Conv2d_2_pointwise', 'relu6'],
        ['poolingAverage', 'MobilenetV1/Logits/AvgPool_1a/AvgPool', null],
        ['convolution', 'MobilenetV1_Logits_Conv2d_1c_1x1', null],
        ['softMax', 'MobilenetV1/Predictions/Softmax', null],
      ])
      // 32 -> 16 (stride 2, SAME: the first window reads pixels 0..2, TF pads 0 before and 1 after), the 16 x 16 pool to 1 x 1.
      expect(net.nodes[0].offset).toEqual({ x: 1, y: 1 })
      expect(net.images['MobilenetV1/Conv2d_0/Relu6']).toEqual({ width: 16, height: 16, featureChannels: 8 })
      expect(net.nodes[5]).toMatchObject({ kernel: { width: 16, height: 16 }, offset: { x: 8, y: 8 }, edgeMode: 'clamp' })
      expect(net.images['MobilenetV1/Predictions/Softmax']).toEqual({ width: 1, height: 1, featureChannels: 10 })
      expect(net.outputs).toEqual([{ image: 'MobilenetV1/Predictions/Softmax', tfNode: 'MobilenetV1/Predictions/Softmax' }])
    })
  }
})
