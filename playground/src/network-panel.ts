/**
 * The network as the MPSCNN encodes that run it (`model.network`, docs/network.md): the input
 * with its preprocessing, the outputs, and one row per node in encode order with the images it
 * reads and writes and their sizes.
 */
import type { MpscnnNetwork, MpscnnNetworkNode, MpscnnNeuron } from 'unplugin-mpscnn/runtime'
import { h } from './dom.js'

type Node = MpscnnNetworkNode
type Kind = Node['kind']

/** Each kind's MPS class (docs/network.md). */
const MPS_CLASS: Record<Kind, string> = {
  convolution: 'MPSCNNConvolution',
  depthwiseConvolution: 'MPSCNNDepthWiseConvolution',
  fullyConnected: 'MPSCNNFullyConnected',
  convolutionTranspose: 'MPSCNNConvolutionTranspose',
  poolingMax: 'MPSCNNPoolingMax',
  poolingAverage: 'MPSCNNPoolingAverage',
  neuron: 'MPSCNNNeuron',
  add: 'MPSCNNAdd',
  subtract: 'MPSCNNSubtract',
  multiply: 'MPSCNNMultiply',
  softMax: 'MPSCNNSoftMax',
  logSoftMax: 'MPSCNNLogSoftMax',
  reshape: 'MPSNNReshape',
  upsampling: 'MPSCNNUpsampling',
  batchNormalization: 'MPSCNNBatchNormalization',
  concatenation: 'MPSNNConcatenation',
}

function mpsClass(n: Node): string {
  if (n.kind === 'upsampling') return n.mode === 'bilinear' ? 'MPSCNNUpsamplingBilinear' : 'MPSCNNUpsamplingNearest'
  return MPS_CLASS[n.kind]
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : String(+v.toPrecision(8))
}

/** Per-channel values, shortened when they are all the same. */
function formatChannels(values: number[]): string {
  return values.every((v) => v === values[0]) ? `${formatNumber(values[0] ?? 0)} (×${values.length})` : `[${values.map(formatNumber).join(', ')}]`
}

function formatNeuron(n: MpscnnNeuron | null): string {
  if (!n) return ''
  const args = [n.a !== undefined ? `a ${formatNumber(n.a)}` : '', n.b !== undefined ? `b ${formatNumber(n.b)}` : ''].filter(Boolean)
  return args.length && n.type !== 'relu' && n.type !== 'relu6' ? `${n.type} (${args.join(', ')})` : n.type
}

export function networkPanel(network: MpscnnNetwork, onLayer: (name: string) => void): HTMLElement {
  const shape = (image: string): string => {
    const i = network.images[image]
    return i ? `${i.width}×${i.height}×${i.featureChannels}` : '?'
  }
  const image = (name: string): HTMLElement => h('span', { class: 'img' }, h('code', {}, name), ' ', h('span', { class: 'dim' }, shape(name)))

  const io = h('div', { class: 'net-io', 'data-testid': 'network-io' })
  for (const input of network.inputs) {
    const p = input.preprocess
    io.append(
      h(
        'p',
        { 'data-testid': 'network-input' },
        h('strong', {}, 'Input '),
        image(input.image),
        ` from placeholder `,
        h('code', {}, input.placeholder),
        p ? ` · preprocess y = x × scale + bias, scale ${formatChannels(p.scale)}, bias ${formatChannels(p.bias)}, on ` : null,
        p ? h('code', {}, p.from) : null,
      ),
    )
  }
  io.append(h('p', { 'data-testid': 'network-outputs' }, h('strong', {}, network.outputs.length === 1 ? 'Output ' : 'Outputs '), ...network.outputs.flatMap((o, i) => [i ? ', ' : '', image(o.image)])))

  const tbody = h('tbody')
  network.nodes.forEach((n, index) => {
    const sources = Array.isArray(n.source) ? n.source : [n.source]
    const srcCell = h('td', { class: 'net-src' })
    sources.forEach((src, i) => srcCell.append(...(i ? [h('br')] : []), image(src)))
    const pool = n.kind === 'poolingMax' || n.kind === 'poolingAverage'
    const layerCell = h('td', {})
    if (n.layer) {
      const name = n.layer
      const button = h('button', { type: 'button', class: 'link', title: 'Show this layer in the layer table' }, name)
      button.addEventListener('click', () => onLayer(name))
      layerCell.append(button)
    }
    tbody.append(
      h(
        'tr',
        { 'data-testid': 'network-row', 'data-kind': n.kind, 'data-destination': n.destination, 'data-channel-offset': n.destinationFeatureChannelOffset },
        h('td', { class: 'num dim' }, index),
        h('td', { title: n.tf.join('\n') }, h('span', { class: 'net-kind' }, n.kind), h('br'), h('span', { class: 'dim small' }, mpsClass(n))),
        srcCell,
        h('td', {}, image(n.destination), n.destinationFeatureChannelOffset ? h('span', { class: 'chan-offset', title: 'destinationFeatureChannelOffset' }, ` @${n.destinationFeatureChannelOffset}`) : null),
        h('td', { class: 'num' }, `${n.offset.x}, ${n.offset.y}`),
        h('td', {}, n.edgeMode),
        h('td', {}, formatNeuron(n.neuron)),
        h('td', { class: 'num' }, pool && n.kernel ? `${n.kernel.width}×${n.kernel.height}` : ''),
        h('td', { class: 'num' }, pool && n.stride ? `${n.stride.x}×${n.stride.y}` : ''),
        layerCell,
      ),
    )
  })

  const th = (label: string, cls = '', title?: string) => h('th', { class: cls, scope: 'col', title }, label)
  const count = new Map<string, number>()
  for (const n of network.nodes) count.set(n.kind, (count.get(n.kind) ?? 0) + 1)
  return h(
    'section',
    { class: 'card table-card network', 'data-testid': 'network' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Network'), h('span', { class: 'dim' }, `${network.nodes.length} encodes, ${Object.keys(network.images).length} images · ${[...count].map(([k, c]) => `${c} ${k}`).join(' · ')}`)),
    io,
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { class: 'layers net' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            th('#', 'num'),
            th('Kind'),
            th('Source'),
            th('Destination', '', 'destination image; @n: destinationFeatureChannelOffset'),
            th('Offset', 'num'),
            th('Edge'),
            th('Neuron'),
            th('Pool kernel', 'num'),
            th('Stride', 'num'),
            th('Layer'),
          ),
        ),
        tbody,
      ),
    ),
  )
}
