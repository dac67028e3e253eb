/**
 * Laying weights out: TF's [K][O] (or [O][K]) float32 as MPSCNN's [O][K], each output row
 * scaled, by the scalar loops (layout.ts), the wasm SIMD kernel on a model read into a
 * WebAssembly memory (simd.ts), and per layer (materialize.ts: which of the two, the
 * permuted inputs of a fully connected layer, and the errors). Every expected value is
 * out[o * K + k] = fround(in[k * O + o] * scale[o]), computed here in float64.
 */
import { afterEach, describe, expect, it } from 'vitest'
import wasmBase64 from '../src/fold/wasm/transpose-wasm.js'
import { convertModel } from '../src/fold/convert.js'
import { float32Source, scaleRows, transposeScaled } from '../src/fold/layout.js'
import { jobPlan, layOut } from '../src/fold/materialize.js'
import { attach, compiled, detach, modelMemory, regionSize, reserve, transposeSimd } from '../src/fold/simd.js'
import { conv1x1, convert } from './helpers/fold-cases.js'
import { expectNodeRefusal } from './helpers/refusal.js'
import { attr, GraphBuilder } from './helpers/graph-builder.js'

const seq = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i))

/** [K][O] -> [O][K], row o scaled by scale[o]. */
function oracle(src: ArrayLike<number>, K: number, O: number, scale: ArrayLike<number>): number[] {
  const out: number[] = []
  for (let o = 0; o < O; o++) for (let k = 0; k < K; k++) out.push(Math.fround(src[k * O + o] * scale[o]))
  return out
}

describe('the scalar layout', () => {
  it('transposes over more than one block of 256 input rows, and output columns past the last 8', () => {
    const K = 300
    const O = 10
    const src = seq(K * O, (i) => (i % 97) - 48.5)
    const scale = Float64Array.from({ length: O }, (_, o) => 0.5 + o)
    const dst = new Float32Array(K * O)
    expect(transposeScaled(src, K, O, scale, dst)).toBe(0)
    expect(Array.from(dst)).toEqual(oracle(src, K, O, scale))
  })

  it('scales rows already in [O][K] order', () => {
    const dst = new Float32Array(6)
    expect(scaleRows(Float32Array.of(1, 2, 3, 4, 5, 6), 3, 2, Float64Array.of(2, 0.5), dst)).toBe(0)
    expect(Array.from(dst)).toEqual([2, 4, 6, 2, 2.5, 3])
  })

  it('float32 bytes at an aligned offset are viewed in place, not copied', () => {
    const buf = new Uint8Array(20)
    new Float32Array(buf.buffer, 4, 2).set([1.5, -2])
    const raw = buf.subarray(4, 12)
    const f = float32Source({ raw })
    expect(Array.from(f)).toEqual([1.5, -2])
    expect(f.buffer).toBe(buf.buffer)
    expect(f.byteOffset).toBe(4)
    expect(Array.from(float32Source({ data: Float64Array.of(0.25, 3) }))).toEqual([0.25, 3])
  })

  it('unaligned bytes are copied into one scratch buffer, reused and grown by doubling', () => {
    const at = (n: number, values?: number[]) => {
      const buf = new Uint8Array(n * 4 + 1)
      if (values) buf.set(new Uint8Array(Float32Array.from(values).buffer), 1)
      return float32Source({ raw: buf.subarray(1, 1 + n * 4) })
    }
    expect(Array.from(at(2, [7, -0.5]))).toEqual([7, -0.5])
    // Larger than anything before (so the scratch is exactly this size), then one a little larger:
    // the buffer doubles, so the next, up to twice the first, reuses it.
    const n = 1 << 18
    const same = at(n)
    expect(at(n).buffer).toBe(same.buffer)
    const a = at(n + 1)
    const b = at(n + 1)
    const c = at(n + (n >> 1))
    expect(b.buffer).toBe(a.buffer)
    expect(c.buffer).toBe(a.buffer)
  })
})

describe('laying out a layer', () => {
  /** input [1, 3] -> MatMul with weights W ([3][2] as given, or [2][3] with transpose_b). */
  function matmul(transposeB: boolean, weights: number[]): GraphBuilder {
    const b = new GraphBuilder()
    b.placeholder('input', [1, 3])
    b.constF32('fc/weights', transposeB ? [2, 3] : [3, 2], weights)
    b.op('fc', 'MatMul', ['input', 'fc/weights'], { transpose_b: attr.b(transposeB) })
    return b
  }

  it('permutes a fully connected layer\'s inputs (as after an NCHW flatten), in both weight layouts', () => {
    // The same matrix W[o][k] = [[1, 2, 3], [4, 5, 6]]; input k of the result is input order[k] of W.
    for (const [tb, w] of [[true, [1, 2, 3, 4, 5, 6]], [false, [1, 4, 2, 5, 3, 6]]] as const) {
      const m = convert(matmul(tb, [...w]))
      m.plans[0].inputOrder = Int32Array.of(2, 0, 1)
      expect(Array.from(m.layOut(0).weights)).toEqual([3, 1, 2, 6, 4, 5])
    }
  })

  it('a bias that overflows float32: NON_FINITE naming the last op folded', () => {
    const b = new GraphBuilder()
    conv1x1(b, [2, -3])
    b.constF32('b', [2], [1, 1])
    b.op('bias', 'BiasAdd', ['conv', 'b'])
    b.constF32('two', [], [2])
    b.op('mul', 'Mul', ['bias', 'two'])
    b.const('big', { dtype: 'float64', shape: [2], values: [1e39, 0] })
    b.op('add', 'Add', ['mul', 'big'])
    const m = convert(b)
    expect(m.layers[0].folded).toEqual(['bias', 'mul', 'add'])
    expect(expectNodeRefusal(() => m.layOut(0), 'NON_FINITE', 'add').message).toMatch(/folded bias at channel 0 \(1e\+39\) overflows float32/)
  })

  it('weights that overflow float32 once scaled: NON_FINITE naming the weights', () => {
    const b = new GraphBuilder()
    conv1x1(b, [2, -3])
    b.constF32('c', [2], [3e38, 1])
    b.op('mul', 'Mul', ['conv', 'c'])
    expect(expectNodeRefusal(() => convert(b).layOut(0), 'NON_FINITE', 'conv/weights').message).toMatch(/overflows float32/)
  })

  it('a layout job: the plan with its weights as a byte range of the model lays out the same', () => {
    // The model's bytes need not start at the start of their buffer.
    const encoded = matmul(false, [1, 4, 2, 5, 3, 6]).encode()
    const bytes = new Uint8Array(encoded.length + 8).subarray(8)
    bytes.set(encoded)
    const m = convertModel(bytes, { file: 'case.pb' })
    const job = m.job(0)!
    expect(job).toBeDefined()
    const l = layOut(jobPlan(job, bytes), 'float32', 'case.pb', false)
    expect(Array.from(l.weights)).toEqual([1, 2, 3, 4, 5, 6])
  })

  describe('from a model in a WebAssembly memory (the SIMD kernel)', () => {
    let attached: ArrayBufferLike | undefined
    afterEach(() => {
      if (attached) detach(attached)
      attached = undefined
    })

    function inMemory(b: GraphBuilder, transient: boolean) {
      const encoded = b.encode()
      const mem = modelMemory(encoded.length, true)
      mem.bytes.set(encoded)
      const region = 1 << 16
      attach(mem.memory, mem.bytes.buffer, reserve(mem.memory, region), region)
      attached = mem.bytes.buffer
      return { m: convertModel(mem.bytes, { file: 'case.pb', transient }), buffer: mem.memory.buffer }
    }

    it('lays out [K][O] in place when the caller writes it before the next layer, else hands a copy', () => {
      const w = [1, 4, 2, 5, 3, 6]
      const t = inMemory(matmul(false, w), true)
      const l = t.m.layOut(0)
      expect(Array.from(l.weights)).toEqual([1, 2, 3, 4, 5, 6])
      expect(l.weights.buffer).toBe(t.buffer)
      const c = inMemory(matmul(false, w), false)
      const k = c.m.layOut(0)
      expect(Array.from(k.weights)).toEqual([1, 2, 3, 4, 5, 6])
      expect(k.weights.buffer).not.toBe(c.buffer)
    })

    it('weights already [O][K] (transpose_b), and a layer with one input or one output, come out right', () => {
      expect(Array.from(inMemory(matmul(true, [1, 2, 3, 4, 5, 6]), true).m.layOut(0).weights)).toEqual([1, 2, 3, 4, 5, 6])
      expect(Array.from(inMemory(conv1x1Graph([2, -3]), true).m.layOut(0).weights)).toEqual([2, -3])
      const one = new GraphBuilder()
      one.placeholder('input', [1, 3])
      one.constF32('fc/weights', [3, 1], [1, 2, 3])
      one.op('fc', 'MatMul', ['input', 'fc/weights'])
      expect(Array.from(inMemory(one, true).m.layOut(0).weights)).toEqual([1, 2, 3])
    })
  })
})

function conv1x1Graph(w: number[]): GraphBuilder {
  const b = new GraphBuilder()
  conv1x1(b, w)
  return b
}

describe('the SIMD kernel', () => {
  it('compiles once, or takes a module handed to it', () => {
    expect(compiled()).toBe(compiled())
    const given = new WebAssembly.Module(Uint8Array.from(atob(wasmBase64), (c) => c.charCodeAt(0)))
    expect(compiled(given)).toBe(given)
    expect(compiled()).toBe(given)
  })

  it('a thread\'s region holds the output and the float64 scale', () => {
    for (const [K, O] of [[1, 1], [27, 32], [9, 1008]]) expect(regionSize(K, O)).toBeGreaterThanOrEqual(K * O * 4 + O * 8)
  })

  /** A [K][O] tensor at byte 4 of a model memory, with a region of `capacity` bytes attached. */
  function tensorInMemory(K: number, O: number, capacity = regionSize(K, O)) {
    const src = seq(K * O, (i) => ((i * 7) % 11) - 5)
    const m = modelMemory(K * O * 4 + 4, true)
    m.bytes.set(new Uint8Array(src.buffer), 4)
    attach(m.memory, m.bytes.buffer, reserve(m.memory, capacity), capacity)
    return { src, raw: m.bytes.subarray(4, 4 + K * O * 4), bytes: m.bytes }
  }

  it('lays out edges (K or O not a multiple of 4, fewer than 4 outputs) and leaves the model bytes alone', () => {
    for (const [K, O] of [[8, 6], [3, 6], [6, 7], [5, 3]]) {
      const t = tensorInMemory(K, O)
      const before = t.bytes.slice()
      const scale = Float64Array.from({ length: O }, (_, o) => 1 + o / 4)
      const r = transposeSimd(t.raw, K, O, scale)!
      expect(r.finite).toBe(true)
      expect(Array.from(r.weights)).toEqual(oracle(t.src, K, O, scale))
      expect(t.bytes).toEqual(before)
      detach(t.bytes.buffer)
    }
  })

  it('writes only inside its own region: the region before it (another thread\'s) is left alone', () => {
    const K = 8
    const O = 8
    const src = seq(K * O, (i) => i - 30)
    const m = modelMemory(K * O * 4, true)
    m.bytes.set(new Uint8Array(src.buffer))
    const size = regionSize(K, O)
    const other = reserve(m.memory, size)
    const mine = reserve(m.memory, size)
    new Uint8Array(m.memory.buffer, other, mine - other).fill(0xa5)
    attach(m.memory, m.bytes.buffer, mine, size)
    const scale = new Float64Array(O).fill(2)
    const r = transposeSimd(m.bytes, K, O, scale)!
    detach(m.bytes.buffer)
    expect(Array.from(r.weights)).toEqual(oracle(src, K, O, scale))
    expect(new Uint8Array(m.memory.buffer, other, mine - other).every((x) => x === 0xa5)).toBe(true)
  })

  it('declines a tensor that does not fit the region, and any once detached', () => {
    const t = tensorInMemory(8, 8, regionSize(8, 8) - 1)
    expect(transposeSimd(t.raw, 8, 8, new Float64Array(8).fill(1))).toBeNull()
    const u = tensorInMemory(8, 8)
    expect(transposeSimd(u.raw, 8, 8, new Float64Array(8).fill(1))).not.toBeNull()
    detach(u.bytes.buffer)
    expect(transposeSimd(u.raw, 8, 8, new Float64Array(8).fill(1))).toBeNull()
  })
})
