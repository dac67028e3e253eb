/**
 * Vite dev: converted files are served from memory by a middleware, at
 * `<base>@mpscnn/<sha256 prefix>/<file>`. Models with the same bytes share that folder; it
 * is dropped when no model points at it any more (a model's previous version, once it
 * converts again). Anything else under `<base>@mpscnn/` answers 404, never a fallback page.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { urlPath } from '../emit/assets.js'

export class DevAssets {
  /** Served folders (`<sha256 prefix>[/<variant>]`): their files, and the model ids pointing at them. */
  private readonly dirs = new Map<string, { files: Map<string, Uint8Array>; models: Set<string> }>()
  /** Model id (path and import query) -> the folder its module points at. */
  private readonly dirOf = new Map<string, string>()
  private base = '/'

  setBase(base: string): void {
    this.base = base.endsWith('/') ? base : `${base}/`
  }

  /**
   * Serves a model's files (`modelId`: its path, with the import's query); returns the URL
   * expression of each. An import with options (`variant`, e.g. `packed-float16`) gets a
   * folder of its own: `<sha256 prefix>/<variant>/`.
   */
  serve(modelId: string, sha256: string, files: Map<string, Uint8Array>, variant = ''): (name: string) => string {
    const dir = variant ? `${sha256.slice(0, 16)}/${variant}` : sha256.slice(0, 16)
    const old = this.dirOf.get(modelId)
    if (old !== undefined && old !== dir) {
      const d = this.dirs.get(old)!
      d.models.delete(modelId)
      if (d.models.size === 0) this.dirs.delete(old)
    }
    const d = this.dirs.get(dir)
    if (d) d.models.add(modelId)
    else this.dirs.set(dir, { files, models: new Set([modelId]) })
    this.dirOf.set(modelId, dir)
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
    // `<sha>/<file>`, or `<sha>/<variant>/<file>` for an import with options.
    const parts = rel?.split('/') ?? []
    let bytes: Uint8Array | undefined
    for (const n of [2, 1]) bytes ??= parts.length > n ? this.dirs.get(parts.slice(0, n).join('/'))?.files.get(parts.slice(n).join('/')) : undefined
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
