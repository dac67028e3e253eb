/**
 * src/emit through its module API: where each tensor goes (packed offsets and alignment,
 * per-layer files, float16 weights with float32 biases), the file and URL names, and the
 * manifest as JSON, as a JavaScript module (run here) and as a `.d.ts`.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { layerFileStems, modelStem, packedFileName, planAssets, safeStem, urlPath } from '../src/emit/assets.js'
import { manifestDts, manifestJson, manifestModule } from '../src/emit/manifest.js'
import type { MpscnnNetwork } from '../src/base/manifest-types.js'
import type { LayerInfo } from '../src/fold/plan-layers.js'

const layer = (name: string, out: number, weightShape: number[]): LayerInfo => ({
  name,
  kind: 'conv',
  op: 'Conv2D',
  node: `${name}/Conv2D`,
  inputChannels: weightShape[3],
  outputChannels: out,
  kernelHeight: weightShape[1],
  kernelWidth: weightShape[2],
  strideY: 2,
  strideX: 1,
  dilationY: 1,
  dilationX: 3,
  groups: 1,
  padding: 'valid',
  activation: 'relu6',
  weightShape,
  folded: [],
})
// 3 x 1 x 1 x 2 = 6 weights (24 bytes as float32, 12 as float16), 3 biases (12 bytes); 5 x 3 x 3 x 1 = 45 weights, 5 biases.
const layers = [layer('conv', 3, [3, 1, 1, 2]), layer('b#2', 5, [5, 3, 3, 1])]
const header = { source: 'net.pb', sha256: 'ab'.repeat(32), precision: 'float32' as const }

describe('planAssets', () => {
  it('packed: every tensor at the next multiple of align, the file as long as its last tensor ends', () => {
    const plan = planAssets(layers, { packed: true, align: 16, modelName: 'my net', precision: 'float32' })
    const at = (t: { file: string; offset: number; byteLength: number; dtype: string }) => [t.file, t.offset, t.byteLength, t.dtype]
    expect(plan.layers.map((l) => [at(l.weights), at(l.bias)])).toEqual([
      [['my~20net.dat', 0, 24, 'float32'], ['my~20net.dat', 32, 12, 'float32']],
      [['my~20net.dat', 48, 180, 'float32'], ['my~20net.dat', 240, 20, 'float32']],
    ])
    expect(plan).toMatchObject({ packed: true, files: [{ name: 'my~20net.dat', size: 260 }] })
    expect(plan.layers.map((l) => [l.weights.shape, l.bias.shape])).toEqual([[[3, 1, 1, 2], [3]], [[5, 3, 3, 1], [5]]])
    expect(plan.layers.map((l) => l.info)).toEqual(layers)
  })

  it('packed float16: two bytes a weight, biases stay float32', () => {
    const plan = planAssets(layers, { packed: true, align: 4, modelName: 'n', precision: 'float16' })
    expect(plan.layers.map((l) => [l.weights.offset, l.weights.byteLength, l.weights.dtype, l.bias.offset, l.bias.byteLength, l.bias.dtype])).toEqual([
      [0, 12, 'float16', 12, 12, 'float32'],
      [24, 90, 'float16', 116, 20, 'float32'],
    ])
    expect(plan.files).toEqual([{ name: 'n.dat', size: 136 }])
  })

  it('unpacked: two files a layer, each tensor at offset 0', () => {
    const plan = planAssets(layers, { packed: false, align: 16, modelName: 'n', precision: 'float16' })
    expect(plan.packed).toBe(false)
    expect(plan.files).toEqual([
      { name: 'weights_conv.dat', size: 12 },
      { name: 'bias_conv.dat', size: 12 },
      { name: 'weights_b~232.dat', size: 90 },
      { name: 'bias_b~232.dat', size: 20 },
    ])
    expect(plan.layers.map((l) => [l.weights.file, l.weights.offset, l.weights.dtype, l.bias.file, l.bias.offset, l.bias.dtype, l.bias.shape])).toEqual([
      ['weights_conv.dat', 0, 'float16', 'bias_conv.dat', 0, 'float32', [3]],
      ['weights_b~232.dat', 0, 'float16', 'bias_b~232.dat', 0, 'float32', [5]],
    ])
  })
})

describe('names', () => {
  it("keeps Apple's names, escapes every other character, cuts long names, separates names equal ignoring case", () => {
    expect(safeStem('mixed_9_tower_conv')).toBe('mixed_9_tower_conv')
    expect(safeStem('conv-1.2')).toBe('conv-1.2')
    expect(safeStem('a#b')).toBe('a~23b')
    expect(safeStem('c?d')).toBe('c~3Fd')
    expect(safeStem('e\\f')).toBe('e~5Cf')
    expect(safeStem('g h')).toBe('g~20h')
    expect(safeStem('é')).toBe('~C3~A9')
    expect(safeStem('n\0l')).toBe('n~00l')
    expect(safeStem('%41~')).toBe('~2541~7E')
    expect(safeStem('..')).toBe('~2E.')
    const long = safeStem('x'.repeat(260))
    expect(long).toMatch(/^x{191}-[0-9a-f]{8}$/)
    expect(safeStem('x'.repeat(259))).not.toBe(long)
    // A cut never splits an escape.
    expect(safeStem('#'.repeat(100))).toMatch(/^(~23){63}-[0-9a-f]{8}$/)
    expect(safeStem(`a${'#'.repeat(100)}`)).toMatch(/^a(~23){63}-[0-9a-f]{8}$/)
    // 200 characters is not too long; 201 is, and the cut ends with the name's own hash.
    expect(safeStem('y'.repeat(200))).toBe('y'.repeat(200))
    expect(safeStem('y'.repeat(201))).toBe(`${'y'.repeat(191)}-${createHash('sha256').update('y'.repeat(201)).digest('hex').slice(0, 8)}`)
    expect(layerFileStems(['Conv', 'conv', 'CONV', 'conv-2', 'a'])).toEqual(['Conv', 'conv-2', 'CONV-3', 'conv-2-2', 'a'])
  })

  it('a model file is named after its stem, made portable; a URL path is encoded segment by segment', () => {
    expect(modelStem('models/inception_v3.pb')).toBe('inception_v3')
    expect(modelStem('/a/Net.PBTXT')).toBe('Net')
    expect(modelStem('net.pb.pb')).toBe('net.pb')
    expect(modelStem('net.onnx')).toBe('net.onnx')
    expect(modelStem('pb')).toBe('pb')
    expect(packedFileName('my model#1')).toBe('my~20model~231.dat')
    expect(urlPath('out dir/a#b?.dat')).toBe('out%20dir/a%23b%3F.dat')
  })
})

const network = { inputs: [], nodes: [], outputs: [] } as unknown as MpscnnNetwork

describe('the manifest', () => {
  const plan = planAssets(layers, { packed: false, align: 16, modelName: 'net', precision: 'float32' })
  /** The layer as the manifest has it: the LayerInfo without what only the converter uses, and its two tensors. */
  const record = (i: number, tensor: (t: (typeof plan.layers)[number]['weights']) => object) => {
    const { op, node, weightShape, folded, ...rest } = layers[i]
    return { ...rest, weights: tensor(plan.layers[i].weights), bias: tensor(plan.layers[i].bias) }
  }

  it('as JSON: the header, each layer with its file names, and the network when there is one', () => {
    const file = (t: { file: string; offset: number; byteLength: number; shape: number[]; dtype: string }) => ({ file: t.file, offset: t.offset, byteLength: t.byteLength, shape: t.shape, dtype: t.dtype })
    const text = manifestJson(header, plan)
    expect(text.endsWith('}\n')).toBe(true)
    expect(text).toBe(`${JSON.stringify({ ...header, layers: [record(0, file), record(1, file)] }, null, 2)}\n`)
    expect(JSON.parse(manifestJson(header, plan, network)).network).toEqual(network)
  })

  it('as a module: each file a URL expression declared once, no placeholder left, literals kept as they are', async () => {
    // A layer whose name looks like a URL placeholder stays a name.
    const odd = [layer('__mpscnn_0_0__', 1, [1, 1, 1, 1]), ...layers]
    const packed = planAssets(odd, { packed: true, align: 16, modelName: 'net', precision: 'float32' })
    const asked: string[] = []
    const code = manifestModule(header, packed, (f) => (asked.push(f), JSON.stringify(`https://x/${f}`)), network)
    expect(asked).toEqual(['net.dat'])
    expect(code).not.toMatch(/"__mpscnn_[0-9a-f]{12}_/)
    const mod = await import(`data:text/javascript,${encodeURIComponent(code)}`)
    expect(mod.default.layers).toBe(mod.layers)
    expect(mod.default.network).toEqual(network)
    expect({ ...mod.default, layers: undefined, network: undefined }).toEqual({ ...header, layers: undefined, network: undefined })
    expect(mod.layers.map((l: { name: string }) => l.name)).toEqual(['__mpscnn_0_0__', 'conv', 'b#2'])
    expect(mod.layers.flatMap((l: { weights: { url: string }; bias: { url: string } }) => [l.weights.url, l.bias.url])).toEqual(Array(6).fill('https://x/net.dat'))

    const unpacked = manifestModule(header, plan, (f) => JSON.stringify(`/${f}`))
    expect(unpacked.match(/^const u\d+ = /gm)).toHaveLength(4)
    const m2 = await import(`data:text/javascript,${encodeURIComponent(unpacked)}`)
    const url = (t: { file: string; offset: number; byteLength: number; shape: number[]; dtype: string }) => ({ url: `/${t.file}`, offset: t.offset, byteLength: t.byteLength, shape: t.shape, dtype: t.dtype })
    expect(m2.layers).toEqual([record(0, url), record(1, url)])
    expect('network' in m2.default).toBe(false)
  })

  it('as a .d.ts: the layer names as a union, and the image names with a network', () => {
    expect(manifestDts(['conv', 'b"2'])).toBe(`// Generated by unplugin-mpscnn. Do not edit.
import type { MpscnnLayer, MpscnnManifest } from 'unplugin-mpscnn/runtime'

export type LayerName =
  | "conv"
  | "b\\"2"

declare const manifest: MpscnnManifest<LayerName>
export declare const layers: MpscnnLayer<LayerName>[]
export default manifest
`)
    expect(manifestDts([], ['input'])).toBe(`// Generated by unplugin-mpscnn. Do not edit.
import type { MpscnnLayer, MpscnnManifest, MpscnnNetwork } from 'unplugin-mpscnn/runtime'

export type LayerName =
  | never

export type ImageName =
  | "input"

declare const manifest: MpscnnManifest<LayerName, ImageName> & { network: MpscnnNetwork<ImageName, LayerName> }
export declare const layers: MpscnnLayer<LayerName>[]
export default manifest
`)
  })
})
