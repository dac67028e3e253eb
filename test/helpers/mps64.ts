/**
 * MPSCNNConvolution in plain float64 loops, from Apple's definitions in MPSCNNKernel.h and
 * MPSCNNConvolution.h, to check the executor against: nothing here calls tfjs or src/execute.
 * Destination pixel (x, y) of a kernel of dilated size kEff = (k - 1) * d + 1 reads source
 * pixels `offset - floor(kEff / 2) + s * x + d * i` (i < k, and the same in y); a read outside
 * the image gives zero (edgeMode zero) or the nearest edge pixel (edgeMode clamp). Weights are
 * `[out][kH][kW][in / groups]`, output channel o reading the input channels of group
 * `floor(o / (out / groups))`. Images are H x W x C, row-major.
 */
export interface Image64 {
  data: ArrayLike<number>
  height: number
  width: number
  channels: number
}

export interface Convolution64 {
  kernel: { width: number; height: number }
  stride: { x: number; y: number }
  dilation: { x: number; y: number }
  offset: { x: number; y: number }
  edgeMode: 'zero' | 'clamp'
  groups: number
  outputChannels: number
  dest: { width: number; height: number }
}

export function mpsConvolution(src: Image64, weights: ArrayLike<number>, bias: ArrayLike<number>, p: Convolution64): Float64Array {
  const { kernel: k, stride: s, dilation: d, offset, dest } = p
  const out = p.outputChannels
  const cinG = src.channels / p.groups
  const outG = out / p.groups
  const startY = offset.y - Math.floor(((k.height - 1) * d.y + 1) / 2)
  const startX = offset.x - Math.floor(((k.width - 1) * d.x + 1) / 2)
  const result = new Float64Array(dest.height * dest.width * out)
  const clampTo = (v: number, n: number) => Math.min(n - 1, Math.max(0, v))
  for (let y = 0; y < dest.height; y++)
    for (let x = 0; x < dest.width; x++)
      for (let o = 0; o < out; o++) {
        const g = Math.floor(o / outG)
        let acc = bias[o]
        for (let j = 0; j < k.height; j++)
          for (let i = 0; i < k.width; i++) {
            let sy = startY + s.y * y + d.y * j
            let sx = startX + s.x * x + d.x * i
            const inside = sy >= 0 && sy < src.height && sx >= 0 && sx < src.width
            if (!inside && p.edgeMode === 'zero') continue
            sy = clampTo(sy, src.height)
            sx = clampTo(sx, src.width)
            for (let c = 0; c < cinG; c++) acc += weights[((o * k.height + j) * k.width + i) * cinG + c] * src.data[(sy * src.width + sx) * src.channels + g * cinG + c]
          }
        result[(y * dest.width + x) * out + o] = acc
      }
  return result
}
