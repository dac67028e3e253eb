/**
 * The `mpscnn` command: dispatches to a command (convert.ts, cache.ts) and prints what
 * went wrong as one line. `mpscnn --help` and each command's `--help` list its options
 * and examples (args.ts).
 */
import type { Worker } from 'node:worker_threads'
import { isMpscnnError } from '../base/errors.js'
import { didYouMean, helpText, shortUsage, UsageError, type Command } from './args.js'
import { CACHE, cacheCommand } from './cache.js'
import { CONVERT, convertCommand, type ConvertTuning } from './convert.js'
import { keepSpareWorker } from '../parallel/layout-helper.js'
import { VERIFY, verifyCommand } from './verify.js'

const MPSCNN: Command = {
  name: '',
  args: '',
  summary: '',
  about: `Converts TensorFlow frozen GraphDefs (.pb, .pbtxt) into Metal Performance Shaders weight files
(.dat) and a manifest.json, as the unplugin-mpscnn bundler plugin does at build time.`,
  flags: [{ name: 'version', short: 'v', help: "print mpscnn's version" }],
  subcommands: [CONVERT, VERIFY, CACHE],
  notes: 'Run "mpscnn <command> --help" (or "mpscnn help <command>") for its options and examples.',
  examples: [
    ['mpscnn convert inception_v3.pb', 'convert into inception_v3-mpscnn/'],
    ['mpscnn convert --help', 'the options of convert, with more examples'],
    ['mpscnn cache clean', "empty the plugin's build cache"],
  ],
}

const COMMANDS = new Map<string, Command>([['convert', CONVERT], ['verify', VERIFY], ['cache', CACHE], ['cache clean', CACHE.subcommands![0]]])

const print = (text: string) => void process.stdout.write(text)

async function run(argv: string[], tuning: ConvertTuning): Promise<number> {
  const [cmd, ...rest] = argv
  if (cmd === undefined) throw new UsageError('no command given', MPSCNN)
  if (cmd === '--help' || cmd === '-h') {
    print(helpText(MPSCNN))
    return 0
  }
  if (cmd === '--version' || cmd === '-v') {
    // Loaded here only: version.js reads package.json when it loads.
    const { packageVersion } = await import('../base/version.js')
    print(`${packageVersion()}\n`)
    return 0
  }
  if (cmd === 'help') {
    const topic = COMMANDS.get(rest.join(' ')) ?? (rest.length ? undefined : MPSCNN)
    if (!topic) throw new UsageError(`no command "${rest.join(' ')}"${didYouMean(rest.join(' '), [...COMMANDS.keys()])}`, MPSCNN)
    print(helpText(topic))
    return 0
  }
  if (cmd === 'convert') return await convertCommand(rest, print, tuning)
  if (cmd === 'cache') return await cacheCommand(rest, print)
  if (cmd === 'verify') return await verifyCommand(rest, print)
  if (cmd.startsWith('-')) throw new UsageError(`unknown option ${cmd}${didYouMean(cmd.replace(/^-+/, ''), ['help', 'version'], '--')}`, MPSCNN)
  throw new UsageError(`unknown command "${cmd}"${didYouMean(cmd, ['convert', 'verify', 'cache', 'help'])}`, MPSCNN)
}

/**
 * Runs the CLI. `layoutWorker`: a layout worker started early by the caller
 * (bin/mpscnn.js), for a large model to use (see parallel/layout-helper.ts). `tuning`: how a
 * conversion spreads its work over the two threads.
 */
export async function main(argv: string[], layoutWorker?: Worker, tuning: ConvertTuning = {}): Promise<number> {
  if (layoutWorker) keepSpareWorker(layoutWorker)
  try {
    return await run(argv, tuning)
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`mpscnn: ${e.message}\n${shortUsage(e.command)}`)
      return 2
    }
    if (isMpscnnError(e)) {
      process.stderr.write(`mpscnn: ${e.message}\n`)
      return 1
    }
    const err = e as NodeJS.ErrnoException
    if (err && typeof err.code === 'string' && err.syscall) {
      process.stderr.write(`mpscnn: ${err.message}\n`)
      return 1
    }
    process.stderr.write(`mpscnn: internal error: ${(e as Error)?.message ?? String(e)} (please report it; set MPSCNN_DEBUG=1 for a stack trace)\n`)
    if (process.env.MPSCNN_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`)
    return 1
  }
}
