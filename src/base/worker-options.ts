/**
 * The `execArgv` of the worker threads this package starts. A worker inherits the
 * process's options by default, and Node refuses to start one that inherits
 * `--input-type` (given to run `node --input-type=module -e ...`): that option is for the
 * entry point only. Passing a filtered list instead is no way out, as Node rejects V8 and
 * per-process options (`--expose-gc`, ...) in an explicit `execArgv`. So a worker of a
 * process started with `--input-type` gets no options at all; these workers load plain
 * JavaScript of this package and need none. Any other process's options are inherited.
 */
export function workerExecArgv(): string[] | undefined {
  return process.execArgv.some((a) => a === '--input-type' || a.startsWith('--input-type=')) ? [] : undefined
}
