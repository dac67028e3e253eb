/**
 * A decoded picture as a network input: resized (bilinear, half-pixel centres, as
 * `tf.image.resizeBilinear(..., halfPixelCenters: true)` computes it) to the input's height and
 * width, its colour channels kept (alpha dropped; grey copied to 3 channels, or RGB averaged to 1),
 * values as they are (0..255 for 8-bit pictures), so that the network input's `preprocess` applies.
 */
import { MpscnnError } from '../base/errors.js'

/** A decoded picture: `height x width x channels` values in row order (an RGBA `ImageData` is `channels: 4`). */
export interface VerifyImage {
  /** Names the sample in the report (the CLI uses the file name). */
  name: string
  width: number
  height: number
  /** 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA). */
  channels: number
  data: ArrayLike<number>
}

/** The picture as an NHWC input of `height x width x channels` raw values. */
export function imageInput(img: VerifyImage, height: number, width: number, channels: number): Float32Array {
  const { width: sw, height: sh, channels: sc, data } = img
  if (!(Number.isInteger(sw) && Number.isInteger(sh) && sw > 0 && sh > 0 && sc >= 1 && sc <= 4 && data.length === sw * sh * sc)) {
    throw new MpscnnError('NOT_AN_IMAGE', img.name, `is not a picture: ${sw} x ${sh} x ${sc} with ${data.length} values`)
  }
  if (channels !== 1 && channels !== 3) {
    throw new MpscnnError('NOT_AN_IMAGE', img.name, `the network input has ${channels} channels; a picture gives 1 or 3`, { hint: 'Verify this model on seeded inputs only' })
  }
  const colour = sc >= 3
  /** Channel k (0..2) of source pixel p. */
  const at = (p: number, k: number) => data[p * sc + (colour ? k : 0)]
  const out = new Float32Array(height * width * channels)
  const sy = sh / height
  const sx = sw / width
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), sh - 1)
    const y0 = Math.floor(fy)
    const y1 = Math.min(y0 + 1, sh - 1)
    const dy = fy - y0
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), sw - 1)
      const x0 = Math.floor(fx)
      const x1 = Math.min(x0 + 1, sw - 1)
      const dx = fx - x0
      const rgb = [0, 1, 2].map((k) => {
        const top = at(y0 * sw + x0, k) * (1 - dx) + at(y0 * sw + x1, k) * dx
        const bottom = at(y1 * sw + x0, k) * (1 - dx) + at(y1 * sw + x1, k) * dx
        return top * (1 - dy) + bottom * dy
      })
      const o = (y * width + x) * channels
      if (channels === 3) out.set(rgb, o)
      else out[o] = (rgb[0] + rgb[1] + rgb[2]) / 3
    }
  }
  return out
}
