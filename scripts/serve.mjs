/**
 * A tiny static file server for the built playground (`npm run playground`), also used by
 * test/e2e.test.ts. node:http only; binds 127.0.0.1.
 *
 *   node scripts/serve.mjs [dir]      (default: playground/dist; PORT or 4173; HOST or 127.0.0.1)
 */
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.dat': 'application/octet-stream',
  '.wasm': 'application/wasm',
}

/**
 * A server for the files under `root` (not listening yet). `/` and unknown extension-less
 * paths fall back to index.html; anything outside `root` is refused.
 * @param {string} root
 * @returns {http.Server}
 */
export function createStaticServer(root) {
  const base = path.resolve(root)
  return http.createServer((req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' })
      res.end(body)
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'Method Not Allowed\n')
    let pathname
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname)
    } catch {
      return send(400, 'Bad Request\n')
    }
    let file = path.join(base, pathname)
    if (file !== base && !file.startsWith(base + path.sep)) return send(403, 'Forbidden\n')
    let stat = statOrNull(file)
    if (stat?.isDirectory()) {
      file = path.join(file, 'index.html')
      stat = statOrNull(file)
    } else if (!stat && !path.extname(pathname)) {
      file = path.join(base, 'index.html')
      stat = statOrNull(file)
    }
    if (!stat?.isFile()) return send(404, 'Not Found\n')
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream'
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': stat.size,
      // Vite's hashed assets never change; the HTML must be revalidated.
      'Cache-Control': pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    })
    if (req.method === 'HEAD') return res.end()
    fs.createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res)
  })
}

/** @param {string} file */
function statOrNull(file) {
  try {
    return fs.statSync(file)
  } catch {
    return null
  }
}

/**
 * Serves `root` on `host:port` (0: a free port); resolves with the server and its URL.
 * @param {string} root
 * @param {{ port?: number, host?: string }} [options]
 * @returns {Promise<{ server: http.Server, url: string }>}
 */
export function serve(root, { port = 0, host = '127.0.0.1' } = {}) {
  const server = createStaticServer(root)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      const addr = /** @type {import('node:net').AddressInfo} */ (server.address())
      resolve({ server, url: `http://${host}:${addr.port}/` })
    })
  })
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const root = path.resolve(process.argv[2] ?? fileURLToPath(new URL('../playground/dist', import.meta.url)))
  if (!fs.existsSync(path.join(root, 'index.html'))) {
    console.error(`serve: ${path.relative(process.cwd(), root) || root}/index.html is missing; build the playground first (npm run demo)`)
    process.exit(1)
  }
  const port = Number(process.env.PORT ?? 4173)
  const host = process.env.HOST ?? '127.0.0.1'
  try {
    const { url } = await serve(root, { port, host })
    console.log(`Serving ${path.relative(process.cwd(), root) || '.'} at ${url} (Ctrl+C to stop)`)
  } catch (e) {
    console.error(`serve: ${/** @type {Error} */ (e).message}`)
    process.exit(1)
  }
}
