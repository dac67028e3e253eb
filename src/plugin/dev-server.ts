/**
 * Vite dev: converted files are served from memory by a middleware, at
 * `<base>@mpscnn/<sha256 prefix>/<file>`. Models with the same bytes share that folder; it
 * is dropped when no model points at it any more (a model's previous version, once it
 * converts again). Anything else under `<base>@mpscnn/` answers 404, never a fallback page.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { urlPath } from '../emit/assets.js'

export class DevAssets {
  /** Served folders (`<sha256 prefix>`): their files, and the model files pointing at them. */
  private readonly dirs = new Map<string, { files: Map<string, Uint8Array>; models: Set<string> }>()
  /** Model file -> the folder its module points at. */
  private readonly dirOf = new Map<string, string>()
  private base = '/'

  setBase(base: string): void {
    this.base = base.endsWith('/') ? base : `${base}/`
  }

  /** Serves a model's files; returns the URL expression of each. */
  serve(modelFile: string, sha256: string, files: Map<string, Uint8Array>): (name: string) => string {
    const dir = sha256.slice(0, 16)
    const old = this.dirOf.get(modelFile)
    if (old !== undefined && old !== dir) {
      const d = this.dirs.get(old)!
      d.models.delete(modelFile)
      if (d.models.size === 0) this.dirs.delete(old)
    }
    const d = this.dirs.get(dir)
    if (d) d.models.add(modelFile)
    else this.dirs.set(dir, { files, models: new Set([modelFile]) })
    this.dirOf.set(modelFile, dir)
    const prefix = `${this.base}@mpscnn/${dir}/`
    return (name) => JSON.stringify(prefix + urlPath(name))
  }

  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const prefix = `${this.base}@mpscnn/`
    const pathname = (req.url ?? '').replace(/[?#][^]*$/, '')
    if (!pathname.startsWith(prefix)) return next()
    let rel: string | undefined
    try {
      rel = decodeURIComponent(pathname.slice(prefix.length)) // once: file names hold no `%`
    } catch {}
    const slash = rel?.indexOf('/') ?? -1
    const bytes = rel && slash > 0 ? this.dirs.get(rel.slice(0, slash))?.files.get(rel.slice(slash + 1)) : undefined
    res.setHeader('Cache-Control', 'no-cache')
    if (!bytes) {
      res.statusCode = 404
      res.setHeader('Content-Type', 'text/plain; charset=utf-8')
      res.end(`unplugin-mpscnn: no converted file at ${pathname}\n`)
      return
    }
    res.setHeader('Content-Type', 'application/octet-stream')
    res.setHeader('Content-Length', String(bytes.byteLength))
    res.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  }
}
