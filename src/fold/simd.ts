/**
 * The SIMD weight layout. A model read into a WebAssembly memory (`modelMemory`) is laid
 * out by the wasm kernel in wasm/transpose.wat straight from its file bytes, aligned or
 * not, into an output region of the same memory. Each thread that lays out layers
 * attaches its own output region (`attach`); the memory may be shared with a worker.
 */
import wasmBase64 from './wasm/transpose-wasm.js'

type Kernel = (src: number, dst: number, scale: number, K: number, O: number, K4: number, O4: number) => number

interface Context {
  memory: WebAssembly.Memory
  kernel: Kernel
  /** Byte offset and size of this thread's output region (outputs, then scale). */
  out: number
  capacity: number
}

const PAGE = 65536
const MAX_PAGES = 65536 // 4 GiB: the reservation is virtual, pages are committed on use.
let wasmModule: WebAssembly.Module | undefined
const contexts = new WeakMap<ArrayBufferLike, Context>()

/** The compiled kernel; a worker can be handed it (WebAssembly.Module crosses threads) instead of compiling its own. */
export function compiled(given?: WebAssembly.Module): WebAssembly.Module {
  if (given) wasmModule = given
  wasmModule ??= new WebAssembly.Module(Uint8Array.from(atob(wasmBase64), (c) => c.charCodeAt(0)))
  return wasmModule
}

/** A wasm memory whose first `size` bytes are for the model file. */
export function modelMemory(size: number, shared: boolean): { memory: WebAssembly.Memory; bytes: Uint8Array } {
  const pages = Math.ceil(size / PAGE) + 1
  const memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared } as WebAssembly.MemoryDescriptor)
  return { memory, bytes: new Uint8Array(memory.buffer, 0, size) }
}

/** Grows the memory by `bytes` (rounded to 64 KiB) and returns the new region's offset. */
export function reserve(memory: WebAssembly.Memory, bytes: number): number {
  const offset = memory.buffer.byteLength
  memory.grow(Math.ceil(bytes / PAGE))
  return offset
}

/**
 * Lets this thread lay out tensors that live in `modelBuffer` (the buffer the model's
 * bytes view), writing into [out, out + capacity) of the memory.
 */
export function attach(memory: WebAssembly.Memory, modelBuffer: ArrayBufferLike, out: number, capacity: number): void {
  const instance = new WebAssembly.Instance(compiled(), { env: { memory } })
  contexts.set(modelBuffer, { memory, kernel: instance.exports.transpose as Kernel, out, capacity })
}

export function detach(modelBuffer: ArrayBufferLike): void {
  contexts.delete(modelBuffer)
}

/** Room a thread needs to lay out a [K][O] tensor. */
export function regionSize(K: number, O: number): number {
  return outputSize(K, O) + O * 8 + 64
}

/** Bytes a [K][O] output takes in the region (16-byte aligned, the scale follows it). */
function outputSize(K: number, O: number): number {
  return (K * O * 4 + 15) & ~15
}

interface SimdResult {
  /** A view of the output region: valid until this thread's next layout. */
  weights: Float32Array
  finite: boolean
}

/**
 * dst[o*K + k] = src[k*O + o] * scale[o] (in float64, rounded once), for float32 bytes
 * `raw` inside an attached model memory. Null when `raw` is not in one, or the output
 * does not fit this thread's region.
 */
export function transposeSimd(raw: Uint8Array, K: number, O: number, scale: Float64Array): SimdResult | null {
  const ctx = contexts.get(raw.buffer)
  if (!ctx) return null
  const dst = ctx.out
  if (regionSize(K, O) > ctx.capacity) return null
  const buf = ctx.memory.buffer
  const scaleAt = dst + outputSize(K, O)
  const s = new Float64Array(buf, scaleAt, O)
  s.set(scale)
  const K4 = K & ~3
  const O4 = O & ~3
  let bad = ctx.kernel(raw.byteOffset, dst, scaleAt, K, O, K4, O4) !== 0
  const out = new Float32Array(buf, dst, K * O)
  if (K4 < K || O4 < O) {
    // The edges the kernel leaves: rows k >= K4 and columns o >= O4, read unaligned.
    const view = new DataView(buf, raw.byteOffset, raw.byteLength)
    let chk = 0
    for (let k = 0; k < K; k++) {
      for (let o = k < K4 ? O4 : 0; o < O; o++) {
        const v = Math.fround(view.getFloat32((k * O + o) * 4, true) * s[o])
        out[o * K + k] = v
        chk += v - v
      }
    }
    if (chk !== 0) bad = true
  }
  return { weights: out, finite: !bad }
}
