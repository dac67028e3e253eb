/**
 * Constant operands read as `y = x * scale + bias`, per channel or scalar: how an Add, Sub,
 * Mul, Div or BiasAdd with a constant side becomes one neuron or batch-norm encode, or part
 * of the input's preprocessing (ops.ts `arithmetic`).
 */
import type { NodeDef } from '../graphdef/schema.js'
import type { Builder } from './builder.js'

/**
 * A constant operand as per-channel (or scalar) scale and bias of `y = x * scale + bias`
 * for op `n` whose activation is at input `at`; null when it is not such an affine op.
 */
export function affineOf(b: Builder, n: NodeDef, at: number, channels: number, channelAxisLast: boolean): { scale: number[]; bias: number[] } | null {
  const other = at === 0 ? 1 : 0
  const c = b.constant(n, other)
  if (!c) return null
  let len = 1
  for (let d = 0; d < c.shape.length; d++) {
    const last = d === c.shape.length - 1
    if (c.shape[d] === 1) continue
    if (!(channelAxisLast ? last : c.shape.length - d === 3)) return null
    len = c.shape[d]
  }
  if (len !== 1 && len !== channels) return null
  const v = Array.from(c.data.subarray(0, len))
  const ones = v.map(() => 1)
  const zeros = v.map(() => 0)
  switch (n.op) {
    case 'BiasAdd':
      return at === 0 ? { scale: ones, bias: v } : null
    case 'Add':
    case 'AddV2':
      return { scale: ones, bias: v }
    case 'Sub':
      return at === 0 ? { scale: ones, bias: v.map((x) => -x) } : { scale: v.map(() => -1), bias: v }
    case 'Mul':
      return { scale: v, bias: zeros }
    case 'RealDiv':
    case 'Div':
      return at === 0 ? { scale: v.map((x) => 1 / x), bias: zeros } : null
    default:
      return null
  }
}

/** `y = (x * s1 + b1) * s2 + b2`, per channel (a scalar side broadcasts). */
export function compose(a: { scale: number[]; bias: number[] }, b: { scale: number[]; bias: number[] }): { scale: number[]; bias: number[] } {
  const n = Math.max(a.scale.length, b.scale.length)
  const at = (x: number[], i: number) => (x.length === 1 ? x[0] : x[i])
  const scale: number[] = []
  const bias: number[] = []
  for (let i = 0; i < n; i++) {
    scale.push(at(a.scale, i) * at(b.scale, i))
    bias.push(at(a.bias, i) * at(b.scale, i) + at(b.bias, i))
  }
  return { scale, bias }
}

export const isIdentity = (a: { scale: number[]; bias: number[] }) => a.scale.every((s) => s === 1) && a.bias.every((x) => x === 0)
