/**
 * The playground in a real browser: the sample model generated, the app built with Vite
 * (into a temp folder, not playground/dist) and served over HTTP, and the same app under
 * `vite dev`, driven with Chromium through playwright-core.
 *
 * Needs the compiled plugin (`npm run build`: playground/vite.config.ts imports
 * `unplugin-mpscnn/vite`, i.e. dist/) and Chromium at /usr/bin/chromium (or $CHROMIUM);
 * skipped, with a message, when Chromium is missing.
 */
import fs from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, ConsoleMessage, Page, Response } from 'playwright-core'
import type { ViteDevServer } from 'vite'
import { PLAYGROUND_CONFIG, PLAYGROUND_ROOT, REPO_ROOT, SAMPLE_SCALE, SAMPLE_SEED, ensureSampleModel } from '../scripts/sample-model.js'
import { serve } from '../scripts/serve.mjs'
import { expectFloatsClose } from './bundlers/helpers.js'
import { makeInceptionV3_2015 } from './helpers/inception.js'
import { convertModel } from '../src/fold/convert.js'
import { createExecutor } from '../src/execute/executor.js'
import { manifestJson } from '../src/emit/manifest.js'
import { convertToAssets } from '../src/pipeline/convert-to-assets.js'
import { loadManifest } from '../src/runtime.js'
import { seededInput } from '../playground/src/seeded.js'
import { buildNetwork } from '../src/network/index.js'

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM)
const SCREENSHOT = path.join(REPO_ROOT, 'test', 'artifacts', 'playground.png')

if (!HAVE_CHROMIUM) {
  console.warn(`[e2e] skipped: no Chromium at ${CHROMIUM} (install Debian's chromium, or set CHROMIUM=/path/to/chromium)`)
}

interface ExpectedLayer {
  name: string
  /** Bytes of `weights_<name>.dat`. */
  weightBytes: number
  /** Its float32 values, folded by the float64 reference. */
  weights: Float32Array
}

let tmp: string
let expected: ExpectedLayer[]
let browser: Browser

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'plugin', 'vite.js'))) {
    throw new Error('dist/plugin/vite.js is missing: run `npm run build` first (the playground uses the compiled plugin through `unplugin-mpscnn/vite`)')
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-e2e-'))
  const { bytes } = ensureSampleModel()
  // The expected layers, from the float64 reference that generated the sample model: neither
  // from the converter under test nor from what the app shows.
  const reference = makeInceptionV3_2015({ scale: SAMPLE_SCALE, seed: SAMPLE_SEED })
  expect(Buffer.from(reference.bytes).equals(bytes), 'the sample model is the reference graph').toBe(true)
  expected = reference.layers.map((l) => ({ name: l.name, weightBytes: l.weights.byteLength, weights: l.weights }))
  expect(expected).toHaveLength(95)
  const { chromium } = await import('playwright-core')
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  })
})

afterAll(async () => {
  await browser?.close()
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})

interface Watched {
  page: Page
  errors: string[]
}

/** A fresh page that records every console error, uncaught exception and failed request. */
async function newPage(): Promise<Watched> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, colorScheme: 'light' })
  const errors: string[] = []
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()} (${m.location().url})`)
  })
  page.on('pageerror', (e: Error) => errors.push(`pageerror: ${e.message}`))
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`))
  return { page, errors }
}

async function openPage(url: string): Promise<Watched> {
  const w = await newPage()
  await w.page.goto(url, { waitUntil: 'load' })
  return w
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** `weights_<name>.dat`, or Vite's `weights_<name>-<hash8>.dat`: not another layer's file. */
function isWeightsPath(name: string, pathname: string): boolean {
  return new RegExp(`/weights_${escapeRegExp(name)}(-[A-Za-z0-9_-]{8})?\\.dat$`).test(pathname)
}

function isWeightsOf(name: string): (r: Response) => boolean {
  return (r) => isWeightsPath(name, new URL(r.url()).pathname)
}

/** Selects a layer with `click`, checks the response for its weights and the histogram drawn from them. */
async function selectAndCheck(page: Page, layer: ExpectedLayer, click: () => Promise<void>): Promise<Response> {
  const response = page.waitForResponse(isWeightsOf(layer.name), { timeout: 30_000 })
  await click()
  const res = await response
  await checkWeights(res, layer)
  await checkHistogram(page, layer)
  return res
}

/** The response is the layer's weights file: its values are the reference's. */
async function checkWeights(res: Response, layer: ExpectedLayer): Promise<void> {
  expect(res.status(), res.url()).toBe(200)
  const body = await res.body()
  expect(body.byteLength, res.url()).toBe(layer.weightBytes)
  expectFloatsClose(new Float32Array(Uint8Array.from(body).buffer), layer.weights, res.url())
}

async function checkHistogram(page: Page, layer: ExpectedLayer): Promise<void> {
  const panel = page.locator(`[data-testid="histogram"][data-state="ready"][data-layer="${layer.name}"]`)
  await panel.waitFor({ timeout: 30_000 })
  const heights = await panel.locator('svg rect.bin').evaluateAll((els) => els.map((e) => Number(e.getAttribute('height'))))
  expect(heights.length, 'histogram bins').toBeGreaterThan(1)
  for (const h of heights) expect(h).toBeGreaterThan(0)
  const text = (await panel.innerText()).toLowerCase()
  for (const label of ['min', 'max', 'mean', 'std']) expect(text).toContain(label)
  await expect.poll(() => page.locator(`[data-testid="layer-row"][data-layer="${layer.name}"]`).getAttribute('aria-selected')).toBe('true')
}

describe.skipIf(!HAVE_CHROMIUM)(`playground, built with vite.build${HAVE_CHROMIUM ? '' : ` (skipped: no Chromium at ${CHROMIUM})`}`, () => {
  let server: Server
  let url: string
  let outDir: string

  beforeAll(async () => {
    outDir = path.join(tmp, 'dist')
    const { build } = await import('vite')
    await build({
      root: PLAYGROUND_ROOT,
      configFile: PLAYGROUND_CONFIG,
      logLevel: 'silent',
      build: { outDir, emptyOutDir: true },
    })
    ;({ server, url } = await serve(outDir))
  })

  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  })

  it('emits one weights and one bias file per layer next to the bundle', () => {
    const assets = fs.readdirSync(path.join(outDir, 'assets'))
    expect(assets.filter((f) => f.endsWith('.dat'))).toHaveLength(expected.length * 2)
    // One entry script; the Run panel's TensorFlow.js and the wasm backend's .wasm files are separate, loaded on Run.
    const html = fs.readFileSync(path.join(outDir, 'index.html'), 'utf8')
    expect([...html.matchAll(/<script\b[^>]*\bsrc="[^"]+\.js"/g)]).toHaveLength(1)
    expect(assets.filter((f) => f.endsWith('.wasm')).length).toBeGreaterThan(0)
  })

  it('shows every layer, the bytes chart, and a layer’s weights on demand, without console errors', async () => {
    const { page, errors } = await openPage(url)
    try {
      const rows = page.locator('[data-testid="layer-row"]')
      await rows.first().waitFor()
      // Every layer of the model is a row, in graph order.
      const names = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-layer')))
      expect(names).toEqual(expected.map((l) => l.name))

      // The chart: one bar per layer, each with a height.
      const bars = page.locator('[data-testid="bytes-chart"] rect.bar')
      await expect.poll(() => bars.count()).toBe(expected.length)
      const barLayers = await bars.evaluateAll((els) => els.map((e) => e.getAttribute('data-layer')))
      expect(barLayers).toEqual(expected.map((l) => l.name))
      const barHeights = await bars.evaluateAll((els) => els.map((e) => Number(e.getAttribute('height'))))
      for (const h of barHeights) expect(h).toBeGreaterThan(0)

      // Totals.
      const totals = await page.getByTestId('totals').innerText()
      expect(totals).toContain(String(expected.length))
      expect(totals.toLowerCase()).toContain('parameters')

      // Nothing is fetched before a layer is selected.
      const before = await page.evaluate(() => performance.getEntriesByType('resource').filter((e) => e.name.endsWith('.dat')).length)
      expect(before).toBe(0)

      // Selecting a row fetches that layer's weights and draws the histogram.
      // The largest convolution: a well-filled histogram for the screenshot.
      const conv = expected.slice(0, -1).reduce((a, b) => (b.weightBytes > a.weightBytes ? b : a))
      await selectAndCheck(page, conv, () => page.locator(`[data-testid="layer-row"][data-layer="${conv.name}"]`).click())

      // So does a bar of the chart (the classifier, the largest file).
      const last = expected[expected.length - 1]
      await selectAndCheck(page, last, () => page.locator(`[data-testid="bytes-chart"] .bar-group[data-layer="${last.name}"]`).click())

      // Back to the first layer (for the screenshot): its file was fetched once and is not fetched again.
      await page.locator(`[data-testid="layer-row"][data-layer="${conv.name}"]`).click()
      await checkHistogram(page, conv)
      const fetched = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.endsWith('.dat')))
      expect(fetched.filter((n) => isWeightsPath(conv.name, new URL(n).pathname))).toHaveLength(1)
      fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true })
      await page.evaluate(() => window.scrollTo(0, 0))
      await page.screenshot({ path: SCREENSHOT, fullPage: true })

      expect(errors).toEqual([])
    } finally {
      await page.close()
    }
  })

  it('selects the layer named in the URL hash', async () => {
    const layer = expected[3]
    const { page, errors } = await newPage()
    try {
      const response = page.waitForResponse(isWeightsOf(layer.name), { timeout: 30_000 })
      await page.goto(`${url}#${encodeURIComponent(layer.name)}`)
      await checkWeights(await response, layer)
      await checkHistogram(page, layer)
      expect(errors).toEqual([])
    } finally {
      await page.close()
    }
  })

  it('lists the network: input, outputs and every node in encode order, with mixed_9’s channel offsets', async () => {
    // The expected network, from the project's converter on the sample model's bytes.
    const { bytes, file } = ensureSampleModel()
    const model = convertModel(bytes, { file })
    const network = buildNetwork(model.graph, file, model.plans)
    expect(network.nodes.length).toBeGreaterThan(expected.length)
    const { page, errors } = await openPage(url)
    try {
      const rows = page.locator('[data-testid="network-row"]')
      await rows.first().waitFor()
      const shown = await rows.evaluateAll((els) =>
        els.map((e) => ({ kind: e.getAttribute('data-kind'), destination: e.getAttribute('data-destination'), offset: Number(e.getAttribute('data-channel-offset')), text: (e as HTMLElement).innerText })),
      )
      expect(shown.map((r) => [r.kind, r.destination, r.offset])).toEqual(network.nodes.map((n) => [n.kind, n.destination, n.destinationFeatureChannelOffset]))
      // Each row names its source images and the destination's size.
      network.nodes.forEach((n, i) => {
        for (const src of Array.isArray(n.source) ? n.source : [n.source]) expect(shown[i].text, n.name).toContain(src)
        const d = network.images[n.destination]
        expect(shown[i].text, n.name).toContain(`${d.width}×${d.height}×${d.featureChannels}`)
        if (n.layer) expect(shown[i].text, n.name).toContain(n.layer)
      })

      // mixed_9's branches write into its concat at their channel offsets, shown as `@n`.
      const join = network.nodes.filter((n) => n.destination === 'mixed_9/join')
      const offsets = join.map((n) => n.destinationFeatureChannelOffset)
      expect(new Set(offsets).size, 'mixed_9 branches').toBeGreaterThan(2)
      const joinRows = shown.filter((r) => r.destination === 'mixed_9/join')
      expect(joinRows.map((r) => r.offset)).toEqual(offsets)
      for (const r of joinRows) if (r.offset) expect(r.text).toContain(`@${r.offset}`)

      // The input with its preprocessing, and the outputs.
      const input = await page.getByTestId('network-input').innerText()
      expect(input).toContain(network.inputs[0].image)
      expect(input).toContain('0.0078125')
      const outputs = await page.getByTestId('network-outputs').innerText()
      for (const o of network.outputs) expect(outputs).toContain(o.image)
      expect(errors).toEqual([])

      // A weighted node's layer name selects that layer in the layer table.
      const weighted = network.nodes.find((n) => n.layer && n.layer !== expected[0].name)!
      await rows.nth(network.nodes.indexOf(weighted)).locator('button.link').click()
      await expect.poll(() => page.locator(`[data-testid="layer-row"][data-layer="${weighted.layer}"]`).getAttribute('aria-selected')).toBe('true')
    } finally {
      await page.close()
    }
  })
  it('runs the model in the browser on the wasm backend: the seeded input and a dropped image give the Node executor’s output within 1e-5, with top-5 and a bar per node', async () => {
    // Node: the sample model converted as the plugin converts it, run by the executor on the same seeded input.
    const { bytes, file } = ensureSampleModel()
    const dir = path.join(tmp, 'node-run')
    fs.mkdirSync(dir, { recursive: true })
    const assets = convertToAssets({ bytes, sha256: null }, path.basename(file), { packed: false, align: 256, precision: 'float32' })
    for (const [name, data] of assets.files) fs.writeFileSync(path.join(dir, name), data)
    fs.writeFileSync(path.join(dir, 'manifest.json'), manifestJson(assets.header, assets.plan, assets.network))
    const manifest = await loadManifest(path.join(dir, 'manifest.json'))
    const net = manifest.network!
    const ex = await createExecutor(manifest, { backend: 'wasm' })
    const output = net.outputs[0].image
    let want: Float32Array
    try {
      want = (await ex.run(seededInput(ex.inputShape))).get(output)!.data
    } finally {
      ex.dispose()
    }
    expect(want.length).toBeGreaterThan(5)

    const { page, errors } = await openPage(url)
    try {
      const panel = page.getByTestId('run-panel')
      await panel.getByTestId('run-seeded').click()
      await page.locator('[data-testid="run-panel"][data-state="done"]').waitFor({ timeout: 120_000 })
      const pre = panel.locator('pre[data-output]')
      expect(await pre.getAttribute('data-output')).toBe(output)
      const got = Float32Array.from(JSON.parse((await pre.textContent())!) as number[])
      expect(got.length).toBe(want.length)
      let maxAbs = 0
      for (let i = 0; i < got.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]))
      expect(maxAbs, 'max |browser - node|').toBeLessThanOrEqual(1e-5)

      // Top-5: the five largest of the output, in order, with their probabilities.
      const order = [...want.keys()].sort((a, b) => want[b] - want[a]).slice(0, 5)
      const items = panel.locator('[data-testid="top5"] li')
      expect(await items.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-index'))))).toEqual(order)
      expect(await items.first().innerText()).toContain(want[order[0]].toFixed(4))

      // A bar per node, in encode order.
      const bars = panel.locator('[data-testid="node-times"] rect.time-bar')
      expect(await bars.evaluateAll((els) => els.map((e) => e.getAttribute('data-node')))).toEqual(net.nodes.map((n) => n.name))
      for (const h of await bars.evaluateAll((els) => els.map((e) => Number(e.getAttribute('height'))))) expect(h).toBeGreaterThan(0)

      // A dropped image (a lossless PNG at the input size, so no resampling): decoded by the
      // browser, fed raw with preprocess; the Node executor on the same pixels agrees.
      const [, height, width, channels] = ex.inputShape
      const pixel = (x: number, y: number, c: number) => (x * 7 + y * 13 + c * 50) % 256
      const raw = new Float32Array(height * width * channels)
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) raw[(y * width + x) * channels + c] = pixel(x, y, c)
      const ex2 = await createExecutor(manifest, { backend: 'wasm' })
      let wantImage: Float32Array
      try {
        wantImage = (await ex2.run(raw, { preprocess: true })).get(output)!.data
      } finally {
        ex2.dispose()
      }
      await page.getByTestId('run-drop').evaluate(async (el, { width, height }) => {
        const canvas = document.createElement('canvas')
        canvas.width = width
        canvas.height = height
        const ctx = canvas.getContext('2d')!
        const img = ctx.createImageData(width, height)
        for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 4; c++) img.data[(y * width + x) * 4 + c] = c === 3 ? 255 : (x * 7 + y * 13 + c * 50) % 256
        ctx.putImageData(img, 0, 0)
        const blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b!), 'image/png'))
        const dt = new DataTransfer()
        dt.items.add(new File([blob], 'pattern.png', { type: 'image/png' }))
        el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
      }, { width, height })
      await expect.poll(() => page.getByTestId('run-status').innerText(), { timeout: 60_000 }).toMatch(/^(Ran .* on pattern\.png|Failed)/)
      await page.locator('[data-testid="run-panel"][data-state="done"] pre[data-input="pattern.png"]').waitFor({ state: 'attached', timeout: 5_000 })
      const gotImage = JSON.parse((await panel.locator('pre[data-output]').textContent())!) as number[]
      let maxImage = 0
      for (let i = 0; i < gotImage.length; i++) maxImage = Math.max(maxImage, Math.abs(gotImage[i] - wantImage[i]))
      expect(gotImage.length).toBe(wantImage.length)
      expect(maxImage, 'max |browser - node| on the dropped image').toBeLessThanOrEqual(1e-5)
      expect(errors).toEqual([])
    } finally {
      await page.close()
    }
  })
})

describe.skipIf(!HAVE_CHROMIUM)(`playground under vite dev${HAVE_CHROMIUM ? '' : ` (skipped: no Chromium at ${CHROMIUM})`}`, () => {
  let dev: ViteDevServer
  let url: string

  beforeAll(async () => {
    const { createServer } = await import('vite')
    dev = await createServer({
      root: PLAYGROUND_ROOT,
      configFile: PLAYGROUND_CONFIG,
      logLevel: 'silent',
      // Its own dependency cache: other tests and a running `vite dev` share node_modules/.vite.
      cacheDir: path.join(tmp, 'vite-cache'),
      server: { host: '127.0.0.1', port: 0, strictPort: true, watch: null },
    })
    await dev.listen()
    const addr = dev.httpServer!.address() as AddressInfo
    url = `http://127.0.0.1:${addr.port}/`
  })

  afterAll(async () => {
    await dev?.close()
  })

  it('renders the table and loads a layer’s weights from the plugin’s dev middleware', async () => {
    const { page, errors } = await openPage(url)
    try {
      const rows = page.locator('[data-testid="layer-row"]')
      await rows.first().waitFor({ timeout: 60_000 })
      await expect.poll(() => rows.count()).toBe(expected.length)
      await expect.poll(() => page.locator('[data-testid="bytes-chart"] rect.bar').count()).toBe(expected.length)
      const layer = expected[1]
      const res = await selectAndCheck(page, layer, () => page.locator(`[data-testid="layer-row"][data-layer="${layer.name}"]`).click())
      // Served by the plugin's middleware, not by a build.
      expect(new URL(res.url()).pathname).toMatch(/^\/@mpscnn\/[0-9a-f]{16}\/weights_/)
      expect(errors).toEqual([])
    } finally {
      await page.close()
    }
  })
})
