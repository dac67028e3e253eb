/**
 * float16 rounding (src/base/half.ts) against an exact oracle: every finite half value is
 * listed as a number, and a float32 input goes to the nearest one, ties to the one whose
 * bits are even. The differences are exact in float64 (both sides have at most 24
 * significant bits, a few binades apart), so "nearest" and "tie" are decided exactly.
 */
import { describe, expect, it } from 'vitest'
import { floatToHalfBits, toHalf } from '../src/base/half.js'

/** The value of half bits 0..0x7c00, with 0x7c00 (Infinity) standing at 2^16, where the next binade would start. */
const VALUES = Float64Array.from({ length: 0x7c01 }, (_, h) => {
  const exp = h >> 10
  const frac = h & 0x3ff
  return exp === 0 ? frac * 2 ** -24 : (1024 + frac) * 2 ** (exp - 25)
})

/** The half bits IEEE 754 round-to-nearest-even gives for a finite float32 value `v`. */
function oracle(v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0
  const a = Math.abs(v)
  if (a >= VALUES[0x7c00]) return sign | 0x7c00
  let lo = 0
  let hi = 0x7c00
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (VALUES[mid] <= a) lo = mid
    else hi = mid
  }
  const below = a - VALUES[lo]
  const above = VALUES[hi] - a
  const bits = below < above ? lo : above < below ? hi : lo % 2 === 0 ? lo : hi
  return sign | bits
}

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)
/** The float32 next to `v` (exactly a float32) towards +Infinity (`step` 1) or 0 (`step` -1), for v > 0. */
function nextFloat32(v: number, step: 1 | -1): number {
  f32[0] = v
  u32[0] += step
  return f32[0]
}

/** The exact midpoint between half h and h + 1 (a float32: 12 significant bits). */
const midpoint = (h: number) => (VALUES[h] + VALUES[h + 1]) / 2

describe('float16 rounding, against an exact oracle', () => {
  it('the oracle itself: ties go to the even neighbour, both ways', () => {
    // 1 + 2^-11 lies halfway between 1 (0x3c00, even) and 1 + 2^-10 (0x3c01, odd).
    expect(oracle(1 + 2 ** -11)).toBe(0x3c00)
    // 1 + 3 * 2^-11 lies halfway between 0x3c01 (odd) and 0x3c02 (even).
    expect(oracle(1 + 3 * 2 ** -11)).toBe(0x3c02)
    expect(oracle(65504)).toBe(0x7bff)
    expect(oracle(65520)).toBe(0x7c00)
  })

  it('every tie between two finite halves, subnormal and normal, goes to the even one, with either sign', () => {
    const wrong: string[] = []
    for (let h = 0; h < 0x7bff; h++) {
      const m = midpoint(h)
      if (Math.fround(m) !== m) wrong.push(`${m} is not a float32`)
      const want = h % 2 === 0 ? h : h + 1
      for (const s of [1, -1]) {
        const got = floatToHalfBits(s * m)
        const w = (s < 0 ? 0x8000 : 0) | want
        if (got !== w || oracle(s * m) !== w) wrong.push(`${s * m}: got 0x${got.toString(16)}, want 0x${w.toString(16)}`)
      }
    }
    expect(wrong.slice(0, 5)).toEqual([])
  })

  it('one float32 step either side of every tie rounds to the nearer half', () => {
    const wrong: string[] = []
    for (let h = 0; h < 0x7bff; h++) {
      const m = midpoint(h)
      for (const [v, want] of [[nextFloat32(m, -1), h], [nextFloat32(m, 1), h + 1]]) {
        if (floatToHalfBits(v) !== want || oracle(v) !== want) wrong.push(`${v}: got 0x${floatToHalfBits(v).toString(16)}, want 0x${want.toString(16)}`)
      }
    }
    expect(wrong.slice(0, 5)).toEqual([])
  })

  it('below the smallest subnormal, at the top of the subnormals, and at the overflow boundary', () => {
    const cases = [
      2 ** -25, // halfway between 0 (even) and the smallest subnormal (odd): 0
      nextFloat32(2 ** -25, 1), // just above: the smallest subnormal
      3 * 2 ** -25, // halfway between subnormals 1 and 2: 2
      2 ** -26, // far below: 0
      1.5 * 2 ** -25, // 0.75 of the smallest subnormal: 1
      midpoint(0x3ff), // halfway between the largest subnormal (odd) and the smallest normal (even)
      midpoint(0x3fe),
      65504, // the largest half
      65519.99609375, // the float32 just below 65520: still the largest half
      65520, // halfway between 65504 (0x7bff, odd) and 65536 (0x7c00): Infinity
      65536,
      1e10,
    ]
    for (const v of cases) {
      expect(Math.fround(v)).toBe(v)
      for (const s of [1, -1]) expect([s * v, floatToHalfBits(s * v)]).toEqual([s * v, oracle(s * v)])
    }
    expect(oracle(2 ** -25)).toBe(0)
    expect(oracle(3 * 2 ** -25)).toBe(2)
    expect(oracle(65519.99609375)).toBe(0x7bff)
  })

  it('toHalf writes the same bits and names the first value that overflows', () => {
    const src = Float32Array.from([1 + 2 ** -11, 1 + 3 * 2 ** -11, -midpoint(0x3ff), 65504, 65520, -1e10])
    const dst = new Uint16Array(src.length)
    expect(toHalf(src, dst)).toBe(4)
    expect([...dst]).toEqual([...src].map(oracle))
    expect(toHalf(src.subarray(0, 4), new Uint16Array(4))).toBe(-1)
  })
})
