import path from 'node:path'
import { MpscnnError } from '../base/errors.js'
import type { Precision } from '../fold/convert.js'
import { DEFAULT_MAX_EXPANSION } from '../fold/budget.js'

type FilterPattern = string | RegExp | readonly (string | RegExp)[]

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
   * of two files per layer. One import may set it: `./model.pb?packed` (`?packed=false`).
   * @default false
   */
  packed?: boolean
  /**
   * Alignment of each tensor in a packed file, in bytes (a power of two). Per import:
   * `./model.pb?align=4096&packed`.
   * @default 256
   */
  align?: number
  /**
   * Weight precision. `'float16'` writes IEEE half floats (round to nearest even), which
   * MPSCNN reads as `MPSDataType.float16`; biases stay float32. Per import:
   * `./model.pb?precision=float16`.
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
  /**
   * After each model converts (or comes from the cache), run the converted network with MPS
   * semantics against the original graph on TensorFlow.js (as `mpscnn verify` does, the
   * weights read from memory) and log `model.pb: verified, 8/8 top-1, max abs 3.1e-9`.
   * Beyond the tolerance the build fails (VERIFY_FAILED) naming the first diverging node.
   * Needs the optional peer dependencies `@tensorflow/tfjs-core`, `-backend-cpu`,
   * `-converter` (and `-backend-wasm` for `backend: 'wasm'`), else MISSING_DEPENDENCY; and
   * the network description (`network` not false). An object sets `samples` (seeded random
   * inputs, a positive integer, default 8), `seed` (an integer >= 0, default 1), `tolerance`
   * (max relative difference, default 1e-4 for float32, 2e-2 for float16) and `backend`
   * (`'cpu'`, the default, or `'wasm'`).
   * @default false
   */
  verify?: boolean | { samples?: number; seed?: number; tolerance?: number; backend?: 'cpu' | 'wasm' }
}

/** The `verify` option resolved: what src/execute/verify.ts takes. */
export interface VerifySettings {
  samples: number
  seed: number
  tolerance: number | undefined
  backend: 'cpu' | 'wasm'
}

const VERIFY_KEYS: Record<string, (v: unknown) => boolean> = {
  samples: (v) => Number.isSafeInteger(v) && (v as number) >= 1,
  seed: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  tolerance: (v) => typeof v === 'number' && v >= 0,
  backend: (v) => v === 'cpu' || v === 'wasm',
}

const acceptsVerify = (v: unknown): boolean =>
  typeof v === 'boolean' ||
  (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.entries(v).every(([k, x]) => x === undefined || VERIFY_KEYS[k]?.(x) === true))

/** The `verify` option (validated by ACCEPTS) with its defaults, or false. */
function resolveVerify(v: Options['verify']): VerifySettings | false {
  if (!v) return false
  const o = v === true ? {} : v
  return { samples: o.samples ?? 8, seed: o.seed ?? 1, tolerance: o.tolerance, backend: o.backend ?? 'cpu' }
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
  maxExpansion: number
  quiet: boolean
  network: NetworkSettings
  verify: VerifySettings | false
}

const PLUGIN = 'unplugin-mpscnn'
const isPattern = (v: unknown) => typeof v === 'string' || v instanceof RegExp
const isFilter = (v: unknown) => isPattern(v) || (Array.isArray(v) && v.every(isPattern))
const isPowerOfTwo = (v: unknown) => Number.isInteger(v) && (v as number) >= 4 && ((v as number) & ((v as number) - 1)) === 0

/** What each option accepts: undefined when `v` is fine, else the description for the error. */
const ACCEPTS: { [K in keyof Required<Options>]: (v: unknown) => string | undefined } = {
  include: (v) => (isFilter(v) ? undefined : 'a string, a RegExp or an array of them'),
  exclude: (v) => (isFilter(v) ? undefined : 'a string, a RegExp or an array of them'),
  hash: (v) => (typeof v === 'boolean' ? undefined : 'true or false'),
  packed: (v) => (typeof v === 'boolean' ? undefined : 'true or false'),
  align: (v) => (isPowerOfTwo(v) ? undefined : 'a power of two of at least 4'),
  precision: (v) => (v === 'float32' || v === 'float16' ? undefined : "'float32' or 'float16'"),
  dts: (v) => (typeof v === 'boolean' ? undefined : 'true or false'),
  cache: (v) => (typeof v === 'boolean' ? undefined : 'true or false'),
  cacheDir: (v) => (typeof v === 'string' && v !== '' ? undefined : 'a path (a non-empty string)'),
  cacheMaxBytes: (v) => (typeof v === 'number' && v >= 0 && !Number.isNaN(v) ? undefined : 'a number of bytes (>= 0)'),
  quiet: (v) => (typeof v === 'boolean' ? undefined : 'true or false'),
  maxExpansion: (v) => (typeof v === 'number' && v >= 1 ? undefined : 'a number of at least 1'),
  network: (v) => (typeof v === 'boolean' ? undefined : 'true or false'),
  inputShape: (v) => (Array.isArray(v) && v.length === 3 && v.every((d) => Number.isSafeInteger(d) && d > 0) ? undefined : '[height, width, channels], three positive integers'),
  outputs: (v) => (Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && s.length > 0 && !s.startsWith('^')) ? undefined : 'a non-empty list of node names'),
  verify: (v) =>
    acceptsVerify(v) ? undefined : "true, false or { samples?: a positive integer, seed?: an integer >= 0, tolerance?: a number >= 0, backend?: 'cpu' | 'wasm' }",
}

/** Edit distance (insertions, deletions, substitutions), case-insensitive. */
function editDistance(a: string, b: string): number {
  a = a.toLowerCase()
  b = b.toLowerCase()
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = cur
  }
  return prev[b.length]
}

/** `Did you mean "precision"?` for the closest known name, else the list of known names. */
function didYouMean(name: string, known: readonly string[]): string {
  let best: string | undefined
  let bestD = Math.max(2, Math.floor(name.length / 3)) + 1
  for (const k of known) {
    const d = editDistance(name, k)
    if (d < bestD) [best, bestD] = [k, d]
  }
  return best !== undefined ? `Did you mean ${JSON.stringify(best)}?` : `Known: ${known.join(', ')}`
}

/**
 * Refuses an unknown key (with the closest known one) or a value the key does not accept.
 * `what` names the setting in the message (`option`, `import query key`).
 */
function validate(values: Record<string, unknown>, keys: readonly (keyof Options)[], file: string, what: string): void {
  for (const [key, value] of Object.entries(values)) {
    if (!(keys as readonly string[]).includes(key)) {
      throw new MpscnnError('BAD_OPTION', file, `unknown ${what} ${JSON.stringify(key)}`, { hint: didYouMean(key, keys) })
    }
    const accepts = value === undefined ? undefined : ACCEPTS[key as keyof Options](value)
    if (accepts) {
      const got = value instanceof RegExp ? String(value) : (JSON.stringify(value) ?? String(value))
      throw new MpscnnError('BAD_OPTION', file, `${what} ${key} must be ${accepts}, got ${got}`)
    }
  }
}

/** The plugin's options with their defaults; an unknown option or a bad value is an MpscnnError (code BAD_OPTION). */
export function resolveOptions(options: Options = {}, root = process.cwd()): ResolvedOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new MpscnnError('BAD_OPTION', PLUGIN, `the options must be an object, got ${JSON.stringify(options)}`)
  }
  validate(options as Record<string, unknown>, Object.keys(ACCEPTS) as (keyof Options)[], PLUGIN, 'option')
  const maxExpansion = options.maxExpansion ?? DEFAULT_MAX_EXPANSION
  return {
    include: options.include ?? [/\.pb$/, /\.pbtxt$/],
    exclude: options.exclude,
    hash: options.hash ?? true,
    packed: options.packed ?? false,
    align: options.align ?? 256,
    precision: options.precision ?? 'float32',
    dts: options.dts ?? false,
    cache: options.cache ?? true,
    cacheDir: path.resolve(root, options.cacheDir ?? 'node_modules/.cache/unplugin-mpscnn'),
    cacheMaxBytes: options.cacheMaxBytes ?? 2 ** 31,
    maxExpansion,
    quiet: options.quiet ?? false,
    network: resolveNetworkOptions(options),
    verify: resolveVerify(options.verify),
  }
}

/** The options that change the converted bytes (and so belong in a cache key). */
export function outputAffectingOptions(o: ResolvedOptions): Record<string, unknown> {
  return { packed: o.packed, align: o.packed ? o.align : undefined, precision: o.precision, network: o.network }
}

/** Options one import may set in its query: `import m from './model.pb?packed&precision=float16'`. */
type ImportOptions = Partial<Pick<ResolvedOptions, 'packed' | 'align' | 'precision'>>
const IMPORT_KEYS = ['packed', 'align', 'precision'] as const satisfies readonly (keyof Options)[]

/** Query keys that belong to the bundler (Vite's `?url`, `?raw`, `?worker`, HMR's `?t=`): such an import is not a model. */
const FOREIGN_KEYS = new Set(['url', 'raw', 'inline', 'no-inline', 'worker', 'sharedworker', 'import', 'direct', 't', 'v'])

/** `/a/model.pb?packed#x` -> `{ file: '/a/model.pb', query: 'packed' }`. */
export function splitId(id: string): { file: string; query: string } {
  const q = id.search(/[?#]/)
  if (q < 0) return { file: id, query: '' }
  const query = id[q] === '?' ? id.slice(q + 1).replace(/#.*$/, '') : ''
  return { file: id.slice(0, q), query }
}

/**
 * The options of one import's query (`packed`, `packed=false`, `align=4096`,
 * `precision=float16`), or undefined when the query is the bundler's (`?url`, `?raw`).
 * An unknown key or a bad value is an MpscnnError (BAD_OPTION) naming the model.
 */
export function parseImportQuery(query: string, file: string): ImportOptions | undefined {
  const values: Record<string, unknown> = {}
  for (const [key, v] of new URLSearchParams(query)) {
    if (FOREIGN_KEYS.has(key)) return undefined
    values[key] = key === 'packed' ? ({ '': true, true: true, false: false } as Record<string, boolean>)[v] ?? v : key === 'align' && /^\d+$/.test(v) ? Number(v) : v
  }
  validate(values, IMPORT_KEYS, file, 'import query key')
  return values as ImportOptions
}

/** A short name for an import's options, for the output folder of unhashed files: `packed-float16`. */
export function importVariant(o: ImportOptions): string {
  return [o.packed === undefined ? '' : o.packed ? 'packed' : 'unpacked', o.align === undefined ? '' : `align${o.align}`, o.precision ?? ''].filter(Boolean).join('-')
}

/**
 * Whether a resolved path is a model by `include`/`exclude`, as unplugin's id filter
 * decides: a RegExp tests the path, a string is a glob relative to the working directory.
 */
export function isModelPath(file: string, o: Pick<ResolvedOptions, 'include' | 'exclude'>, cwd = process.cwd()): boolean {
  const id = file.replace(/\\/g, '/')
  const test = (p: FilterPattern | undefined) => (p === undefined ? false : (Array.isArray(p) ? p : [p]).some((x: string | RegExp) => globOrRegExp(x, cwd).test(id)))
  return !test(o.exclude) && test(o.include)
}

function globOrRegExp(p: string | RegExp, cwd: string): RegExp {
  if (p instanceof RegExp) return new RegExp(p.source, p.flags.replace('g', ''))
  const abs = p.startsWith('**') || path.isAbsolute(p) ? p : `${cwd.replace(/\\/g, '/')}/${p.replace(/^\.\//, '')}`
  const body = abs.replace(/\*\*\/|\*\*|\*|\?|[.+^${}()|[\]\\]/g, (t) => ({ '**/': '(?:.*/)?', '**': '.*', '*': '[^/]*', '?': '[^/]' })[t] ?? `\\${t}`)
  return new RegExp(`^${body}$`)
}
