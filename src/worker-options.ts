/**
 * Options for the worker threads this package starts. A worker inherits the process's
 * `execArgv`, and Node refuses to start one that inherits `--input-type` (given to run
 * `node --input-type=module -e ...`): that flag is for the entry point only.
 */
export function workerExecArgv(): string[] {
  const out: string[] = []
  const argv = process.execArgv
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--input-type') i++ // its value is the next argument
    else if (!argv[i].startsWith('--input-type=')) out.push(argv[i])
  }
  return out
}
