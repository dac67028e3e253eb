/**
 * TensorFlow's registered attribute defaults for the ops the reference meets.
 *
 * A GraphDef written by TensorFlow leaves out every attribute that has its default value
 * (`StripDefaultAttributes`), and tfjs-converter does not know all of them: it reads
 * `dilations` on Conv2D with no default (and fails on `[1]` of undefined), and gives
 * FusedBatchNorm an `epsilon` of 0.001 where TensorFlow's default is 0.0001. So every
 * node is completed from this table before it is loaded.
 *
 * Each entry is copied from the op's `REGISTER_OP` in TensorFlow's op definitions
 * (tensorflow/core/ops/nn_ops.cc, math_ops.cc, array_ops.cc, image_ops.cc), cited per op.
 * Attributes without a default there (`strides`, `padding`, `ksize`, `N`, ...) are required
 * and not listed.
 */
import type { AttrValue, NodeDef } from '../graphdef/schema.js'

const utf8 = new TextEncoder()
const s = (v: string): AttrValue => ({ s: utf8.encode(v) })
const b = (v: boolean): AttrValue => ({ b: v })
const f = (v: number): AttrValue => ({ f: v })
const i = (v: number): AttrValue => ({ i: v })
const ints = (v: number[]): AttrValue => ({ list: { i: v } })
/** DT_FLOAT and DT_INT32, as in `dtype: {float, ...} = DT_FLOAT`. */
const DT_FLOAT: AttrValue = { type: 1 }
const DT_INT32: AttrValue = { type: 3 }

/** nn_ops.cc: `REGISTER_OP("FusedBatchNorm")` (and V2, V3): epsilon: float = 0.0001, exponential_avg_factor: float = 1.0, data_format: { 'NHWC', 'NCHW' } = 'NHWC', is_training: bool = true. */
const FUSED_BATCH_NORM = { epsilon: f(0.0001), exponential_avg_factor: f(1), data_format: s('NHWC'), is_training: b(true) }

const OP_DEFAULTS: Readonly<Record<string, Readonly<Record<string, AttrValue>>>> = {
  /** nn_ops.cc `Conv2D`: use_cudnn_on_gpu: bool = true, explicit_paddings: list(int) = [], data_format = 'NHWC', dilations: list(int) = [1, 1, 1, 1]. */
  Conv2D: { use_cudnn_on_gpu: b(true), explicit_paddings: ints([]), data_format: s('NHWC'), dilations: ints([1, 1, 1, 1]) },
  /** nn_ops.cc `DepthwiseConv2dNative`: explicit_paddings: list(int) = [], data_format = 'NHWC', dilations: list(int) = [1, 1, 1, 1]. */
  DepthwiseConv2dNative: { explicit_paddings: ints([]), data_format: s('NHWC'), dilations: ints([1, 1, 1, 1]) },
  /** nn_ops.cc `Conv2DBackpropInput`: use_cudnn_on_gpu: bool = true, explicit_paddings: list(int) = [], data_format = 'NHWC', dilations: list(int) = [1, 1, 1, 1]. */
  Conv2DBackpropInput: { use_cudnn_on_gpu: b(true), explicit_paddings: ints([]), data_format: s('NHWC'), dilations: ints([1, 1, 1, 1]) },
  /** nn_ops.cc `BiasAdd`: data_format = 'NHWC'. */
  BiasAdd: { data_format: s('NHWC') },
  /** nn_ops.cc `MaxPool`: explicit_paddings: list(int) = [], data_format = 'NHWC'. */
  MaxPool: { explicit_paddings: ints([]), data_format: s('NHWC') },
  /** nn_ops.cc `AvgPool`: data_format = 'NHWC'. */
  AvgPool: { data_format: s('NHWC') },
  FusedBatchNorm: FUSED_BATCH_NORM,
  FusedBatchNormV2: FUSED_BATCH_NORM,
  FusedBatchNormV3: FUSED_BATCH_NORM,
  /** nn_ops.cc `LRN`: depth_radius: int = 5, bias: float = 1.0, alpha: float = 1.0, beta: float = 0.5. */
  LRN: { depth_radius: i(5), bias: f(1), alpha: f(1), beta: f(0.5) },
  /** nn_ops.cc `LeakyRelu`: alpha: float = 0.2. */
  LeakyRelu: { alpha: f(0.2) },
  /** math_ops.cc `MatMul`: transpose_a: bool = false, transpose_b: bool = false. */
  MatMul: { transpose_a: b(false), transpose_b: b(false) },
  /** math_ops.cc `Mean` / `Sum` / `Max` / `Min` / `Prod`: keep_dims: bool = false, Tidx: {int32, int64} = DT_INT32. */
  Mean: { keep_dims: b(false), Tidx: DT_INT32 },
  Sum: { keep_dims: b(false), Tidx: DT_INT32 },
  Max: { keep_dims: b(false), Tidx: DT_INT32 },
  Min: { keep_dims: b(false), Tidx: DT_INT32 },
  Prod: { keep_dims: b(false), Tidx: DT_INT32 },
  /** array_ops.cc `Reshape`: Tshape: {int32, int64} = DT_INT32. */
  Reshape: { Tshape: DT_INT32 },
  /** array_ops.cc `Pad`: Tpaddings: {int32, int64} = DT_INT32. */
  Pad: { Tpaddings: DT_INT32 },
  /** array_ops.cc `Transpose`: Tperm: {int32, int64} = DT_INT32. */
  Transpose: { Tperm: DT_INT32 },
  /** array_ops.cc `ConcatV2`: Tidx: {int32, int64} = DT_INT32. */
  ConcatV2: { Tidx: DT_INT32 },
  /** array_ops.cc `ExpandDims`: Tdim: {int32, int64} = DT_INT32. */
  ExpandDims: { Tdim: DT_INT32 },
  /** array_ops.cc `GatherV2`: batch_dims: int = 0. */
  GatherV2: { batch_dims: i(0) },
  /** math_ops.cc `Cast`: Truncate: bool = false. */
  Cast: { Truncate: b(false) },
  /** array_ops.cc `Squeeze`: squeeze_dims: list(int) >= 0 = [] (empty: every dimension of size 1). */
  Squeeze: { squeeze_dims: ints([]) },
  /** array_ops.cc `FakeQuantWithMinMaxArgs`: min: float = -6, max: float = 6, num_bits: int = 8, narrow_range: bool = false. */
  FakeQuantWithMinMaxArgs: { min: f(-6), max: f(6), num_bits: i(8), narrow_range: b(false) },
  /** array_ops.cc `FakeQuantWithMinMaxVars`: num_bits: int = 8, narrow_range: bool = false. */
  FakeQuantWithMinMaxVars: { num_bits: i(8), narrow_range: b(false) },
  /** array_ops.cc `Dequantize`: mode: {'MIN_COMBINED', 'MIN_FIRST', 'SCALED'} = 'MIN_COMBINED', narrow_range: bool = false, axis: int = -1, dtype: {bfloat16, float} = DT_FLOAT. */
  Dequantize: { mode: s('MIN_COMBINED'), narrow_range: b(false), axis: i(-1), dtype: DT_FLOAT },
  /** image_ops.cc `ResizeBilinear`: align_corners: bool = false, half_pixel_centers: bool = false. */
  ResizeBilinear: { align_corners: b(false), half_pixel_centers: b(false) },
  /** array_ops.cc `Pack`: axis: int = 0. */
  Pack: { axis: i(0) },
  /** array_ops.cc `StridedSlice`: begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask: int = 0. */
  StridedSlice: { begin_mask: i(0), end_mask: i(0), ellipsis_mask: i(0), new_axis_mask: i(0), shrink_axis_mask: i(0) },
}

/** `node` with every attribute TensorFlow would default filled in (a new node; `node` is not changed). */
export function withDefaults(node: NodeDef): NodeDef {
  const defaults = OP_DEFAULTS[node.op]
  if (!defaults) return node
  const attr = { ...node.attr }
  for (const [key, value] of Object.entries(defaults)) {
    if (!Object.prototype.hasOwnProperty.call(attr, key)) attr[key] = value
  }
  return { ...node, attr }
}
