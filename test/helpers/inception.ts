/**
 * Generates Inception v3 as TensorFlow shipped it in December 2015
 * (`classify_image_graph_def.pb` in `inception-2015-12-05.tgz`): the same node names, ops,
 * attributes and topology (DecodeJpeg preprocessing; per layer `conv2d_params`, `Conv2D`,
 * `BatchNormWithGlobalNormalization`, `CheckNumerics`, an `Identity` with a control input
 * and `Relu`; pools, `Concat` joins, `softmax`), the layer shapes of
 * `test/fixtures/inception_v3_2015_layers.json`, and seeded random weights.
 *
 * `scale` divides every channel count (at least 4; the 3 image channels and the 1008
 * classes are kept), the rule of `../shared/fixtures/inception_v3_2015_mini.pb`: scale 8
 * gives exactly its shapes. At scale 1 the file is the size of the real one.
 *
 * Next to the bytes, each weight layer's expected MPSCNN weights and bias are computed by a
 * plain float64 reference (see {@link referenceFoldConv}, {@link referenceFullyConnected}):
 * the oracle the converter is tested against.
 *
 * No vitest import: usable from `bench/` and scripts (`npx tsx`).
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs'
import type { AttrValue, NodeDef } from '../../src/graphdef/schema.js'
import { attr, concatBytes, encodeNodeRecord, encodeVersionsRecord, makeTensor, type ConstDtype } from './graph-builder.js'

export interface LayerRow {
  name: string
  op: 'Conv2D' | 'MatMul'
  /** MPSCNN weight shape [out, kernelH, kernelW, in]. */
  shape: [number, number, number, number]
  stride?: number
  padding?: 'SAME' | 'VALID'
}

export interface ExpectedLayer {
  /** Layer name as Apple's sample names its files (`weights_<name>.dat`). */
  name: string
  /** The node path prefix in the graph, e.g. `mixed_9/tower/mixed/conv`; `softmax` for the classifier. */
  node: string
  kind: 'conv' | 'fullyConnected'
  /** [out, kernelH, kernelW, in]. */
  shape: [number, number, number, number]
  /** 1 for the fully connected layer. */
  stride: number
  /** 'valid' for the fully connected layer. */
  padding: 'same' | 'valid'
  /** Folded weights, float32 `[out][kernelH][kernelW][in]`. Empty when `expected: false`. */
  weights: Float32Array
  /** Folded bias, float32 `[out]`. Empty when `expected: false`. */
  bias: Float32Array
}

export interface InceptionOptions {
  /** Channel divisor (>= 1). Default 1, the full-size model. */
  scale?: number
  /** PRNG seed. Default 1. */
  seed?: number
  /** Compute the expected folded weights (default true). `false` saves ~95 MB at scale 1. */
  expected?: boolean
}

export interface InceptionGraph {
  bytes: Uint8Array
  layers: ExpectedLayer[]
}

/** The 95 rows of `test/fixtures/inception_v3_2015_layers.json`, in graph order. */
export function inceptionLayerTable(): LayerRow[] {
  const url = new URL('../fixtures/inception_v3_2015_layers.json', import.meta.url)
  return JSON.parse(readFileSync(url, 'utf8')) as LayerRow[]
}

/** The channel rule of the mini fixture: `max(4, round(c / scale))`, identity at scale 1. */
export function scaleChannels(c: number, scale: number): number {
  return scale === 1 ? c : Math.max(4, Math.round(c / scale))
}

/** Node path prefix -> layer name (`mixed_9/tower/mixed/conv` -> `mixed_9_tower_mixed_conv`). */
export function layerNameOf(nodePrefix: string): string {
  return nodePrefix.replaceAll('/', '_')
}

/** Seeded PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface BatchNormParams {
  beta: Float32Array
  gamma: Float32Array
  mean: Float32Array
  variance: Float32Array
}

/**
 * The reference fold of Conv2D + BatchNormWithGlobalNormalization(scale_after_normalization)
 * into MPSCNN weights, in float64, written as plainly as possible:
 * `s[o] = gamma[o] / sqrt(variance[o] + eps)`, `W'[o][y][x][i] = W[y][x][i][o] * s[o]`,
 * `b'[o] = beta[o] - mean[o] * s[o]`. `w` is TensorFlow's HWIO `[kh][kw][in][out]`.
 */
export function referenceFoldConv(
  w: Float32Array,
  hwio: readonly [number, number, number, number],
  bn: BatchNormParams,
  epsilon: number,
): { weights: Float32Array; bias: Float32Array } {
  const [kh, kw, cin, cout] = hwio
  if (w.length !== kh * kw * cin * cout) throw new Error(`weights have ${w.length} values, shape needs ${kh * kw * cin * cout}`)
  const weights = new Float32Array(cout * kh * kw * cin)
  const bias = new Float32Array(cout)
  for (let o = 0; o < cout; o++) {
    const s = bn.gamma[o] / Math.sqrt(bn.variance[o] + epsilon)
    bias[o] = bn.beta[o] - bn.mean[o] * s
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        for (let i = 0; i < cin; i++) {
          const src = ((y * kw + x) * cin + i) * cout + o
          const dst = ((o * kh + y) * kw + x) * cin + i
          weights[dst] = w[src] * s
        }
      }
    }
  }
  return { weights, bias }
}

/** The reference MatMul + BiasAdd layer: `W'[o][0][0][i] = W[i][o]`, bias = biases. */
export function referenceFullyConnected(
  w: Float32Array,
  inOut: readonly [number, number],
  biases: Float32Array,
): { weights: Float32Array; bias: Float32Array } {
  const [cin, cout] = inOut
  if (w.length !== cin * cout) throw new Error(`weights have ${w.length} values, shape needs ${cin * cout}`)
  const weights = new Float32Array(cout * cin)
  for (let o = 0; o < cout; o++) for (let i = 0; i < cin; i++) weights[o * cin + i] = w[i * cout + o]
  return { weights, bias: Float32Array.from(biases) }
}

/** The BN epsilon of the 2015 graph, as the float attr stores it. */
export const INCEPTION_BN_EPSILON = Math.fround(0.001)

const T_FLOAT: AttrValue = attr.type('DT_FLOAT')

interface Sink {
  node(n: NodeDef): void
}

/**
 * Emits the graph node by node into `sink` (in graph order) and returns the expected layers.
 * The big tensors are handed to the sink as views of freshly generated Float32Arrays and not
 * kept, so peak memory is the encoded output (plus the expected values when asked for).
 */
function generate(opts: InceptionOptions, sink: Sink): ExpectedLayer[] {
  const scale = opts.scale ?? 1
  const withExpected = opts.expected ?? true
  if (!(scale >= 1) || !Number.isFinite(scale)) throw new Error(`scale must be a finite number >= 1, got ${scale}`)
  const rand = mulberry32(opts.seed ?? 1)
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * rand()

  const table = inceptionLayerTable()
  let row = 0
  const channels = new Map<string, number>()
  const layers: ExpectedLayer[] = []

  const emit = (name: string, op: string, input: string[], attrs: Record<string, AttrValue>): string => {
    const sorted: Record<string, AttrValue> = {}
    for (const k of Object.keys(attrs).sort()) sorted[k] = attrs[k]
    sink.node({ name, op, input, attr: sorted })
    return name
  }
  const constNode = (name: string, dtype: ConstDtype, shape: number[], values: ArrayLike<number>, encoding: 'content' | 'floatVal') => {
    const t = makeTensor({ dtype, shape, values, encoding })
    return emit(name, 'Const', [], { dtype: attr.type(t.dtype!), value: attr.tensor(t) })
  }
  const randomArray = (n: number, lo: number, hi: number) => {
    const a = new Float32Array(n)
    for (let k = 0; k < n; k++) a[k] = uniform(lo, hi)
    return a
  }
  const nextRow = (prefix: string, op: LayerRow['op']): LayerRow => {
    const r = table[row++]
    const name = layerNameOf(prefix)
    if (!r || r.name !== name || r.op !== op) throw new Error(`layer table row ${row - 1} is ${r?.name} (${r?.op}), the graph has ${name} (${op})`)
    return r
  }

  const conv = (prefix: string, input: string): string => {
    const r = nextRow(prefix, 'Conv2D')
    const [outFull, kh, kw, inFull] = r.shape
    const cin = channels.get(input)!
    const cout = scaleChannels(outFull, scale)
    if (scale === 1 && cin !== inFull) throw new Error(`${r.name}: input has ${cin} channels, the table says ${inFull}`)
    const stride = r.stride ?? 1
    const padding = r.padding ?? 'SAME'

    const limit = Math.sqrt(3 / (kh * kw * cin))
    const w = randomArray(kh * kw * cin * cout, -limit, limit)
    const bn: BatchNormParams = {
      beta: randomArray(cout, -0.5, 0.5),
      gamma: randomArray(cout, 0.5, 1.5),
      mean: randomArray(cout, -0.5, 0.5),
      variance: randomArray(cout, 0.25, 1.25),
    }
    const expected = withExpected ? referenceFoldConv(w, [kh, kw, cin, cout], bn, INCEPTION_BN_EPSILON) : undefined

    const params = constNode(`${prefix}/conv2d_params`, 'float32', [kh, kw, cin, cout], w, 'content')
    const c = emit(`${prefix}/Conv2D`, 'Conv2D', [input, params], {
      T: T_FLOAT,
      padding: attr.s(padding),
      strides: attr.ints([1, stride, stride, 1]),
      use_cudnn_on_gpu: attr.b(true),
    })
    const beta = constNode(`${prefix}/batchnorm/beta`, 'float32', [cout], bn.beta, 'content')
    const gamma = constNode(`${prefix}/batchnorm/gamma`, 'float32', [cout], bn.gamma, 'content')
    const mean = constNode(`${prefix}/batchnorm/moving_mean`, 'float32', [cout], bn.mean, 'content')
    const variance = constNode(`${prefix}/batchnorm/moving_variance`, 'float32', [cout], bn.variance, 'content')
    const norm = emit(`${prefix}/batchnorm`, 'BatchNormWithGlobalNormalization', [c, mean, variance, beta, gamma], {
      T: T_FLOAT,
      scale_after_normalization: attr.b(true),
      variance_epsilon: attr.f(0.001),
    })
    const check = emit(`${prefix}/CheckNumerics`, 'CheckNumerics', [norm], {
      T: T_FLOAT,
      message: attr.s('ReLU input is not properly batch normalized.'),
    })
    const dep = emit(`${prefix}/control_dependency`, 'Identity', [norm, `^${check}`], { T: T_FLOAT })
    const relu = emit(prefix, 'Relu', [dep], { T: T_FLOAT })
    channels.set(relu, cout)

    layers.push({
      name: r.name,
      node: prefix,
      kind: 'conv',
      shape: [cout, kh, kw, cin],
      stride,
      padding: padding === 'SAME' ? 'same' : 'valid',
      weights: expected?.weights ?? new Float32Array(0),
      bias: expected?.bias ?? new Float32Array(0),
    })
    return relu
  }

  const pool = (name: string, op: 'MaxPool' | 'AvgPool', input: string, k: number, s: number, padding: 'SAME' | 'VALID') => {
    emit(name, op, [input], { T: T_FLOAT, ksize: attr.ints([1, k, k, 1]), padding: attr.s(padding), strides: attr.ints([1, s, s, 1]) })
    channels.set(name, channels.get(input)!)
    return name
  }

  const concat = (name: string, inputs: string[]) => {
    const dim = constNode(`${name}/concat_dim`, 'int32', [], [3], 'floatVal')
    emit(name, 'Concat', [dim, ...inputs], { N: attr.i(inputs.length), T: T_FLOAT })
    channels.set(name, inputs.reduce((sum, i) => sum + channels.get(i)!, 0))
    return name
  }

  // Preprocessing: JPEG bytes -> float [1, 299, 299, 3] in [-1, 1].
  emit('DecodeJpeg/contents', 'Placeholder', [], { dtype: attr.type('DT_STRING'), shape: attr.shape([]) })
  emit('DecodeJpeg', 'DecodeJpeg', ['DecodeJpeg/contents'], {
    acceptable_fraction: attr.f(1),
    channels: attr.i(3),
    fancy_upscaling: attr.b(true),
    ratio: attr.i(1),
    try_recover_truncated: attr.b(false),
  })
  emit('Cast', 'Cast', ['DecodeJpeg'], { DstT: T_FLOAT, SrcT: attr.type('DT_UINT8') })
  constNode('ExpandDims/dim', 'int32', [], [0], 'floatVal')
  // The reference mini graph stores Tdim as the int 3 (DT_INT32's number), not as a type: kept as is.
  emit('ExpandDims', 'ExpandDims', ['Cast', 'ExpandDims/dim'], { T: T_FLOAT, Tdim: attr.i(3) })
  constNode('ResizeBilinear/size', 'int32', [2], [299, 299], 'content')
  emit('ResizeBilinear', 'ResizeBilinear', ['ExpandDims', 'ResizeBilinear/size'], { T: T_FLOAT, align_corners: attr.b(false) })
  constNode('Sub/y', 'float32', [], [128], 'floatVal')
  emit('Sub', 'Sub', ['ResizeBilinear', 'Sub/y'], { T: T_FLOAT })
  constNode('Mul/y', 'float32', [], [1 / 128], 'floatVal')
  let x = emit('Mul', 'Mul', ['Sub', 'Mul/y'], { T: T_FLOAT })
  channels.set(x, 3)

  // Stem.
  x = conv('conv', x)
  x = conv('conv_1', x)
  x = conv('conv_2', x)
  x = pool('pool', 'MaxPool', x, 3, 2, 'VALID')
  x = conv('conv_3', x)
  x = conv('conv_4', x)
  x = pool('pool_1', 'MaxPool', x, 3, 2, 'VALID')

  // 35x35 blocks.
  for (const m of ['mixed', 'mixed_1', 'mixed_2']) {
    const a = conv(`${m}/conv`, x)
    const t = conv(`${m}/tower/conv_1`, conv(`${m}/tower/conv`, x))
    const u = conv(`${m}/tower_1/conv_2`, conv(`${m}/tower_1/conv_1`, conv(`${m}/tower_1/conv`, x)))
    const p = conv(`${m}/tower_2/conv`, pool(`${m}/tower_2/pool`, 'AvgPool', x, 3, 1, 'SAME'))
    x = concat(`${m}/join`, [a, t, u, p])
  }

  // Reduction to 17x17.
  {
    const m = 'mixed_3'
    const a = conv(`${m}/conv`, x)
    const t = conv(`${m}/tower/conv_2`, conv(`${m}/tower/conv_1`, conv(`${m}/tower/conv`, x)))
    const p = pool(`${m}/pool`, 'MaxPool', x, 3, 2, 'VALID')
    x = concat(`${m}/join`, [a, t, p])
  }

  // 17x17 blocks with factorised 7x7 convolutions.
  for (const m of ['mixed_4', 'mixed_5', 'mixed_6', 'mixed_7']) {
    const a = conv(`${m}/conv`, x)
    const t = conv(`${m}/tower/conv_2`, conv(`${m}/tower/conv_1`, conv(`${m}/tower/conv`, x)))
    let u = conv(`${m}/tower_1/conv`, x)
    for (const k of [1, 2, 3, 4]) u = conv(`${m}/tower_1/conv_${k}`, u)
    const p = conv(`${m}/tower_2/conv`, pool(`${m}/tower_2/pool`, 'AvgPool', x, 3, 1, 'SAME'))
    x = concat(`${m}/join`, [a, t, u, p])
  }

  // Reduction to 8x8.
  {
    const m = 'mixed_8'
    const t = conv(`${m}/tower/conv_1`, conv(`${m}/tower/conv`, x))
    let u = conv(`${m}/tower_1/conv`, x)
    for (const k of [1, 2, 3]) u = conv(`${m}/tower_1/conv_${k}`, u)
    const p = pool(`${m}/pool`, 'MaxPool', x, 3, 2, 'VALID')
    x = concat(`${m}/join`, [t, u, p])
  }

  // 8x8 blocks with split 1x3 / 3x1 branches.
  for (const [m, poolOp] of [['mixed_9', 'AvgPool'], ['mixed_10', 'MaxPool']] as const) {
    const a = conv(`${m}/conv`, x)
    const t = conv(`${m}/tower/conv`, x)
    const tm = concat(`${m}/tower/mixed`, [conv(`${m}/tower/mixed/conv`, t), conv(`${m}/tower/mixed/conv_1`, t)])
    const u = conv(`${m}/tower_1/conv_1`, conv(`${m}/tower_1/conv`, x))
    const um = concat(`${m}/tower_1/mixed`, [conv(`${m}/tower_1/mixed/conv`, u), conv(`${m}/tower_1/mixed/conv_1`, u)])
    const p = conv(`${m}/tower_2/conv`, pool(`${m}/tower_2/pool`, poolOp, x, 3, 1, 'SAME'))
    x = concat(`${m}/join`, [a, tm, um, p])
  }

  // Classifier.
  x = pool('pool_3', 'AvgPool', x, 8, 1, 'VALID')
  const features = channels.get(x)!
  constNode('pool_3/_reshape/shape', 'int32', [2], [-1, features], 'content')
  x = emit('pool_3/_reshape', 'Reshape', [x, 'pool_3/_reshape/shape'], { T: T_FLOAT, Tshape: attr.type('DT_INT32') })
  {
    const r = nextRow('softmax', 'MatMul')
    const classes = r.shape[0]
    if (scale === 1 && features !== r.shape[3]) throw new Error(`softmax: ${features} features, the table says ${r.shape[3]}`)
    const limit = Math.sqrt(3 / features)
    const w = randomArray(features * classes, -limit, limit)
    const biases = randomArray(classes, -0.2, 0.2)
    const expected = withExpected ? referenceFullyConnected(w, [features, classes], biases) : undefined
    constNode('softmax/weights', 'float32', [features, classes], w, 'content')
    constNode('softmax/biases', 'float32', [classes], biases, 'content')
    emit('softmax/logits/MatMul', 'MatMul', [x, 'softmax/weights'], { T: T_FLOAT, transpose_a: attr.b(false), transpose_b: attr.b(false) })
    emit('softmax/logits', 'BiasAdd', ['softmax/logits/MatMul', 'softmax/biases'], { T: T_FLOAT })
    emit('softmax', 'Softmax', ['softmax/logits'], { T: T_FLOAT })
    layers.push({
      name: r.name,
      node: 'softmax',
      kind: 'fullyConnected',
      shape: [classes, 1, 1, features],
      stride: 1,
      padding: 'valid',
      weights: expected?.weights ?? new Float32Array(0),
      bias: expected?.bias ?? new Float32Array(0),
    })
  }
  if (row !== table.length) throw new Error(`the graph used ${row} of the table's ${table.length} layers`)
  return layers
}

const VERSIONS = { producer: 3 }

/** Generates the GraphDef bytes and the expected converted layers (in graph order). */
export function makeInceptionV3_2015(opts: InceptionOptions = {}): InceptionGraph {
  const chunks: Uint8Array[] = []
  const layers = generate(opts, { node: (n) => chunks.push(...encodeNodeRecord(n)) })
  chunks.push(encodeVersionsRecord(VERSIONS))
  return { bytes: concatBytes(chunks), layers }
}

/**
 * Writes the GraphDef to `path`, streaming node by node (the whole file is never held in
 * memory). Returns the file size and the expected layers.
 */
export function writeInceptionFixture(path: string, opts: InceptionOptions = {}): { size: number; layers: ExpectedLayer[] } {
  const fd = openSync(path, 'w')
  let size = 0
  const write = (c: Uint8Array) => {
    let off = 0
    while (off < c.length) off += writeSync(fd, c, off, c.length - off)
    size += c.length
  }
  try {
    const layers = generate(opts, { node: (n) => encodeNodeRecord(n).forEach(write) })
    write(encodeVersionsRecord(VERSIONS))
    return { size, layers }
  } finally {
    closeSync(fd)
  }
}
