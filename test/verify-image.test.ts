/**
 * Pictures as verify inputs (src/execute/image.ts): the bilinear resize against TensorFlow.js's
 * `resizeBilinear` (half-pixel centres), the channel mapping, and verify() on a model whose input
 * has a preprocessing (Sub, Mul): the picture's 0..255 values go through it.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { afterAll, describe, expect, it } from 'vitest'
import { imageInput } from '../src/execute/image.js'
import { verify } from '../src/execute/verify.js'
import { parseModel } from '../src/fold/convert.js'
import { convertToFolder } from './helpers/conversion.js'
import { attr, GraphBuilder } from './helpers/graph-builder.js'
import { mulberry32 } from './helpers/inception.js'

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-verify-image-'))
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }))

const pixels = (n: number, seed: number) => {
  const r = mulberry32(seed)
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256))
}

async function tfResize(data: Uint8Array, h: number, w: number, c: number, oh: number, ow: number): Promise<Float32Array> {
  await tf.setBackend('cpu')
  const t = tf.tensor3d(Float32Array.from(data), [h, w, c])
  const out = tf.image.resizeBilinear(t, [oh, ow], false, true)
  const got = (await out.data()) as Float32Array
  t.dispose()
  out.dispose()
  return got
}

describe('imageInput', () => {
  for (const [h, w, oh, ow] of [[9, 5, 4, 7], [12, 16, 7, 7], [3, 3, 3, 3], [2, 11, 6, 5]]) {
    it(`RGB ${w} x ${h} -> ${ow} x ${oh}: tfjs resizeBilinear (half-pixel centres)`, async () => {
      const rgb = pixels(h * w * 3, h * 100 + w)
      const got = imageInput({ name: 'p', width: w, height: h, channels: 3, data: rgb }, oh, ow, 3)
      const want = await tfResize(rgb, h, w, 3, oh, ow)
      expect(got.length).toBe(want.length)
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 3)
    })
  }

  it('RGBA drops alpha; grey is copied to 3 channels; RGB averages to 1 channel', () => {
    const rgba = Uint8Array.of(10, 20, 30, 255, 40, 50, 60, 0)
    expect([...imageInput({ name: 'p', width: 2, height: 1, channels: 4, data: rgba }, 1, 2, 3)]).toEqual([10, 20, 30, 40, 50, 60])
    expect([...imageInput({ name: 'p', width: 2, height: 1, channels: 2, data: Uint8Array.of(7, 1, 9, 2) }, 1, 2, 3)]).toEqual([7, 7, 7, 9, 9, 9])
    expect([...imageInput({ name: 'p', width: 2, height: 1, channels: 4, data: rgba }, 1, 2, 1)]).toEqual([20, 50])
  })

  it('a damaged picture, or an input of 4 channels: NOT_AN_IMAGE naming the picture', () => {
    expect(() => imageInput({ name: 'cat.png', width: 2, height: 2, channels: 3, data: new Uint8Array(5) }, 2, 2, 3)).toThrow(
      expect.objectContaining({ code: 'NOT_AN_IMAGE', message: expect.stringContaining('cat.png: is not a picture: 2 x 2 x 3 with 5 values') }),
    )
    expect(() => imageInput({ name: 'cat.png', width: 1, height: 1, channels: 3, data: new Uint8Array(3) }, 2, 2, 4)).toThrow(
      expect.objectContaining({ code: 'NOT_AN_IMAGE', message: expect.stringContaining('the network input has 4 channels') }),
    )
  })
})

describe('verify with pictures', () => {
  /** x (6 x 6 x 3) -> Sub 127.5 -> Mul 1/127.5 (the input's preprocessing) -> conv 3x3 -> softmax. */
  const b = new GraphBuilder()
  const T = { T: attr.type('DT_FLOAT') }
  b.placeholder('x', [1, 6, 6, 3])
  b.constF32('sub/y', [], Float32Array.of(127.5))
  b.op('sub', 'Sub', ['x', 'sub/y'], T)
  b.constF32('mul/y', [], Float32Array.of(1 / 127.5))
  b.op('mul', 'Mul', ['sub', 'mul/y'], T)
  const r = mulberry32(4)
  b.constF32('c/w', [3, 3, 3, 5], Float32Array.from({ length: 135 }, () => r() * 2 - 1))
  b.op('c', 'Conv2D', ['mul', 'c/w'], { ...T, strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
  b.op('prob', 'Softmax', ['c'], T)
  const bytes = b.encode()

  it('each picture is one more sample, named, run through the preprocessing, and agrees', async () => {
    const m = await convertToFolder(bytes, TMP)
    expect(m.network!.inputs[0].preprocess).toBeDefined()
    const pictures = [
      { name: 'big.png', width: 20, height: 14, channels: 4, data: pixels(20 * 14 * 4, 1) },
      { name: 'grey.jpg', width: 3, height: 4, channels: 1, data: pixels(12, 2) },
    ]
    const report = await verify(parseModel(bytes, 'case.pb'), m, { samples: 1, images: pictures })
    expect(report).toMatchObject({ ok: true, samples: 3, outputs: [{ tfNode: 'prob', top1: 3 }] })
    expect(report.inputs.map((s) => s.input)).toEqual(['seed 1 #0', 'big.png', 'grey.jpg'])
    for (const s of report.inputs) expect(s).toMatchObject({ top1: true, maxRel: expect.any(Number) })
    for (const s of report.inputs) expect(s.maxRel).toBeLessThanOrEqual(report.tolerance)
  })
})
