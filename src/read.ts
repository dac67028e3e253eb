/**
 * Reading a model file for the CLI: into a SharedArrayBuffer, so that a worker can hash
 * it while the main thread converts, without a copy.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { Worker } from 'node:worker_threads'
import { MpscnnError } from './errors.js'

/** Below this size a worker costs more than it saves. */
const WORKER_MIN_BYTES = 16 << 20

export function readShared(file: string): Uint8Array {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new MpscnnError('NOT_FOUND', file, 'no such file', { hint: 'Check the path' })
    throw new MpscnnError('READ_FAILED', file, `cannot be read (${code ?? (e as Error).message})`)
  }
  try {
    const st = fs.fstatSync(fd)
    if (st.isDirectory()) throw new MpscnnError('NOT_FOUND', file, 'this is a directory, not a model file', { hint: 'For a SavedModel folder, freeze the graph into a .pb first' })
    const buf = new Uint8Array(new SharedArrayBuffer(st.size))
    let pos = 0
    while (pos < buf.length) {
      const n = fs.readSync(fd, buf, pos, buf.length - pos, pos)
      if (n === 0) break
      pos += n
    }
    return pos === buf.length ? buf : buf.subarray(0, pos)
  } catch (e) {
    if (e instanceof MpscnnError) throw e
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'EISDIR') throw new MpscnnError('NOT_FOUND', file, 'this is a directory, not a model file', { hint: 'For a SavedModel folder, freeze the graph into a .pb first' })
    throw new MpscnnError('READ_FAILED', file, `cannot be read (${code ?? (e as Error).message})`)
  } finally {
    fs.closeSync(fd)
  }
}

/** sha256 of bytes read by `readShared`, on a worker thread when that pays. */
export function sha256Async(bytes: Uint8Array): Promise<string> {
  if (bytes.length < WORKER_MIN_BYTES || !(bytes.buffer instanceof SharedArrayBuffer) || bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) {
    return Promise.resolve(createHash('sha256').update(bytes).digest('hex'))
  }
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./sha256-worker.js', import.meta.url), { workerData: bytes.buffer })
    w.once('message', (hex: string) => {
      resolve(hex)
      void w.terminate()
    })
    w.once('error', reject)
  })
}
