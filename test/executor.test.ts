/**
 * The executor (src/execute/executor.ts): synthetic graphs converted by the real converter,
 * written to a folder and loaded back with loadManifest, run with MPS semantics from the
 * manifest alone, and compared with the reference (the original graph run by tfjs-converter)
 * on the same input. Mutations of the manifest (a weight, an offset, a channel offset, an
 * edge mode) must change the result measurably.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { MpscnnManifest } from '../src/base/manifest-types.js'
import { createExecutor } from '../src/execute/executor.js'
import { createReference } from '../src/execute/reference.js'
import { TOLERANCE, verify } from '../src/execute/verify.js'
import { parseModel, type Precision } from '../src/fold/convert.js'
import { loadBias, loadWeights } from '../src/runtime.js'
import { convertToFolder } from './helpers/conversion.js'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import * as graphs from './helpers/graphs.js'
import { makeInceptionV3_2015, mulberry32 } from './helpers/inception.js'
import { mpsConvolution } from './helpers/mps64.js'

const T = { T: attr.type('DT_FLOAT') }
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-executor-'))
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }))

let seq = 0
const randoms = (n: number, seed: number) => {
  const r = mulberry32(seed)
  return Float32Array.from({ length: n }, () => r() * 2 - 1)
}

/** Converts `bytes` as the CLI does (files + manifest.json in a folder) and loads the manifest back. */
function convert(bytes: Uint8Array, precision: Precision = 'float32', packed = false): Promise<MpscnnManifest> {
  return convertToFolder(bytes, path.join(TMP, `m${seq++}`), { precision, packed })
}

interface Compared {
  maxAbs: number
  /** Output by output TF node name: executor, reference. */
  outputs: Map<string, { got: Float32Array; want: Float32Array }>
}

/** Runs the executor on `manifest` and the reference on `bytes`, fed at the network input, on the same seeded input. */
async function compare(bytes: Uint8Array, manifest: MpscnnManifest, seed = 1): Promise<Compared> {
  const net = manifest.network!
  const ex = await createExecutor(manifest)
  const x = randoms(ex.inputShape.reduce((a, b) => a * b, 1), seed)
  const outs = net.outputs.map((o) => o.tfNode)
  const ref = await createReference(parseModel(bytes, 'case.pb'), { input: net.inputs[0].tfNode, outputs: outs, file: 'case.pb' })
  try {
    const got = await ex.run(x)
    const want = await ref.run(x, ex.inputShape)
    let maxAbs = 0
    const outputs = new Map<string, { got: Float32Array; want: Float32Array }>()
    for (const o of net.outputs) {
      const g = got.get(o.image)!.data
      const w = want.get(o.tfNode)!.data
      expect(g.length).toBe(w.length)
      for (let i = 0; i < g.length; i++) maxAbs = Math.max(maxAbs, Math.abs(g[i] - w[i]))
      outputs.set(o.tfNode, { got: g, want: w })
    }
    return { maxAbs, outputs }
  } finally {
    ex.dispose()
    ref.dispose()
  }
}

/** A Conv2D with seeded weights [kh, kw, cin, cout] and a BiasAdd; returns the BiasAdd's name. */
function conv(b: GraphBuilder, name: string, input: string, o: { k?: number; cin: number; cout: number; stride?: number; padding?: string }): string {
  const k = o.k ?? 3
  const s = o.stride ?? 1
  b.constF32(`${name}/weights`, [k, k, o.cin, o.cout], randoms(k * k * o.cin * o.cout, 100 + seq++))
  b.op(`${name}/Conv2D`, 'Conv2D', [input, `${name}/weights`], { ...T, strides: attr.ints([1, s, s, 1]), padding: attr.s(o.padding ?? 'SAME') })
  b.constF32(`${name}/bias`, [o.cout], randoms(o.cout, 200 + seq++))
  return b.op(`${name}/BiasAdd`, 'BiasAdd', [`${name}/Conv2D`, `${name}/bias`], T)
}

function pool(b: GraphBuilder, name: string, op: 'MaxPool' | 'AvgPool', input: string, k: number, s: number, padding = 'SAME'): string {
  return b.op(name, op, [input], { ...T, ksize: attr.ints([1, k, k, 1]), strides: attr.ints([1, s, s, 1]), padding: attr.s(padding) })
}

/** An Inception-like block on `x` (4 channels): 1x1 conv (4), 3x3 conv (cout) with `act`, 3x3 average pool, joined as `join`. */
function mixed(b: GraphBuilder, cout: number, act: 'Relu' | 'Relu6'): string {
  const a = b.op('a', 'Relu', [conv(b, 'a', 'x', { k: 1, cin: 4, cout: 4 })], T)
  const c = b.op('c', act, [conv(b, 'c', 'x', { cin: 4, cout })], T)
  const p = pool(b, 'p', 'AvgPool', 'x', 3, 1)
  b.constI32('axis', [], [3])
  return b.op('join', 'ConcatV2', [a, c, p, 'axis'], { ...T, N: attr.i(3), Tidx: attr.type('DT_INT32') })
}

/** Scales output channel `k` of node `name`'s float32 weights in the converted files by `factor`. */
function scaleChannel(m: MpscnnManifest, name: string, k: number, factor: number): void {
  const l = m.layers.find((x) => x.name === m.network!.nodes.find((n) => n.name === name)!.layer)!
  const file = new URL(l.weights.url)
  const buf = fs.readFileSync(file)
  const w = new Float32Array(buf.buffer, buf.byteOffset + l.weights.offset, l.weights.byteLength / 4)
  const per = w.length / l.outputChannels
  for (let i = 0; i < per; i++) w[k * per + i] *= factor
  fs.writeFileSync(file, buf)
}

function input(h: number, w: number, c: number): GraphBuilder {
  const b = new GraphBuilder()
  b.placeholder('x', [1, h, w, c])
  return b
}

const F32 = 1e-4

describe('executor vs reference: synthetic graphs, float32', () => {
  const cases: [string, () => GraphBuilder][] = [
    ['conv SAME stride 1, odd size', () => { const b = input(7, 7, 3); b.op('y', 'Relu', [conv(b, 'c', 'x', { cin: 3, cout: 4 })], T); return b }],
    ['conv SAME stride 2, odd size (asymmetric padding)', () => { const b = input(7, 9, 2); conv(b, 'c', 'x', { cin: 2, cout: 3, stride: 2 }); return b }],
    ['conv SAME stride 2, even size, 4 x 4 kernel', () => { const b = input(8, 6, 2); conv(b, 'c', 'x', { k: 4, cin: 2, cout: 3, stride: 2 }); return b }],
    ['conv VALID stride 2', () => { const b = input(9, 8, 2); conv(b, 'c', 'x', { cin: 2, cout: 4, stride: 2, padding: 'VALID' }); return b }],
    ['explicit Pad then conv VALID', () => {
      const b = input(6, 5, 2)
      b.constI32('pads', [4, 2], [0, 0, 1, 2, 2, 1, 0, 0])
      b.op('padded', 'Pad', ['x', 'pads'], { ...T, Tpaddings: attr.type('DT_INT32') })
      conv(b, 'c', 'padded', { cin: 2, cout: 3, padding: 'VALID' })
      return b
    }],
    ['max pool SAME 3 x 3 stride 2, even size', () => { const b = input(8, 8, 4); pool(b, 'p', 'MaxPool', conv(b, 'c', 'x', { cin: 4, cout: 4 }), 3, 2); return b }],
    ['average pool SAME 3 x 3 stride 1 (padding left out of the count)', () => { const b = input(6, 5, 4); pool(b, 'p', 'AvgPool', conv(b, 'c', 'x', { cin: 4, cout: 4 }), 3, 1); return b }],
    ['average pool SAME 3 x 3 stride 2, odd size', () => { const b = input(7, 7, 4); pool(b, 'p', 'AvgPool', conv(b, 'c', 'x', { cin: 4, cout: 4 }), 3, 2); return b }],
    ['concatenation by channel offsets, residual add, relu6', () => {
      const b = input(6, 6, 4)
      mixed(b, 8, 'Relu6')
      const d = conv(b, 'd', 'join', { k: 1, cin: 16, cout: 16 })
      b.op('sum', 'AddV2', ['join', d], T)
      return b
    }],
    ['global average pooling as Mean, fully connected, softmax', () => {
      const b = input(5, 5, 3)
      const c = b.op('r', 'Relu', [conv(b, 'c', 'x', { cin: 3, cout: 8, stride: 2 })], T)
      b.constI32('axes', [2], [1, 2])
      b.op('mean', 'Mean', [c, 'axes'], { ...T, Tidx: attr.type('DT_INT32'), keep_dims: attr.b(false) })
      b.constF32('fc/w', [8, 5], randoms(40, 9))
      b.op('fc', 'MatMul', ['mean', 'fc/w'], T)
      b.op('prob', 'Softmax', ['fc'], T)
      return b
    }],
    ['flatten (NHWC) + fully connected', () => {
      const b = input(4, 3, 2)
      const c = conv(b, 'c', 'x', { cin: 2, cout: 5 })
      b.constI32('shape', [2], [1, 60])
      b.op('flat', 'Reshape', [c, 'shape'], { ...T, Tshape: attr.type('DT_INT32') })
      b.constF32('fc/w', [60, 7], randoms(420, 11))
      b.op('fc', 'MatMul', ['flat', 'fc/w'], T)
      return b
    }],
    ['flatten (NCHW) + fully connected: rows permuted to H, W, C', () => {
      const b = input(3, 4, 2)
      const c = conv(b, 'c', 'x', { cin: 2, cout: 5 })
      b.constI32('perm', [4], [0, 3, 1, 2])
      b.op('nchw', 'Transpose', [c, 'perm'], { ...T, Tperm: attr.type('DT_INT32') })
      b.constI32('shape', [2], [1, 60])
      b.op('flat', 'Reshape', ['nchw', 'shape'], { ...T, Tshape: attr.type('DT_INT32') })
      b.constF32('fc/w', [60, 7], randoms(420, 12))
      b.op('fc', 'MatMul', ['flat', 'fc/w'], T)
      return b
    }],
  ]
  it.each(cases)('%s', async (_, make) => {
    const bytes = make().encode()
    const { maxAbs } = await compare(bytes, await convert(bytes))
    expect(maxAbs).toBeLessThan(F32)
  })

  it('float16 weights, packed: within a looser tolerance', async () => {
    const b = input(7, 7, 3)
    pool(b, 'p', 'AvgPool', b.op('r', 'Relu', [conv(b, 'c', 'x', { cin: 3, cout: 8, stride: 2 })], T), 3, 1)
    const bytes = b.encode()
    const m = await convert(bytes, 'float16', true)
    expect(m.layers[0].weights.dtype).toBe('float16')
    const { maxAbs } = await compare(bytes, m)
    expect(maxAbs).toBeGreaterThan(0) // the weights were rounded
    expect(maxAbs).toBeLessThan(1e-2)
  })
})

describe('executor: mutations of the manifest change the result', () => {
  const graph = () => {
    const b = input(6, 6, 4)
    mixed(b, 4, 'Relu')
    conv(b, 'd', 'join', { k: 1, cin: 12, cout: 4 })
    return b.encode()
  }
  const bytes = graph()
  /** Max abs difference executor vs reference after `mutate` changed the loaded manifest. */
  const after = async (mutate: (m: MpscnnManifest) => void | Promise<void>) => {
    const m = await convert(bytes)
    await mutate(m)
    return (await compare(bytes, m)).maxAbs
  }
  const node = (m: MpscnnManifest, name: string) => m.network!.nodes.find((n) => n.name === name)!

  it('unmutated, it agrees', async () => {
    expect(await after(() => {})).toBeLessThan(F32)
  })

  it('one weight channel scaled by 1.001', async () => {
    expect(await after((m) => scaleChannel(m, 'c/Conv2D', 2, 1.001))).toBeGreaterThan(F32)
  })

  it('one offset off by one', async () => {
    expect(await after((m) => { node(m, 'c/Conv2D').offset.x += 1 })).toBeGreaterThan(0.01)
  })

  it('destinationFeatureChannelOffset swapped between two branches', async () => {
    expect(await after((m) => {
      const [a, c] = [node(m, 'a/Conv2D'), node(m, 'c/Conv2D')]
      ;[a.destinationFeatureChannelOffset, c.destinationFeatureChannelOffset] = [c.destinationFeatureChannelOffset, a.destinationFeatureChannelOffset]
    })).toBeGreaterThan(0.01)
  })

  it("an average pool's edgeMode switched to zero", async () => {
    expect(await after((m) => { node(m, 'p').edgeMode = 'zero' })).toBeGreaterThan(0.01)
  })

  it('a node kind it does not know: BAD_MANIFEST naming the node', async () => {
    const m = await convert(bytes)
    ;(node(m, 'p') as { kind: string }).kind = 'poolingL2Norm'
    await expect(createExecutor(m)).rejects.toMatchObject({ code: 'BAD_MANIFEST', node: 'p', message: expect.stringContaining('"poolingL2Norm"') })
  })

  it('runWithImages gives every image of the network, its outputs equal to run; no tensor is left behind', async () => {
    const tf = await import('@tensorflow/tfjs-core')
    const m = await convert(bytes)
    const before = tf.memory().numTensors
    const ex = await createExecutor(m)
    const weights = tf.memory().numTensors
    const x = randoms(6 * 6 * 4, 3)
    const all = await ex.runWithImages(x)
    expect([...all.keys()].sort()).toEqual(Object.keys(m.network!.images).sort())
    const out = m.network!.outputs[0].image
    expect((await ex.run(x)).get(out)!.data).toEqual(all.get(out)!.data)
    expect(tf.memory().numTensors).toBe(weights)
    ex.dispose()
    expect(tf.memory().numTensors).toBe(before)
  })

  it('onNode: called once per node, in encode order, with a time; the outputs unchanged; no tensor left behind', async () => {
    const tf = await import('@tensorflow/tfjs-core')
    const m = await convert(bytes)
    const ex = await createExecutor(m)
    const x = randoms(6 * 6 * 4, 4)
    const plain = await ex.run(x)
    const before = tf.memory().numTensors
    const calls: [string, number][] = []
    const timed = await ex.run(x, { onNode: (name, ms) => calls.push([name, ms]) })
    expect(calls.map(([n]) => n)).toEqual(m.network!.nodes.map((n) => n.name))
    for (const [, ms] of calls) expect(Number.isFinite(ms) && ms >= 0).toBe(true)
    const out = m.network!.outputs[0].image
    expect(timed.get(out)!.data).toEqual(plain.get(out)!.data)
    expect(tf.memory().numTensors).toBe(before)
    await expect(ex.run(x, { onNode: 'log' as never })).rejects.toThrow(/onNode must be a function/)
    ex.dispose()
  })

  it.each(['cpu', 'wasm'] as const)('an average pool with edge mode clamp divides by the window\'s pixels inside the image (%s), against float64', async (backend) => {
    const b = input(5, 6, 3)
    pool(b, 'p', 'AvgPool', conv(b, 'c', 'x', { cin: 3, cout: 3 }), 3, 2)
    const m = await convert(b.encode())
    const node = m.network!.nodes.find((n) => n.kind === 'poolingAverage')!
    expect(node).toMatchObject({ edgeMode: 'clamp' })
    const ex = await createExecutor(m, { backend })
    try {
      const images = await ex.runWithImages(randoms(5 * 6 * 3, 77))
      const x = images.get(node.source as string)!.data
      const got = images.get(node.destination)!
      const [, oh, ow, c] = got.shape
      // MPSCNNKernel.h: destination pixel (i, j)'s window is centred on offset + stride * (i, j).
      for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) for (let k = 0; k < c; k++) {
        let sum = 0
        let count = 0
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
          const y = node.offset!.y + 2 * i + dy
          const xx = node.offset!.x + 2 * j + dx
          if (y < 0 || y >= 5 || xx < 0 || xx >= 6) continue
          sum += x[(y * 6 + xx) * 3 + k]
          count++
        }
        expect(Math.abs(got.data[(i * ow + j) * c + k] - sum / count)).toBeLessThan(1e-6)
      }
    } finally {
      ex.dispose()
    }
  })

  it('a folder converted again in the same process: a new executor reads the new weights, not the files it read before', async () => {
    const dir = path.join(TMP, 'again')
    const graph = () => { const b = input(5, 5, 2); conv(b, 'c', 'x', { cin: 2, cout: 3 }); return b.encode() }
    const first = graph()
    const second = graph() // other seeded weights, the same file names
    expect(second).not.toEqual(first)
    for (const bytes of [first, second]) {
      const { maxAbs } = await compare(bytes, await convertToFolder(bytes, dir))
      expect(maxAbs).toBeLessThan(F32)
    }
  })

  it('wasmPaths: a folder or an object of URLs, anything else a TypeError', async () => {
    const m = await convert(bytes)
    await expect(createExecutor(m, { wasmPaths: 3 as never })).rejects.toThrow(/wasmPaths must be/)
    await expect(createExecutor(m, { wasmPaths: { 'tfjs-backend-wasm.wasm': 1 } as never })).rejects.toThrow(/wasmPaths must be/)
    const ex = await createExecutor(m, { wasmPaths: { 'tfjs-backend-wasm.wasm': 'x.wasm' } })
    ex.dispose()
  })

  it('the wrong input size: SHAPE_MISMATCH naming the input', async () => {
    const ex = await createExecutor(await convert(bytes))
    await expect(ex.run(new Float32Array(5))).rejects.toMatchObject({ code: 'SHAPE_MISMATCH', node: 'x' })
    ex.dispose()
  })
})

describe('executor: the 2015 Inception graph (scale 16), fed at Mul', () => {
  it('top-1 agrees with the reference and the outputs are close, on wasm', async () => {
    const { bytes } = makeInceptionV3_2015({ scale: 16, expected: false })
    const m = await convert(bytes)
    const net = m.network!
    expect(net.inputs[0].tfNode).toBe('Mul')
    const ex = await createExecutor(m, { backend: 'wasm' })
    const ref = await createReference(parseModel(bytes, 'inception.pb'), { input: 'Mul', outputs: net.outputs.map((o) => o.tfNode), backend: 'wasm' })
    try {
      const raw = Float32Array.from(randoms(299 * 299 * 3, 5), (v) => (v + 1) * 127.5)
      const pre = net.inputs[0].preprocess!
      const x = Float32Array.from(raw, (v, i) => v * pre.scale[i % 3] + pre.bias[i % 3])
      const got = (await ex.run(raw, { preprocess: true })).get(net.outputs[0].image)!.data
      const want = (await ref.run(x, [1, 299, 299, 3])).get(net.outputs[0].tfNode)!.data
      const argmax = (a: Float32Array) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0)
      expect(argmax(got)).toBe(argmax(want))
      let maxAbs = 0
      for (let i = 0; i < got.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]))
      expect(maxAbs).toBeLessThan(1e-4)
    } finally {
      ex.dispose()
      ref.dispose()
    }
  }, 120_000)
})

describe('verify: executor vs reference, naming the first diverging node', () => {
  const graph = () => {
    const b = input(6, 6, 4)
    mixed(b, 4, 'Relu')
    const d = conv(b, 'd', 'join', { k: 1, cin: 12, cout: 8 })
    b.constF32('bn/gamma', [8], randoms(8, 31))
    b.constF32('bn/beta', [8], randoms(8, 32))
    b.constF32('bn/mean', [8], randoms(8, 33))
    b.constF32('bn/var', [8], Float32Array.from(randoms(8, 34), (v) => v * v + 0.01))
    b.op('bn', 'FusedBatchNorm', [d, 'bn/gamma', 'bn/beta', 'bn/mean', 'bn/var'], { ...T, epsilon: attr.f(0.001), is_training: attr.b(false) })
    return b
  }
  const bytes = graph().encode()
  const run = async (mutate: (m: MpscnnManifest) => void = () => {}, graphDef = parseModel(bytes, 'case.pb')) => {
    const m = await convert(bytes)
    mutate(m)
    return verify(graphDef, m, { samples: 2 })
  }
  const node = (m: MpscnnManifest, name: string) => m.network!.nodes.find((n) => n.name === name)!

  it('passes as converted, top-1 and top-5 agreeing on every sample', async () => {
    const r = await run()
    expect(r).toMatchObject({ ok: true, samples: 2, tolerance: TOLERANCE.float32 })
    expect(r.outputs[0]).toMatchObject({ top1: 2, top5: 2 })
    expect(r.outputs[0].maxRel).toBeLessThan(TOLERANCE.float32)
    expect(r.firstDivergence).toBeUndefined()
  })

  it('float16, packed: passes within the float16 tolerance, and fails the float32 one', async () => {
    const m = await convert(bytes, 'float16', true)
    const r = await verify(parseModel(bytes, 'case.pb'), m, { samples: 2 })
    expect(r).toMatchObject({ ok: true, precision: 'float16', tolerance: TOLERANCE.float16 })
    expect(r.outputs[0].maxRel).toBeGreaterThan(TOLERANCE.float32)
  })

  it('one weight channel scaled by 1.001: fails and names that convolution', async () => {
    const r = await run((m) => scaleChannel(m, 'c/Conv2D', 1, 1.001))
    expect(r.ok).toBe(false)
    expect(r.firstDivergence!.node).toBe('c/Conv2D')
  })

  it('one offset off by one: fails and names that convolution with its offset', async () => {
    const r = await run((m) => { node(m, 'c/Conv2D').offset.y -= 1 })
    expect(r.ok).toBe(false)
    expect(r.firstDivergence).toMatchObject({ node: 'c/Conv2D', parameters: { offset: { x: 0, y: -1 } } })
  })

  it("an average pool's edgeMode switched to zero: names the pool", async () => {
    const r = await run((m) => { node(m, 'p').edgeMode = 'zero' })
    expect(r.ok).toBe(false)
    expect(r.firstDivergence).toMatchObject({ node: 'p', parameters: { edgeMode: 'zero' } })
  })

  it('destinationFeatureChannelOffset swapped between two branches: names one of them', async () => {
    const r = await run((m) => {
      const [a, c] = [node(m, 'a/Conv2D'), node(m, 'c/Conv2D')]
      ;[a.destinationFeatureChannelOffset, c.destinationFeatureChannelOffset] = [c.destinationFeatureChannelOffset, a.destinationFeatureChannelOffset]
    })
    expect(r.ok).toBe(false)
    expect(['a/Conv2D', 'c/Conv2D']).toContain(r.firstDivergence!.node)
  })

  it("the epsilon of the batch norm changed in the graph after the conversion: names the layer it was folded into", async () => {
    const g = parseModel(bytes, 'case.pb')
    g.node.find((n) => n.name === 'bn')!.attr.epsilon = attr.f(0.5)
    const r = await run(undefined, g)
    expect(r.ok).toBe(false)
    expect(r.firstDivergence!.node).toBe('d/Conv2D')
  })
})

describe('executor: code paths checked against MPS definitions in float64 (test/helpers/mps64.ts)', () => {
  const node = (m: MpscnnManifest, name: string) => m.network!.nodes.find((n) => n.name === name)!

  /** The executor's output for `name`'s destination against mpsConvolution from the node's parameters and its stored weights. */
  const againstMps = async (m: MpscnnManifest, name: string): Promise<number> => {
    const n = node(m, name)
    const net = m.network!
    const layer = m.layers.find((l) => l.name === n.layer)!
    const ex = await createExecutor(m)
    try {
      const x = randoms(ex.inputShape.reduce((a, b) => a * b, 1), 21)
      const src = net.images[n.source as string]
      const dest = net.images[n.destination]
      expect(n.source).toBe(net.inputs[0].image)
      const want = mpsConvolution({ data: x, height: src.height, width: src.width, channels: src.featureChannels }, await loadWeights(layer), await loadBias(layer), {
        kernel: n.kernel!, stride: n.stride!, dilation: n.dilation ?? { x: 1, y: 1 }, offset: n.offset, edgeMode: n.edgeMode === 'clamp' ? 'clamp' : 'zero',
        groups: n.groups ?? 1, outputChannels: dest.featureChannels, dest,
      })
      const got = (await ex.runWithImages(x)).get(n.destination)!.data
      expect(got.length).toBe(want.length)
      let maxAbs = 0
      for (let i = 0; i < got.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]))
      return maxAbs
    } finally {
      ex.dispose()
    }
  }
  const single = (o: { k?: number; stride?: number; padding?: string }) => {
    const b = input(5, 6, 2)
    conv(b, 'c', 'x', { cin: 2, cout: 3, ...o })
    return b.encode()
  }

  it('a convolution with edgeMode clamp: reads outside the image give the nearest edge pixel', async () => {
    const m = await convert(single({}))
    expect(node(m, 'c/Conv2D').edgeMode).toBe('zero')
    node(m, 'c/Conv2D').edgeMode = 'clamp'
    expect(await againstMps(m, 'c/Conv2D')).toBeLessThan(1e-5)
  })

  it('a window starting inside the image (offset 2 for a 3 x 3 kernel, stride 2), past the far edge with zeros and with clamp', async () => {
    const m = await convert(single({ stride: 2 }))
    node(m, 'c/Conv2D').offset = { x: 2, y: 2 }
    expect(await againstMps(m, 'c/Conv2D')).toBeLessThan(1e-5)
    node(m, 'c/Conv2D').edgeMode = 'clamp'
    expect(await againstMps(m, 'c/Conv2D')).toBeLessThan(1e-5)
  })

  it.each([['SAME'], ['VALID']])('a stride and a dilation both 2 (%s), which tfjs refuses in one op', async (padding) => {
    const m = await convert(graphs.paddingConvs(9, [{ name: 'c', k: 3, s: 2, d: 2, padding: padding as 'SAME' | 'VALID' }]).encode())
    expect(node(m, 'c/Conv2D')).toMatchObject({ stride: { x: 2, y: 2 }, dilation: { x: 2, y: 2 } })
    expect(await againstMps(m, 'c/Conv2D')).toBeLessThan(1e-5)
  })

  it('a grouped convolution (a depthwise convolution with multiplier 2)', async () => {
    const m = await convert(graphs.depthwiseMultiplier().encode())
    expect(node(m, 'dw').groups).toBe(3)
    expect(await againstMps(m, 'dw')).toBeLessThan(1e-5)
  })

  describe('channel offsets: overlapping parts (the later write wins) and a gap of unwritten channels (zero)', () => {
    const bytes = graphs.concatPair().encode()
    const parts = async (mutate: (m: MpscnnManifest) => void) => {
      const plain = await convert(bytes)
      const ex = await createExecutor(plain)
      const x = randoms(ex.inputShape.reduce((a, b) => a * b, 1), 22)
      const joined = (await ex.run(x)).get('j')!
      ex.dispose()
      const m = await convert(bytes)
      mutate(m)
      const ex2 = await createExecutor(m)
      const got = (await ex2.run(x)).get('j')!
      ex2.dispose()
      /** Channel `c` of pixel `p` of the unmutated join: a's channels 0-3, then c's 0-3. */
      const was = (p: number, c: number) => joined.data[p * 8 + c]
      return { got, was, pixels: joined.data.length / 8 }
    }

    it('c written at 2 instead of 4: channels 2-3 are c\'s, 6-7 nobody\'s', async () => {
      const { got, was, pixels } = await parts((m) => { node(m, 'c/Conv2D').destinationFeatureChannelOffset = 2 })
      expect(got.shape).toEqual([1, 5, 5, 8])
      for (let p = 0; p < pixels; p++) {
        expect([0, 1, 2, 3, 4, 5, 6, 7].map((c) => got.data[p * 8 + c])).toEqual([was(p, 0), was(p, 1), was(p, 4), was(p, 5), was(p, 6), was(p, 7), 0, 0])
      }
    })

    it('a widened to 12 channels, c written at 8: channels 4-7 nobody\'s', async () => {
      const { got, was, pixels } = await parts((m) => {
        m.network!.images.j.featureChannels = 12
        node(m, 'c/Conv2D').destinationFeatureChannelOffset = 8
      })
      expect(got.shape).toEqual([1, 5, 5, 12])
      for (let p = 0; p < pixels; p++) {
        expect(Array.from(got.data.subarray(p * 12, p * 12 + 12))).toEqual([was(p, 0), was(p, 1), was(p, 2), was(p, 3), 0, 0, 0, 0, was(p, 4), was(p, 5), was(p, 6), was(p, 7)])
      }
    })
  })
})
