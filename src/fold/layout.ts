/**
 * Weight layouts. Every TF -> MPSCNN weight reordering here is the same operation: a
 * [K][O] matrix (TF keeps the output channel innermost) becomes [O][K] (MPSCNN keeps it
 * outermost), with each output row scaled by the folded batch-norm factor.
 *   Conv2D    HWIO [kh*kw*in][out]        -> [out][kh][kw][in]
 *   Depthwise HWCM [kh*kw][in*mult]       -> [in*mult][kh][kw](x1)
 *   MatMul    [in][out]                   -> [out][1][1][in]
 */

const BLOCK = 256

/**
 * dst[o*K + k] = src[k*O + o] * scale[o]. `src` may be a zero-copy view of the model
 * file. Eight output rows at a time, so that each source row is read as one short
 * contiguous run, over blocks of BLOCK k's that stay in cache. Returns NaN when any
 * output is not finite (NaN or Infinity in the weights, or an overflow), else 0: the
 * check rides along with the loads instead of costing a pass of its own.
 */
export function transposeScaled(src: Float32Array, K: number, O: number, scale: Float64Array, dst: Float32Array): number {
  if (O === 1 || K === 1) return scaleRows(src, K, O, scale, dst)
  let chk = 0
  const O8 = O & ~7
  for (let k0 = 0; k0 < K; k0 += BLOCK) {
    const k1 = Math.min(k0 + BLOCK, K)
    for (let o = 0; o < O8; o += 8) {
      const s0 = scale[o], s1 = scale[o + 1], s2 = scale[o + 2], s3 = scale[o + 3]
      const s4 = scale[o + 4], s5 = scale[o + 5], s6 = scale[o + 6], s7 = scale[o + 7]
      let si = k0 * O + o
      for (let k = k0; k < k1; k++, si += O) {
        const v0 = Math.fround(src[si] * s0), v1 = Math.fround(src[si + 1] * s1), v2 = Math.fround(src[si + 2] * s2), v3 = Math.fround(src[si + 3] * s3)
        const v4 = Math.fround(src[si + 4] * s4), v5 = Math.fround(src[si + 5] * s5), v6 = Math.fround(src[si + 6] * s6), v7 = Math.fround(src[si + 7] * s7)
        let r = o * K + k
        dst[r] = v0; r += K; dst[r] = v1; r += K; dst[r] = v2; r += K; dst[r] = v3; r += K
        dst[r] = v4; r += K; dst[r] = v5; r += K; dst[r] = v6; r += K; dst[r] = v7
        chk += v0 - v0 + (v1 - v1) + (v2 - v2) + (v3 - v3) + (v4 - v4) + (v5 - v5) + (v6 - v6) + (v7 - v7)
      }
    }
    for (let o = O8; o < O; o++) {
      const s = scale[o]
      const row = o * K
      for (let k = k0; k < k1; k++) {
        const v = Math.fround(src[k * O + o] * s)
        dst[row + k] = v
        chk += v - v
      }
    }
  }
  return chk
}

/** dst[o*K + k] = src[o*K + k] * scale[o]: already [O][K] (MatMul with transpose_b). Same check as above. */
export function scaleRows(src: Float32Array, K: number, O: number, scale: Float64Array, dst: Float32Array): number {
  let chk = 0
  for (let o = 0; o < O; o++) {
    const s = scale[o]
    const row = o * K
    for (let k = 0; k < K; k++) {
      const v = Math.fround(src[row + k] * s)
      dst[row + k] = v
      chk += v - v
    }
  }
  return chk
}

let scratch = new Uint8Array(0)

/**
 * A weight tensor's values as float32 for layout. Unaligned float32 content is copied
 * into one scratch buffer reused from layer to layer, instead of a fresh copy each.
 */
export function float32Source(t: { data?: Float32Array | Float64Array; raw?: Uint8Array }): Float32Array {
  const raw = t.raw
  if (raw) {
    if (raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4)
    if (scratch.byteLength < raw.byteLength) scratch = new Uint8Array(Math.max(raw.byteLength, scratch.byteLength * 2))
    scratch.set(raw)
    return new Float32Array(scratch.buffer, 0, raw.byteLength / 4)
  }
  const d = t.data!
  return d instanceof Float32Array ? d : Float32Array.from(d)
}

/** The index of the first element that is NaN or infinite, or -1. */
export function finite(t: ArrayLike<number>): number {
  for (let i = 0; i < t.length; i++) {
    const v = t[i]
    if (v !== v || v === Infinity || v === -Infinity) return i
  }
  return -1
}
