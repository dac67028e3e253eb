/**
 * The playground: a TensorFlow GraphDef imported exactly as an app would, converted by
 * unplugin-mpscnn at build time. The manifest is a plain module; each layer's folded
 * weights are fetched on demand with the package's runtime.
 */
import './style.css'
import model from './models/inception_v3_mini.pb'
import { loadBias, loadWeights, type MpscnnLayer, type MpscnnLayerKind } from 'unplugin-mpscnn/runtime'
import { h, s } from './dom.js'
import { networkPanel } from './network-panel.js'
import { runPanel } from './run-panel.js'

// ---------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------

const int = new Intl.NumberFormat('en-US')

function formatBytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`
  return `${n} B`
}

function formatAxisBytes(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toPrecision(3)} MB`
  if (n >= 1e3) return `${+(n / 1e3).toPrecision(3)} kB`
  return `${+n.toPrecision(3)} B`
}

function formatValue(v: number): string {
  if (v === 0) return '0'
  const a = Math.abs(v)
  return a >= 1e4 || a < 1e-3 ? v.toExponential(3) : v.toFixed(4)
}

const KIND_LABEL: Record<MpscnnLayerKind, string> = { conv: 'conv', depthwise: 'depthwise', fullyConnected: 'fully connected', convolutionTranspose: 'transposed conv' }
/** For the table's narrow column. */
const KIND_TAG: Record<MpscnnLayerKind, string> = { conv: 'conv', depthwise: 'dw', fullyConnected: 'fc', convolutionTranspose: 'convT' }

// ---------------------------------------------------------------------------------------
// The manifest, summarised
// ---------------------------------------------------------------------------------------

interface Row {
  index: number
  layer: MpscnnLayer
  params: number
  bytes: number
  /** Inception's block the layer belongs to (`mixed_3`), for the chart's axis. */
  block: string
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1)

const rows: Row[] = model.layers.map((layer, index) => ({
  index,
  layer,
  params: count(layer.weights.shape) + count(layer.bias.shape),
  bytes: layer.weights.byteLength + layer.bias.byteLength,
  block: layer.kind === 'fullyConnected' ? 'fc' : (/^mixed(?:_\d+)?/.exec(layer.name)?.[0] ?? 'stem'),
}))

const totals = {
  layers: rows.length,
  params: rows.reduce((a, r) => a + r.params, 0),
  bytes: rows.reduce((a, r) => a + r.bytes, 0),
  files: new Set(model.layers.flatMap((l) => [l.weights.url, l.bias.url])).size,
}

// ---------------------------------------------------------------------------------------
// Page skeleton
// ---------------------------------------------------------------------------------------

const app = document.querySelector<HTMLDivElement>('#app')!

function card(label: string, value: string, note?: string): HTMLElement {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value), note ? h('div', { class: 'stat-note' }, note) : null)
}

const header = h(
  'header',
  { class: 'top' },
  h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), h('span', {}, 'unplugin-mpscnn'), h('span', { class: 'brand-sub' }, 'playground')),
  h(
    'div',
    { class: 'model' },
    h('code', { class: 'import' }, `import model from './models/${model.source}'`),
    h('span', { class: 'pill', title: `sha256 ${model.sha256}` }, `sha256 ${model.sha256.slice(0, 12)}…`),
    h('span', { class: 'pill pill-accent' }, model.precision),
  ),
)

const totalsEl = h(
  'section',
  { class: 'stats', 'data-testid': 'totals', 'aria-label': 'Totals' },
  card('Layers', int.format(totals.layers), kindSummary()),
  card('Parameters', int.format(totals.params), 'weights + biases, after folding'),
  card('Bytes', formatBytes(totals.bytes), `${int.format(totals.bytes)} bytes`),
  card('Files', int.format(totals.files), 'weights_*.dat, bias_*.dat'),
)

function kindSummary(): string {
  const by = new Map<string, number>()
  for (const r of rows) by.set(KIND_LABEL[r.layer.kind], (by.get(KIND_LABEL[r.layer.kind]) ?? 0) + 1)
  return [...by].map(([k, n]) => `${n} ${k}`).join(' · ')
}

// ---------------------------------------------------------------------------------------
// Bytes per layer: one bar each, plain SVG
// ---------------------------------------------------------------------------------------

const chart = { w: 1000, h: 236, left: 58, right: 8, top: 12, bottom: 44 }
let logScale = true

const logToggle = h('input', { type: 'checkbox', checked: logScale })
const chartHost = h('div', { class: 'chart-host' })
const chartSection = h(
  'section',
  { class: 'card' },
  h(
    'div',
    { class: 'card-head' },
    h('h2', {}, 'Bytes per layer'),
    h('div', { class: 'legend' }, ...[...new Set(rows.map((r) => r.layer.kind))].map(legendItem), h('label', { class: 'toggle' }, logToggle, 'log scale')),
  ),
  chartHost,
)

function legendItem(kind: MpscnnLayerKind): HTMLElement {
  return h('span', { class: 'legend-item' }, h('span', { class: `swatch kind-${kind}` }), KIND_LABEL[kind])
}

logToggle.addEventListener('change', () => {
  logScale = logToggle.checked
  renderChart()
})

function renderChart(): void {
  const { w, h: height, left, right, top, bottom } = chart
  const plotW = w - left - right
  const plotH = height - top - bottom
  const max = Math.max(...rows.map((r) => r.bytes))
  const min = Math.min(...rows.map((r) => r.bytes))
  let y: (v: number) => number
  let ticks: number[]
  if (logScale) {
    // At least a third of a decade below the smallest layer, so that it still shows a bar.
    const lo = 10 ** Math.floor(Math.log10(min) - 0.3)
    const hi = 10 ** Math.ceil(Math.log10(max))
    y = (v) => top + plotH - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH
    ticks = []
    for (let t = lo; t <= hi; t *= 10) ticks.push(t)
  } else {
    const step = niceStep(max / 4)
    const hi = Math.ceil(max / step) * step
    y = (v) => top + plotH - (v / hi) * plotH
    ticks = []
    for (let t = 0; t <= hi + step / 2; t += step) ticks.push(t)
  }
  const band = plotW / rows.length
  const svg = s('svg', {
    viewBox: `0 0 ${w} ${height}`,
    class: 'bytes-chart',
    'data-testid': 'bytes-chart',
    role: 'img',
    'aria-label': `Bytes per layer, ${rows.length} layers, ${logScale ? 'log' : 'linear'} scale`,
  })
  const grid = s('g', { class: 'grid' })
  for (const t of ticks) {
    const ty = y(t)
    grid.append(s('line', { x1: left, x2: w - right, y1: ty, y2: ty }), s('text', { x: left - 8, y: ty + 4, 'text-anchor': 'end' }, formatAxisBytes(t)))
  }
  svg.append(grid)
  const bars = s('g', { class: 'bars' })
  const axis = s('g', { class: 'x-axis' })
  let lastBlock = ''
  /** Where the last label of each of the two label lines ends. */
  const labelEnd = [-Infinity, -Infinity]
  for (const r of rows) {
    const x = left + r.index * band
    const barY = y(r.bytes)
    const selectedClass = r.layer.name === selected ? ' selected' : ''
    const g = s('g', { class: `bar-group${selectedClass}`, 'data-layer': r.layer.name })
    g.append(
      s('rect', { class: 'hit', x, y: top, width: band, height: plotH }),
      s('rect', {
        class: `bar kind-${r.layer.kind}`,
        'data-layer': r.layer.name,
        x: x + band * 0.12,
        y: barY,
        width: Math.max(1, band * 0.76),
        height: Math.max(1, top + plotH - barY),
        rx: Math.min(2, band * 0.2),
      }),
      s('title', {}, `${r.layer.name}: ${formatBytes(r.bytes)} (${int.format(r.params)} parameters)`),
    )
    g.addEventListener('click', () => select(r.layer.name, true))
    bars.append(g)
    if (r.block !== lastBlock) {
      lastBlock = r.block
      axis.append(s('line', { x1: x, x2: x, y1: top + plotH, y2: top + plotH + 6 }))
      // A label per block, on the second line when it would run into the previous one
      // (11px text: ~6.5px a character), left out when both lines are taken.
      const last = r.index === rows.length - 1
      const width = r.block.length * 6.5
      const start = last ? x + band - width : x + 3
      const line = labelEnd.findIndex((end) => start > end + 6)
      if (line >= 0) {
        axis.append(s('text', { x: last ? x + band : x + 3, y: top + plotH + 18 + line * 14, 'text-anchor': last ? 'end' : 'start' }, r.block))
        labelEnd[line] = start + width
      }
    }
  }
  axis.prepend(s('line', { x1: left, x2: w - right, y1: top + plotH, y2: top + plotH }))
  svg.append(bars, axis)
  chartHost.replaceChildren(svg)
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw))
  const f = raw / p
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p
}

// ---------------------------------------------------------------------------------------
// The layer table
// ---------------------------------------------------------------------------------------

const filter = h('input', { type: 'search', class: 'filter', placeholder: 'Filter layers…', 'aria-label': 'Filter layers by name' })
const tbody = h('tbody')
const rowEls = new Map<string, HTMLTableRowElement>()

const num = (v: string) => h('td', { class: 'num' }, v)
for (const r of rows) {
  const l = r.layer
  const tr = h(
    'tr',
    { 'data-testid': 'layer-row', 'data-layer': l.name, tabindex: 0, 'aria-selected': 'false' },
    h('td', { class: 'num dim' }, r.index + 1),
    h('td', { class: 'name' }, h('code', {}, l.name)),
    h('td', {}, h('span', { class: `tag kind-${l.kind}`, title: KIND_LABEL[l.kind] }, KIND_TAG[l.kind])),
    num(`${l.kernelHeight}×${l.kernelWidth}`),
    num(`${l.strideY}×${l.strideX}`),
    num(`${l.inputChannels} → ${l.outputChannels}`),
    num(int.format(r.params)),
    num(formatBytes(r.bytes)),
    num(int.format(l.weights.offset)),
  )
  tr.addEventListener('click', () => select(l.name, true))
  tr.addEventListener('keydown', (e) => onRowKey(e, r))
  rowEls.set(l.name, tr)
  tbody.append(tr)
}

function onRowKey(e: KeyboardEvent, r: Row): void {
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault()
    select(r.layer.name, true)
    return
  }
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return
  e.preventDefault()
  const visible = rows.filter((x) => !rowEls.get(x.layer.name)!.hidden)
  const i = visible.indexOf(r) + (e.key === 'ArrowDown' ? 1 : -1)
  const next = visible[i]
  if (next) {
    select(next.layer.name, true)
    rowEls.get(next.layer.name)!.focus()
  }
}

filter.addEventListener('input', () => {
  const q = filter.value.trim().toLowerCase()
  for (const [name, tr] of rowEls) tr.hidden = q !== '' && !name.toLowerCase().includes(q)
})

const th = (label: string, cls = '') => h('th', { class: cls, scope: 'col' }, label)
const tableScroll = h(
  'div',
  { class: 'table-scroll' },
  h(
    'table',
    { class: 'layers' },
    h(
      'thead',
      {},
      h('tr', {}, th('#', 'num'), th('Layer'), th('Kind'), th('Kernel', 'num'), th('Stride', 'num'), th('In → out', 'num'), th('Params', 'num'), th('Bytes', 'num'), th('Offset', 'num')),
    ),
    tbody,
  ),
)
const tableSection = h('section', { class: 'card table-card' }, h('div', { class: 'card-head' }, h('h2', {}, 'Layers'), filter), tableScroll)

// ---------------------------------------------------------------------------------------
// The selected layer: its folded weights, fetched on demand, as a histogram
// ---------------------------------------------------------------------------------------

const detail = h('section', { class: 'card detail', 'data-testid': 'histogram', 'data-state': 'empty', 'aria-live': 'polite' })
let selected: string | undefined
let generation = 0

interface Stats {
  count: number
  min: number
  max: number
  mean: number
  std: number
  zeros: number
}

function stats(a: Float32Array): Stats {
  let min = Infinity
  let max = -Infinity
  let sum = 0
  let zeros = 0
  for (let i = 0; i < a.length; i++) {
    const v = a[i]
    if (v < min) min = v
    if (v > max) max = v
    sum += v
    if (v === 0) zeros++
  }
  const mean = a.length ? sum / a.length : 0
  let sq = 0
  for (let i = 0; i < a.length; i++) sq += (a[i] - mean) ** 2
  return { count: a.length, min, max, mean, std: a.length ? Math.sqrt(sq / a.length) : 0, zeros }
}

function histogram(a: Float32Array, st: Stats, bins = 48): SVGSVGElement {
  const w = 360
  const height = 190
  const pad = { left: 8, right: 8, top: 22, bottom: 26 }
  const plotW = w - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  const span = st.max - st.min || 1
  const counts = new Array<number>(bins).fill(0)
  for (let i = 0; i < a.length; i++) counts[Math.min(bins - 1, Math.floor(((a[i] - st.min) / span) * bins))]++
  const peak = Math.max(...counts)
  const bw = plotW / bins
  const svg = s('svg', { viewBox: `0 0 ${w} ${height}`, class: 'histogram', role: 'img', 'aria-label': `Histogram of ${st.count} weights in ${bins} bins` })
  counts.forEach((c, i) => {
    if (c === 0) return
    const bh = Math.max(1, (c / peak) * plotH)
    const lo = st.min + (i / bins) * span
    svg.append(
      s(
        'rect',
        { class: 'bin', x: pad.left + i * bw + 0.5, y: pad.top + plotH - bh, width: Math.max(0.5, bw - 1), height: bh },
        s('title', {}, `[${formatValue(lo)}, ${formatValue(lo + span / bins)}): ${int.format(c)}`),
      ),
    )
  })
  const xOf = (v: number) => pad.left + ((v - st.min) / span) * plotW
  const base = pad.top + plotH
  svg.append(s('line', { class: 'baseline', x1: pad.left, x2: w - pad.right, y1: base, y2: base }))
  if (st.min < 0 && st.max > 0) svg.append(s('line', { class: 'zero', x1: xOf(0), x2: xOf(0), y1: pad.top, y2: base }))
  svg.append(
    s('line', { class: 'mean', x1: xOf(st.mean), x2: xOf(st.mean), y1: pad.top, y2: base }, s('title', {}, `mean ${formatValue(st.mean)}`)),
    s('text', { x: pad.left, y: height - 6, 'text-anchor': 'start' }, formatValue(st.min)),
    s('text', { x: w - pad.right, y: height - 6, 'text-anchor': 'end' }, formatValue(st.max)),
    s('text', { class: 'peak', x: w - pad.right, y: 15, 'text-anchor': 'end' }, `tallest bin ${int.format(peak)}`),
    s('text', { class: 'legend-mean', x: pad.left, y: 15, 'text-anchor': 'start' }, '— mean'),
  )
  return svg
}

function dl(items: [string, string][]): HTMLDListElement {
  const el = h('dl', { class: 'kv' })
  for (const [k, v] of items) el.append(h('dt', {}, k), h('dd', {}, v))
  return el
}

function fileName(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1)
}

function renderEmpty(): void {
  detail.dataset.state = 'empty'
  detail.replaceChildren(
    h('div', { class: 'card-head' }, h('h2', {}, 'Weights')),
    h('p', { class: 'placeholder' }, 'Select a layer in the table or the chart to fetch its folded weights and see their distribution.'),
  )
}

async function renderLayer(layer: MpscnnLayer): Promise<void> {
  const mine = ++generation
  const w = layer.weights
  detail.dataset.state = 'loading'
  detail.dataset.layer = layer.name
  const body = h('div', { class: 'detail-body' }, h('p', { class: 'placeholder' }, `Fetching ${fileName(w.url)}…`))
  detail.replaceChildren(
    h('div', { class: 'card-head' }, h('h2', {}, h('code', {}, layer.name)), h('span', { class: `tag kind-${layer.kind}` }, KIND_LABEL[layer.kind])),
    dl([
      ['shape', `[${w.shape.join(', ')}]`],
      ['dtype', w.dtype],
      ['padding', layer.padding],
      ['activation', layer.activation],
      ['file', `${fileName(w.url)} (${formatBytes(w.byteLength)}${w.offset ? ` at ${int.format(w.offset)}` : ''})`],
    ]),
    body,
  )
  try {
    const [weights, bias] = await Promise.all([loadWeights(layer), loadBias(layer)])
    if (mine !== generation) return
    const st = stats(weights)
    const bst = stats(bias)
    body.replaceChildren(
      histogram(weights, st),
      h(
        'div',
        { class: 'stat-grid' },
        miniStat('min', formatValue(st.min)),
        miniStat('max', formatValue(st.max)),
        miniStat('mean', formatValue(st.mean)),
        miniStat('std', formatValue(st.std)),
        miniStat('values', int.format(st.count)),
        miniStat('zeros', int.format(st.zeros)),
      ),
      h('p', { class: 'bias' }, `bias · ${int.format(bst.count)} values · min ${formatValue(bst.min)} · max ${formatValue(bst.max)} · mean ${formatValue(bst.mean)}`),
    )
    detail.dataset.state = 'ready'
  } catch (e) {
    if (mine !== generation) return
    detail.dataset.state = 'error'
    body.replaceChildren(h('p', { class: 'error' }, (e as Error).message))
    throw e
  }
}

function miniStat(label: string, value: string): HTMLElement {
  return h('div', { class: 'mini' }, h('span', {}, label), h('strong', {}, value))
}

/** Scrolls the table (only the table, never the page) to show `tr` below the sticky header. */
function revealRow(tr: HTMLTableRowElement): void {
  const box = tableScroll.getBoundingClientRect()
  const row = tr.getBoundingClientRect()
  const head = tableScroll.querySelector('thead')?.getBoundingClientRect().height ?? 0
  if (row.top < box.top + head) tableScroll.scrollTop -= box.top + head - row.top
  else if (row.bottom > box.bottom) tableScroll.scrollTop += row.bottom - box.bottom
}

function select(name: string, updateHash: boolean): void {
  const r = rows.find((x) => x.layer.name === name)
  if (!r) return
  if (selected !== name) {
    if (selected) rowEls.get(selected)?.setAttribute('aria-selected', 'false')
    selected = name
    const tr = rowEls.get(name)!
    tr.setAttribute('aria-selected', 'true')
    revealRow(tr)
    chartHost.querySelectorAll<SVGGElement>('.bar-group').forEach((g) => g.classList.toggle('selected', g.dataset.layer === name))
  }
  if (updateHash) history.replaceState(null, '', `#${encodeURIComponent(name)}`)
  void renderLayer(r.layer).catch((e: unknown) => console.error(e))
}

// ---------------------------------------------------------------------------------------

app.replaceChildren(
  header,
  h(
    'main',
    { class: 'wrap' },
    totalsEl,
    chartSection,
    h('div', { class: 'split' }, tableSection, h('aside', { class: 'side' }, detail)),
    // The network's encodes; a layer name selects that layer above.
    model.network ? networkPanel(model.network, (name) => select(name, true)) : null,
    // The network, run in the browser on the wasm backend.
    model.network ? runPanel(model) : null,
  ),
  h('footer', { class: 'foot' }, `${model.source} → ${totals.files} MPSCNN files, converted at build time by unplugin-mpscnn. `, h('code', {}, 'loadWeights(layer)'), ' from ', h('code', {}, 'unplugin-mpscnn/runtime'), ' fetches one layer on demand.'),
)
renderChart()
renderEmpty()

const fromHash = decodeURIComponent(location.hash.slice(1))
if (fromHash) select(fromHash, false)
