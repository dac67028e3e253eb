/**
 * Ops that change how a value is seen, not its numbers, and so leave no encode of their
 * own: Reshape (a flatten), Squeeze, Transpose (NHWC <-> NCHW), Pad (folded into the
 * kernel that reads it), and the shape arithmetic that computes their constant operands.
 */
import type { NodeDef } from '../graphdef/schema.js'
import { attrBool } from '../fold/attrs.js'
import type { Builder } from './builder.js'

export function reshape(b: Builder, n: NodeDef): void {
  const v = b.value(n, 0)
  if (v.t === 'ints' || v.t === 'const') return b.set(n, v.t === 'ints' ? v : { t: 'const' })
  const x = b.activation(n, 0)
  if (!x) return b.refuse(n, b.notAnImage(n, 0))
  const target = b.ints(n, 1)
  if (!target) return b.refuse(n, 'its target shape is not known')
  const total = x.h * x.w * x.c
  const known = target.data.reduce((p, d) => (d >= 0 ? p * d : p), 1)
  const shape = target.data.map((d) => (d < 0 ? total / known : d))
  if (shape.reduce((p, d) => p * d, 1) !== total) return b.refuse(n, `its target shape [${target.data.join(', ')}] does not hold the ${total} values of its input`)
  if (shape.length === 2 && shape[0] === 1) {
    if (x.t === 'flat') return b.set(n, x)
    return b.set(n, { t: 'flat', image: x.image, h: x.h, w: x.w, c: x.c, chw: x.nchw, tf: n.name })
  }
  if (shape.length === 4 && shape[0] === 1 && shape[1] === 1 && shape[2] === 1) {
    const img = b.flatImage(x)
    if (img !== null) return b.set(n, { t: 'image', image: img, h: 1, w: 1, c: total, nchw: false })
  }
  if (x.t === 'image' && shape.length === 4 && shape.join() === [1, x.h, x.w, x.c].join() && !x.nchw) return b.set(n, x)
  b.refuse(n, `it reshapes ${x.h} x ${x.w} x ${x.c} to [${shape.join(', ')}], which is not a flatten`)
}

export function squeeze(b: Builder, n: NodeDef): void {
  const x = b.activation(n, 0)
  if (!x) return b.refuse(n, b.notAnImage(n, 0))
  if (x.t === 'image' && x.h === 1 && x.w === 1) return b.set(n, { t: 'flat', image: x.image, h: 1, w: 1, c: x.c, chw: false, tf: n.name })
  if (x.t === 'flat') return b.set(n, x)
  b.refuse(n, 'it squeezes an image larger than 1 x 1')
}

export function transpose(b: Builder, n: NodeDef): void {
  const x = b.activation(n, 0)
  const perm = b.ints(n, 1)
  if (!x) return b.refuse(n, b.notAnImage(n, 0))
  const p = perm?.data.join()
  if (x.t === 'image' && ((p === '0,3,1,2' && !x.nchw) || (p === '0,2,3,1' && x.nchw))) return b.set(n, { ...x, nchw: !x.nchw })
  b.refuse(n, `permutation [${perm?.data.join(', ') ?? '?'}] is not NHWC <-> NCHW`)
}

export function pad(b: Builder, n: NodeDef): void {
  const x = b.activation(n, 0)
  if (!x) return b.refuse(n, b.notAnImage(n, 0))
  const p = b.ints(n, 1)
  if (x.t !== 'image' || !p || p.data.length !== 8) return b.refuse(n, 'its paddings are not constant on an image')
  const [n0, n1, a0, a1, b0, b1, c0, c1] = p.data
  const [top, bottom, left, right] = x.nchw ? [b0, b1, c0, c1] : [a0, a1, b0, b1]
  const batchOrChannel = x.nchw ? [n0, n1, a0, a1] : [n0, n1, c0, c1]
  const fill = n.op === 'PadV2' ? b.constant(n, 2) : null
  if (n.op === 'PadV2' && (!fill || fill.data[0] !== 0)) return b.refuse(n, 'it pads with a value other than zero')
  if (batchOrChannel.some((d) => d !== 0)) return b.refuse(n, 'it pads the batch or channel dimension')
  // Folded into the kernel that reads it (ops.ts `weighted`, `pool`): consumers of any
  // other kind find a value they cannot read and refuse.
  b.set(n, { t: 'padded', of: x, top, bottom, left, right, tf: n.name })
}

/** Shape arithmetic, constant once shapes are known. */
export function shapeOp(b: Builder, n: NodeDef): void {
  const ins = (b.graph.inputs.get(n.name) ?? []).map((_, i) => b.ints(n, i))
  switch (n.op) {
    case 'Shape': {
      const s = b.shapeOf(b.value(n, 0))
      return s ? b.set(n, { t: 'ints', shape: [s.length], data: s }) : b.refuse(n, 'the shape of its input is not known')
    }
    case 'StridedSlice': {
      const [x, begin, end, strides] = ins
      if (!x || !begin || !end || !strides || x.shape.length !== 1 || begin.data.length !== 1) return b.refuse(n, 'it is not a slice of a known shape')
      const len = x.data.length
      const st = strides.data[0]
      const norm = (i: number) => (i < 0 ? i + len : i)
      const bm = Number(n.attr.begin_mask?.i ?? 0) & 1
      const em = Number(n.attr.end_mask?.i ?? 0) & 1
      const shrink = Number(n.attr.shrink_axis_mask?.i ?? 0) & 1
      const lo = bm ? (st > 0 ? 0 : len - 1) : Math.min(Math.max(norm(begin.data[0]), 0), len)
      const hi = em ? (st > 0 ? len : -1) : Math.min(Math.max(norm(end.data[0]), -1), len)
      const out: number[] = []
      if (shrink) out.push(x.data[lo])
      else for (let i = lo; st > 0 ? i < hi : i > hi; i += st) out.push(x.data[i])
      return b.set(n, { t: 'ints', shape: shrink ? [] : [out.length], data: out })
    }
    case 'Pack': {
      if (ins.some((v) => !v || v.data.length !== 1)) return b.refuse(n, 'it packs values that are not known')
      return b.set(n, { t: 'ints', shape: [ins.length], data: ins.map((v) => v!.data[0]) })
    }
    case 'Prod': {
      const x = ins[0]
      if (!x) return b.refuse(n, 'its input is not known')
      const p = x.data.reduce((a, d) => a * d, 1)
      return b.set(n, { t: 'ints', shape: attrBool(n, 'keep_dims', false) ? [1] : [], data: [p] })
    }
  }
}
