import path from 'node:path'
import type { Precision } from '../fold/convert.js'

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
   * ready to drop into an Xcode bundle.
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
   * No log line per model.
   * @default false
   */
  quiet?: boolean
  /**
   * Describe the whole network in the manifest (`manifest.network`: images, inputs with
   * their preprocessing, outputs, and every MPS encode in order; see docs/network.md). A
   * graph with an op that has no MPS counterpart on the way from its input to its outputs
   * is then refused (UNSUPPORTED_OP). `false`: layers and weights only.
   * @default true
   */
  network?: boolean
  /**
   * `[height, width, channels]` of the network input, for a placeholder whose shape leaves
   * them unknown (e.g. `[-1, -1, -1, 3]`). Needed only then.
   * @default undefined (the placeholder's shape)
   */
  inputShape?: readonly [number, number, number]
  /**
   * The network's outputs: TF node names (`node` or `node:k`).
   * @default undefined (the graph's sinks: nodes whose value nobody reads)
   */
  outputs?: readonly string[]
}

/** What shapes the network description. */
export interface NetworkSettings {
  network: boolean
  inputShape: number[] | undefined
  outputs: string[] | undefined
}

/** Validates the network options (for the plugin and the CLI). */
export function resolveNetworkOptions(o: Pick<Options, 'network' | 'inputShape' | 'outputs'>, name = (k: string) => `option ${k}`): NetworkSettings {
  const network = o.network ?? true
  if (typeof network !== 'boolean') throw new TypeError(`unplugin-mpscnn: ${name('network')} must be true or false, got ${JSON.stringify(network)}`)
  const shape = o.inputShape
  if (shape !== undefined && (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isSafeInteger(d) && d > 0))) {
    throw new TypeError(`unplugin-mpscnn: ${name('inputShape')} must be [height, width, channels], three positive integers, got ${JSON.stringify(shape)}`)
  }
  const outputs = o.outputs
  if (outputs !== undefined && (!Array.isArray(outputs) || outputs.length === 0 || !outputs.every((s) => typeof s === 'string' && s.length > 0 && !s.startsWith('^')))) {
    throw new TypeError(`unplugin-mpscnn: ${name('outputs')} must be a non-empty list of node names, got ${JSON.stringify(outputs)}`)
  }
  return { network, inputShape: shape ? [...shape] : undefined, outputs: outputs ? [...outputs] : undefined }
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
  quiet: boolean
  network: NetworkSettings
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
    quiet: options.quiet ?? false,
    network: resolveNetworkOptions(options),
  }
}

/** The options that change the converted bytes (and so belong in a cache key). */
export function outputAffectingOptions(o: ResolvedOptions): Record<string, unknown> {
  return { packed: o.packed, align: o.packed ? o.align : undefined, precision: o.precision, network: o.network }
}
