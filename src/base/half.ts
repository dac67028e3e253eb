/** IEEE 754 half and bfloat16 conversions (round to nearest, ties to even). */

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * frac * 2 ** -24
  if (exp === 31) return frac ? NaN : sign * Infinity
  return sign * (1 + frac / 1024) * 2 ** (exp - 15)
}

export function bfloat16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16
  return f32[0]
}

/**
 * float32 bits -> half bits, round to nearest even. Overflow gives +-Infinity (0x7c00),
 * which callers treat as an error.
 */
export function floatToHalfBits(value: number): number {
  f32[0] = value
  const x = u32[0]
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  let mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0)
  // Re-bias: half exponent = exp - 127 + 15.
  const e = exp - 112
  if (e >= 31) return sign | 0x7c00
  if (e <= 0) {
    // Subnormal half (or zero).
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    const half = 1 << (shift - 1)
    const rest = mant & ((1 << shift) - 1)
    let r = mant >>> shift
    if (rest > half || (rest === half && r & 1)) r++
    return sign | r
  }
  let r = (e << 10) | (mant >>> 13)
  const rest = mant & 0x1fff
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) r++ // may carry into the exponent, to Infinity: correct
  return sign | r
}

/** Converts a Float32Array to half bits. Returns the index of the first value that overflowed, or -1. */
export function toHalf(src: Float32Array, dst: Uint16Array): number {
  let bad = -1
  for (let i = 0; i < src.length; i++) {
    const h = floatToHalfBits(src[i])
    if ((h & 0x7c00) === 0x7c00 && bad < 0) bad = i
    dst[i] = h
  }
  return bad
}
