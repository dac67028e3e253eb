/**
 * The affine ops on the network input (Inception's `Sub 128, Mul 1/128` after the decoded
 * image, or a per-channel mean/std normalization on a Placeholder) cannot be folded into
 * a layer: the message says they are the input's preprocessing and gives the composed
 * `y = x * scale + bias`, which the app must apply. Other unfolded ops keep the warning.
 */
import { describe, expect, it } from 'vitest'
import { convertModel } from '../src/fold/convert.js'
import { attr, encodeGraphDef, GraphBuilder } from './helpers/graph-builder.js'
import { makeInceptionV3_2015 } from './helpers/inception.js'

const T = { T: attr.type('DT_FLOAT') }

/** `input` [1, 8, 8, c] -> ops -> a 1x1 Conv2D (`conv/weights`, c -> 2). */
function withConv(b: GraphBuilder, input: string, c: number): void {
  b.const('conv/weights', { shape: [1, 1, c, 2], values: Float32Array.from({ length: c * 2 }, (_, i) => i / 10) })
  b.op('conv/Conv2D', 'Conv2D', [input, 'conv/weights'], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
}

const warningsOf = (b: GraphBuilder) => convertModel(encodeGraphDef(b.graph()), { file: 'net.pb' }).warnings

/** The numbers of `name [a, b, ...]` in a message. */
function valuesAfter(text: string, name: string): number[] {
  const m = new RegExp(`${name} \\[([^\\]]*)\\]`).exec(text)
  if (!m) return expect.fail(`no "${name} [...]" in ${text}`)
  return m[1].split(', ').map(Number)
}

describe("the input's preprocessing", () => {
  it('Inception v3 (DecodeJpeg, Cast, ExpandDims, ResizeBilinear, Sub 128, Mul 1/128): named as preprocessing, y = x * 0.0078125 + -1', () => {
    const { bytes } = makeInceptionV3_2015({ scale: 32, seed: 7 })
    expect(convertModel(bytes, { file: 'inception_v3.pb' }).warnings).toEqual([
      `inception_v3.pb: the input's preprocessing, Sub "Sub", Mul "Mul", is not part of the weights: the app must apply it to the input "DecodeJpeg" before the first layer: y = x * 0.0078125 + -1 (every channel)`,
    ])
  })

  it('per-channel mean and std on a Placeholder: the composed scale and bias, per channel', () => {
    const b = new GraphBuilder()
    b.placeholder('image', [1, 8, 8, 3])
    const mean = [123.68, 116.78, 103.94]
    const std = [58.4, 57.12, 57.38]
    b.const('norm/mean', { shape: [3], values: Float32Array.from(mean) })
    b.const('norm/std', { shape: [1, 1, 1, 3], values: Float32Array.from(std) })
    b.op('norm/sub', 'Sub', ['image', 'norm/mean'], T)
    b.op('norm/read', 'Identity', ['norm/sub'])
    b.op('norm/div', 'RealDiv', ['norm/read', 'norm/std'], T)
    withConv(b, 'norm/div', 3)
    const w = warningsOf(b)
    expect(w).toHaveLength(1)
    expect(w[0]).toMatch(/^net\.pb: the input's preprocessing, Sub "norm\/sub", RealDiv "norm\/div", is not part of the weights: the app must apply it to the input "image" before the first layer: y = x \* scale \+ bias per channel, /)
    const scale = valuesAfter(w[0], 'scale')
    const bias = valuesAfter(w[0], 'bias')
    mean.forEach((m, i) => {
      expect(scale[i]).toBeCloseTo(1 / Math.fround(std[i]), 6)
      expect(bias[i]).toBeCloseTo(-Math.fround(m) / Math.fround(std[i]), 4)
    })
  })

  it('a long vector is abridged: its first 8 values and the count', () => {
    const b = new GraphBuilder()
    b.placeholder('x', [1, 4, 4, 20])
    b.const('s', { shape: [20], values: Float32Array.from({ length: 20 }, (_, i) => i + 1) })
    b.op('scale', 'Mul', ['s', 'x'], T)
    withConv(b, 'scale', 20)
    const [w] = warningsOf(b)
    expect(w).toContain('scale [1, 2, 3, 4, 5, 6, 7, 8, ... (20 values)], bias [0, 0, 0, 0, 0, 0, 0, 0, ... (20 values)]')
  })

  it('an affine op that is not on the input keeps the "not folded" warning', () => {
    const b = new GraphBuilder()
    b.placeholder('x', [1, 4, 4, 3])
    withConv(b, 'x', 3)
    b.const('shift', { shape: [2], values: Float32Array.from([1, 2]) })
    b.op('side', 'Relu', ['conv/Conv2D'])
    b.op('after', 'Add', ['conv/Conv2D', 'shift'], T) // the conv has two consumers: not folded
    expect(warningsOf(b)).toEqual(['net.pb: 1 batch-norm or affine op was not folded into any layer and must be applied by the app: Add "after"'])
  })
})
