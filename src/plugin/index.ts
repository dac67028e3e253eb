/**
 * The unplugin factory: hook wiring only. Conversion lives in ../pipeline (behind the
 * cache, core.ts), emission of files per bundler in bundler.ts.
 */
import { createUnplugin, type UnpluginFactory } from 'unplugin'
import path from 'node:path'
import { cacheWritesSettled, displayPath, loadModel, type LoadedModel } from './core.js'
import { isMpscnnError } from '../base/errors.js'
import { manifestModule } from '../emit/manifest.js'
import { modelStem } from '../emit/assets.js'
import { createEmitter, type Emitter } from './bundler.js'
import { makeIdFiltersToMatchWithQuery } from 'unplugin/utils/filter'
import { importVariant, isModelPath, parseImportQuery, resolveOptions, splitId, type Options, type ResolvedOptions } from './options.js'
import { DevAssets } from './dev-server.js'
import { verifyModel } from './verify-model.js'

export type { Options } from './options.js'
export type { MpscnnLayer, MpscnnManifest, MpscnnNetwork, MpscnnNetworkNode, MpscnnTensor } from '../base/manifest-types.js'
export { MpscnnError } from '../base/errors.js'

export const PLUGIN_NAME = 'unplugin-mpscnn'
/** What Rollup and Vite put before a plugin's messages; ours, where the plugin prints its own. */
const LOG_PREFIX = `[plugin ${PLUGIN_NAME}]`

/** Appended to webpack's asset size warning when it lists weight files. */
const ASSET_SIZE_HINT = `[${PLUGIN_NAME}] The .dat files are model weights, fetched when the app loads a layer, not with the page. To leave them out of the size check: performance: { assetFilter: (file) => !/\\.(dat|map)$/.test(file) }`

export const unpluginFactory: UnpluginFactory<Options | undefined> = (rawOptions, meta) => {
  /**
   * Root, options, emitter and logger of a build. One for the plugin instance, except in
   * esbuild, where one instance may serve several builds at once: each gets its own.
   */
  interface BuildState {
    root: string
    options: ResolvedOptions
    emitter?: Emitter
    logInfo: (msg: string) => void
  }
  const shared: BuildState = { root: process.cwd(), options: resolveOptions(rawOptions), logInfo: () => {} }
  const esbuildStates = new WeakMap<object, BuildState>()
  const stateOf = (ctx: unknown): BuildState => {
    if (meta.framework !== 'esbuild') return shared
    const native = (ctx as { getNativeBuildContext?: () => { framework: string; build?: object } | undefined }).getNativeBuildContext?.()
    return (native?.build && esbuildStates.get(native.build)) || shared
  }
  const configure = (root: string, logInfo?: (msg: string) => void) => {
    shared.root = root
    shared.options = resolveOptions(rawOptions, root)
    if (logInfo) shared.logInfo = logInfo
  }
  /** Set under `vite dev`, where files are served from memory instead of emitted. */
  let dev: DevAssets | undefined

  return {
    name: PLUGIN_NAME,
    enforce: 'pre',

    // Cache entries are written while the bundler renders; the build is done when they are.
    async writeBundle() {
      await cacheWritesSettled()
    },

    load: {
      // The patterns match an id with a query too (`model.pb?packed`): per-import options.
      filter: { id: { include: withQuery(shared.options.include), exclude: withQuery(shared.options.exclude) } },
      async handler(id) {
        const { file, query } = splitId(id)
        const state = stateOf(this)
        let model: LoadedModel
        let variant = ''
        let verified: string | undefined
        try {
          const perImport = parseImportQuery(query, displayPath(file, state.root))
          if (!perImport) return null // `model.pb?url`, `?raw`: the bundler's own
          variant = importVariant(perImport)
          this.addWatchFile(file)
          model = await loadModel(file, { ...state.options, ...perImport }, state.root, (m) => this.warn(m))
          // src/execute (TensorFlow.js) is loaded by verifyModel, only when the option is on.
          if (state.options.verify) verified = await verifyModel(file, displayPath(file, state.root), model.assets, state.options.verify)
        } catch (e) {
          if (isMpscnnError(e)) {
            // One line, no stack: the message names the file, the node and the fix.
            // webpack and Rspack show neither `plugin` nor the hook: name the plugin in the text.
            const prefix = meta.framework === 'webpack' || meta.framework === 'rspack' ? `[${PLUGIN_NAME}] ` : ''
            const err = new Error(prefix + e.message) as Error & { code?: string; id?: string; plugin?: string }
            err.code = e.code
            err.id = file
            err.plugin = PLUGIN_NAME
            err.stack = `${err.name}: ${e.message}`
            throw err
          }
          throw e
        }
        for (const w of model.assets.warnings) this.warn(w)
        if (!state.options.quiet) state.logInfo(model.summary)
        if (verified && !state.options.quiet) state.logInfo(verified)
        const { header, plan, files } = model.assets
        let urlOf: (name: string) => string
        if (dev) urlOf = dev.serve(id, header.sha256, files, variant)
        else {
          state.emitter ??= createEmitter(meta.framework)
          // Unhashed files of an import with options go to their own folder: `model.packed-float16/`.
          const emitAs = variant ? path.join(path.dirname(file), `${modelStem(file)}.${variant}.pb`) : file
          urlOf = state.emitter.emitAll(this, emitAs, files, state.options.hash)
        }
        return { code: manifestModule(header, plan, urlOf, model.assets.network), map: { mappings: '' } }
      },
    },

    vite: {
      configResolved(config) {
        // As Vite shows this.warn: `[plugin unplugin-mpscnn] ...` (no timestamp: it would add `[vite]`).
        configure(config.root, (msg) => config.logger.info(`${LOG_PREFIX} ${msg}`))
        if (config.command === 'serve') {
          dev = new DevAssets()
          dev.setBase(config.base)
        }
      },
      configureServer(server) {
        if (dev) server.middlewares.use(dev.middleware)
      },
    },

    rollup: {
      // Rollup resolves no query: `./model.pb?packed` is the model's path with the query kept.
      async resolveId(source, importer, opts) {
        const { file, query } = splitId(source)
        if (!query || file === source) return null
        const resolved = await this.resolve(file, importer, { ...opts, skipSelf: true })
        if (!resolved || resolved.external || !isModelPath(resolved.id, shared.options)) return null
        return `${resolved.id}?${query}`
      },
      options() {
        const ctx = this as unknown as { info?: (m: string) => void }
        shared.logInfo = (msg) => ctx.info?.(msg)
      },
    },

    webpack(compiler) {
      const logger = compiler.getInfrastructureLogger(PLUGIN_NAME)
      configure(compiler.context, (msg) => logger.info(msg))
      // webpack's performance hints count the weights as page assets: say how to leave them out.
      compiler.hooks.afterEmit.tap({ name: PLUGIN_NAME, stage: 100 }, (compilation) => {
        for (const w of [...compilation.warnings, ...compilation.errors]) {
          if (w.name === 'AssetsOverSizeLimitWarning' && /\.dat \(/.test(w.message)) w.message += `\n${ASSET_SIZE_HINT}`
        }
      })
    },

    rspack(compiler) {
      const logger = compiler.getInfrastructureLogger(PLUGIN_NAME)
      configure(compiler.context, (msg) => logger.info(msg))
    },

    esbuild: {
      onLoadFilter: esbuildFilter(shared.options.include),
      setup(build) {
        const level = build.initialOptions.logLevel ?? 'warning'
        const root = build.initialOptions.absWorkingDir ?? process.cwd()
        esbuildStates.set(build, {
          root,
          options: resolveOptions(rawOptions, root),
          emitter: createEmitter('esbuild', build),
          logInfo: level === 'info' || level === 'debug' || level === 'verbose' ? (msg) => console.error(`${LOG_PREFIX} ${msg}`) : () => {},
        })
      },
    },
  }
}

/** Include/exclude patterns that also match the id with a query. */
function withQuery(patterns: ResolvedOptions['exclude']): never {
  return (patterns === undefined ? undefined : makeIdFiltersToMatchWithQuery(patterns as string | RegExp | (string | RegExp)[])) as never
}

/** esbuild filters with one RegExp: the include patterns' union when they are all RegExps. */
function esbuildFilter(include: ResolvedOptions['include']): RegExp {
  const list = Array.isArray(include) ? include : [include]
  return list.every((p) => p instanceof RegExp) ? new RegExp(list.map((p) => `(?:${(p as RegExp).source})`).join('|')) : /.*/
}

export const unplugin = /* #__PURE__ */ createUnplugin(unpluginFactory)

export default unplugin
