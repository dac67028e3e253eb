/**
 * `mpscnn verify --image FILE`: a JPEG (jpeg-js) or PNG (pngjs) file decoded to RGBA pixels. The
 * decoders are loaded only when --image is given; a file that is neither, or that its decoder
 * refuses, is one NOT_AN_IMAGE error naming it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { MpscnnError } from '../base/errors.js'
import type { VerifyImage } from '../execute/image.js'

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
const JPEG_MAGIC = [0xff, 0xd8, 0xff]
const starts = (b: Uint8Array, magic: number[]) => magic.every((m, i) => b[i] === m)

/** Reads and decodes one picture file; `name` in the report is its base name. */
export async function readImage(file: string): Promise<VerifyImage> {
  const bytes = fs.readFileSync(file)
  const name = path.basename(file)
  const kind = starts(bytes, PNG_MAGIC) ? 'PNG' : starts(bytes, JPEG_MAGIC) ? 'JPEG' : undefined
  if (!kind) throw new MpscnnError('NOT_AN_IMAGE', file, 'is not a JPEG or PNG file (its first bytes are neither signature)', { hint: 'Give --image a .jpg or .png picture' })
  try {
    if (kind === 'PNG') {
      const { PNG } = await import('pngjs')
      const png = PNG.sync.read(bytes)
      return { name, width: png.width, height: png.height, channels: 4, data: png.data }
    }
    const { decode } = await import('jpeg-js')
    const jpeg = decode(bytes, { useTArray: true, formatAsRGBA: true })
    return { name, width: jpeg.width, height: jpeg.height, channels: 4, data: jpeg.data }
  } catch (e) {
    throw new MpscnnError('NOT_AN_IMAGE', file, `the ${kind} decoder refused it: ${(e as Error).message}`, { hint: 'Give --image a .jpg or .png picture' })
  }
}
