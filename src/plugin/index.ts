/**
 * The unplugin factory: hook wiring only. Conversion lives in ../pipeline (behind the
 * cache, core.ts), emission of files per bundler in bundler.ts.
 */
import { createUnplugin, type UnpluginFactory } from 'unplugin'
import { cacheWritesSettled, loadModel, type LoadedModel } from './core.js'
import { isMpscnnError } from '../base/errors.js'
import { manifestModule } from '../emit/manifest.js'
import { createEmitter, type Emitter } from './bundler.js'
import { resolveOptions, type Options, type ResolvedOptions } from './options.js'
import { DevAssets } from './dev-server.js'

export type { Options } from './options.js'
export type { MpscnnLayer, MpscnnManifest, MpscnnNetwork, MpscnnNetworkNode, MpscnnTensor } from '../base/manifest-types.js'
export { MpscnnError } from '../base/errors.js'

export const PLUGIN_NAME = 'unplugin-mpscnn'

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
      filter: { id: { include: shared.options.include as never, exclude: shared.options.exclude as never } },
      async handler(id) {
        const file = id.replace(/[?#].*$/, '')
        const state = stateOf(this)
        this.addWatchFile(file)
        let model: LoadedModel
        try {
          model = await loadModel(file, state.options, state.root, (m) => this.warn(m))
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
        const { header, plan, files } = model.assets
        let urlOf: (name: string) => string
        if (dev) urlOf = dev.serve(file, header.sha256, files)
        else {
          state.emitter ??= createEmitter(meta.framework)
          urlOf = state.emitter.emitAll(this, file, files, state.options.hash)
        }
        return { code: manifestModule(header, plan, urlOf, model.assets.network), map: { mappings: '' } }
      },
    },

    vite: {
      configResolved(config) {
        configure(config.root, (msg) => config.logger.info(`[mpscnn] ${msg}`, { timestamp: true }))
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
      options() {
        const ctx = this as unknown as { info?: (m: string) => void }
        shared.logInfo = (msg) => ctx.info?.(msg)
      },
    },

    webpack(compiler) {
      const logger = compiler.getInfrastructureLogger(PLUGIN_NAME)
      configure(compiler.context, (msg) => logger.info(msg))
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
          logInfo: level === 'info' || level === 'debug' || level === 'verbose' ? (msg) => console.error(`[mpscnn] ${msg}`) : () => {},
        })
      },
    },
  }
}

/** esbuild filters with one RegExp: the include patterns' union when they are all RegExps. */
function esbuildFilter(include: ResolvedOptions['include']): RegExp {
  const list = Array.isArray(include) ? include : [include]
  return list.every((p) => p instanceof RegExp) ? new RegExp(list.map((p) => `(?:${(p as RegExp).source})`).join('|')) : /.*/
}

export const unplugin = /* #__PURE__ */ createUnplugin(unpluginFactory)

export default unplugin
