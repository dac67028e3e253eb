/**
 * The unplugin factory: hook wiring only. Conversion lives in pipeline.ts (behind the
 * cache), emission of files per bundler in emit/bundler.ts.
 */
import { createUnplugin, type UnpluginFactory } from 'unplugin'
import { loadModel, type LoadedModel } from './core.js'
import { isMpscnnError } from './errors.js'
import { manifestModule } from './emit/manifest.js'
import { createEmitter, type Emitter } from './emit/bundler.js'
import { resolveOptions, type Options } from './options.js'
import type { ViteDevServer } from 'vite'

export type { Options } from './options.js'
export type { MpscnnLayer, MpscnnManifest, MpscnnTensor } from './runtime.js'
export { MpscnnError } from './errors.js'
export { convertModel } from './convert.js'

export const PLUGIN_NAME = 'unplugin-mpscnn'

export const unpluginFactory: UnpluginFactory<Options | undefined> = (rawOptions, meta) => {
  let root = process.cwd()
  let options = resolveOptions(rawOptions, root)
  let emitter: Emitter | undefined
  let logInfo: (msg: string) => void = () => {}
  let devServer: ViteDevServer | undefined
  /** Vite dev: URL path -> bytes, served by the middleware. */
  const served = new Map<string, Uint8Array>()
  /** Vite dev: model file -> the URL paths of its current version (older ones are dropped). */
  const servedBy = new Map<string, string[]>()
  let devBase = '/'

  const log = (msg: string) => {
    if (!options.quiet) logInfo(msg)
  }

  return {
    name: PLUGIN_NAME,
    enforce: 'pre',

    buildStart() {
      emitter ??= createEmitter(meta.framework, this)
      emitter.reset()
    },

    load: {
      filter: { id: { include: options.include as never, exclude: options.exclude as never } },
      async handler(id) {
        const file = id.replace(/[?#].*$/, '')
        this.addWatchFile(file)
        let model: LoadedModel
        try {
          model = await loadModel(file, options, root, (m) => this.warn(m))
        } catch (e) {
          if (isMpscnnError(e)) {
            // One line, no stack: the message names the file, the node and the fix.
            const err = new Error(e.message) as Error & { code?: string; id?: string; plugin?: string }
            err.code = e.code
            err.id = file
            err.plugin = PLUGIN_NAME
            err.stack = `${err.name}: ${e.message}`
            throw err
          }
          throw e
        }
        for (const w of model.assets.warnings) this.warn(w)
        log(model.summary)
        const { header, plan, files } = model.assets
        let urlOf: (name: string) => string
        if (devServer) {
          const dir = `${devBase}@mpscnn/${header.sha256.slice(0, 16)}/`
          for (const old of servedBy.get(file) ?? []) served.delete(old)
          for (const [name, bytes] of files) served.set(dir + name, bytes)
          servedBy.set(file, [...files.keys()].map((name) => dir + name))
          urlOf = (name) => JSON.stringify(dir + name)
        } else {
          emitter ??= createEmitter(meta.framework, this)
          urlOf = emitter.emitAll(this, file, files, options.hash)
        }
        return { code: manifestModule(header, plan, urlOf), map: { mappings: '' } }
      },
    },

    vite: {
      configResolved(config) {
        root = config.root
        options = resolveOptions(rawOptions, root)
        devBase = config.base.endsWith('/') ? config.base : `${config.base}/`
        logInfo = (msg) => config.logger.info(`[mpscnn] ${msg}`, { timestamp: true })
      },
      configureServer(server) {
        devServer = server
        server.middlewares.use((req, res, next) => {
          const url = req.url?.split('?')[0]
          const bytes = url ? served.get(url) : undefined
          if (!bytes) return next()
          res.setHeader('Content-Type', 'application/octet-stream')
          res.setHeader('Content-Length', String(bytes.byteLength))
          res.setHeader('Cache-Control', 'no-cache')
          res.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
        })
      },
    },

    rollup: {
      options() {
        const ctx = this as unknown as { info?: (m: string) => void }
        logInfo = (msg) => ctx.info?.(msg)
      },
    },

    webpack(compiler) {
      root = compiler.context
      options = resolveOptions(rawOptions, root)
      const logger = compiler.getInfrastructureLogger(PLUGIN_NAME)
      logInfo = (msg) => logger.info(msg)
    },

    rspack(compiler) {
      root = compiler.context
      options = resolveOptions(rawOptions, root)
      const logger = compiler.getInfrastructureLogger(PLUGIN_NAME)
      logInfo = (msg) => logger.info(msg)
    },

    esbuild: {
      onLoadFilter: /\.pb(txt)?$/,
      setup(build) {
        const level = build.initialOptions.logLevel ?? 'warning'
        if (level === 'info' || level === 'debug' || level === 'verbose') logInfo = (msg) => console.error(`[mpscnn] ${msg}`)
        root = build.initialOptions.absWorkingDir ?? process.cwd()
        options = resolveOptions(rawOptions, root)
        emitter = createEmitter('esbuild', undefined, build)
      },
    },
  }
}

export const unplugin = /* #__PURE__ */ createUnplugin(unpluginFactory)

export default unplugin
