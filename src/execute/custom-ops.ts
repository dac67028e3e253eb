/**
 * The ops the reference runs itself, registered with tfjs-converter's `registerOp` under
 * `_Mpscnn<Op>` names (rewrite.ts renames the nodes), so that nothing a user's own
 * tfjs-converter registers is replaced. Each is written from TensorFlow's op definition and
 * kernel, with tfjs-core primitives, in the order TensorFlow's kernel evaluates it (float32).
 */
import type * as Tfc from '@tensorflow/tfjs-core'
import type { Tensor } from '@tensorflow/tfjs-core'
import type { registerOp as RegisterOp } from '@tensorflow/tfjs-converter'
import { MpscnnError } from '../base/errors.js'
import { CUSTOM, FILE_ATTR, MESSAGE_ATTR, NODE_ATTR, TYPE_ATTR, fromCodes } from './rewrite.js'

type Attrs = Record<string, unknown>

/** Integer range of each quantized type: numeric_limits<T>::min() and max(). */
const QUANTIZED_RANGE: Record<string, [number, number]> = {
  DT_QUINT8: [0, 255],
  DT_QINT8: [-128, 127],
  DT_QUINT16: [0, 65535],
  DT_QINT16: [-32768, 32767],
  DT_QINT32: [-2147483648, 2147483647],
}

const BITS: Record<string, number> = { DT_QUINT8: 8, DT_QINT8: 8, DT_QUINT16: 16, DT_QINT16: 16, DT_QINT32: 32 }

/**
 * FakeQuant's nudging (tensorflow/core/kernels/fake_quant_ops_functor.h, `Nudge`), in float32
 * as the kernel computes it: the range is moved so that 0 is exactly representable.
 */
function nudge(min: number, max: number, numBits: number, narrowRange: boolean): { nudgedMin: number; nudgedMax: number; scale: number } {
  const f = Math.fround
  const quantMin = narrowRange ? 1 : 0
  const quantMax = 2 ** numBits - 1
  const scale = f(f(max - min) / (quantMax - quantMin))
  const zeroPointFromMin = f(quantMin - f(min / scale))
  // StdRound: round half away from zero; the zero point is non-negative here.
  const nudgedZeroPoint = zeroPointFromMin < quantMin ? quantMin : zeroPointFromMin > quantMax ? quantMax : Math.floor(zeroPointFromMin + 0.5)
  return { nudgedMin: f(f(quantMin - nudgedZeroPoint) * scale), nudgedMax: f(f(quantMax - nudgedZeroPoint) * scale), scale }
}

/** The error for the node a custom op runs (its file and name come with its attributes). */
function refuse(a: Attrs, code: string, problem: string, hint?: string): MpscnnError {
  return new MpscnnError(code, fromCodes(a[FILE_ATTR]), problem, { node: fromCodes(a[NODE_ATTR]), hint })
}

export function registerCustomOps(tf: typeof Tfc, registerOp: typeof RegisterOp): void {
  const required = (a: Attrs, key: string, op: string): unknown => {
    if (a[key] === undefined) throw refuse(a, 'BAD_GRAPH', `${op} has no ${key} attribute, which TensorFlow requires`, 'The graph is damaged; export it again')
    return a[key]
  }

  /**
   * nn_ops.cc `BatchNormWithGlobalNormalization(t, m, v, beta, gamma)`, kernel batch_norm_op.h:
   * `output = (t - m) * rsqrt(v + variance_epsilon) * gamma + beta` when
   * scale_after_normalization, else `(t - m) * rsqrt(v + variance_epsilon) + beta`
   * (per channel, the last dimension).
   */
  registerOp(CUSTOM.BatchNormWithGlobalNormalization, ({ inputs: [t, m, v, beta, gamma], attrs }) => {
    const eps = required(attrs, 'variance_epsilon', 'BatchNormWithGlobalNormalization') as number
    const scaleAfter = required(attrs, 'scale_after_normalization', 'BatchNormWithGlobalNormalization') as boolean
    return tf.tidy(() => {
      let factor = tf.rsqrt(tf.add(v, eps))
      if (scaleAfter) factor = tf.mul(factor, gamma)
      return tf.add(tf.mul(tf.sub(t, m), factor), beta)
    })
  })

  /**
   * nn_ops.cc `BiasAdd(value, bias)` with data_format NCHW, bias_op.cc: the bias is added along
   * dimension 1 (the channels) of a value of any rank >= 2: `value + reshape(bias, [C, 1, ...])`.
   */
  registerOp(CUSTOM.BiasAddNCHW, ({ inputs: [value, bias] }) =>
    tf.tidy(() => tf.add(value, tf.reshape(bias, [bias.size, ...value.shape.slice(2).map(() => 1)]))),
  )

  /**
   * nn_ops.cc `Conv2D(input, filter)` (NHWC here: the rewrite transposes NCHW) with a stride and
   * a dilation both above 1, which tfjs's conv2d refuses together:
   * `output[b, i, j, o] = sum input[b, s_h * i + d_h * di - top, s_w * j + d_w * dj - left, q] * filter[di, dj, q, o]`
   * over di, dj, q, zero outside the input, the padding as GetWindowedOutputSize gives it: SAME
   * pads `max((out - 1) * s + kEff - n, 0)`, out = ceil(n / s), kEff = (k - 1) * d + 1, the
   * smaller half before; VALID none; EXPLICIT `explicit_paddings`. Computed as the stride-1
   * dilated convolution of the padded input, every s-th output kept.
   */
  registerOp(CUSTOM.Conv2DStridedDilated, ({ inputs: [x, filter], attrs }) => {
    const strides = attrs.strides as number[]
    const dilations = attrs.dilations as number[]
    const padding = String(attrs.padding).toUpperCase()
    const explicit = (attrs.explicit_paddings as number[] | undefined) ?? []
    const pads = [1, 2].map((dim) => {
      if (padding === 'EXPLICIT') return [explicit[2 * dim] ?? 0, explicit[2 * dim + 1] ?? 0]
      if (padding !== 'SAME') return [0, 0]
      const n = x.shape[dim]!
      const kEff = (filter.shape[dim - 1]! - 1) * dilations[dim] + 1
      const total = Math.max((Math.ceil(n / strides[dim]) - 1) * strides[dim] + kEff - n, 0)
      return [Math.floor(total / 2), total - Math.floor(total / 2)]
    }) as [number, number][]
    return tf.tidy(() => {
      const padded = tf.pad(x as Tfc.Tensor4D, [[0, 0], pads[0], pads[1], [0, 0]])
      const y = tf.conv2d(padded, filter as Tfc.Tensor4D, 1, 'valid', 'NHWC', [dilations[1], dilations[2]])
      return tf.stridedSlice(y, [0, 0, 0, 0], y.shape, [1, strides[1], strides[2], 1])
    })
  })

  /**
   * array_ops.cc `CheckNumerics(tensor)`: the tensor unchanged; the kernel fails with
   * `<message> : Tensor had NaN values` (or `Inf values`) when it holds one.
   */
  registerOp(CUSTOM.CheckNumerics, ({ inputs: [x], attrs }) => {
    const [nan, inf] = tf.tidy(() => [tf.any(tf.isNaN(x)).dataSync()[0], tf.any(tf.isInf(x)).dataSync()[0]])
    if (nan || inf) {
      throw refuse(attrs, 'NON_FINITE', `CheckNumerics: ${fromCodes(attrs[MESSAGE_ATTR])} : Tensor had ${nan ? 'NaN' : 'Inf'} values`)
    }
    return tf.clone(x)
  })

  /**
   * nn_ops.cc `FusedBatchNorm*` with is_training=true (TF's default), fused_batch_norm_op.cc:
   * the batch's own statistics over N, H, W (NHWC here: the rewrite transposes NCHW),
   * `y = (x - batch_mean) * rsqrt(batch_variance + epsilon) * scale + offset`, the variance
   * being the biased one, sum((x - mean)^2) / (N*H*W). Output 0 only.
   */
  registerOp(CUSTOM.FusedBatchNormTraining, ({ inputs: [x, scale, offset], attrs }) => {
    const eps = attrs.epsilon as number
    return tf.tidy(() => {
      const axes = [0, 1, 2]
      const mean = tf.mean(x, axes)
      const centered = tf.sub(x, mean)
      const variance = tf.mean(tf.square(centered), axes)
      return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), scale), offset)
    })
  })

  /**
   * fake_quant_ops_functor.h, `FakeQuantWithMinMaxArgsFunctor` (and `...VarsFunctor`, with min and
   * max from tensors): with the nudged range (see {@link nudge}),
   * `clamped = min(max(x, nudged_min), nudged_max)`,
   * `y = floor((clamped - nudged_min) * (1 / scale) + 0.5) * scale + nudged_min`.
   */
  const fakeQuant = (x: Tensor, min: number, max: number, attrs: Attrs, op: string): Tensor => {
    if (!(min <= max)) throw refuse(attrs, 'BAD_GRAPH', `${op}: min ${min} is larger than max ${max}`, 'Fix the quantization range')
    const { nudgedMin, nudgedMax, scale } = nudge(min, max, attrs.num_bits as number, attrs.narrow_range === true)
    const inv = Math.fround(1 / scale)
    return tf.tidy(() => {
      const clamped = tf.maximum(tf.minimum(x, nudgedMax), nudgedMin)
      return tf.add(tf.mul(tf.floor(tf.add(tf.mul(tf.sub(clamped, nudgedMin), inv), 0.5)), scale), nudgedMin)
    })
  }
  registerOp(CUSTOM.FakeQuantWithMinMaxArgs, ({ inputs: [x], attrs }) => fakeQuant(x, attrs.min as number, attrs.max as number, attrs, 'FakeQuantWithMinMaxArgs'))
  registerOp(CUSTOM.FakeQuantWithMinMaxVars, ({ inputs: [x, min, max], attrs }) =>
    fakeQuant(x, min.dataSync()[0], max.dataSync()[0], attrs, 'FakeQuantWithMinMaxVars'),
  )

  /**
   * array_ops.cc `Dequantize(input, min_range, max_range)`, kernel dequantize_op.cc, per tensor
   * (axis -1) or per slice along `axis` (min_range and max_range then hold one value per slice):
   * - MIN_COMBINED: `(input + half_range) * (max - min) / (max(T) - min(T)) + min`, half_range
   *   being (max(T) - min(T) + 1) / 2 for a signed T and 0 otherwise;
   * - MIN_FIRST (quantization_utils.h, `QuantizedTensorToFloatInPlaceUsingEigen`):
   *   steps = 2^bits, range_scale = (max - min) * steps / (steps - 1) / steps,
   *   `input * range_scale - lowest(T) * range_scale + min` (`min` when min == max);
   * - SCALED: `input * s`, s = max / max(T) for an unsigned T, else
   *   max(min / (min(T) + narrow_range), max / max(T)).
   */
  registerOp(CUSTOM.Dequantize, ({ inputs: [x, minT, maxT], attrs }) => {
    const type = fromCodes(attrs[TYPE_ATTR])
    const range = QUANTIZED_RANGE[type]
    if (!range) throw refuse(attrs, 'UNSUPPORTED_DTYPE', `Dequantize of ${type} is not supported by the reference`, 'Use quint8, qint8, quint16, qint16 or qint32')
    const [lowest, highest] = range
    const mode = String(attrs.mode).toUpperCase()
    const narrow = attrs.narrow_range === true
    const mins = minT.dataSync()
    const maxs = maxT.dataSync()
    const axis = (attrs.axis as number) ?? -1
    if (axis !== -1 && mode === 'MIN_FIRST') throw refuse(attrs, 'UNSUPPORTED', 'Dequantize in MIN_FIRST mode with an axis is not implemented by TensorFlow either')
    const f = Math.fround
    // One scale and one offset per slice: y = (x + pre) * scale + post.
    const n = mins.length
    const pre = new Float32Array(n)
    const scale = new Float32Array(n)
    const post = new Float32Array(n)
    for (let c = 0; c < n; c++) {
      const min = mins[c]
      const max = maxs[c]
      if (mode === 'MIN_COMBINED') {
        pre[c] = lowest < 0 ? (highest - lowest + 1) / 2 : 0
        scale[c] = f(f(max - min) / f(highest - lowest))
        post[c] = min
      } else if (mode === 'MIN_FIRST') {
        const steps = 2 ** BITS[type]
        const rangeScale = f(((max - min) * (steps / (steps - 1))) / steps)
        pre[c] = -lowest
        scale[c] = min === max ? 0 : rangeScale
        post[c] = min
      } else if (mode === 'SCALED') {
        scale[c] = lowest === 0 ? f(max / highest) : Math.max(f(min / (lowest + (narrow ? 1 : 0))), f(max / highest))
      } else {
        throw refuse(attrs, 'UNSUPPORTED', `Dequantize mode ${mode} is not one of MIN_COMBINED, MIN_FIRST, SCALED`)
      }
    }
    return tf.tidy(() => {
      const shape = x.shape.map(() => 1)
      // axis -1 means one range for the whole tensor; any other axis, one range per slice along it.
      if (axis === -1 ? n !== 1 : x.shape[axis] !== n) {
        throw refuse(attrs, 'SHAPE_MISMATCH', `Dequantize has ${n} ranges for ${axis === -1 ? 'the whole tensor (axis -1)' : `dimension ${axis} of size ${x.shape[axis]}`}`)
      }
      if (axis !== -1) shape[axis] = n
      const t = (v: Float32Array) => tf.tensor(v, axis === -1 ? [] : shape)
      return tf.add(tf.mul(tf.add(tf.cast(x, 'float32'), t(pre)), t(scale)), t(post))
    })
  })
}
