/**
 * Real processes: a `vite` dev server fetched over HTTP, and watch builds (vite build
 * --watch, rollup -w, webpack watch) whose conversions are counted from their log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { makeInceptionV3_2015 } from './helpers/inception.js'

const repo = path.resolve(__dirname, '..')
const first = makeInceptionV3_2015({ scale: 16, seed: 11 })
const second = makeInceptionV3_2015({ scale: 16, seed: 12 })
const procs: ChildProcess[] = []

beforeAll(() => {
  if (!fs.existsSync(path.join(repo, 'dist/plugin/vite.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
})

afterEach(() => {
  for (const p of procs.splice(0)) p.kill('SIGKILL')
})

function app(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-dev-'))
  fs.mkdirSync(path.join(dir, 'src'))
  fs.writeFileSync(path.join(dir, 'src/model.pb'), first.bytes)
  fs.writeFileSync(path.join(dir, 'src/main.js'), "import model from './model.pb'\nexport default model\n")
  fs.writeFileSync(path.join(dir, 'src/other.js'), 'export const x = 1\n')
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><script type="module" src="/src/main.js"></script>\n')
  return dir
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

/** Starts a process and collects its output; `waitFor` resolves when a line matches. */
function start(cmd: string[], cwd: string) {
  const p = spawn(process.execPath, cmd, { cwd, env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' } })
  procs.push(p)
  let out = ''
  const waiters: { re: RegExp; count: number; resolve: () => void }[] = []
  const check = () => {
    for (const w of [...waiters]) {
      if ((out.match(new RegExp(w.re.source, 'g')) ?? []).length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  }
  p.stdout!.on('data', (d) => ((out += d), check()))
  p.stderr!.on('data', (d) => ((out += d), check()))
  return {
    get output() {
      return out
    },
    count: (re: RegExp) => (out.match(new RegExp(re.source, 'g')) ?? []).length,
    waitFor: (re: RegExp, count = 1, ms = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} x${count}; output so far:\n${out}`)), ms)
        waiters.push({ re, count, resolve: () => (clearTimeout(t), resolve()) })
        check()
      }),
  }
}

const converted = /model\.pb: 95 layers, [\d.]+ kB, converted in/
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function writeConfig(dir: string, extra = '') {
  fs.writeFileSync(
    path.join(dir, 'vite.config.mjs'),
    `import mpscnn from ${JSON.stringify(path.join(repo, 'dist/plugin/vite.js'))}
export default { logLevel: 'info', clearScreen: false, plugins: [mpscnn({ cacheDir: 'cache' })] ${extra} }\n`,
  )
}

/** Evaluates the served module (it has no imports) and lists its tensor URLs in order. */
async function manifestUrls(code: string): Promise<string[]> {
  const mod = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as { default: { layers: { weights: { url: string }; bias: { url: string } }[] } }
  return mod.default.layers.flatMap((l) => [l.weights.url, l.bias.url])
}

function f32(bytes: ArrayBuffer) {
  return new Float32Array(bytes)
}

describe('vite dev server', () => {
  it('serves the module and every asset URL, converts on first request only, re-converts once on edit', async () => {
    const dir = app()
    writeConfig(dir)
    const port = await freePort()
    const vite = start([path.join(repo, 'node_modules/vite/bin/vite.js'), '--port', String(port), '--strictPort', '--host', '127.0.0.1'], dir)
    await vite.waitFor(/Local:/)
    await sleep(300)
    // Start-up converts nothing.
    expect(vite.count(converted)).toBe(0)
    const base = `http://127.0.0.1:${port}`
    const page = await fetch(`${base}/`)
    expect(page.status).toBe(200)
    const main = await (await fetch(`${base}/src/main.js`)).text()
    const spec = main.match(/from "([^"]*model\.pb[^"]*)"/)![1]
    const load = async () => {
      const res = await fetch(new URL(spec, base))
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/javascript/)
      return res.text()
    }
    const code = await load()
    await vite.waitFor(converted, 1)
    const urls = await manifestUrls(code)
    expect(urls.length).toBe(2 * 95)
    for (const [i, l] of first.layers.entries()) {
      const w = await fetch(new URL(urls[2 * i], base))
      expect(w.status).toBe(200)
      expect(f32(await w.arrayBuffer())).toEqual(l.weights)
      const b = await fetch(new URL(urls[2 * i + 1], base))
      expect(f32(await b.arrayBuffer())).toEqual(l.bias)
    }
    // Unrelated edits never convert.
    fs.writeFileSync(path.join(dir, 'src/other.js'), 'export const x = 2\n')
    fs.appendFileSync(path.join(dir, 'src/main.js'), '// edit\n')
    await sleep(500)
    await (await fetch(`${base}/src/main.js`)).text()
    expect(await load()).toBe(code)
    expect(vite.count(converted)).toBe(1)
    // Replacing the model converts it once more and changes the module.
    fs.writeFileSync(path.join(dir, 'src/model.pb'), second.bytes)
    await vite.waitFor(/page reload|hmr update|\[mpscnn\].*converted/i, 1)
    let changed = code
    for (let i = 0; i < 50 && changed === code; i++) {
      await sleep(100)
      changed = await load()
    }
    expect(changed).not.toBe(code)
    await vite.waitFor(converted, 2)
    const [newUrl] = await manifestUrls(changed)
    expect(f32(await (await fetch(new URL(newUrl, base))).arrayBuffer())).toEqual(second.layers[0].weights)
    await sleep(300)
    expect(vite.count(converted)).toBe(2)
  })
})

describe('watch mode', () => {
  async function watchCase(cmd: string[], dir: string, builtRe: RegExp) {
    const w = start(cmd, dir)
    await w.waitFor(builtRe, 1)
    expect(w.count(converted)).toBe(1)
    // An unrelated edit rebuilds with zero conversions.
    fs.appendFileSync(path.join(dir, 'src/main.js'), 'export const y = 1\n')
    await w.waitFor(builtRe, 2)
    expect(w.count(converted)).toBe(1)
    // A changed model converts exactly once.
    fs.writeFileSync(path.join(dir, 'src/model.pb'), second.bytes)
    await w.waitFor(builtRe, 3)
    await sleep(500)
    expect(w.count(converted)).toBe(2)
    return w
  }

  it('vite build --watch', async () => {
    const dir = app()
    writeConfig(dir, ", build: { outDir: 'dist', minify: false }")
    await watchCase([path.join(repo, 'node_modules/vite/bin/vite.js'), 'build', '--watch'], dir, /built in/)
    const assets = fs.readdirSync(path.join(dir, 'dist/assets')).filter((f) => f.startsWith('weights_conv-'))
    expect(assets.length).toBeGreaterThan(0)
  })

  it('rollup -w', async () => {
    const dir = app()
    fs.writeFileSync(
      path.join(dir, 'rollup.config.mjs'),
      `import mpscnn from ${JSON.stringify(path.join(repo, 'dist/plugin/rollup.js'))}
export default { input: 'src/main.js', output: { dir: 'out', format: 'es' }, plugins: [mpscnn({ cacheDir: 'cache' })] }\n`,
    )
    await watchCase([path.join(repo, 'node_modules/rollup/dist/bin/rollup'), '-c', '-w'], dir, /created out in/)
    // The unchanged model's assets are still emitted by the rebuilds.
    const js = fs.readFileSync(path.join(dir, 'out/main.js'), 'utf8')
    for (const m of js.matchAll(/new URL\('([^']+\.dat)'/g)) expect(fs.existsSync(path.join(dir, 'out', m[1]))).toBe(true)
  })

  it('webpack watch', async () => {
    const dir = app()
    fs.writeFileSync(
      path.join(dir, 'watch.mjs'),
      `import webpack from ${JSON.stringify(path.join(repo, 'node_modules/webpack/lib/index.js'))}
import mpscnn from ${JSON.stringify(path.join(repo, 'dist/plugin/webpack.js'))}
const compiler = webpack({ mode: 'development', devtool: false, context: ${JSON.stringify(dir)}, entry: './src/main.js',
  output: { path: ${JSON.stringify(path.join(dir, 'out'))}, clean: true },
  infrastructureLogging: { level: 'info', console: { info: (...a) => console.log(...a), log: console.log, warn: console.warn, error: console.error, debug() {}, trace() {}, group() {}, groupEnd() {}, groupCollapsed() {}, status() {}, clear() {}, profile() {}, profileEnd() {} } },
  plugins: [mpscnn({ cacheDir: 'cache' })] })
compiler.watch({ aggregateTimeout: 50 }, (err, stats) => { if (err || stats.hasErrors()) console.log('FAILED', err ?? stats.toString('errors-only')); else console.log('webpack compiled ok, assets: ' + Object.keys(stats.compilation.assets).length) })
`,
    )
    const w = await watchCase(['watch.mjs'], dir, /webpack compiled ok/)
    // Every build, including those that took the model from webpack's cache, emits all assets.
    const counts = [...w.output.matchAll(/assets: (\d+)/g)].map((m) => Number(m[1]))
    expect(new Set(counts).size).toBe(1)
    expect(counts[0]).toBeGreaterThan(190)
  })
})
