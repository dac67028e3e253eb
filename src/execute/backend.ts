/**
 * TensorFlow.js for src/execute: tfjs-core with the cpu backend, loaded with import() on first
 * use (an optional peer dependency), and the backend selection shared by the reference and the
 * executor. The wasm backend loads its `.wasm` from its package's dist folder in Node (in a
 * browser, from `wasmPaths` when given, else tfjs's default), single-threaded, so that sums do
 * not depend on scheduling.
 */
import type * as Tfc from '@tensorflow/tfjs-core'
import { MpscnnError } from '../base/errors.js'

export type Backend = 'cpu' | 'wasm'

/** tfjs-backend-wasm's `setWasmPaths` argument: a folder URL prefix, or a URL per `.wasm` file name. */
export type WasmPaths = string | Partial<Record<'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm', string>>

let core: Promise<typeof Tfc> | undefined

/** tfjs-core with the cpu backend registered; MISSING_DEPENDENCY naming `file` when absent. */
export function loadCore(file: string): Promise<typeof Tfc> {
  core ??= (async () => {
    try {
      const tf = await import('@tensorflow/tfjs-core')
      await import('@tensorflow/tfjs-backend-cpu')
      // The cpu backend tells Node users to install tfjs-node on first use: not ours to print.
      tf.env().set('PROD', true)
      return tf
    } catch (e) {
      core = undefined
      throw new MpscnnError('MISSING_DEPENDENCY', file, `running the model needs TensorFlow.js (${(e as Error).message})`, {
        hint: 'npm i -D @tensorflow/tfjs-core @tensorflow/tfjs-backend-cpu @tensorflow/tfjs-backend-wasm',
      })
    }
  })()
  return core
}

let wasmReady: Promise<void> | undefined

const inNode = (): boolean => typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string'

/** Selects the backend (the wasm one loads its .wasm from its package's dist folder in Node, single-threaded). */
export async function useBackend(tf: typeof Tfc, backend: Backend, file: string, wasmPaths?: WasmPaths): Promise<void> {
  const missing = (why: string) =>
    new MpscnnError('MISSING_DEPENDENCY', file, `the TensorFlow.js ${backend} backend ${why}`, { hint: `npm i -D @tensorflow/tfjs-backend-${backend}` })
  if (backend === 'wasm') {
    wasmReady ??= (async () => {
      const wasm = await import('@tensorflow/tfjs-backend-wasm')
      if (wasmPaths !== undefined) wasm.setWasmPaths(wasmPaths)
      else if (inNode()) {
        const [mod, p] = ['node:module', 'node:path']
        const { createRequire } = (await import(/* webpackIgnore: true */ /* @vite-ignore */ mod)) as typeof import('node:module')
        const { dirname, sep } = (await import(/* webpackIgnore: true */ /* @vite-ignore */ p)) as typeof import('node:path')
        wasm.setWasmPaths(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')) + sep)
      }
      // Threads would make sums depend on scheduling.
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false)
    })().catch((e: unknown) => {
      wasmReady = undefined
      throw missing(`cannot be loaded (${(e as Error).message})`)
    })
    await wasmReady
  }
  if (tf.getBackend() !== backend && !(await tf.setBackend(backend))) throw missing('failed to start')
}
