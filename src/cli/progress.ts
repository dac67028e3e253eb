/**
 * The progress bar of `mpscnn convert`: `[#########.....] 31/95 layers` on stderr, drawn
 * only when stderr is a terminal and the conversion has run for `delayMs` (a second), so
 * that a quick conversion prints nothing but its summary. It counts layers finished,
 * never backwards, and is cleared before anything else is printed.
 */
import { plural } from '../base/format.js'

export interface ProgressOptions {
  /** Layers in the model. */
  total: number
  /** Where to draw; nothing is drawn unless it is a TTY. Default: process.stderr. */
  stream?: Pick<NodeJS.WriteStream, 'write' | 'isTTY'>
  /** The clock, in ms. Default: performance.now. */
  now?: () => number
  /** When the conversion started, on `now`'s clock. Default: now(). */
  start?: number
  /** Nothing is drawn before the conversion has run this long. Default: 1000 ms. */
  delayMs?: number
  /** Draw nothing (--quiet). */
  quiet?: boolean
}
const WIDTH = 30

export class Progress {
  private readonly total: number
  private readonly stream: Pick<NodeJS.WriteStream, 'write' | 'isTTY'>
  private readonly now: () => number
  private readonly start: number
  private readonly delayMs: number
  private readonly enabled: boolean
  /** The highest count drawn so far; -1 while nothing is on the screen. */
  private drawn = -1
  private highest = 0

  constructor(o: ProgressOptions) {
    this.total = o.total
    this.stream = o.stream ?? process.stderr
    this.now = o.now ?? (() => performance.now())
    this.start = o.start ?? this.now()
    this.delayMs = o.delayMs ?? 1000
    this.enabled = !o.quiet && this.stream.isTTY === true
  }

  /** `done` layers are finished (counts that arrive late, lower than one seen, are ignored). */
  update(done: number): void {
    if (done > this.highest) this.highest = Math.min(done, this.total)
    if (!this.enabled || this.highest === this.drawn || this.now() - this.start < this.delayMs) return
    this.drawn = this.highest
    const filled = Math.round((this.highest / this.total) * WIDTH)
    this.stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${this.highest}/${plural(this.total, 'layer')}`)
  }

  /** Clears the line, if drawn. */
  done(): void {
    if (this.drawn >= 0) this.stream.write('\r\x1b[K')
    this.drawn = -1
  }
}
