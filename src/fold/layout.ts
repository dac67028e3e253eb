/**
 * Weight layouts. Every TF -> MPSCNN weight reordering here is the same operation: a
 * [K][O] matrix (TF keeps the output channel innermost) becomes [O][K] (MPSCNN keeps it
 * outermost), with each output row scaled by the folded batch-norm factor.
 *   Conv2D    HWIO [kh*kw*in][out]        -> [out][kh][kw][in]
 *   Depthwise HWCM [kh*kw][in*mult]       -> [in*mult][kh][kw](x1)
 *   MatMul    [in][out]                   -> [out][1][1][in]
 */

const BLOCK = 32

/**
 * dst[o*K + k] = src[k*O + o] * scale[o], blocked so that both sides stay in cache.
 * `src` may be a zero-copy view of the model file.
 */
export function transposeScaled(src: ArrayLike<number>, K: number, O: number, scale: Float64Array, dst: Float32Array): void {
  if (O === 1) {
    const s = scale[0]
    for (let k = 0; k < K; k++) dst[k] = src[k] * s
    return
  }
  if (K === 1) {
    for (let o = 0; o < O; o++) dst[o] = src[o] * scale[o]
    return
  }
  for (let k0 = 0; k0 < K; k0 += BLOCK) {
    const k1 = Math.min(k0 + BLOCK, K)
    for (let o0 = 0; o0 < O; o0 += BLOCK) {
      const o1 = Math.min(o0 + BLOCK, O)
      for (let o = o0; o < o1; o++) {
        const s = scale[o]
        const row = o * K
        for (let k = k0; k < k1; k++) dst[row + k] = src[k * O + o] * s
      }
    }
  }
}

/** dst[o*K + k] = src[o*K + k] * scale[o]: already [O][K] (MatMul with transpose_b). */
export function scaleRows(src: ArrayLike<number>, K: number, O: number, scale: Float64Array, dst: Float32Array): void {
  for (let o = 0; o < O; o++) {
    const s = scale[o]
    const row = o * K
    for (let k = 0; k < K; k++) dst[row + k] = src[row + k] * s
  }
}
