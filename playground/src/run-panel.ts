/**
 * The Run panel: the imported model executed in the browser by unplugin-mpscnn/execute on
 * TensorFlow.js's wasm backend, on a seeded input or on an image the user drops. It shows the
 * top-5 classes and a bar per node of its time; the full output vector is in a hidden
 * `<pre data-output>` (JSON) for tests.
 */
import type { MpscnnManifest } from 'unplugin-mpscnn/runtime'
import { createExecutor, type Executor } from 'unplugin-mpscnn/execute'
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url'
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url'
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url'
import { h, s } from './dom.js'
import { SEED, seededInput } from './seeded.js'

const WASM_PATHS = {
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
}

/** The dropped image as the network's raw input ([1, H, W, C], pixels 0..255, RGB order). */
async function imageInput(file: Blob, [, height, width, channels]: readonly number[]): Promise<Float32Array> {
  const bitmap = await createImageBitmap(file, { resizeWidth: width, resizeHeight: height, resizeQuality: 'high' })
  const canvas = document.createElement('canvas')
  canvas.width = width
  canvas.height = height
  const ctx = canvas.getContext('2d')!
  ctx.drawImage(bitmap, 0, 0, width, height)
  bitmap.close()
  const rgba = ctx.getImageData(0, 0, width, height).data
  const out = new Float32Array(height * width * channels)
  for (let p = 0; p < height * width; p++) for (let c = 0; c < channels; c++) out[p * channels + c] = rgba[p * 4 + Math.min(c, 2)]
  return out
}

function top5(v: Float32Array): { index: number; p: number }[] {
  return [...v].map((p, index) => ({ index, p })).sort((a, b) => b.p - a.p).slice(0, 5)
}

function timeChart(times: [string, number][]): SVGSVGElement {
  const w = 1000
  const height = 160
  const pad = { left: 8, right: 8, top: 16, bottom: 8 }
  const plotH = height - pad.top - pad.bottom
  const band = (w - pad.left - pad.right) / times.length
  const max = Math.max(...times.map(([, ms]) => ms), 1e-3)
  const total = times.reduce((a, [, ms]) => a + ms, 0)
  const svg = s('svg', { viewBox: `0 0 ${w} ${height}`, class: 'time-chart', 'data-testid': 'node-times', role: 'img', 'aria-label': `Time per node, ${times.length} nodes, ${total.toFixed(1)} ms in all` })
  times.forEach(([name, ms], i) => {
    const bh = Math.max(1, (ms / max) * plotH)
    svg.append(
      s('rect', { class: 'bar time-bar', 'data-node': name, x: pad.left + i * band + band * 0.1, y: pad.top + plotH - bh, width: Math.max(1, band * 0.8), height: bh }, s('title', {}, `${name}: ${ms.toFixed(2)} ms`)),
    )
  })
  svg.append(s('text', { x: pad.left, y: 12, 'text-anchor': 'start' }, `slowest ${max.toFixed(2)} ms · total ${total.toFixed(1)} ms`))
  return svg
}

export function runPanel(model: MpscnnManifest): HTMLElement {
  const network = model.network!
  const outputImage = network.outputs[0].image
  const status = h('p', { class: 'dim', 'data-testid': 'run-status' }, 'Not run yet.')
  const result = h('div', { class: 'run-result' })
  const seededButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'run-seeded' }, `Run on seeded input (seed ${SEED})`)
  const fileInput = h('input', { type: 'file', accept: 'image/*', 'aria-label': 'Choose an image' })
  const drop = h('div', { class: 'drop', 'data-testid': 'run-drop', tabindex: 0 }, 'Drop an image here, or ', fileInput)
  const panel = h(
    'section',
    { class: 'card run', 'data-testid': 'run-panel', 'data-state': 'idle' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Run'), h('span', { class: 'dim' }, 'unplugin-mpscnn/execute on TensorFlow.js, wasm backend')),
    h('div', { class: 'run-controls' }, seededButton, drop),
    status,
    result,
  )

  let executor: Promise<Executor> | undefined
  let busy = false
  const run = async (label: string, input: (shape: readonly number[]) => Promise<Float32Array>, preprocess: boolean): Promise<void> => {
    if (busy) return
    busy = true
    panel.dataset.state = 'running'
    status.textContent = `Running on ${label}…`
    try {
      executor ??= createExecutor(model, { backend: 'wasm', wasmPaths: WASM_PATHS })
      const ex = await executor
      const x = await input(ex.inputShape)
      const times: [string, number][] = []
      const outputs = await ex.run(x, { preprocess, onNode: (name, ms) => times.push([name, ms]) })
      const out = outputs.get(outputImage)!.data
      const total = times.reduce((a, [, ms]) => a + ms, 0)
      result.replaceChildren(
        h('h3', {}, `Top-5 on ${label}`),
        h(
          'ol',
          { class: 'top5', 'data-testid': 'top5' },
          ...top5(out).map((t) => h('li', { 'data-index': t.index }, h('span', { class: 'cls' }, `class ${t.index}`), h('span', { class: 'prob-bar', style: `width: ${(t.p * 100).toFixed(1)}%` }), h('span', { class: 'num' }, t.p.toFixed(4)))),
        ),
        h('h3', {}, `Time per node (${times.length} nodes)`),
        timeChart(times),
        h('pre', { hidden: true, 'data-output': outputImage, 'data-input': label }, JSON.stringify(Array.from(out))),
      )
      status.textContent = `Ran ${outputImage} on ${label} in ${total.toFixed(1)} ms.`
      panel.dataset.state = 'done'
    } catch (e) {
      console.error(e)
      status.textContent = `Failed: ${(e as Error).message}`
      panel.dataset.state = 'error'
    } finally {
      busy = false
    }
  }

  seededButton.addEventListener('click', () => void run(`seeded input (seed ${SEED})`, async (shape) => seededInput(shape), false))
  const runFile = (file: File | undefined) => {
    if (file) void run(file.name, (shape) => imageInput(file, shape), true)
  }
  fileInput.addEventListener('change', () => runFile(fileInput.files?.[0]))
  drop.addEventListener('dragover', (e) => {
    e.preventDefault()
    drop.classList.add('over')
  })
  drop.addEventListener('dragleave', () => drop.classList.remove('over'))
  drop.addEventListener('drop', (e) => {
    e.preventDefault()
    drop.classList.remove('over')
    runFile(e.dataTransfer?.files[0])
  })
  return panel
}
