/**
 * `unplugin-mpscnn/execute`: runs a converted network with MPS semantics on TensorFlow.js
 * (an optional peer dependency: `@tensorflow/tfjs-core`, `-backend-cpu`, `-backend-wasm`).
 * docs/executor.md.
 */
export { createExecutor, type Executor, type ExecutorOptions, type ExecutorTensor, type RunOptions } from './executor.js'
export type { Backend } from './backend.js'
export { verify, TOLERANCE, type VerifyOptions, type VerifyReport, type OutputReport, type SampleReport } from './verify.js'
export type { VerifyImage } from './image.js'
