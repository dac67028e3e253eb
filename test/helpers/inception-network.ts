/**
 * What Apple's hand-written Inception3Net.swift (MetalImageRecognition) encodes for
 * Inception v3 (2015), to check a network description against: the same window per
 * kernel (TensorFlow's padding rules, computed here), the same destination sizes, the same
 * destinationFeatureChannelOffset for every branch (Apple's, written down as data), ReLU
 * on every convolution. No vitest import beyond `expect`.
 */
import { expect } from 'vitest'
import type { MpscnnNetwork, MpscnnNetworkNode } from '../../src/base/manifest-types.js'
import { inceptionLayerTable } from './inception.js'

/** Apple's Inception3Net.swift: each branch's destinationFeatureChannelOffset in its mixed block's image (full size). */
export const APPLE_CONCAT_OFFSETS: Record<string, { channels: number; offsets: Record<string, number> }> = {
  'mixed/join': { channels: 256, offsets: { 'mixed/conv/Conv2D': 0, 'mixed/tower/conv_1/Conv2D': 64, 'mixed/tower_1/conv_2/Conv2D': 128, 'mixed/tower_2/conv/Conv2D': 224 } },
  'mixed_1/join': { channels: 288, offsets: { 'mixed_1/conv/Conv2D': 0, 'mixed_1/tower/conv_1/Conv2D': 64, 'mixed_1/tower_1/conv_2/Conv2D': 128, 'mixed_1/tower_2/conv/Conv2D': 224 } },
  'mixed_2/join': { channels: 288, offsets: { 'mixed_2/conv/Conv2D': 0, 'mixed_2/tower/conv_1/Conv2D': 64, 'mixed_2/tower_1/conv_2/Conv2D': 128, 'mixed_2/tower_2/conv/Conv2D': 224 } },
  'mixed_3/join': { channels: 768, offsets: { 'mixed_3/conv/Conv2D': 0, 'mixed_3/tower/conv_2/Conv2D': 384, 'mixed_3/pool': 480 } },
  ...Object.fromEntries(['mixed_4', 'mixed_5', 'mixed_6', 'mixed_7'].map((m) => [`${m}/join`, { channels: 768, offsets: { [`${m}/conv/Conv2D`]: 0, [`${m}/tower/conv_2/Conv2D`]: 192, [`${m}/tower_1/conv_4/Conv2D`]: 384, [`${m}/tower_2/conv/Conv2D`]: 576 } }])),
  'mixed_8/join': { channels: 1280, offsets: { 'mixed_8/tower/conv_1/Conv2D': 0, 'mixed_8/tower_1/conv_3/Conv2D': 320, 'mixed_8/pool': 512 } },
  ...Object.fromEntries(['mixed_9', 'mixed_10'].map((m) => [`${m}/join`, {
    channels: 2048,
    offsets: { [`${m}/conv/Conv2D`]: 0, [`${m}/tower/mixed/conv/Conv2D`]: 320, [`${m}/tower/mixed/conv_1/Conv2D`]: 704, [`${m}/tower_1/mixed/conv/Conv2D`]: 1088, [`${m}/tower_1/mixed/conv_1/Conv2D`]: 1472, [`${m}/tower_2/conv/Conv2D`]: 1856 },
  }])),
}

/** Apple's MPSImageDescriptors: the mixed blocks' images (width = height) at full size. */
const APPLE_IMAGE_SIZES: Record<string, number> = {
  Mul: 299, pool_1: 35, 'mixed/join': 35, 'mixed_1/join': 35, 'mixed_2/join': 35, 'mixed_3/join': 17, 'mixed_4/join': 17, 'mixed_5/join': 17,
  'mixed_6/join': 17, 'mixed_7/join': 17, 'mixed_8/join': 8, 'mixed_9/join': 8, 'mixed_10/join': 8, softmax: 1,
}

/** TF's window along one dimension: first and last source pixel read, and the output size. */
function tfWindow(size: number, k: number, s: number, padding: string) {
  const out = padding === 'SAME' ? Math.ceil(size / s) : Math.floor((size - k) / s) + 1
  const before = padding === 'SAME' ? Math.floor(Math.max((out - 1) * s + k - size, 0) / 2) : 0
  return { out, first: -before + 0, last: -before + (out - 1) * s + k - 1 }
}

/** MPS: offset is the centre of destination pixel 0's window, whose first tap is offset - floor(k / 2). */
function mpsWindow(offset: number, k: number, s: number, out: number) {
  const first = offset - Math.floor(k / 2)
  return { out, first, last: first + (out - 1) * s + k - 1 }
}

/** Channels a node writes. */
function written(net: MpscnnNetwork, n: MpscnnNetworkNode): number {
  return n.outputFeatureChannels ?? net.images[n.source as string].featureChannels
}

/** Checks that hold at every scale (channel counts aside). */
export function checkInception(net: MpscnnNetwork): void {
  const table = inceptionLayerTable()
  const convs = net.nodes.filter((n) => n.kind === 'convolution')
  const pools = net.nodes.filter((n) => n.kind === 'poolingMax' || n.kind === 'poolingAverage')
  const fcs = net.nodes.filter((n) => n.kind === 'fullyConnected')
  expect([convs.length, fcs.length, pools.length]).toEqual([94, 1, 14])
  // Every layer, in the manifest's order, is one encode; every convolution has its ReLU fused.
  expect([...convs, ...fcs].map((n) => n.layer).sort()).toEqual(table.map((r) => r.name).sort())
  for (const c of convs) expect(c.neuron).toEqual({ type: 'relu', a: 0 })
  expect(fcs[0].neuron).toBeNull()

  // Windows: TF's, from the layer table's kernel, stride and padding and the source's size.
  const rows = new Map(table.map((r) => [r.name, r]))
  for (const c of convs) {
    const r = rows.get(c.layer!)!
    const src = net.images[c.source as string]
    const [, kh, kw] = r.shape
    const s = r.stride ?? 1
    const p = r.padding ?? 'SAME'
    const dest = net.images[c.destination]
    const wantY = tfWindow(src.height, kh, s, p)
    const wantX = tfWindow(src.width, kw, s, p)
    expect(mpsWindow(c.offset.y, kh, s, wantY.out), c.name).toEqual(wantY)
    expect(mpsWindow(c.offset.x, kw, s, wantX.out), c.name).toEqual(wantX)
    expect([dest.height, dest.width], c.name).toEqual([wantY.out, wantX.out])
    expect(c.edgeMode).toBe('zero')
  }
  // Pools as the graph has them: stem and reduction pools 3x3/2 VALID, branch pools 3x3/1 SAME, pool_3 8x8 VALID.
  for (const p of pools) {
    const src = net.images[p.source as string]
    const k = p.kernel!.width
    const s = p.stride!.x
    const padding = /tower_2\/pool$/.test(p.name) ? 'SAME' : 'VALID'
    const want = tfWindow(src.height, k, s, padding)
    expect(mpsWindow(p.offset.y, k, s, want.out), p.name).toEqual(want)
    expect(mpsWindow(p.offset.x, k, s, want.out), p.name).toEqual(want)
    expect(p.edgeMode).toBe('clamp')
  }
  expect(pools.map((p) => [p.name, p.kind, p.kernel!.width, p.stride!.x]).filter(([n]) => !String(n).includes('tower_2'))).toEqual([
    ['pool', 'poolingMax', 3, 2], ['pool_1', 'poolingMax', 3, 2], ['mixed_3/pool', 'poolingMax', 3, 2], ['mixed_8/pool', 'poolingMax', 3, 2], ['pool_3', 'poolingAverage', 8, 1],
  ])
  // The fully connected layer reads pool_3's 1 x 1 x 2048 image with a 1 x 1 kernel, as Apple's fc0 does.
  expect(fcs[0]).toMatchObject({ name: 'softmax/logits/MatMul', source: 'pool_3', kernel: { width: 1, height: 1 }, offset: { x: 0, y: 0 }, destination: 'softmax/logits' })
  expect(net.outputs).toEqual([{ image: 'softmax', tfNode: 'softmax' }])

  // The input: Mul's output, after DecodeJpeg, Cast, ExpandDims, ResizeBilinear, with Sub and Mul as preprocessing.
  expect(net.inputs).toEqual([{
    image: 'Mul', tfNode: 'Mul', placeholder: 'DecodeJpeg/contents',
    before: [{ name: 'DecodeJpeg', op: 'DecodeJpeg' }, { name: 'Cast', op: 'Cast' }, { name: 'ExpandDims', op: 'ExpandDims' }, { name: 'ResizeBilinear', op: 'ResizeBilinear' }],
    preprocess: { scale: [1 / 128, 1 / 128, 1 / 128], bias: [-1, -1, -1], tf: ['Sub', 'Mul'], from: 'ResizeBilinear' },
  }])
  for (const [image, size] of Object.entries(APPLE_IMAGE_SIZES)) expect([net.images[image].width, net.images[image].height], image).toEqual([size, size])

  // Every joined image is written exactly once per channel, by direct writes and copies.
  for (const join of Object.keys(APPLE_CONCAT_OFFSETS)) {
    const covered = new Array<number>(net.images[join].featureChannels).fill(0)
    for (const n of net.nodes) {
      if (n.kind === 'concatenation' && n.destination === join) {
        ;(n.source as string[]).forEach((s, i) => { for (let c = 0; c < net.images[s].featureChannels; c++) covered[n.sourceFeatureChannelOffsets![i] + c]++ })
      } else if (n.destination === join) for (let c = 0; c < written(net, n); c++) covered[n.destinationFeatureChannelOffset + c]++
    }
    expect(covered.every((x) => x === 1), join).toBe(true)
  }
  // Encode order: every image is written before it is read.
  const done = new Set(net.inputs.map((i) => i.image))
  for (const n of net.nodes) {
    for (const s of [n.source].flat()) expect(done.has(s), `${n.name} reads ${s}`).toBe(true)
    if (!net.nodes.slice(net.nodes.indexOf(n) + 1).some((m) => m.destination === n.destination)) done.add(n.destination)
  }
}


/** At full size: Apple's offsets exactly, with no copy encode (every branch writes in place). */
export function checkAppleOffsets(net: MpscnnNetwork): void {
  for (const [join, { channels, offsets }] of Object.entries(APPLE_CONCAT_OFFSETS)) {
    expect(net.images[join].featureChannels, join).toBe(channels)
    const writers = Object.fromEntries(net.nodes.filter((n) => n.destination === join).map((n) => [n.name, n.destinationFeatureChannelOffset]))
    expect(writers, join).toEqual(offsets)
  }
  expect(net.nodes.filter((n) => n.kind === 'concatenation')).toEqual([])
  expect(net.images['mixed_9/tower/mixed']).toBeUndefined()
  expect(net.nodes).toHaveLength(94 + 1 + 14 + 1)
}
