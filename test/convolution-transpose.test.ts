/**
 * Conv2DBackpropInput -> an MPSCNNConvolutionTranspose layer and network node. TF's output is
 * computed here in float64 straight from the op's definition (the gradient of a convolution
 * with respect to its input); the laid-out weights are then read the way
 * MPSCNNConvolutionTranspose reads them (MPSCNNConvolution.h: the source with stride - 1
 * zeros between pixels, convolved with the weights as given, window centred at kernelOffset)
 * and must give the same values.
 */
import { describe, expect, it } from 'vitest'
import type { MpscnnNetworkNode } from '../src/base/manifest-types.js'
import { convertModel } from '../src/fold/convert.js'
import { buildNetwork } from '../src/network/index.js'
import { convertToAssets } from '../src/pipeline/convert-to-assets.js'
import { attr, float16BitsToFloat32, GraphBuilder } from './helpers/graph-builder.js'
import { convolutionTranspose, type TransposeCase } from './helpers/graphs.js'
import { silentlyDropped } from './helpers/no-silent-drops.js'

let seed = 11
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1
const randn = (n: number) => Float64Array.from({ length: n }, () => Math.fround(rand()))
const T = { T: attr.type('DT_FLOAT') }

type Case = TransposeCase

/** TF's padding before, for the forward convolution of an `size` input (nn_ops.cc GetWindowedOutputSize). */
function tfBefore(size: number, k: number, s: number, padding: 'SAME' | 'VALID'): number {
  if (padding === 'VALID') return 0
  const out = Math.ceil(size / s)
  return Math.floor(Math.max((out - 1) * s + k - size, 0) / 2)
}

/** Conv2DBackpropInput in float64: result[y][x][co] = sum dy[oy][ox][ci] * filter[ky][kx][co][ci] over oy*s + ky - top = y (and in x). */
function tfTranspose(c: Case, dy: Float64Array, f: Float64Array): Float64Array {
  const [kh, kw] = c.k
  const top = tfBefore(c.outH, kh, c.s, c.padding)
  const left = tfBefore(c.outW, kw, c.s, c.padding)
  const out = new Float64Array(c.outH * c.outW * c.cout)
  for (let oy = 0; oy < c.inH; oy++)
    for (let ox = 0; ox < c.inW; ox++)
      for (let ky = 0; ky < kh; ky++)
        for (let kx = 0; kx < kw; kx++) {
          const y = oy * c.s + ky - top
          const x = ox * c.s + kx - left
          if (y < 0 || y >= c.outH || x < 0 || x >= c.outW) continue
          for (let co = 0; co < c.cout; co++)
            for (let ci = 0; ci < c.cin; ci++) out[(y * c.outW + x) * c.cout + co] += dy[(oy * c.inW + ox) * c.cin + ci] * f[((ky * kw + kx) * c.cout + co) * c.cin + ci]
        }
  return out
}

/** MPSCNNConvolutionTranspose as its header describes it, reading weights [co][j][i][ci] as given. */
function mpsTranspose(c: Case, node: MpscnnNetworkNode, src: Float64Array, w: ArrayLike<number>): Float64Array {
  const [kh, kw] = c.k
  const s = node.stride!.x
  const at = (p: number, n: number) => (p >= 0 && p % s === 0 && p / s < n ? p / s : -1)
  const out = new Float64Array(c.outH * c.outW * c.cout)
  for (let y = 0; y < c.outH; y++)
    for (let x = 0; x < c.outW; x++)
      for (let j = 0; j < kh; j++)
        for (let i = 0; i < kw; i++) {
          const sy = at(node.kernelOffset!.y + node.offset.y * s + y - Math.floor(kh / 2) + j, c.inH)
          const sx = at(node.kernelOffset!.x + node.offset.x * s + x - Math.floor(kw / 2) + i, c.inW)
          if (sy < 0 || sx < 0) continue // a zero of the intermediate image, or outside it (edgeMode zero)
          for (let co = 0; co < c.cout; co++)
            for (let ci = 0; ci < c.cin; ci++) out[(y * c.outW + x) * c.cout + co] += src[(sy * c.inW + sx) * c.cin + ci] * w[((co * kh + j) * kw + i) * c.cin + ci]
        }
  return out
}

const build = (c: Case) => convolutionTranspose(c, randn)

describe('Conv2DBackpropInput becomes an MPSCNNConvolutionTranspose', () => {
  const cases: [string, Case][] = [
    ['SAME, stride 2, 3 x 3 -> 6 x 6', { inH: 3, inW: 3, outH: 6, outW: 6, k: [3, 3], s: 2, padding: 'SAME', cin: 2, cout: 3 }],
    ['SAME, stride 2, odd output 5 x 7, kernel 4 x 3', { inH: 3, inW: 4, outH: 5, outW: 7, k: [4, 3], s: 2, padding: 'SAME', cin: 3, cout: 2 }],
    ['VALID, stride 2, 3 x 3 -> 7 x 8, kernel 3 x 4', { inH: 3, inW: 3, outH: 7, outW: 8, k: [3, 4], s: 2, padding: 'VALID', cin: 2, cout: 2 }],
    ['SAME, stride 1, kernel 2', { inH: 4, inW: 4, outH: 4, outW: 4, k: [2, 2], s: 1, padding: 'SAME', cin: 1, cout: 4 }],
  ]
  it.each(cases)('%s: the laid-out weights read the MPS way give TF\'s output', (_, c) => {
    const { b, f, bias } = build(c)
    expect(silentlyDropped(b.encode(), 'up.pb')).toEqual([])
    const m = convertModel(b.encode(), { file: 'up.pb' })
    expect(m.layers).toHaveLength(1)
    expect(m.layers[0]).toMatchObject({ name: 'up', kind: 'convolutionTranspose', inputChannels: c.cin, outputChannels: c.cout, kernelHeight: c.k[0], kernelWidth: c.k[1], activation: 'relu', folded: ['up/BiasAdd'] })
    const net = buildNetwork(m.graph, 'up.pb', m.plans)
    expect(net.nodes).toHaveLength(1)
    const node = net.nodes[0]
    expect(node).toMatchObject({ kind: 'convolutionTranspose', layer: 'up', source: 'x', destination: 'up/Relu', edgeMode: 'zero', neuron: { type: 'relu' }, inputFeatureChannels: c.cin, outputFeatureChannels: c.cout })
    expect(net.images['up/Relu']).toEqual({ width: c.outW, height: c.outH, featureChannels: c.cout })
    const laid = m.layOut(0)
    const src = randn(c.inH * c.inW * c.cin)
    const want = tfTranspose(c, src, f)
    const got = mpsTranspose(c, node, src, laid.weights as Float32Array)
    for (let i = 0; i < want.length; i++) expect(got[i] + laid.bias[i % c.cout]).toBeCloseTo(want[i] + bias[i % c.cout], 5)
  })

  it('float16 and packed files hold the same layout; input_sizes that do not match out_backprop are SHAPE_MISMATCH', () => {
    const c: Case = { inH: 3, inW: 3, outH: 6, outW: 6, k: [3, 3], s: 2, padding: 'SAME', cin: 2, cout: 3 }
    const { b } = build(c)
    const bytes = b.encode()
    const f32 = convertModel(bytes, { file: 'up.pb' }).layOut(0).weights as Float32Array
    const half = convertToAssets({ bytes, sha256: null }, 'up.pb', { packed: true, align: 256, precision: 'float16' })
    expect(half.network!.nodes[0].kind).toBe('convolutionTranspose')
    const [packed] = [...half.files.values()]
    const bits = new Uint16Array(packed.buffer, packed.byteOffset, f32.length)
    for (let i = 0; i < f32.length; i++) expect(float16BitsToFloat32(bits[i])).toBeCloseTo(f32[i], 2)
    b.node('up/input_sizes').attr.value.tensor!.intVal = [1, 9, 9, 3]
    expect(() => convertToAssets({ bytes: b.encode(), sha256: null }, 'up.pb', { packed: false, align: 256, precision: 'float32' })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH', node: 'up/conv2d_transpose' }))
  })
})
