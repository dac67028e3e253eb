/**
 * Reading a model straight into a shared WebAssembly memory: the bytes the GraphDef
 * reader views in place, the SIMD layout reads from, and a worker can share without a
 * copy.
 */
import fs from 'node:fs'
import { MpscnnError } from '../base/errors.js'
import { attach, modelMemory, reserve } from '../fold/simd.js'
import { HEAD_BYTES, sniffHead } from '../graphdef/sniff.js'

export interface ModelMemory {
  memory: WebAssembly.Memory
  /** The model's bytes: the first bytes of the memory. */
  bytes: Uint8Array
}

function readError(e: unknown, file: string): MpscnnError {
  if (e instanceof MpscnnError) return e
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return new MpscnnError('NOT_FOUND', file, 'no such file', { hint: 'Check the path' })
  if (code === 'EISDIR') return new MpscnnError('NOT_FOUND', file, 'this is a directory, not a model file', { hint: 'For a SavedModel folder, freeze the graph into a .pb first' })
  return new MpscnnError('READ_FAILED', file, `cannot be read (${code ?? (e as Error).message})`)
}

interface ReadHooks {
  /** Sees the memory before any byte is read, e.g. to start a worker that shares it. */
  beforeRead?: (m: ModelMemory) => void
  /** Called after each chunk with the number of bytes read so far. */
  progress?: (bytesRead: number) => void
}

const CHUNK = 8 << 20

/** Opens a model file: its descriptor and size, or the one clear error (the descriptor closed). */
function openModel(file: string, display: string): { fd: number; size: number } {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch (e) {
    throw readError(e, display)
  }
  try {
    const st = fs.fstatSync(fd)
    if (st.isDirectory()) throw readError(Object.assign(new Error('directory'), { code: 'EISDIR' }), display)
    // What is not a model is refused from its first bytes, before memory for the rest is taken.
    const head = new Uint8Array(Math.min(HEAD_BYTES, st.size))
    let got = 0
    while (got < head.length) {
      const n = fs.readSync(fd, head, got, head.length - got, got)
      if (n === 0) break
      got += n
    }
    sniffHead(head.subarray(0, got), display, file)
    return { fd, size: st.size }
  } catch (e) {
    fs.closeSync(fd)
    throw readError(e, display)
  }
}

/** `m` cut to the `end` bytes read, when the file shrank while being read. */
function upTo(m: ModelMemory, end: number): ModelMemory {
  return end === m.bytes.length ? m : { memory: m.memory, bytes: m.bytes.subarray(0, end) }
}

/** Reads `file` (named `display` in errors) into a new shared model memory. */
export function readModelMemory(file: string, display = file, hooks: ReadHooks = {}): ModelMemory {
  const { fd, size } = openModel(file, display)
  try {
    const m = modelMemory(size, true)
    hooks.beforeRead?.(m)
    let pos = 0
    while (pos < size) {
      const n = fs.readSync(fd, m.bytes, pos, Math.min(CHUNK, size - pos), pos)
      if (n === 0) break
      pos += n
      hooks.progress?.(pos)
    }
    return upTo(m, pos)
  } catch (e) {
    throw readError(e, display)
  } finally {
    fs.closeSync(fd)
  }
}

/** The chunks a parallel read asks libuv's thread pool for, all at once. */
const PARALLEL_CHUNK = 4 << 20

/**
 * Reads an open file's first `into.length` bytes into `into` on libuv's thread pool,
 * several chunks at once: into fresh memory, a read is bound by faulting its pages in, which
 * then happens on more than one core. `onPrefix(end)` sees, in order,
 * how far the file has been read without a gap. Resolves to the number of bytes read
 * (fewer if the file shrank meanwhile). For a thread with nothing else to do meanwhile:
 * the plugin's reads, not the CLI's, whose second core is busy.
 */
export async function readInParallel(fd: number, into: Uint8Array, onPrefix?: (end: number) => void): Promise<number> {
  const size = into.length
  const chunks = Math.ceil(size / PARALLEL_CHUNK)
  const got = new Float64Array(chunks)
  const want = (i: number) => Math.min(PARALLEL_CHUNK, size - i * PARALLEL_CHUNK)
  let end = size
  let prefix = 0
  let failure: unknown
  await new Promise<void>((resolve) => {
    let pending = chunks
    if (pending === 0) resolve()
    const settle = () => {
      if (--pending === 0) resolve()
    }
    const readChunk = (i: number) => {
      const start = i * PARALLEL_CHUNK + got[i]
      const length = want(i) - got[i]
      fs.read(fd, into, start, length, start, (e, n) => {
        if (e || failure !== undefined) {
          failure ??= e
          return settle()
        }
        got[i] += n
        if (n === 0) end = Math.min(end, start)
        else if (n < length) return readChunk(i)
        const before = prefix
        while (prefix < chunks && (got[prefix] === want(prefix) || prefix * PARALLEL_CHUNK + got[prefix] >= end)) prefix++
        if (prefix > before && onPrefix) {
          try {
            onPrefix(Math.min(end, prefix * PARALLEL_CHUNK))
          } catch (err) {
            failure ??= err
          }
        }
        settle()
      })
    }
    for (let i = 0; i < chunks; i++) readChunk(i)
  })
  if (failure !== undefined) throw failure
  return end
}

/** `readModelMemory` for the plugin: the same memory, read in parallel (see `readInParallel`). */
export async function readModelMemoryInParallel(file: string, display = file): Promise<ModelMemory> {
  const { fd, size } = openModel(file, display)
  try {
    const m = modelMemory(size, true)
    return upTo(m, await readInParallel(fd, m.bytes))
  } catch (e) {
    throw readError(e, display)
  } finally {
    fs.closeSync(fd)
  }
}

/** Model bytes from anywhere, copied into a model memory unless they are in one already. */
export function toModelMemory(bytes: Uint8Array, memory?: WebAssembly.Memory): ModelMemory {
  if (memory && bytes.buffer === memory.buffer) return { memory, bytes }
  const m = modelMemory(bytes.byteLength, true)
  m.bytes.set(bytes)
  return m
}

/** Lets this thread lay out a model's layers from `m` with SIMD: reserves its output region. */
export function attachLayout(m: ModelMemory, region: number): void {
  attach(m.memory, m.bytes.buffer, reserve(m.memory, region), region)
}
