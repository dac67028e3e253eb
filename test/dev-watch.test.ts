/**
 * Real processes: a `vite` dev server fetched over HTTP, and watch builds (vite build
 * --watch, rollup -w, webpack watch) whose conversions are counted from their log lines.
 * "Nothing converted" is checked once a later event has been logged (a page reload, a
 * rebuild), never after a fixed wait.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
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

function writeConfig(dir: string, extra = '', plugins = '') {
  fs.writeFileSync(
    path.join(dir, 'vite.config.mjs'),
    `import mpscnn from ${JSON.stringify(path.join(repo, 'dist/plugin/vite.js'))}
export default { logLevel: 'info', clearScreen: false, plugins: [mpscnn({ cacheDir: 'cache' })${plugins}] ${extra} }\n`,
  )
}

/** A plugin of the fixture app's that logs when the dev server's file watcher has scanned the app (edits before that may go unseen). */
const watcherReady = ", { name: 'watcher-ready', configureServer(s) { s.watcher.on('ready', () => s.config.logger.info('watcher ready')) } }"

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
    writeConfig(dir, '', watcherReady)
    // Files nothing imports, one per check that Vite has logged everything so far (see
    // `logged`); there before Vite starts watching, so that an edit is a change, not an add.
    const marks = [1, 2, 3].map((n) => `src/mark${n}.js`)
    for (const name of marks) fs.writeFileSync(path.join(dir, name), 'export const m = 0\n')
    // Port 0: the system picks a free one, which Vite prints.
    const vite = start([path.join(repo, 'node_modules/vite/bin/vite.js'), '--port', '0', '--host', '127.0.0.1'], dir)
    const local = /Local:\s+http:\/\/127\.0\.0\.1:(\d+)\//
    await vite.waitFor(local)
    await vite.waitFor(/watcher ready/)
    const base = `http://127.0.0.1:${local.exec(vite.output)![1]}`
    /**
     * Resolves once Vite has logged everything it did so far: the next mark file is requested
     * and edited, and Vite's page reload for it is logged after whatever came before.
     */
    const logged = async () => {
      const name = marks.shift()!
      expect((await fetch(`${base}/${name}`)).status).toBe(200)
      fs.writeFileSync(path.join(dir, name), 'export const m = 1\n')
      await vite.waitFor(new RegExp(`page reload ${name.replace('.', '\\.')}`))
    }
    // Start-up converts nothing.
    await logged()
    expect(vite.count(converted)).toBe(0)
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
    // Unrelated edits never convert: the importer of the model is edited and requested again.
    fs.appendFileSync(path.join(dir, 'src/main.js'), '// edit\n')
    await vite.waitFor(/page reload src\/main\.js/)
    await (await fetch(`${base}/src/main.js`)).text()
    expect(await load()).toBe(code)
    await logged()
    expect(vite.count(converted)).toBe(1)
    // Replacing the model converts it once more and changes the module.
    fs.writeFileSync(path.join(dir, 'src/model.pb'), second.bytes)
    await vite.waitFor(/page reload src\/model\.pb/)
    const changed = await load()
    expect(changed).not.toBe(code)
    await vite.waitFor(converted, 2)
    const [newUrl] = await manifestUrls(changed)
    expect(f32(await (await fetch(new URL(newUrl, base))).arrayBuffer())).toEqual(second.layers[0].weights)
    await logged()
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
    // A changed model converts exactly once: not in its rebuild again, nor in the next one.
    fs.writeFileSync(path.join(dir, 'src/model.pb'), second.bytes)
    await w.waitFor(builtRe, 3)
    expect(w.count(converted)).toBe(2)
    fs.appendFileSync(path.join(dir, 'src/main.js'), 'export const z = 1\n')
    await w.waitFor(builtRe, 4)
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
