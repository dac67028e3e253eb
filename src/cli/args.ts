/**
 * Command lines: each command declares its flags once (a `Command`), from which come the
 * parser's options (node:util parseArgs: nothing to load at start-up), its `--help` text,
 * and "did you mean" for a mistyped option or command.
 */
import { parseArgs } from 'node:util'

/** A wrong command line: exits 2, printing `mpscnn: <message>` and the command's usage on stderr. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to print. */
    readonly command: Command,
  ) {
    super(message)
  }
}

interface Flag {
  /** Without the dashes: `out-dir`. */
  name: string
  /** One letter, without the dash. */
  short?: string
  /** The value's placeholder for a flag that takes one (`DIR`); none for a switch. */
  value?: string
  /** Its line in `--help`. */
  help: string
}

export interface Command {
  /** As typed after `mpscnn`: `convert`, `cache clean`; '' for `mpscnn` itself. */
  name: string
  /** What follows the name in the usage line: `<model.pb|model.pbtxt> [options]`. */
  args: string
  /** One line, shown in the list of its parent's subcommands. */
  summary: string
  /** Paragraphs shown under the usage line in `--help`. */
  about?: string
  flags: Flag[]
  subcommands?: Command[]
  /** Shown after the flags in `--help` (exit statuses, ...). */
  notes?: string
  /** [command line, what it does]. */
  examples: [string, string][]
}

const HELP_FLAG: Flag = { name: 'help', short: 'h', help: 'show this help' }

function usageLines(cmd: Command): string[] {
  const own = `mpscnn${cmd.name ? ` ${cmd.name}` : ''}${cmd.args ? ` ${cmd.args}` : ''}`
  return cmd.subcommands ? cmd.subcommands.flatMap(usageLines) : [own]
}

function columns(rows: [string, string][], indent = '  '): string {
  const width = Math.max(...rows.map(([a]) => a.length)) + 2
  return rows.map(([a, b]) => `${indent}${a.padEnd(width)}${b}`.trimEnd().replace(/\n/g, `\n${indent}${' '.repeat(width)}`)).join('\n')
}

function flagLabel(f: Flag): string {
  return `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.value ? ` ${f.value}` : ''}`
}

/** The full `--help` text of a command. */
export function helpText(cmd: Command): string {
  const parts = [`Usage:\n${usageLines(cmd).map((l) => `  ${l}`).join('\n')}`]
  if (cmd.about) parts.push(cmd.about)
  if (cmd.subcommands) parts.push(`Commands:\n${columns(cmd.subcommands.map((s) => [s.name.slice(cmd.name ? cmd.name.length + 1 : 0), s.summary]))}`)
  parts.push(`Options:\n${columns([...cmd.flags, HELP_FLAG].map((f) => [flagLabel(f), f.help]))}`)
  if (cmd.notes) parts.push(cmd.notes)
  parts.push(`Examples:\n${cmd.examples.map(([line, what]) => `  # ${what}\n  ${line}`).join('\n')}`)
  return `${parts.join('\n\n')}\n`
}

/** What a usage error prints after its message: the usage lines and where to find more. */
export function shortUsage(cmd: Command): string {
  const help = `mpscnn${cmd.name ? ` ${cmd.name}` : ''} --help`
  return `Usage:\n${usageLines(cmd).map((l) => `  ${l}`).join('\n')}\nRun "${help}" for the options and examples.\n`
}

/** Edit distance (insertions, deletions, substitutions, transpositions of neighbours). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/** ` (did you mean --out-dir?)` for the known name nearest to `given`, or '' when none is near. */
export function didYouMean(given: string, known: string[], prefix = ''): string {
  let best: string | undefined
  let bestScore = Infinity
  for (const k of known) {
    // A prefix (`--out` for `--out-dir`) is as near as a one-letter slip.
    const score = k.startsWith(given) && given.length >= 2 ? 1 : distance(given.toLowerCase(), k)
    if (score < bestScore) [best, bestScore] = [k, score]
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(best.length / 3)) ? ` (did you mean ${prefix}${best}?)` : ''
}

interface Parsed {
  /** Each given flag's value: a string for a flag with a value, true for a switch. */
  values: Record<string, string | true>
  /** Every value of each flag with a value, in order (a flag given several times: `--image a --image b`). */
  lists: Record<string, string[]>
  positionals: string[]
  /** `-h` / `--help` was given: print the help, ignore the rest. */
  help: boolean
}

/** Parses a command's arguments (after its name); wrong ones throw one UsageError. */
export function parseCommand(cmd: Command, args: string[]): Parsed {
  const flags = [...cmd.flags, HELP_FLAG]
  const options = Object.fromEntries(flags.map((f) => [f.name, { type: f.value ? ('string' as const) : ('boolean' as const), ...(f.short ? { short: f.short } : {}) }]))
  // Not strict: its errors are long and name no alternative; the tokens are checked here.
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true })
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return { values: {}, lists: {}, positionals: [], help: true }
  const values: Record<string, string | true> = {}
  const lists: Record<string, string[]> = {}
  const positionals: string[] = []
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value)
    if (t.kind !== 'option') continue
    const flag = flags.find((f) => f.name === t.name)
    if (!flag) throw new UsageError(`unknown option ${t.rawName}${didYouMean(t.name, cmd.flags.map((f) => f.name), '--')}`, cmd)
    if (!flag.value) {
      if (t.value !== undefined) throw new UsageError(`${t.rawName} takes no value (got ${JSON.stringify(t.value)})`, cmd)
      values[flag.name] = true
    } else if (t.value === undefined || (!t.inlineValue && t.value.startsWith('-'))) {
      // `--out-dir --packed` is a forgotten value, not a folder named "--packed".
      throw new UsageError(`${t.rawName} needs a value (${t.rawName} ${flag.value})`, cmd)
    } else {
      values[flag.name] = t.value
      ;(lists[flag.name] ??= []).push(t.value)
    }
  }
  return { values, lists, positionals, help: false }
}
