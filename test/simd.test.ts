/**
 * The SIMD layout kernel against the scalar one, on tensors at every byte alignment and
 * with edges (K, O not multiples of 4); and the committed wasm against its source.
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { transposeScaled } from '../src/fold/layout.js'
import { attach, detach, modelMemory, regionSize, reserve, transposeSimd } from '../src/fold/simd.js'

function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1
}

describe('SIMD weight layout', () => {
  for (const [K, O] of [[27, 32], [64, 48], [9, 1008], [13, 7], [4, 4], [3, 5]]) {
    for (const misalign of [0, 1, 2, 3]) {
      it(`[${K}][${O}] at byte offset 4n+${misalign} equals the scalar layout`, () => {
        const r = rng(K * 1000 + O + misalign)
        const src = Float32Array.from({ length: K * O }, r)
        const scale = Float64Array.from({ length: O }, () => 1 + r())
        const m = modelMemory(K * O * 4 + 64, true)
        const at = 8 + misalign
        m.bytes.set(new Uint8Array(src.buffer), at)
        const raw = m.bytes.subarray(at, at + K * O * 4)
        attach(m.memory, m.bytes.buffer, reserve(m.memory, regionSize(K, O)), regionSize(K, O))
        const got = transposeSimd(raw, K, O, scale)
        detach(m.bytes.buffer)
        expect(got).not.toBeNull()
        expect(got!.finite).toBe(true)
        const want = new Float32Array(K * O)
        transposeScaled(src, K, O, scale, want)
        expect(Array.from(got!.weights)).toEqual(Array.from(want))
      })
    }
  }

  it('reports NaN and overflow, in the kernel and in the edges', () => {
    for (const [K, O, at] of [[8, 8, 9], [7, 6, 40]]) {
      const src = new Float32Array(K * O).fill(1)
      src[at] = NaN
      const m = modelMemory(K * O * 4, true)
      m.bytes.set(new Uint8Array(src.buffer))
      attach(m.memory, m.bytes.buffer, reserve(m.memory, regionSize(K, O)), regionSize(K, O))
      expect(transposeSimd(m.bytes, K, O, new Float64Array(O).fill(1))!.finite).toBe(false)
      src[at] = 3e38
      m.bytes.set(new Uint8Array(src.buffer))
      expect(transposeSimd(m.bytes, K, O, new Float64Array(O).fill(10))!.finite).toBe(false)
      detach(m.bytes.buffer)
    }
  })

  it('bytes outside an attached memory are not handled (the scalar path takes them)', () => {
    expect(transposeSimd(new Uint8Array(64), 4, 4, new Float64Array(4))).toBeNull()
  })

  it('the committed wasm is what scripts/build-wasm.mjs makes from transpose.wat', () => {
    const r = spawnSync(process.execPath, [path.join(__dirname, '../scripts/build-wasm.mjs'), '--check'], { encoding: 'utf8' })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
  })
})
