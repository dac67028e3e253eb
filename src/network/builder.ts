/**
 * The state of one network description being built: what each TF tensor is (an image, a
 * flattened image, an explicitly padded image, a shape computed from known shapes, a
 * value before the network input, ...), the encodes emitted so far, and the ops that have
 * no MPS counterpart. The op table (ops.ts) fills it in; index.ts drives it.
 */
import { MpscnnError } from '../base/errors.js'
import type { MpscnnImage, MpscnnNetworkInput, MpscnnNetworkNode } from '../base/manifest-types.js'
import type { NodeDef } from '../graphdef/schema.js'
import { attrInts, attrString } from '../fold/attrs.js'
import { ConstantFolder } from '../fold/constant.js'
import { Graph, type InputRef } from '../fold/graph.js'
import type { LayerPlan } from '../fold/plan-layers.js'
import type { Tensor } from '../graphdef/tensor.js'

/** A 4-D activation `[1, h, w, c]` (`[1, c, h, w]` when `nchw`) held in MPS image `image`. */
interface ImageValue {
  t: 'image'
  image: string
  h: number
  w: number
  c: number
  nchw: boolean
}

/**
 * A rank-2 activation `[1, h * w * c]`: image `image` (h x w x c) flattened, in H, W, C
 * order, or C, H, W order when `chw`. `tf` is the node that flattened it.
 */
interface FlatValue {
  t: 'flat'
  image: string
  h: number
  w: number
  c: number
  chw: boolean
  tf: string
}

/** An image behind an explicit zero `Pad`, folded into the kernel that reads it. */
interface PaddedValue {
  t: 'padded'
  of: ImageValue
  top: number
  bottom: number
  left: number
  right: number
  tf: string
}

/** Integers known once shapes are known (Keras' Flatten: Shape, StridedSlice, Prod, Pack). */
interface IntsValue {
  t: 'ints'
  shape: number[]
  data: number[]
}

/** Uniform noise in [lo, hi) (dropout's RandomUniform), or a constant splat once floored. */
export interface NoiseValue {
  t: 'noise'
  lo: number
  hi: number
  /** Floored to the one integer `lo` everywhere. */
  floored?: boolean
}

/** A value before the network input: decoding, casting, resizing; then constant affine preprocessing. */
export interface PreValue {
  t: 'pre'
  /** `-1` for an unknown dimension; null for an unknown rank. */
  shape: number[] | null
  placeholder: string
  before: { name: string; op: string }[]
  affine?: { scale: number[]; bias: number[]; tf: string[]; from: string }
}

type Value = ImageValue | FlatValue | PaddedValue | IntsValue | NoiseValue | PreValue | { t: 'const' } | { t: 'unknown' }
export type Activation = ImageValue | FlatValue

type Node = MpscnnNetworkNode

export interface NetworkOptions {
  /** `[height, width, channels]` of the input, where the placeholder's shape leaves them unknown. */
  inputShape?: readonly number[]
  /** Output tensors (`node` or `node:k`); default: the graph's sinks. */
  outputs?: readonly string[]
}

export function tensorKey(ref: InputRef): string {
  return ref.output === 0 ? ref.name : `${ref.name}:${ref.output}`
}

export class Builder {
  readonly folder: ConstantFolder
  readonly values = new Map<string, Value>()
  readonly nodes: Node[] = []
  readonly images = new Map<string, MpscnnImage>()
  readonly inputs: MpscnnNetworkInput[] = []
  readonly inputImages = new Set<string>()
  /** Op type -> [example node, why], in the order found. */
  readonly unsupported = new Map<string, [string, string]>()
  /** Layer plans by the node that starts them, and the node each folded op belongs to. */
  readonly layerAt = new Map<string, LayerPlan>()
  readonly foldedInto = new Map<string, Node>()
  private readonly reshaped = new Map<string, string>()

  constructor(
    readonly graph: Graph,
    readonly file: string,
    plans: readonly LayerPlan[],
    readonly options: NetworkOptions,
  ) {
    this.folder = new ConstantFolder(graph)
    for (const p of plans) this.layerAt.set(p.info.node, p)
  }

  error(code: string, node: string | undefined, problem: string, hint?: string): never {
    throw new MpscnnError(code, this.file, problem, { node, hint })
  }

  refuse(node: NodeDef, why: string): void {
    if (!this.unsupported.has(node.op)) this.unsupported.set(node.op, [node.name, why])
  }

  ref(node: NodeDef, i: number): InputRef {
    return this.graph.input(node, i)
  }

  value(node: NodeDef, i: number): Value {
    const ref = this.ref(node, i)
    return this.values.get(tensorKey(ref)) ?? { t: 'const' }
  }

  set(node: NodeDef, v: Value, output = 0): void {
    this.values.set(tensorKey({ name: node.name, output }), v)
  }

  /** The constant at input i (through PlaceholderWithDefault and dropout's floored noise), or null. */
  constant(node: NodeDef, i: number): Tensor | null {
    const ref = this.ref(node, i)
    const v = this.values.get(tensorKey(ref))
    if (v?.t === 'noise' && v.floored) {
      return { dtype: 1, shape: [], data: Float64Array.of(Math.floor(v.lo)) }
    }
    if (v && v.t !== 'const') return null
    const src = this.graph.node(this.graph.source(ref).name)
    if (src?.op === 'PlaceholderWithDefault') return this.folder.value(this.graph.input(src, 0))
    return this.folder.value(ref)
  }

  /** Integers at input i: a constant, or computed from known shapes. */
  ints(node: NodeDef, i: number): IntsValue | null {
    const v = this.value(node, i)
    if (v.t === 'ints') return v
    const c = this.constant(node, i)
    return c ? { t: 'ints', shape: c.shape, data: Array.from(c.data) } : null
  }

  /** The TF shape of a value, as `Shape` would give it (batch 1). */
  shapeOf(v: Value): number[] | null {
    switch (v.t) {
      case 'image':
        return v.nchw ? [1, v.c, v.h, v.w] : [1, v.h, v.w, v.c]
      case 'flat':
        return [1, v.h * v.w * v.c]
      case 'ints':
        return v.shape
      case 'pre':
        return v.shape && v.shape.every((d) => d >= 0) ? v.shape : null
      default:
        return null
    }
  }

  image(name: string, h: number, w: number, c: number): string {
    this.images.set(name, { width: w, height: h, featureChannels: c })
    return name
  }

  emit(n: Partial<Node> & Pick<Node, 'kind' | 'name' | 'tf' | 'source' | 'destination'>): Node {
    // Key order as documented, whatever the caller gave first.
    const { kind, name, tf, source, destination, offset = { x: 0, y: 0 }, edgeMode = 'zero', destinationFeatureChannelOffset = 0, neuron = null, ...rest } = n
    const node: Node = { kind, name, tf, source, destination, offset, edgeMode, destinationFeatureChannelOffset, neuron, ...rest }
    this.nodes.push(node)
    return node
  }

  /**
   * The activation at input i of `node`, as an image or a flattened image. A value still
   * before the network becomes the network's input here; null when it is neither.
   */
  activation(node: NodeDef, i: number): Activation | null {
    const ref = this.ref(node, i)
    const key = tensorKey(ref)
    const v = this.values.get(key)
    if (!v) return null
    if (v.t === 'image' || v.t === 'flat') return v
    if (v.t === 'pre') {
      // An NCHW kernel reading the input says how to read its shape.
      const a = this.materializeInput(key, v, attrString(node, 'data_format', 'NHWC') === 'NCHW')
      this.values.set(key, a)
      return a
    }
    return null
  }

  /** Why input i of `node` is not an activation, for its refusal. */
  notAnImage(node: NodeDef, i: number): string {
    const v = this.value(node, i)
    if (v.t === 'padded') return `it reads the explicit ${JSON.stringify(v.tf)}, which MPS folds only into a convolution or a max pool`
    if (v.t === 'ints') return 'it reads integers (a shape), not an image'
    if (v.t === 'noise') return 'it reads random numbers'
    return 'its input is not an image'
  }

  /** The image holding a flattened value as 1 x 1 x n: the image itself, or a `reshape` encode. */
  flatImage(v: Activation): string | null {
    if (v.t === 'image') return v.image
    if (v.h === 1 && v.w === 1) return v.image
    if (v.chw) return null // MPS reshapes in H, W, C order
    let name = this.reshaped.get(v.tf)
    if (!name) {
      name = this.image(v.tf, 1, 1, v.h * v.w * v.c)
      this.emit({ kind: 'reshape', name: v.tf, tf: [v.tf], source: v.image, destination: name })
      this.reshaped.set(v.tf, name)
    }
    return name
  }

  /** A value before the network becomes its input: image named after the tensor, with its preprocessing. */
  private materializeInput(key: string, v: PreValue, nchw: boolean): Activation {
    const given = this.options.inputShape
    const shape = v.shape
    let h: number
    let w: number
    let c: number
    const show = shape ? `[${shape.map((d) => (d < 0 ? '?' : d)).join(', ')}]` : 'unknown'
    const need = (why: string): never =>
      this.error('INPUT_SHAPE', v.placeholder, `the network input ${JSON.stringify(key)} has shape ${show}: ${why}`, 'Give its size with the option inputShape: [height, width, channels] (CLI --input-shape 224,224,3)')
    if (shape && shape.length === 2 && shape[1] > 0) {
      h = 1
      w = 1
      c = shape[1]
    } else {
      if (shape && shape.length !== 4) need('an image input must have rank 4 [batch, height, width, channels]')
      const dims = shape ? (nchw ? [shape[2], shape[3], shape[1]] : shape.slice(1)) : [-1, -1, -1]
      if (given) {
        for (let d = 0; d < 3; d++) {
          if (dims[d] >= 0 && dims[d] !== given[d]) need(`inputShape [${given.join(', ')}] contradicts it`)
          dims[d] = given[d]
        }
      }
      if (dims.some((d) => d < 0)) need('its height, width or channels are unknown')
      ;[h, w, c] = dims
    }
    const image = this.image(key, h, w, c)
    const input: MpscnnNetworkInput = { image, tfNode: key, placeholder: v.placeholder, before: v.before }
    if (v.affine) {
      const widen = (a: number[]) => (a.length === 1 ? new Array<number>(c).fill(a[0]) : a)
      input.preprocess = { scale: widen(v.affine.scale), bias: widen(v.affine.bias), tf: v.affine.tf, from: v.affine.from }
    }
    this.inputs.push(input)
    this.inputImages.add(image)
    return shape && shape.length === 2 ? { t: 'flat', image, h: 1, w: 1, c, chw: false, tf: key } : { t: 'image', image, h, w, c, nchw }
  }

  /** `[h, w]` indices of a 4-D attribute list for the node's data_format. */
  hw(node: NodeDef, key: string): [number, number] {
    const nchw = attrString(node, 'data_format', 'NHWC') === 'NCHW'
    const v = attrInts(node, key, [1, 1, 1, 1])
    return nchw ? [v[2] ?? 1, v[3] ?? 1] : [v[1] ?? 1, v[2] ?? 1]
  }
}

/**
 * One spatial dimension of a window, as TensorFlow pads it: destination size and MPS
 * `offset` (source position of the centre of destination pixel 0's window, whose first
 * tap is `offset - floor(kEff / 2)`). `before`/`after` are explicit zero pads folded in.
 */
export function window(size: number, k: number, stride: number, dilation: number, padding: 'same' | 'valid', before = 0, after = 0): { out: number; offset: number } {
  const kEff = (k - 1) * dilation + 1
  const padded = size + before + after
  let out: number
  let padBefore = 0
  if (padding === 'same') {
    out = Math.ceil(padded / stride)
    padBefore = Math.floor(Math.max((out - 1) * stride + kEff - padded, 0) / 2)
  } else {
    out = Math.floor((padded - kEff) / stride) + 1
  }
  return { out, offset: -(before + padBefore) + Math.floor(kEff / 2) }
}
