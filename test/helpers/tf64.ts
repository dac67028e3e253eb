/**
 * TensorFlow's op formulas in plain float64 loops, written from the op definitions
 * (tensorflow/core/ops/nn_ops.cc and the kernels' documented semantics), to check the
 * reference (src/execute) against: nothing here calls the code under test or tfjs.
 * Tensors are row-major Float64Arrays with their shape; images are NHWC unless said.
 */

export interface T64 {
  data: Float64Array
  shape: number[]
}

export const t64 = (values: ArrayLike<number>, shape: number[]): T64 => ({ data: Float64Array.from(values), shape })

/** Seeded values in [lo, hi). */
export function seeded(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let a = seed >>> 0
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296)
  }
  return out
}

export type Padding = 'SAME' | 'VALID' | [[number, number], [number, number]]

/** Output size and leading padding of one spatial dimension (TF's GetWindowedOutputSize). */
export function windowed(size: number, k: number, s: number, d: number, pad: 'SAME' | 'VALID' | [number, number]): { out: number; before: number } {
  const eff = (k - 1) * d + 1
  if (pad === 'VALID') return { out: Math.ceil((size - eff + 1) / s), before: 0 }
  if (pad === 'SAME') {
    const out = Math.ceil(size / s)
    const total = Math.max((out - 1) * s + eff - size, 0)
    return { out, before: Math.floor(total / 2) }
  }
  return { out: Math.floor((size + pad[0] + pad[1] - eff) / s) + 1, before: pad[0] }
}

const padOf = (p: Padding, dim: 0 | 1): 'SAME' | 'VALID' | [number, number] => (typeof p === 'string' ? p : p[dim])

/** Conv2D: x [N,H,W,C], w [KH,KW,C,M] -> [N,OH,OW,M]. */
export function conv2d(x: T64, w: T64, strides: [number, number], padding: Padding, dilations: [number, number] = [1, 1]): T64 {
  const [N, H, W, C] = x.shape
  const [KH, KW, , M] = w.shape
  const r = windowed(H, KH, strides[0], dilations[0], padOf(padding, 0))
  const c = windowed(W, KW, strides[1], dilations[1], padOf(padding, 1))
  const out = new Float64Array(N * r.out * c.out * M)
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < r.out; oy++)
      for (let ox = 0; ox < c.out; ox++)
        for (let m = 0; m < M; m++) {
          let sum = 0
          for (let ky = 0; ky < KH; ky++) {
            const iy = oy * strides[0] - r.before + ky * dilations[0]
            if (iy < 0 || iy >= H) continue
            for (let kx = 0; kx < KW; kx++) {
              const ix = ox * strides[1] - c.before + kx * dilations[1]
              if (ix < 0 || ix >= W) continue
              for (let ci = 0; ci < C; ci++) sum += x.data[((n * H + iy) * W + ix) * C + ci] * w.data[((ky * KW + kx) * C + ci) * M + m]
            }
          }
          out[((n * r.out + oy) * c.out + ox) * M + m] = sum
        }
  return { data: out, shape: [N, r.out, c.out, M] }
}

/** DepthwiseConv2dNative: x [N,H,W,C], w [KH,KW,C,M] -> [N,OH,OW,C*M], channel c*M + m. */
export function depthwise(x: T64, w: T64, strides: [number, number], padding: Padding): T64 {
  const [N, H, W, C] = x.shape
  const [KH, KW, , M] = w.shape
  const r = windowed(H, KH, strides[0], 1, padOf(padding, 0))
  const c = windowed(W, KW, strides[1], 1, padOf(padding, 1))
  const out = new Float64Array(N * r.out * c.out * C * M)
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < r.out; oy++)
      for (let ox = 0; ox < c.out; ox++)
        for (let ci = 0; ci < C; ci++)
          for (let m = 0; m < M; m++) {
            let sum = 0
            for (let ky = 0; ky < KH; ky++)
              for (let kx = 0; kx < KW; kx++) {
                const iy = oy * strides[0] - r.before + ky
                const ix = ox * strides[1] - c.before + kx
                if (iy >= 0 && iy < H && ix >= 0 && ix < W) sum += x.data[((n * H + iy) * W + ix) * C + ci] * w.data[((ky * KW + kx) * C + ci) * M + m]
              }
            out[((n * r.out + oy) * c.out + ox) * C * M + ci * M + m] = sum
          }
  return { data: out, shape: [N, r.out, c.out, C * M] }
}

/**
 * Conv2DBackpropInput: the gradient of Conv2D(input of `inputShape`, w) with respect to its
 * input, for `dy` [N,OH,OW,M]; w [KH,KW,C,M].
 */
export function conv2dBackpropInput(inputShape: number[], w: T64, dy: T64, strides: [number, number], padding: 'SAME' | 'VALID'): T64 {
  const [N, H, W, C] = inputShape
  const [KH, KW, , M] = w.shape
  const r = windowed(H, KH, strides[0], 1, padding)
  const c = windowed(W, KW, strides[1], 1, padding)
  if (dy.shape[1] !== r.out || dy.shape[2] !== c.out) throw new Error('dy does not match the forward output')
  const out = new Float64Array(N * H * W * C)
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < r.out; oy++)
      for (let ox = 0; ox < c.out; ox++)
        for (let ky = 0; ky < KH; ky++)
          for (let kx = 0; kx < KW; kx++) {
            const iy = oy * strides[0] - r.before + ky
            const ix = ox * strides[1] - c.before + kx
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue
            for (let ci = 0; ci < C; ci++)
              for (let m = 0; m < M; m++) out[((n * H + iy) * W + ix) * C + ci] += dy.data[((n * r.out + oy) * c.out + ox) * M + m] * w.data[((ky * KW + kx) * C + ci) * M + m]
          }
  return { data: out, shape: [N, H, W, C] }
}

/** MaxPool / AvgPool, NHWC. AvgPool divides by the number of elements inside the image (TF excludes padding). */
export function pool(x: T64, kind: 'max' | 'avg', k: [number, number], s: [number, number], padding: 'SAME' | 'VALID'): T64 {
  const [N, H, W, C] = x.shape
  const r = windowed(H, k[0], s[0], 1, padding)
  const c = windowed(W, k[1], s[1], 1, padding)
  const out = new Float64Array(N * r.out * c.out * C)
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < r.out; oy++)
      for (let ox = 0; ox < c.out; ox++)
        for (let ci = 0; ci < C; ci++) {
          let acc = kind === 'max' ? -Infinity : 0
          let count = 0
          for (let ky = 0; ky < k[0]; ky++)
            for (let kx = 0; kx < k[1]; kx++) {
              const iy = oy * s[0] - r.before + ky
              const ix = ox * s[1] - c.before + kx
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue
              const v = x.data[((n * H + iy) * W + ix) * C + ci]
              acc = kind === 'max' ? Math.max(acc, v) : acc + v
              count++
            }
          out[((n * r.out + oy) * c.out + ox) * C + ci] = kind === 'max' ? acc : acc / count
        }
  return { data: out, shape: [N, r.out, c.out, C] }
}

/** Per-channel map over the channel axis (`axis`), f(value, channel). */
export function perChannel(x: T64, axis: number, f: (v: number, c: number) => number): T64 {
  const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1)
  const C = x.shape[axis]
  return { data: x.data.map((v, i) => f(v, Math.floor(i / inner) % C)), shape: x.shape.slice() }
}

/** NCHW <-> NHWC. */
export function toNHWC(x: T64): T64 {
  const [N, C, H, W] = x.shape
  const out = new Float64Array(x.data.length)
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let z = 0; z < W; z++) out[((n * H + y) * W + z) * C + c] = x.data[((n * C + c) * H + y) * W + z]
  return { data: out, shape: [N, H, W, C] }
}
export function toNCHW(x: T64): T64 {
  const [N, H, W, C] = x.shape
  const out = new Float64Array(x.data.length)
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let z = 0; z < W; z++) out[((n * C + c) * H + y) * W + z] = x.data[((n * H + y) * W + z) * C + c]
  return { data: out, shape: [N, C, H, W] }
}

/** a [M,K] x b [K,N] (transposes as MatMul's attributes say). */
export function matmul(a: T64, b: T64, transposeA = false, transposeB = false): T64 {
  const [M, K] = transposeA ? [a.shape[1], a.shape[0]] : a.shape
  const N = transposeB ? b.shape[0] : b.shape[1]
  const out = new Float64Array(M * N)
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0
      for (let k = 0; k < K; k++) s += a.data[transposeA ? k * M + i : i * K + k] * b.data[transposeB ? j * K + k : k * N + j]
      out[i * N + j] = s
    }
  return { data: out, shape: [M, N] }
}

export function softmax(x: T64): T64 {
  const n = x.shape[x.shape.length - 1]
  const out = new Float64Array(x.data.length)
  for (let r = 0; r < x.data.length; r += n) {
    let max = -Infinity
    for (let j = 0; j < n; j++) max = Math.max(max, x.data[r + j])
    let sum = 0
    for (let j = 0; j < n; j++) sum += Math.exp(x.data[r + j] - max)
    for (let j = 0; j < n; j++) out[r + j] = Math.exp(x.data[r + j] - max) / sum
  }
  return { data: out, shape: x.shape.slice() }
}

/** Largest |a - b| over max(1, max |b|): 0 when equal. Throws on a shape mismatch. */
export function relDiff(a: { data: ArrayLike<number>; shape: number[] }, b: T64): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shape [${a.shape.join(', ')}] is not [${b.shape.join(', ')}]`)
  let d = 0
  let m = 1
  for (let i = 0; i < b.data.length; i++) {
    d = Math.max(d, Math.abs(a.data[i] - b.data[i]))
    m = Math.max(m, Math.abs(b.data[i]))
  }
  return d / m
}

/** numeric_limits<T>::lowest(), max() and the bits of TensorFlow's quantized types. */
export const QUANTIZED_RANGE = {
  DT_QUINT8: [0, 255, 8],
  DT_QINT8: [-128, 127, 8],
  DT_QUINT16: [0, 65535, 16],
  DT_QINT16: [-32768, 32767, 16],
  DT_QINT32: [-2147483648, 2147483647, 32],
} as const

export type QuantizedType = keyof typeof QUANTIZED_RANGE

/**
 * Dequantize of one value of type `type` over [min, max], from the op definition (array_ops.cc)
 * and its kernel (dequantize_op.cc, quantization_utils.h): MIN_COMBINED, MIN_FIRST or SCALED.
 */
export function dequantize64(type: QuantizedType, mode: 'MIN_COMBINED' | 'MIN_FIRST' | 'SCALED', min: number, max: number, narrow = false): (v: number) => number {
  const [lo, hi, bits] = QUANTIZED_RANGE[type]
  if (mode === 'MIN_COMBINED') return (v) => min + ((lo < 0 ? v + (hi - lo + 1) / 2 : v) * (max - min)) / (hi - lo)
  if (mode === 'MIN_FIRST') {
    const steps = 2 ** bits
    return (v) => (min === max ? min : min + (v - lo) * (((max - min) * (steps / (steps - 1))) / steps))
  }
  const s = lo === 0 ? max / hi : Math.max(min / (lo + (narrow ? 1 : 0)), max / hi)
  return (v) => v * s
}

/** FakeQuantWithMinMaxArgs/Vars of one value (fake_quant_ops_functor.h): Nudge, then clamp, quantize and dequantize. */
export function fakeQuant64(x: number, min: number, max: number, bits: number, narrow: boolean): number {
  const qmin = narrow ? 1 : 0
  const qmax = 2 ** bits - 1
  const scale = (max - min) / (qmax - qmin)
  const zf = qmin - min / scale
  const zero = zf < qmin ? qmin : zf > qmax ? qmax : Math.round(zf)
  const nMin = (qmin - zero) * scale
  const nMax = (qmax - zero) * scale
  const c = Math.min(Math.max(x, nMin), nMax)
  return Math.floor((c - nMin) / scale + 0.5) * scale + nMin
}
