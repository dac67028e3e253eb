/**
 * A real `vite` dev server fetched over HTTP: URLs of layers with hostile names (`#`, `?`,
 * `\`, a space, unicode, NUL, case), two models with identical bytes sharing one served
 * folder while one of them is edited, a 404 (never the app's index.html) for anything
 * unknown under `/@mpscnn/`, and the runtime refusing an HTML page as weights.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { oddNamesModel, type OddLayer } from './helpers/odd-names.js'
import { DIST, importDist } from './bundlers/helpers.js'

const repo = path.resolve(__dirname, '..')
const procs: ChildProcess[] = []
const dirs: string[] = []
const first = oddNamesModel(1)
const second = oddNamesModel(2)
let runtime: typeof import('../src/runtime.js')

beforeAll(async () => {
  if (!fs.existsSync(path.join(DIST, 'plugin', 'vite.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
  runtime = await importDist<typeof import('../src/runtime.js')>('runtime.js')
})
afterEach(() => {
  for (const p of procs.splice(0)) p.kill('SIGKILL')
})
afterAll(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

/** `vite` on a port of the OS's choosing; resolves with its URL once it listens. */
async function startVite(dir: string) {
  const p = spawn(process.execPath, [path.join(repo, 'node_modules/vite/bin/vite.js'), '--port', '0', '--host', '127.0.0.1'], {
    cwd: dir,
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  })
  procs.push(p)
  let out = ''
  const waiters: { re: RegExp; count: number; resolve: () => void }[] = []
  const count = (re: RegExp) => (out.match(new RegExp(re.source, 'g')) ?? []).length
  const check = () => {
    for (const w of [...waiters]) if (count(w.re) >= w.count) (waiters.splice(waiters.indexOf(w), 1), w.resolve())
  }
  const onData = (d: Buffer) => ((out += d), check())
  p.stdout!.on('data', onData)
  p.stderr!.on('data', onData)
  const waitFor = (re: RegExp, n = 1) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} x${n}; output so far:\n${out}`)), 60_000)
      waiters.push({ re, count: n, resolve: () => (clearTimeout(t), resolve()) })
      check()
    })
  await waitFor(/Local:\s+http:\/\/127\.0\.0\.1:\d+/)
  const base = /Local:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]
  return { base, waitFor, count }
}

function app(models: Record<string, Uint8Array>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-devnames-'))
  dirs.push(dir)
  fs.mkdirSync(path.join(dir, 'src'))
  for (const [name, bytes] of Object.entries(models)) fs.writeFileSync(path.join(dir, 'src', name), bytes)
  const names = Object.keys(models)
  fs.writeFileSync(path.join(dir, 'src/main.js'), `${names.map((n, i) => `import m${i} from './${n}'`).join('\n')}\nexport default [${names.map((_, i) => `m${i}`).join(', ')}]\n`)
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><script type="module" src="/src/main.js"></script>\n')
  fs.writeFileSync(
    path.join(dir, 'vite.config.mjs'),
    `import mpscnn from ${JSON.stringify(path.join(DIST, 'plugin', 'vite.js'))}\nexport default { logLevel: 'info', clearScreen: false, plugins: [mpscnn({ cacheDir: 'cache' })] }\n`,
  )
  return dir
}

type Manifest = import('../src/runtime.js').MpscnnManifest

/** The served module of each model imported by main.js (it has no imports: evaluated as it is). */
async function modules(base: string): Promise<{ spec: string; code: string; manifest: Manifest }[]> {
  const main = await (await fetch(`${base}/src/main.js`)).text()
  const specs = [...main.matchAll(/from "([^"]*\.pb[^"]*)"/g)].map((m) => m[1])
  return Promise.all(specs.map((spec) => moduleAt(base, spec)))
}

async function moduleAt(base: string, spec: string) {
  const res = await fetch(new URL(spec, base))
  expect(res.status).toBe(200)
  const code = await res.text()
  const manifest = ((await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as { default: Manifest }).default
  return { spec, code, manifest }
}

/** Every tensor URL answers application/octet-stream with the layer's bytes (through the runtime too). */
async function expectServed(base: string, manifest: Manifest, layers: OddLayer[]) {
  expect(manifest.layers.map((l) => l.name)).toEqual(layers.map((l) => l.name))
  for (const [i, e] of layers.entries()) {
    const l = manifest.layers[i]
    for (const [t, want] of [[l.weights, e.weights], [l.bias, e.bias]] as const) {
      expect(t.url.startsWith('/@mpscnn/'), t.url).toBe(true)
      const res = await fetch(new URL(t.url, base))
      expect(res.status, t.url).toBe(200)
      expect(res.headers.get('content-type'), t.url).toBe('application/octet-stream')
      expect([...new Float32Array(await res.arrayBuffer())], `${JSON.stringify(e.name)}: ${t.url}`).toEqual([...want])
    }
    expect([...(await runtime.loadBias(l, { base }))]).toEqual([...e.bias])
  }
}

describe('vite dev: URLs of odd names, shared folders, 404s', () => {
  it('serves every odd name, keeps a folder two identical models share while one is edited, answers 404 for the unknown', async () => {
    const dir = app({ 'a.pb': first.bytes, 'b.pb': first.bytes })
    const vite = await startVite(dir)
    const [a, b] = await modules(vite.base)
    // Identical bytes: one served folder.
    expect(a.manifest.layers[0].weights.url).toBe(b.manifest.layers[0].weights.url)
    await expectServed(vite.base, a.manifest, first.layers)

    // Unknown paths under the prefix: 404, not the app's index.html; decoded once.
    const folder = a.manifest.layers[0].weights.url.replace(/[^/]*$/, '')
    for (const p of [`${folder}nope.dat`, '/@mpscnn/', `${folder}..%2F..%2Findex.html`, `${folder}weights_a%2523b.dat`, `${folder}%E0%A4%A.dat`, '/@mpscnn/0000000000000000/weights_Conv.dat']) {
      const res = await fetch(new URL(p, vite.base))
      expect(res.status, p).toBe(404)
      expect(res.headers.get('content-type'), p).not.toMatch(/html/)
      await res.arrayBuffer()
    }

    // a.pb changes; b.pb, with the old bytes, keeps its URLs.
    fs.writeFileSync(path.join(dir, 'src/a.pb.tmp'), second.bytes)
    fs.renameSync(path.join(dir, 'src/a.pb.tmp'), path.join(dir, 'src/a.pb'))
    await vite.waitFor(/page reload|hmr update/i)
    let a2 = await moduleAt(vite.base, a.spec)
    for (let i = 0; i < 50 && a2.code === a.code; i++) {
      await new Promise((r) => setTimeout(r, 100))
      a2 = await moduleAt(vite.base, a.spec)
    }
    expect(a2.code).not.toBe(a.code)
    await expectServed(vite.base, a2.manifest, second.layers)
    await expectServed(vite.base, b.manifest, first.layers)
  })

  it('the runtime refuses an HTML page where weights were expected, naming the URL', async () => {
    const dir = app({ 'a.pb': first.bytes })
    const vite = await startVite(dir)
    const [a] = await modules(vite.base)
    const layer = { ...a.manifest.layers[0], bias: { ...a.manifest.layers[0].bias, url: '/index.html' } }
    await expect(runtime.loadBias(layer, { base: vite.base })).rejects.toThrow(`${vite.base}/index.html answered with an HTML page`)
  })
})
