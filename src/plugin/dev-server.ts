/**
 * Vite dev: converted files are served from memory by a middleware, at
 * `<base>@mpscnn/<sha256 prefix>/<file>`; a model's previous version is dropped when it
 * converts again.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

export class DevAssets {
  private readonly served = new Map<string, Uint8Array>()
  private readonly byModel = new Map<string, string[]>()
  private base = '/'

  setBase(base: string): void {
    this.base = base.endsWith('/') ? base : `${base}/`
  }

  /**
   * Serves a model's files (`modelId`: its path, with the import's query); returns the URL
   * expression of each. An import with options (`variant`) gets a folder of its own.
   */
  serve(modelId: string, sha256: string, files: Map<string, Uint8Array>, variant = ''): (name: string) => string {
    const dir = `${this.base}@mpscnn/${sha256.slice(0, 16)}/${variant ? `${variant}/` : ''}`
    for (const old of this.byModel.get(modelId) ?? []) this.served.delete(old)
    for (const [name, bytes] of files) this.served.set(dir + name, bytes)
    this.byModel.set(modelId, [...files.keys()].map((name) => dir + name))
    return (name) => JSON.stringify(dir + name)
  }

  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const url = req.url?.split('?')[0]
    const bytes = url ? this.served.get(url) : undefined
    if (!bytes) return next()
    res.setHeader('Content-Type', 'application/octet-stream')
    res.setHeader('Content-Length', String(bytes.byteLength))
    res.setHeader('Cache-Control', 'no-cache')
    res.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  }
}
