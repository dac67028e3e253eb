/**
 * The runtime reading the CLI's output: `manifest.json` names each tensor's `file` in the
 * output folder (no `url`). `loadWeights(layer, { base })` resolves it against the folder,
 * and `loadManifest(pathOrUrl)` returns a manifest whose tensors load next to the
 * manifest.json, from a path, a file: URL or over HTTP. The CLI is the real one (dist/),
 * the runtime dist/runtime.js, the values the oracle's.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, type MpscnnManifest, REPO_ROOT, expectFloatsClose, halfTolerance, importDist, makeApp, oracle, removeApps } from './bundlers/helpers.js'

let runtime: typeof import('../src/runtime.js')
let app: App
/** The CLI's output folders: float32 files, and packed float16. */
let plainDir: string
let packedDir: string

function convert(args: string[]): void {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/mpscnn.js'), 'convert', 'model.pb', '--quiet', ...args], { cwd: app.dir, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`mpscnn convert failed (${r.status}): ${r.stderr}`)
}

beforeAll(async () => {
  runtime = await importDist<typeof import('../src/runtime.js')>('runtime.js')
  app = makeApp()
  plainDir = path.join(app.dir, 'Inception')
  packedDir = path.join(app.dir, 'Packed')
  convert(['--out-dir', plainDir])
  convert(['--out-dir', packedDir, '--packed', '--precision', 'float16'])
})
afterAll(removeApps)

/** Every layer's weights and bias, loaded by the runtime, against the oracle. */
async function expectOracle(m: MpscnnManifest, options?: { base?: string }, half = false): Promise<void> {
  const expected = oracle().layers
  expect(m.layers.map((l) => l.name)).toEqual(expected.map((e) => e.name))
  for (const [i, l] of m.layers.entries()) {
    expectFloatsClose(await runtime.loadWeights(l, options), expected[i].weights, `${l.name} weights`, half ? halfTolerance : undefined)
    expectFloatsClose(await runtime.loadBias(l, options), expected[i].bias, `${l.name} bias`)
  }
}

const readJson = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'))

describe("the runtime and the CLI's manifest.json", () => {
  it('loadWeights(getLayer(cliManifest, name), { base: outDir }) reads the file in the output folder', async () => {
    const cli = readJson(plainDir)
    const conv = runtime.getLayer(cli, 'conv')
    expect(conv.weights).not.toHaveProperty('url')
    const e = oracle().layers[0]
    expect(e.name).toBe('conv')
    // A path (as a Node user writes it, no trailing slash), and a file: URL of the folder.
    expectFloatsClose(await runtime.loadWeights(conv, { base: plainDir }), e.weights, 'conv weights')
    expectFloatsClose(await runtime.loadBias(conv, { base: pathToFileURL(plainDir).href }), e.bias, 'conv bias')
    await expectOracle(cli, { base: path.relative(process.cwd(), plainDir) })
  })

  it('loadManifest(path | file: URL) gives tensors that load next to the manifest.json, with no base', async () => {
    const file = path.join(plainDir, 'manifest.json')
    for (const where of [file, pathToFileURL(file), path.relative(process.cwd(), file)]) {
      const m = await runtime.loadManifest(where)
      expect(m.layers[0].weights.url).toBe(pathToFileURL(path.join(plainDir, 'weights_conv.dat')).href)
      expect(m.source).toBe('model.pb')
    }
    await expectOracle(await runtime.loadManifest(file))
    // Packed float16: one file, offsets from the manifest, half weights decoded.
    const packed = await runtime.loadManifest(path.join(packedDir, 'manifest.json'))
    expect(new Set(packed.layers.map((l) => l.weights.url))).toEqual(new Set([pathToFileURL(path.join(packedDir, 'model.dat')).href]))
    await expectOracle(packed, undefined, true)
  })

  it('loadManifest(http URL) fetches the manifest, then each tensor file next to it', async () => {
    const requests: string[] = []
    const server = http.createServer((req, res) => {
      requests.push(req.url ?? '')
      const file = path.join(app.dir, decodeURIComponent(req.url ?? ''))
      if (!file.startsWith(app.dir) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.statusCode = 404
        return res.end()
      }
      if (file.endsWith('.html')) res.setHeader('Content-Type', 'text/html')
      res.end(fs.readFileSync(file))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const m = await runtime.loadManifest(`${origin}/Packed/manifest.json`)
      expect(m.layers[0].weights.url).toBe(`${origin}/Packed/model.dat`)
      await expectOracle(m, undefined, true)
      expect(requests).toEqual(['/Packed/manifest.json', '/Packed/model.dat'])
      // A cache of one's own: the packed file fetched once into it, again for another map.
      const own = new Map<string, Promise<ArrayBuffer>>()
      for (const l of m.layers) await runtime.loadWeights(l, { cache: own })
      expect([...own.keys()]).toEqual([`${origin}/Packed/model.dat`])
      await runtime.loadBias(m.layers[0], { cache: own })
      await runtime.loadBias(m.layers[0], { cache: new Map() })
      expect(requests).toEqual(['/Packed/manifest.json', '/Packed/model.dat', '/Packed/model.dat', '/Packed/model.dat'])
      await expect(runtime.loadBias(m.layers[0], { cache: {} as Map<string, Promise<ArrayBuffer>> })).rejects.toThrow('unplugin-mpscnn: option cache must be a Map, got object')
      // A relative URL resolves against base (the page in a browser).
      expect((await runtime.loadManifest('Packed/manifest.json', { base: `${origin}/` })).layers[0].bias.url).toBe(`${origin}/Packed/model.dat`)
      await expect(runtime.loadManifest(`${origin}/nope/manifest.json`)).rejects.toThrow(`fetching ${origin}/nope/manifest.json failed with HTTP 404`)
      fs.writeFileSync(path.join(app.dir, 'index.html'), '<!doctype html><title>app</title>')
      await expect(runtime.loadManifest(`${origin}/index.html`)).rejects.toThrow(`unplugin-mpscnn: ${origin}/index.html is not a manifest`)
    } finally {
      await new Promise((r) => server.close(r))
    }
  })

  it('loadTensor: the raw view, IEEE half bits for float16 weights; a file shorter than the manifest says is an error naming it', async () => {
    const m = await runtime.loadManifest(path.join(packedDir, 'manifest.json'))
    const [l] = m.layers
    const raw = await runtime.loadTensor(l.weights)
    expect(raw).toBeInstanceOf(Uint16Array)
    const file = fs.readFileSync(path.join(packedDir, readJson(packedDir).layers[0].weights.file))
    expect(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).equals(file.subarray(l.weights.offset, l.weights.offset + l.weights.byteLength))).toBe(true)
    expect(await runtime.loadTensor(l.bias)).toBeInstanceOf(Float32Array)
    // The same output with its packed file cut short.
    const cut = path.join(app.dir, 'Cut')
    fs.cpSync(packedDir, cut, { recursive: true })
    const last = m.layers.at(-1)!.bias
    const dat = path.join(cut, readJson(cut).layers[0].weights.file)
    fs.truncateSync(dat, last.offset + last.byteLength - 4)
    const short = (await runtime.loadManifest(path.join(cut, 'manifest.json'))).layers.at(-1)!
    await expect(runtime.loadBias(short)).rejects.toThrow(`unplugin-mpscnn: ${pathToFileURL(dat).href} has ${last.offset + last.byteLength - 4} bytes, the manifest expects ${last.offset + last.byteLength}`)
  })

  it('a tensor with neither url nor file is refused with a clear error', async () => {
    const cli = readJson(plainDir)
    delete cli.layers[0].weights.file
    await expect(runtime.loadWeights(cli.layers[0])).rejects.toThrow('unplugin-mpscnn: this tensor has neither a url nor a file')
  })
})
