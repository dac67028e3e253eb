/**
 * Small graphs for the folding and layout tests: a 1x1 Conv2D over one input channel, whose
 * MPSCNN weights are simply w[o] * scale[o], so that expected values can be worked out by hand.
 */
import { convertModel, type ConvertedModel } from '../../src/fold/convert.js'
import { attr, GraphBuilder } from './graph-builder.js'

export interface Conv1x1Options {
  /** @default 'NHWC' */
  format?: 'NHWC' | 'NCHW'
  /** @default 'input' */
  input?: string
  /** @default 'conv' */
  name?: string
}

/** input -> Conv2D `conv` with a [1, 1, 1, weights.length] filter `conv/weights`; returns the Conv2D's name. */
export function conv1x1(b: GraphBuilder, weights: readonly number[], o: Conv1x1Options = {}): string {
  const input = o.input ?? 'input'
  const name = o.name ?? 'conv'
  const nchw = o.format === 'NCHW'
  if (!b.has(input)) b.placeholder(input, nchw ? [1, 1, 2, 2] : [1, 2, 2, 1])
  b.constF32(`${name}/weights`, [1, 1, 1, weights.length], weights)
  return b.op(name, 'Conv2D', [input, `${name}/weights`], {
    T: attr.type('DT_FLOAT'),
    strides: attr.ints([1, 1, 1, 1]),
    padding: attr.s('VALID'),
    data_format: attr.s(o.format ?? 'NHWC'),
  })
}

/** Converts the graph `b` (binary GraphDef, file `case.pb` unless given). */
export function convert(b: GraphBuilder, file = 'case.pb'): ConvertedModel {
  return convertModel(b.encode(), { file })
}

/** The first layer's laid-out weights and bias, as plain arrays, with the nodes folded into it. */
export function firstLayer(b: GraphBuilder): { weights: number[]; bias: number[]; folded: string[]; warnings: string[] } {
  const m = convert(b)
  const l = m.layOut(0)
  return { weights: Array.from(l.weights), bias: Array.from(l.bias), folded: l.info.folded, warnings: m.warnings }
}
