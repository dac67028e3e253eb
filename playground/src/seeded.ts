/**
 * The Run panel's seeded input, shared with the Node side of the e2e test so that both run the
 * network on the same values: mulberry32, then `2 * r - 1`, NHWC.
 */

/** mulberry32: a 32-bit seeded PRNG giving floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The seed the Run panel uses. */
export const SEED = 1

/** `shape` ([1, H, W, C]) filled with values in [-1, 1): the network's input after preprocess. */
export function seededInput(shape: readonly number[], seed = SEED): Float32Array {
  const r = mulberry32(seed)
  const n = shape.reduce((a, b) => a * b, 1)
  return Float32Array.from({ length: n }, () => r() * 2 - 1)
}
