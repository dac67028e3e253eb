/**
 * A MobileNet v1 laid out the way TF-slim exports it (weights and BN parameters behind
 * Identity `/read` nodes, Relu6, depthwise + pointwise blocks, a 1x1 conv classifier with
 * BiasAdd), with both of slim's batch-norm spellings: FusedBatchNorm, and the older
 * spelled-out `BatchNorm/batchnorm/{add,Rsqrt,mul,mul_1,mul_2,sub,add_1}`.
 */
import { describe, expect, it } from 'vitest'
import { convertModel } from '../src/fold/convert.js'
import { buildNetwork } from '../src/network/index.js'
import { encodeGraphDef } from './helpers/graph-builder.js'
import { slimMobilenet } from './helpers/graphs.js'
import { silentlyDropped } from './helpers/no-silent-drops.js'
import { formatGraphDefText } from './helpers/pbtxt-writer.js'

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
