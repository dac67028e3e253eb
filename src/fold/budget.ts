/**
 * A bound on what a conversion may materialise: constants expanded from a short form
 * (splats, `float_val` whose last value repeats), the results of constant folding, and the
 * laid-out weights, in total. A 200-byte GraphDef can describe a 1 GiB splat; past the bound
 * it is refused with one error instead of exhausting memory.
 */
import { MpscnnError } from '../base/errors.js'
import { formatBytes } from '../base/format.js'

/** A model of any size may materialise this much. */
const MIN_MATERIALIZED_BYTES = 64 << 20
/** And up to this many times its own size. */
export const DEFAULT_MAX_EXPANSION = 16

/** The bound for a model of `modelBytes`: max(64 MiB, maxExpansion x its size). */
export function materializeLimit(modelBytes: number, maxExpansion = DEFAULT_MAX_EXPANSION): number {
  return Math.max(MIN_MATERIALIZED_BYTES, maxExpansion * modelBytes)
}

export class MaterializeBudget {
  /** Bytes materialised so far. */
  used = 0

  constructor(
    readonly file: string,
    readonly limit = Infinity,
  ) {}

  /** Accounts for `bytes` about to be allocated for `node`, or refuses them past the bound. */
  charge(bytes: number, node: string, what: string): void {
    if (this.used + bytes > this.limit) {
      throw new MpscnnError('TOO_LARGE', this.file, `${what} needs ${formatBytes(bytes)}, which would bring what the conversion materialises to ${formatBytes(this.used + bytes)}, past its bound of ${formatBytes(this.limit)}`, {
        node,
        hint: `The bound is max(64 MiB, maxExpansion x the model's size; default ${DEFAULT_MAX_EXPANSION}); raise the option maxExpansion (CLI: --max-expansion) if the model is genuine`,
      })
    }
    this.used += bytes
  }
}
