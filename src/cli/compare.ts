/**
 * `mpscnn convert --dat-dir REF`: compares every tensor written with the reference set's
 * `weights_<layer>.dat` / `bias_<layer>.dat` (raw float32, Apple's sample format), layer by
 * layer, and gives the exit status: 0 every layer within TOLERANCE, 3 a difference over it
 * (or a reference file of another size), 4 some layers not in the reference and the rest
 * within it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { MpscnnError } from '../base/errors.js'
import { formatNames, plural } from '../base/format.js'
import { halfToFloat } from '../base/half.js'

/** The largest difference that still counts as the same value. */
const TOLERANCE = 1e-3

export const EXIT_DIFFERENT = 3
export const EXIT_INCOMPLETE = 4

type Tensor = Float32Array | Uint16Array

/** A tensor against its reference: the largest |difference|, or why it was not compared. */
type Outcome = { delta: number } | { missing: true } | { size: number; expected: number }

/** `3.81e-7`, `0`, `0.25`: deltas keep their magnitude however small. */
function formatDelta(d: number): string {
  return d === 0 ? '0' : Number.isFinite(d) ? d.toExponential(2).replace(/\.?0+e/, 'e') : String(d)
}

function describe(o: Outcome): string {
  if ('delta' in o) return formatDelta(o.delta)
  if ('missing' in o) return 'not in the reference'
  return `${o.size} bytes, ${o.expected} expected`
}

function maxDelta(ours: Tensor, ref: Float32Array): number {
  let m = 0
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs((ours instanceof Uint16Array ? halfToFloat(ours[i]) : ours[i]) - ref[i])
    if (!(d <= m)) m = d === d ? d : Infinity
  }
  return m
}

export class Comparison {
  private readonly lines: string[] = []
  private overall = 0
  private readonly missing: string[] = []
  private readonly different: string[] = []

  /**
   * Refuses a reference folder that does not exist or is not a folder. `display`: the
   * folder as given, for messages.
   */
  constructor(
    private readonly dir: string,
    private readonly display: string,
  ) {
    let stat: fs.Stats
    try {
      stat = fs.statSync(dir)
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the reference folder (--dat-dir) does not exist' : `the reference folder (--dat-dir) cannot be read: ${(e as Error).message}`
      throw new MpscnnError('BAD_DAT_DIR', display, why, { hint: 'Give --dat-dir the folder that holds weights_<layer>.dat and bias_<layer>.dat' })
    }
    if (!stat.isDirectory()) throw new MpscnnError('BAD_DAT_DIR', display, 'the reference folder (--dat-dir) is a file, not a folder', { hint: 'Give --dat-dir the folder that holds weights_<layer>.dat and bias_<layer>.dat' })
  }

  /** Refuses a reference folder that holds no file of any of these layers (by their file stems). */
  expectLayers(stems: string[]): void {
    const names = stems.flatMap((s) => [`weights_${s}.dat`, `bias_${s}.dat`])
    const present = new Set(fs.readdirSync(this.dir))
    if (names.some((n) => present.has(n))) return
    throw new MpscnnError('BAD_DAT_DIR', this.display, `the reference folder (--dat-dir) holds none of the model's ${plural(names.length, 'file')} (${names.slice(0, 2).join(', ')}, ...)`, {
      hint: 'Give --dat-dir the folder that holds weights_<layer>.dat and bias_<layer>.dat of this model',
    })
  }

  private compare(file: string, ours: Tensor): Outcome {
    let buf: Buffer
    try {
      buf = fs.readFileSync(path.join(this.dir, file))
    } catch {
      return { missing: true }
    }
    if (buf.byteLength !== ours.length * 4) return { size: buf.byteLength, expected: ours.length * 4 }
    return { delta: maxDelta(ours, new Float32Array(Uint8Array.from(buf).buffer)) }
  }

  /** Compares one layer's tensors, by its file stem. */
  layer(name: string, stem: string, weights: Tensor, bias: Float32Array): void {
    const w = this.compare(`weights_${stem}.dat`, weights)
    const b = this.compare(`bias_${stem}.dat`, bias)
    this.lines.push(`${name}  [max delta: w=${describe(w)} b=${describe(b)}]`)
    const outcomes = [w, b]
    for (const o of outcomes) if ('delta' in o) this.overall = Math.max(this.overall, o.delta)
    if (outcomes.some((o) => 'size' in o || ('delta' in o && !(o.delta <= TOLERANCE)))) this.different.push(name)
    else if (outcomes.some((o) => 'missing' in o)) this.missing.push(name)
  }

  /** One line per layer, then the verdict. */
  report(): string[] {
    const compared = this.lines.length - this.missing.length
    const verdict = [`max delta over all layers: ${formatDelta(this.overall)}`]
    if (this.different.length) verdict.push(`${plural(this.different.length, 'layer')} differ${this.different.length === 1 ? 's' : ''} from the reference by more than ${formatDelta(TOLERANCE)} or in size: ${formatNames(this.different)}`)
    if (this.missing.length) verdict.push(`${plural(this.missing.length, 'layer')} not in the reference (not compared): ${formatNames(this.missing)}`)
    if (!this.different.length) verdict.push(`${compared} of ${plural(this.lines.length, 'layer')} within ${formatDelta(TOLERANCE)} of the reference`)
    return [...this.lines, ...verdict]
  }

  exitStatus(): number {
    return this.different.length ? EXIT_DIFFERENT : this.missing.length ? EXIT_INCOMPLETE : 0
  }
}
