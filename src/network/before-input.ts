/**
 * The ops that may come before the network's input: decoding, casting and resizing the
 * image, which the app does its own way. index.ts follows a placeholder's value through
 * them (their shapes, here) to the first op of the network proper.
 */
import type { NodeDef } from '../graphdef/schema.js'
import { attrInts } from '../fold/attrs.js'
import { PASS_THROUGH } from '../fold/graph.js'
import type { Builder } from './builder.js'

/** Ops that may stand between a placeholder and the network input (the app does them its own way). */
export const BEFORE_INPUT = new Set(['DecodeJpeg', 'DecodePng', 'DecodeBmp', 'DecodeGif', 'DecodeImage', 'Cast', 'ExpandDims', 'Squeeze', 'ResizeBilinear', 'ResizeBicubic', 'ResizeArea', 'ResizeNearestNeighbor', ...PASS_THROUGH])

/** The shape a value before the network has after `n`, or undefined when `n` is not such an op. */
export function preShape(b: Builder, n: NodeDef, s: number[] | null): number[] | null | undefined {
  switch (n.op) {
    case 'DecodeJpeg':
    case 'DecodePng':
    case 'DecodeBmp':
    case 'DecodeImage': {
      const c = Number(n.attr.channels?.i ?? 0)
      return [-1, -1, c > 0 ? c : -1]
    }
    case 'DecodeGif':
      return [-1, -1, -1, 3]
    case 'ExpandDims': {
      const d = b.ints(n, 1)
      if (!s || !d) return null
      const at = d.data[0] < 0 ? d.data[0] + s.length + 1 : d.data[0]
      return [...s.slice(0, at), 1, ...s.slice(at)]
    }
    case 'Squeeze': {
      if (!s) return null
      const dims = attrInts(n, 'squeeze_dims', []).map((d) => (d < 0 ? d + s.length : d))
      return s.filter((d, i) => (dims.length ? !dims.includes(i) : d !== 1))
    }
    case 'ResizeBilinear':
    case 'ResizeBicubic':
    case 'ResizeArea':
    case 'ResizeNearestNeighbor': {
      const size = b.ints(n, 1)
      if (!size || size.data.length !== 2) return null
      return [s?.[0] ?? 1, size.data[0], size.data[1], s?.[3] ?? -1]
    }
    default:
      return BEFORE_INPUT.has(n.op) ? s : undefined
  }
}
