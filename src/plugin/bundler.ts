/**
 * Putting converted files into a bundler's output, and the JavaScript expression for
 * each one's URL. Vite and Rollup use their own asset pipeline (content-hashed names,
 * `base`, `import.meta.ROLLUP_FILE_URL_*`); webpack and Rspack emit compilation assets
 * under the public path; esbuild has no asset API, so files are held until the build
 * ends and written (or added to `outputFiles`) only when it succeeded.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { PluginBuild } from 'esbuild'
import { modelStem, safeStem, urlPath } from '../emit/assets.js'

type EmitContext = {
  emitFile?: (f: { type: 'asset'; name?: string; fileName?: string; source: Uint8Array }) => string | void
  getNativeBuildContext?: () => { loaderContext?: { emitFile?: (name: string, content: Buffer) => void } } | undefined
}

export interface Emitter {
  /** Emits every file of one model; returns the URL expression of each file name. */
  emitAll(ctx: unknown, modelFile: string, files: Map<string, Uint8Array>, hash: boolean): (name: string) => string
}

function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 8)
}

/** The folder of a model's files with `hash: false`: `<model>/`, made portable like the files. */
function modelFolder(modelFile: string): string {
  return `${safeStem(modelStem(modelFile))}/`
}

/** Output path of a file when the bundler does not name assets itself. */
function assetFileName(modelFile: string, name: string, bytes: Uint8Array, hash: boolean): string {
  if (!hash) return modelFolder(modelFile) + name
  const ext = path.extname(name)
  return `assets/${name.slice(0, name.length - ext.length)}-${contentHash(bytes)}${ext}`
}

function rollupEmitter(): Emitter {
  return {
    emitAll(ctx, modelFile, files, hash) {
      const emit = (ctx as EmitContext).emitFile!
      const refs = new Map<string, string>()
      for (const [name, source] of files) {
        const ref = hash
          ? emit({ type: 'asset', name, source })
          : emit({ type: 'asset', fileName: modelFolder(modelFile) + name, source })
        refs.set(name, ref as string)
      }
      return (name) => `import.meta.ROLLUP_FILE_URL_${refs.get(name)}`
    },
  }
}

function webpackEmitter(): Emitter {
  return {
    emitAll(ctx, modelFile, files, hash) {
      const c = ctx as EmitContext
      // The loader's own emitFile records the assets on the module, so that webpack
      // emits them again when a watch rebuild takes the module from its cache.
      const loader = c.getNativeBuildContext?.()?.loaderContext
      const names = new Map<string, string>()
      for (const [name, source] of files) {
        const fileName = assetFileName(modelFile, name, source, hash)
        if (loader?.emitFile) loader.emitFile(fileName, Buffer.from(source.buffer, source.byteOffset, source.byteLength))
        else c.emitFile!({ type: 'asset', fileName, source })
        names.set(name, fileName)
      }
      return (name) => `__webpack_public_path__ + ${JSON.stringify(urlPath(names.get(name)!))}`
    },
  }
}

function esbuildEmitter(build: PluginBuild): Emitter {
  let pending = new Map<string, Uint8Array>()
  const o = build.initialOptions
  const outdir = o.outdir ?? (o.outfile ? path.dirname(o.outfile) : undefined)
  const absOut = outdir ? path.resolve(o.absWorkingDir ?? process.cwd(), outdir) : undefined
  build.onStart(() => {
    pending = new Map()
  })
  build.onEnd(async (result) => {
    const files = pending
    pending = new Map()
    if (result.errors.length > 0 || !absOut) return // a failed build leaves nothing behind
    if (o.write === false) {
      for (const [fileName, contents] of files) {
        const p = path.join(absOut, fileName)
        result.outputFiles?.push({ path: p, contents, hash: contentHash(contents), get text() { return new TextDecoder().decode(contents) } })
      }
      return
    }
    for (const [fileName, contents] of files) {
      const p = path.join(absOut, fileName)
      await fs.promises.mkdir(path.dirname(p), { recursive: true })
      const tmp = `${p}.${process.pid}.tmp`
      await fs.promises.writeFile(tmp, contents)
      await fs.promises.rename(tmp, p)
    }
  })
  return {
    emitAll(_ctx, modelFile, files, hash) {
      if (!absOut) {
        throw new Error(`unplugin-mpscnn: esbuild needs outdir or outfile to emit the weights of ${modelFile}`)
      }
      const names = new Map<string, string>()
      for (const [name, source] of files) {
        const fileName = assetFileName(modelFile, name, source, hash)
        pending.set(fileName, source)
        names.set(name, fileName)
      }
      const pub = o.publicPath
      const url = (name: string) => urlPath(names.get(name)!)
      if (pub) return (name) => JSON.stringify(`${pub.replace(/\/?$/, '/')}${url(name)}`)
      if (o.format === 'esm') return (name) => `new URL(${JSON.stringify(`./${url(name)}`)}, import.meta.url).href`
      return (name) => JSON.stringify(`./${url(name)}`)
    },
  }
}

export function createEmitter(framework: string, build?: PluginBuild): Emitter {
  if (framework === 'esbuild') {
    if (!build) throw new Error('unplugin-mpscnn: esbuild emitter needs the build')
    return esbuildEmitter(build)
  }
  if (framework === 'webpack' || framework === 'rspack') return webpackEmitter()
  return rollupEmitter()
}
