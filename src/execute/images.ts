/**
 * The images of one run of the executor: each built from the parts encodes write into it at
 * their `destinationFeatureChannelOffset`, as MPS kernels write into a wider MPSImage.
 */
import type * as Tfc from '@tensorflow/tfjs-core'

type Tensor4 = Tfc.Tensor4D

/** The images of one run: each built from the parts written into it at channel offsets. */
export class Images {
  private parts = new Map<string, { at: number; t: Tensor4 }[]>()
  private whole = new Map<string, Tensor4>()

  constructor(
    private tf: typeof Tfc,
    readonly shapes: Record<string, { width: number; height: number; featureChannels: number }>,
  ) {}

  write(name: string, t: Tensor4, at: number): void {
    const list = this.parts.get(name) ?? []
    list.push({ at, t })
    this.parts.set(name, list)
    const old = this.whole.get(name)
    if (old && !list.some((p) => p.t === old)) old.dispose()
    this.whole.delete(name)
  }

  /** The image: its parts in channel order, channels nobody wrote zero (MPS leaves them undefined). */
  read(name: string): Tensor4 {
    const done = this.whole.get(name)
    if (done) return done
    const list = this.parts.get(name)
    const s = this.shapes[name]
    if (!list || !s) throw new Error(`unplugin-mpscnn: image ${JSON.stringify(name)} is read before any node writes it`)
    const tf = this.tf
    let img: Tensor4
    if (list.length === 1 && list[0].at === 0 && list[0].t.shape[3] === s.featureChannels) img = list[0].t
    else img = tf.tidy(() => assemble(tf, list, s))
    this.whole.set(name, this.tf.keep(img))
    return img
  }

  /** Frees an image nothing reads any more. */
  drop(name: string): void {
    for (const p of this.parts.get(name) ?? []) p.t.dispose()
    this.whole.get(name)?.dispose()
    this.parts.delete(name)
    this.whole.delete(name)
  }

  names(): string[] {
    return [...this.parts.keys()]
  }

  dispose(): void {
    for (const list of this.parts.values()) for (const p of list) p.t.dispose()
    for (const t of this.whole.values()) t.dispose()
  }
}

/**
 * An image from the parts written into it at channel offsets, later writes winning where they
 * overlap, as on the GPU; channels nobody wrote are zero (MPS leaves them undefined). Parts
 * that do not overlap are one `concat` (with zeros in the gaps); overlapping ones are painted
 * in order onto zeros.
 */
function assemble(tf: typeof Tfc, list: { at: number; t: Tensor4 }[], s: { width: number; height: number; featureChannels: number }): Tensor4 {
  const zeros = (c: number) => tf.zeros([1, s.height, s.width, c]) as Tensor4
  const sorted = [...list].sort((a, b) => a.at - b.at)
  const pieces: Tensor4[] = []
  let end = 0
  for (const { at, t } of sorted) {
    if (at < end) {
      let acc = zeros(s.featureChannels)
      for (const p of list) {
        const c = p.t.shape[3]
        const mask = tf.concat([tf.zeros([p.at]), tf.ones([c]), tf.zeros([s.featureChannels - p.at - c])])
        const placed = tf.pad(p.t, [[0, 0], [0, 0], [0, 0], [p.at, s.featureChannels - p.at - c]])
        acc = tf.add(tf.mul(acc, tf.sub(1, mask)), placed) as Tensor4
      }
      return acc
    }
    if (at > end) pieces.push(zeros(at - end))
    pieces.push(t)
    end = at + t.shape[3]
  }
  if (end < s.featureChannels) pieces.push(zeros(s.featureChannels - end))
  return tf.concat(pieces, 3) as Tensor4
}
