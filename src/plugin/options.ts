import path from 'node:path'
import type { Precision } from '../fold/convert.js'
import { DEFAULT_MAX_EXPANSION } from '../fold/budget.js'

export type FilterPattern = string | RegExp | readonly (string | RegExp)[]

export interface Options {
  /**
   * Which imports are models.
   * @default [/\.pb$/, /\.pbtxt$/]
   */
  include?: FilterPattern
  /**
   * Imports to leave alone even when `include` matches.
   * @default undefined
   */
  exclude?: FilterPattern
  /**
   * Content-hashed asset names (`weights_conv-3f2a9c1b.dat`, through the bundler's own
   * naming in Vite and Rollup). `false` keeps Apple's exact names, `<model>/weights_<layer>.dat`,
   * ready to drop into an Xcode bundle (a name unsafe in a file name or URL is escaped: see
   * the README's "File names").
   * @default true
   */
  hash?: boolean
  /**
   * One `<model>.dat` holding every tensor, each at an offset aligned to `align`, instead
   * of two files per layer.
   * @default false
   */
  packed?: boolean
  /**
   * Alignment of each tensor in a packed file, in bytes (a power of two).
   * @default 256
   */
  align?: number
  /**
   * Weight precision. `'float16'` writes IEEE half floats (round to nearest even), which
   * MPSCNN reads as `MPSDataType.float16`; biases stay float32.
   * @default 'float32'
   */
  precision?: Precision
  /**
   * Also write `<model>.pb.d.ts` beside each model, typing its layer names as a union of
   * string literals.
   * @default false
   */
  dts?: boolean
  /**
   * Keep converted models in a persistent, content-addressed cache.
   * @default true
   */
  cache?: boolean
  /**
   * Where the cache lives.
   * @default 'node_modules/.cache/unplugin-mpscnn' (under the project root)
   */
  cacheDir?: string
  /**
   * Upper bound of the cache's size in bytes; least recently used entries are pruned.
   * @default 2147483648 (2 GiB)
   */
  cacheMaxBytes?: number
  /**
   * Bounds the memory a conversion may use on what a small file can describe (a 200-byte
   * splat constant of 1 GiB): constants expanded from a splat or a short form, constant
   * folding and the laid-out weights may total max(64 MiB, maxExpansion x the model's
   * size). Past it the model is refused (TOO_LARGE). A number of at least 1.
   * @default 16
   */
  maxExpansion?: number
  /**
   * No log line per model.
   * @default false
   */
  quiet?: boolean
}

export interface ResolvedOptions {
  include: FilterPattern
  exclude: FilterPattern | undefined
  hash: boolean
  packed: boolean
  align: number
  precision: Precision
  dts: boolean
  cache: boolean
  cacheDir: string
  cacheMaxBytes: number
  maxExpansion: number
  quiet: boolean
}

export function resolveOptions(options: Options = {}, root = process.cwd()): ResolvedOptions {
  const align = options.align ?? 256
  if (!Number.isInteger(align) || align < 4 || (align & (align - 1)) !== 0) {
    throw new TypeError(`unplugin-mpscnn: option align must be a power of two of at least 4, got ${JSON.stringify(options.align)}`)
  }
  const precision = options.precision ?? 'float32'
  if (precision !== 'float32' && precision !== 'float16') {
    throw new TypeError(`unplugin-mpscnn: option precision must be 'float32' or 'float16', got ${JSON.stringify(precision)}`)
  }
  const maxExpansion = options.maxExpansion ?? DEFAULT_MAX_EXPANSION
  if (typeof maxExpansion !== 'number' || !(maxExpansion >= 1)) {
    throw new TypeError(`unplugin-mpscnn: option maxExpansion must be a number of at least 1, got ${JSON.stringify(options.maxExpansion)}`)
  }
  return {
    include: options.include ?? [/\.pb$/, /\.pbtxt$/],
    exclude: options.exclude,
    hash: options.hash ?? true,
    packed: options.packed ?? false,
    align,
    precision,
    dts: options.dts ?? false,
    cache: options.cache ?? true,
    cacheDir: path.resolve(root, options.cacheDir ?? 'node_modules/.cache/unplugin-mpscnn'),
    cacheMaxBytes: options.cacheMaxBytes ?? 2 ** 31,
    maxExpansion,
    quiet: options.quiet ?? false,
  }
}

/** The options that change the converted bytes (and so belong in a cache key). */
export function outputAffectingOptions(o: ResolvedOptions): Record<string, unknown> {
  return { packed: o.packed, align: o.packed ? o.align : undefined, precision: o.precision }
}
