/**
 * Where the pipeline (pipeline.ts) puts each laid-out tensor: in memory (what bundlers
 * emit and the cache stores), or streamed into a folder's files (the CLI).
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { AssetPlan, TensorPlacement } from '../emit/assets.js'
import type { TensorSink } from './pipeline.js'

/** File name -> bytes. Unpacked, it keeps each layer's own arrays; packed, it copies into one buffer. */
export class MemorySink implements TensorSink {
  readonly files = new Map<string, Uint8Array>()
  readonly keepsViews: boolean
  constructor(packed: boolean) {
    this.keepsViews = !packed
  }
  open(plan: AssetPlan): void {
    if (plan.packed) for (const f of plan.files) this.files.set(f.name, new Uint8Array(f.size))
  }
  put(t: TensorPlacement, bytes: Uint8Array): void {
    if (this.keepsViews) this.files.set(t.file, bytes)
    else this.files.get(t.file)!.set(bytes, t.offset)
  }
  close(): Map<string, string> {
    return new Map()
  }
}

/** `weights_conv.dat` -> `weights_conv-<8 hex digits of the sha256 of bytes>.dat` */
function hashName(name: string, hash: string): string {
  return `${name.slice(0, -4)}-${hash}.dat`
}

function sha8(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 8)
}

/**
 * Writes each tensor at once into `dir` (which must exist): one file per tensor, or one
 * packed file written at each tensor's offset. `hash`: content-hashed names (the CLI's
 * --hash; a packed file is hashed whole once written). A second thread writes into the
 * same files (`pathOf`).
 */
export class FileSink implements TensorSink {
  readonly keepsViews = false
  private packed?: { fd: number; name: string }
  private readonly names = new Map<string, string>()
  constructor(
    private readonly dir: string,
    private readonly hash: boolean,
  ) {}
  open(plan: AssetPlan): void {
    if (!plan.packed) return
    const name = plan.files[0].name
    const fd = fs.openSync(path.join(this.dir, name), 'w')
    this.packed = { fd, name }
    fs.ftruncateSync(fd, plan.files[0].size)
  }
  put(t: TensorPlacement, bytes: Uint8Array): void {
    if (this.packed) {
      fs.writeSync(this.packed.fd, bytes, 0, bytes.byteLength, t.offset)
      return
    }
    const name = this.hash ? hashName(t.file, sha8(bytes)) : t.file
    if (name !== t.file) this.names.set(t.file, name)
    fs.writeFileSync(path.join(this.dir, name), bytes)
  }
  pathOf(t: TensorPlacement): string {
    return path.join(this.dir, t.file)
  }
  putElsewhere(t: TensorPlacement, hash?: string): void {
    if (hash === undefined || this.packed) return
    this.names.set(t.file, hashName(t.file, hash))
    fs.renameSync(path.join(this.dir, t.file), path.join(this.dir, hashName(t.file, hash)))
  }
  close(ok: boolean): Map<string, string> {
    const p = this.packed
    if (!p) return this.names
    this.packed = undefined
    fs.closeSync(p.fd)
    if (ok && this.hash) {
      const file = path.join(this.dir, p.name)
      const name = hashName(p.name, sha8(fs.readFileSync(file)))
      this.names.set(p.name, name)
      fs.renameSync(file, path.join(this.dir, name))
    }
    return this.names
  }
}
