/**
 * Hostile inputs, built with the project's graph builder: small files that describe huge
 * tensors, long chains, zero-size tensors, inconsistent graphs, and their legitimate
 * neighbours (which must still convert).
 */
import { attr, GraphBuilder } from '../helpers/graph-builder.js'

const T = { T: attr.type('DT_FLOAT') }
const conv2dAttrs = { ...T, padding: attr.s('SAME'), strides: attr.ints([1, 1, 1, 1]) }

/** What converting an input must give: a refusal with this code at this node, or success. */
export type Expected = { code: string; node?: string; says: RegExp } | { ok: true; layers: number; warning?: RegExp }

export interface HostileInput {
  name: string
  /** The model's bytes, or a size for a (sparse) file of zeros. */
  bytes: Uint8Array | { zeros: number }
  expected: Expected
  /** Extra CLI arguments (the plugin gets the same option). */
  args?: string[]
}

function withInput(channels: number): GraphBuilder {
  const b = new GraphBuilder({ producer: 27 })
  b.placeholder('input', [1, 8, 8, channels])
  return b
}

function values(n: number): Float32Array {
  const v = new Float32Array(n)
  for (let i = 0; i < n; i++) v[i] = ((i * 37) % 23) / 23 - 0.5
  return v
}

/** A splat float32 constant: one value for the whole shape (a few bytes in the file). */
function splat(b: GraphBuilder, name: string, shape: number[], v = 0.5): string {
  return b.const(name, { dtype: 'float32', shape, values: [v], encoding: 'splat' })
}

/** input -> Conv2D with filter `filter` (a node name). */
function conv(b: GraphBuilder, scope: string, filter: string, input = 'input'): string {
  return b.op(`${scope}/Conv2D`, 'Conv2D', [input, filter], conv2dAttrs)
}

/** input [1,8,8,3] -> a 3x3 Conv2D with `out` output channels; returns the builder and the conv's name. */
function convLayer(out: number): { b: GraphBuilder; c: string } {
  const b = withInput(3)
  b.constF32('conv/weights', [3, 3, 3, out], values(3 * 3 * 3 * out))
  return { b, c: conv(b, 'conv', 'conv/weights') }
}

/** A splat filter [1,1,16384,16384] (1 GiB as float32), through `negs` Neg ops. */
export function splatBomb(negs = 0, shape = [1, 1, 16384, 16384]): Uint8Array {
  const b = withInput(shape[2])
  let w = splat(b, 'w', shape)
  for (let i = 1; i <= negs; i++) w = b.op(`neg/${i}`, 'Neg', [w], T)
  conv(b, 'conv', w)
  return b.encode()
}

/** `count` layers, each with its own 1 GiB splat filter. */
export function manySplats(count: number): Uint8Array {
  const b = withInput(16384)
  let x = 'input'
  for (let i = 0; i < count; i++) x = conv(b, `layer${i}`, splat(b, `layer${i}/w`, [1, 1, 16384, 16384]), x)
  return b.encode()
}

/** A legitimate expansion: a fully connected layer whose zero bias [1008] is a 20-byte splat. */
export function zeroBiasSplat(): Uint8Array {
  const b = new GraphBuilder({ producer: 27 })
  b.placeholder('input', [1, 16])
  b.constF32('fc/weights', [16, 1008], values(16 * 1008))
  b.op('fc/MatMul', 'MatMul', ['input', 'fc/weights'], T)
  b.const('fc/bias', { dtype: 'float32', shape: [1008], values: [0], encoding: 'splat' })
  b.op('fc/BiasAdd', 'BiasAdd', ['fc/MatMul', 'fc/bias'], T)
  return b.encode()
}

/** A convolution followed by a chain of `n` BiasAdd ops (sharing one bias constant). */
export function biasAddChain(n: number): Uint8Array {
  const { b, c } = convLayer(4)
  let x = c
  b.constF32('bias', [4], [0.25, -0.5, 1, 2])
  for (let i = 0; i < n; i++) x = b.op(`bias/${i}`, 'BiasAdd', [x, 'bias'], T)
  b.op('relu', 'Relu', [x], T)
  return b.encode()
}

/**
 * A chain of `n` BiasAdd ops on the network input, before a convolution: none can be folded.
 * `reversed`: the nodes listed consumers first (a GraphDef need not be in topological order).
 */
export function biasAddChainOnInput(n: number, reversed: boolean): Uint8Array {
  const b = withInput(3)
  b.constF32('bias', [3], [1, 2, 3])
  let x = 'input'
  for (let i = 0; i < n; i++) x = b.op(`bias/${i}`, 'BiasAdd', [x, 'bias'], T)
  b.constF32('conv/weights', [1, 1, 3, 4], values(12))
  conv(b, 'conv', 'conv/weights', x)
  if (reversed) b.nodes.reverse()
  return b.encode()
}

/** A layer whose weights have a zero dimension. */
export function zeroSizeConv(shape: number[]): Uint8Array {
  const b = withInput(shape[2])
  b.constF32('conv/weights', shape, [])
  conv(b, 'conv', 'conv/weights')
  return b.encode()
}

export function zeroSizeMatMul(shape: number[]): Uint8Array {
  const b = new GraphBuilder({ producer: 27 })
  b.placeholder('input', [1, shape[0]])
  b.constF32('fc/weights', shape, [])
  b.op('fc/MatMul', 'MatMul', ['input', 'fc/weights'], T)
  return b.encode()
}

/**
 * A 16-channel convolution and a batch norm spelled out the way tf.nn.batch_normalization
 * writes it, whose gamma has `gammaLength` values.
 */
export function spelledOutBn(gammaLength: number): Uint8Array {
  const { b, c } = convLayer(16)
  b.constF32('bn/variance', [16], new Float32Array(16).fill(1))
  b.constF32('bn/mean', [16], values(16))
  b.constF32('bn/beta', [16], values(16))
  b.constF32('bn/gamma', [gammaLength], new Float32Array(gammaLength).fill(2))
  b.constF32('bn/eps', [], [0.001])
  b.op('bn/add', 'Add', ['bn/variance', 'bn/eps'], T)
  b.op('bn/Rsqrt', 'Rsqrt', ['bn/add'], T)
  b.op('bn/mul', 'Mul', ['bn/Rsqrt', 'bn/gamma'], T)
  b.op('bn/mul_1', 'Mul', [c, 'bn/mul'], T)
  b.op('bn/mul_2', 'Mul', ['bn/mean', 'bn/mul'], T)
  b.op('bn/sub', 'Sub', ['bn/beta', 'bn/mul_2'], T)
  b.op('bn/add_1', 'Add', ['bn/mul_1', 'bn/sub'], T)
  return b.encode()
}

/** A 16-channel convolution times a constant of shape `shape` (NHWC). */
export function convTimes(shape: number[]): Uint8Array {
  const { b, c } = convLayer(16)
  let n = 1
  for (const d of shape) n *= d
  b.constF32('k', shape, values(n))
  b.op('mul', 'Mul', [c, 'k'], T)
  return b.encode()
}

const TOO_LARGE = /past its bound of 67\.1 MB.*raise the option maxExpansion/
const EMPTY_LAYER = /a layer without weights/
const NOT_BROADCAST = /do not broadcast|along the channels but the layer has 16 output channels/

/** Every hostile input and what converting it must give. */
export function hostileInputs(): HostileInput[] {
  return [
    { name: 'a 1 GiB splat filter in a ~200-byte file', bytes: splatBomb(), expected: { code: 'TOO_LARGE', node: 'w', says: TOO_LARGE } },
    { name: 'the same splat through 8 Neg ops', bytes: splatBomb(8), expected: { code: 'TOO_LARGE', node: 'w', says: TOO_LARGE } },
    { name: '40 such splats', bytes: manySplats(40), expected: { code: 'TOO_LARGE', node: 'layer0/w', says: TOO_LARGE } },
    // 4 MiB of splat, then 8 MiB per Neg: the 8th crosses 64 MiB.
    { name: 'a 4 MiB splat through 8 Neg ops: the total, not each tensor, is bounded', bytes: splatBomb(8, [1, 1, 1024, 1024]), expected: { code: 'TOO_LARGE', node: 'neg/8', says: TOO_LARGE } },
    { name: 'the same with --max-expansion 1000000: converts', bytes: splatBomb(8, [1, 1, 1024, 1024]), args: ['--max-expansion', '1000000'], expected: { ok: true, layers: 1 } },
    { name: 'a legitimate splat: a zero bias [1008] from 20 bytes', bytes: zeroBiasSplat(), expected: { ok: true, layers: 1 } },
    { name: 'a 1 GiB file of zeros', bytes: { zeros: 1 << 30 }, expected: { code: 'NOT_PROTOBUF', says: /not a TensorFlow GraphDef: field number 0 at byte 0/ } },
    { name: 'a chain of 30000 BiasAdd ops', bytes: biasAddChain(30000), expected: { ok: true, layers: 1 } },
    { name: 'Conv2D filter [3,3,0,4]', bytes: zeroSizeConv([3, 3, 0, 4]), expected: { code: 'BAD_SHAPE', node: 'conv/weights', says: /shape \[3, 3, 0, 4\]: zero input channels, a layer without weights/ } },
    { name: 'Conv2D filter [0,3,3,4]', bytes: zeroSizeConv([0, 3, 3, 4]), expected: { code: 'BAD_SHAPE', node: 'conv/weights', says: /zero kernel height/ } },
    { name: 'Conv2D filter [3,3,3,0]', bytes: zeroSizeConv([3, 3, 3, 0]), expected: { code: 'BAD_SHAPE', node: 'conv/weights', says: /zero output channels/ } },
    { name: 'MatMul weights [0,4]', bytes: zeroSizeMatMul([0, 4]), expected: { code: 'BAD_SHAPE', node: 'fc/weights', says: EMPTY_LAYER } },
    { name: 'a batch norm whose gamma has 15 values after a 16-channel convolution', bytes: spelledOutBn(15), expected: { code: 'SHAPE_MISMATCH', node: 'bn/mul', says: /Mul of constants of shapes \[16\] and \[15\], which do not broadcast/ } },
    { name: 'a 16-channel convolution times a [1,8,8,15] constant', bytes: convTimes([1, 8, 8, 15]), expected: { code: 'SHAPE_MISMATCH', node: 'mul', says: NOT_BROADCAST } },
    { name: 'a 16-channel convolution times a [1,8,8,1] constant, weights only: valid, not foldable, a warning', bytes: convTimes([1, 8, 8, 1]), args: ['--layers-only'], expected: { ok: true, layers: 1, warning: /Mul "mul"/ } },
    { name: 'a 16-channel convolution times a [1,8,8,1] constant, as a network: no MPS counterpart', bytes: convTimes([1, 8, 8, 1]), expected: { code: 'UNSUPPORTED_OP', node: 'mul', says: /Mul \(e\.g\. "mul"/ } },
  ]
}
