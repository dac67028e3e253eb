/**
 * Pooling in MPS terms: MaxPool and AvgPool as MPSCNNPoolingMax / MPSCNNPoolingAverage
 * (window, offset and edge mode from TF's padding), and a spatial `Mean` as a global average.
 */
import type { NodeDef } from '../graphdef/schema.js'
import { attrBool, attrString } from '../fold/attrs.js'
import { window, type Builder } from './builder.js'

export function pool(b: Builder, n: NodeDef): void {
  const v = b.value(n, 0)
  const padded = v.t === 'padded' ? v : null
  if (padded && n.op !== 'MaxPool') return b.refuse(n, 'an explicit Pad before an average pool counts the padding, which MPS cannot')
  const x = padded ? padded.of : b.activation(n, 0)
  if (!x) return b.refuse(n, b.notAnImage(n, 0))
  if (x.t !== 'image') return b.refuse(n, 'its input is not an image')
  const [kh, kw] = b.hw(n, 'ksize')
  const [sy, sx] = b.hw(n, 'strides')
  const pad = attrString(n, 'padding', '')
  if (pad !== 'SAME' && pad !== 'VALID') return b.refuse(n, `padding ${JSON.stringify(pad)}`)
  const padding = pad === 'SAME' ? 'same' : 'valid'
  const ys = window(x.h, kh, sy, 1, padding, padded?.top, padded?.bottom)
  const xs = window(x.w, kw, sx, 1, padding, padded?.left, padded?.right)
  if (ys.out < 1 || xs.out < 1) b.error('BAD_SHAPE', n.name, `the pooling window (${kh} x ${kw}) is larger than its ${x.h} x ${x.w} input`, 'The graph is inconsistent; export it again')
  const image = b.image(n.name, ys.out, xs.out, x.c)
  // Max: clamping repeats edge pixels, which never changes a maximum (TF ignores padding);
  // after an explicit zero Pad, zeros are what TF takes the maximum with. Average: clamp
  // shrinks the window to the image, as TF leaves padding out of the count.
  b.emit({
    kind: n.op === 'MaxPool' ? 'poolingMax' : 'poolingAverage', name: n.name, tf: padded ? [padded.tf, n.name] : [n.name],
    source: x.image, destination: image, offset: { x: xs.offset, y: ys.offset }, edgeMode: padded ? 'zero' : 'clamp',
    kernel: { width: kw, height: kh }, stride: { x: sx, y: sy },
  })
  b.set(n, { ...x, image, h: ys.out, w: xs.out })
}

/** Mean over height and width: global average pooling. */
export function mean(b: Builder, n: NodeDef): void {
  const x = b.activation(n, 0)
  if (!x) return b.refuse(n, b.notAnImage(n, 0))
  const axes = b.ints(n, 1)
  if (x.t !== 'image' || !axes) return b.refuse(n, 'it is not a mean over height and width of an image')
  const want = x.nchw ? [2, 3] : [1, 2]
  const got = [...new Set(axes.data.map((a) => (a < 0 ? a + 4 : a)))].sort()
  if (got.join() !== want.join()) return b.refuse(n, `it averages over axes [${axes.data.join(', ')}], not height and width`)
  const keep = attrBool(n, 'keep_dims', false) || attrBool(n, 'keepdims', false)
  const image = b.image(n.name, 1, 1, x.c)
  b.emit({
    kind: 'poolingAverage', name: n.name, tf: [n.name], source: x.image, destination: image,
    offset: { x: Math.floor(x.w / 2), y: Math.floor(x.h / 2) }, edgeMode: 'clamp',
    kernel: { width: x.w, height: x.h }, stride: { x: x.w, y: x.h },
  })
  b.set(n, keep ? { ...x, image, h: 1, w: 1 } : { t: 'flat', image, h: 1, w: 1, c: x.c, chw: false, tf: n.name })
}
