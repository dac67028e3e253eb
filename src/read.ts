/**
 * Reading a model straight into a shared WebAssembly memory: the bytes the GraphDef
 * reader views in place, the SIMD layout reads from, and a worker can share without a
 * copy.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { Worker } from 'node:worker_threads'
import { workerExecArgv } from './worker-options.js'
import { MpscnnError } from './errors.js'
import { attach, modelMemory, reserve } from './fold/simd.js'

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

export interface ReadHooks {
  /** Sees the memory before any byte is read, e.g. to start a worker that shares it. */
  beforeRead?: (m: ModelMemory) => void
  /** Called after each chunk with the number of bytes read so far. */
  progress?: (bytesRead: number) => void
}

const CHUNK = 8 << 20

/** Reads `file` (named `display` in errors) into a new shared model memory. */
export function readModelMemory(file: string, display = file, hooks: ReadHooks = {}): ModelMemory {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch (e) {
    throw readError(e, display)
  }
  try {
    const st = fs.fstatSync(fd)
    if (st.isDirectory()) throw readError(Object.assign(new Error('directory'), { code: 'EISDIR' }), display)
    const m = modelMemory(st.size, true)
    hooks.beforeRead?.(m)
    let pos = 0
    while (pos < st.size) {
      const n = fs.readSync(fd, m.bytes, pos, Math.min(CHUNK, st.size - pos), pos)
      if (n === 0) break
      pos += n
      hooks.progress?.(pos)
    }
    return pos === st.size ? m : { memory: m.memory, bytes: m.bytes.subarray(0, pos) }
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


/** Below this size a worker costs more than it saves. */
const HASH_WORKER_MIN_BYTES = 16 << 20

/**
 * sha256 of bytes, on a worker thread when they are in shared memory and large: the
 * caller converts meanwhile.
 */
export function sha256InParallel(bytes: Uint8Array): Promise<string> {
  if (bytes.byteLength < HASH_WORKER_MIN_BYTES || !(bytes.buffer instanceof SharedArrayBuffer)) {
    return Promise.resolve(createHash('sha256').update(bytes).digest('hex'))
  }
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./sha256-worker.js', import.meta.url), { workerData: bytes, execArgv: workerExecArgv() })
    w.once('message', (hex: string) => {
      resolve(hex)
      void w.terminate()
    })
    w.once('error', reject)
  })
}
