/** `mpscnn cache clean [--cache-dir DIR]`: empties the bundler plugin's build cache. */
import path from 'node:path'
import { plural } from '../base/format.js'
import { cleanCache } from '../io/cache.js'
import { resolveOptions } from '../plugin/options.js'
import { didYouMean, helpText, parseCommand, UsageError, type Command } from './args.js'

const CLEAN: Command = {
  name: 'cache clean',
  args: '[--cache-dir DIR]',
  summary: "empty the plugin's build cache",
  about: `Removes the cache's entries, its path index and the temporary files of killed builds, then the
folder once empty. A folder holding anything else is refused (NOT_A_CACHE) and nothing in it is removed.`,
  flags: [{ name: 'cache-dir', value: 'DIR', help: 'the cache folder (default: node_modules/.cache/unplugin-mpscnn,\nthe plugin\'s cacheDir default)' }],
  examples: [
    ['mpscnn cache clean', 'empty node_modules/.cache/unplugin-mpscnn'],
    ['mpscnn cache clean --cache-dir .cache/mpscnn', 'empty the cache of a build configured with cacheDir: ".cache/mpscnn"'],
  ],
}

export const CACHE: Command = {
  name: 'cache',
  args: '<command>',
  summary: "manage the bundler plugin's build cache",
  flags: [],
  subcommands: [CLEAN],
  examples: CLEAN.examples,
}

/** `mpscnn cache ...`: the arguments after `cache`. */
export async function cacheCommand(argv: string[], print: (text: string) => void): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === 'clean') {
    const { values, positionals, help } = parseCommand(CLEAN, rest)
    if (help) {
      print(helpText(CLEAN))
      return 0
    }
    if (positionals.length) throw new UsageError(`cache clean takes no arguments (got ${JSON.stringify(positionals[0])})`, CLEAN)
    const dir = values['cache-dir']
    const cacheDir = typeof dir === 'string' ? path.resolve(dir) : resolveOptions({}).cacheDir
    const removed = await cleanCache(cacheDir)
    print(`mpscnn: removed ${plural(removed, 'cache entry', 'cache entries')} from ${cacheDir}\n`)
    return 0
  }
  const { help } = parseCommand(CACHE, sub === undefined ? [] : [sub])
  if (help) {
    print(helpText(CACHE))
    return 0
  }
  throw new UsageError(sub === undefined ? 'cache needs a command: clean' : `unknown command "cache ${sub}"${didYouMean(sub, ['clean'])}`, CACHE)
}
