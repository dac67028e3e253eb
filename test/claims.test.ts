/**
 * docs/claims.md maps each claim of the README to the tests that pin it. This keeps it honest
 * mechanically: every cited test exists, every error code and option of the README is in it.
 * And the claims that are plain values read from the README itself: each option's default,
 * and the Node version.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CONVERT } from '../src/cli/convert.js'
import { resolveOptions } from '../src/plugin/options.js'

const repo = path.resolve(__dirname, '..')
const read = (f: string) => fs.readFileSync(path.join(repo, f), 'utf8')
const readme = read('README.md')

/** The rows of the first Markdown table after `heading` in `text`, as cells (header and rule left out). */
function table(text: string, heading: string): string[][] {
  const at = text.indexOf(`\n${heading}\n`)
  if (at < 0) throw new Error(`no heading ${heading}`)
  const lines = text.slice(at).split('\n')
  const start = lines.findIndex((l) => l.startsWith('|'))
  const rows: string[][] = []
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break
    rows.push(l.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()))
  }
  return rows
}

/** Every title of an it/test/describe call in `source`, and every `name: '...'` of a table of cases. */
function titles(source: string): string[] {
  const out: string[] = []
  const call = /\b(?:it|test|describe)(?:\.\w+(?:\([^()]*\))?)*\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g
  const named = /\bname: (['"`])((?:\\.|(?!\1)[^\\])*)\1/g
  for (const re of [call, named]) for (const m of source.matchAll(re)) out.push(m[2].replace(/\\(.)/g, '$1'))
  return out
}

/** The `test/file` "words" citations of a cell. */
const citations = (cell: string) => [...cell.matchAll(/`(test\/[^`]+)` "([^"]+)"/g)].map((m) => ({ file: m[1], words: m[2] }))

/** Every row of every table of docs/claims.md: claim and where it is pinned. */
function claimRows(text: string): { claim: string; pinned: string }[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| section |'))
    .map((l) => l.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()))
    .map(([, claim, pinned]) => ({ claim, pinned }))
}

/** What is wrong with the citations of `claims` (a docs/claims.md text), one line per problem. */
function dishonesty(claims: string): string[] {
  const problems: string[] = []
  const cache = new Map<string, string[] | null>()
  const titlesOf = (file: string) => {
    if (!cache.has(file)) cache.set(file, fs.existsSync(path.join(repo, file)) ? titles(read(file)) : null)
    return cache.get(file)
  }
  for (const { claim, pinned } of claimRows(claims)) {
    const cited = citations(pinned ?? '')
    if (cited.length === 0 && !/not tested/.test(pinned ?? '')) problems.push(`"${claim}": neither a test nor "not tested"`)
    for (const { file, words } of cited) {
      const all = titlesOf(file)
      if (!all) problems.push(`"${claim}": ${file} does not exist`)
      else if (!all.some((t) => t.includes(words))) problems.push(`"${claim}": no test in ${file} is named with "${words}"`)
    }
  }
  return problems
}

describe('docs/claims.md', () => {
  const claims = read('docs/claims.md')

  it('cites only tests that exist, by words of their names', () => {
    expect(claimRows(claims).length).toBeGreaterThan(100)
    expect(dishonesty(claims)).toEqual([])
  })

  it('the check names a missing file, a test name that is not there, and a row that cites nothing', () => {
    const rows = [
      '| s | a | `test/no-such.test.ts` "anything" | |',
      '| s | b | `test/claims.test.ts` "no test is called this" | |',
      '| s | c | by reading the code | |',
      '| s | d | not tested: too slow | |',
      '| s | e | `test/claims.test.ts` "cites only tests that exist" | |',
    ]
    expect(dishonesty(rows.join('\n'))).toEqual(['"a": test/no-such.test.ts does not exist', '"b": no test in test/claims.test.ts is named with "no test is called this"', '"c": neither a test nor "not tested"'])
  })

  it("names every error code of the README's Errors table and every option of its Options table", () => {
    const codes = table(readme, '## Errors').flatMap(([c]) => [...c.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]))
    const options = table(readme, '## Options').map(([o]) => o.replace(/`/g, ''))
    expect(codes.length).toBeGreaterThan(30)
    expect(options.length).toBeGreaterThan(10)
    const claimed = claimRows(claims).map((r) => r.claim).join('\n')
    expect(codes.filter((c) => !claimed.includes(`\`${c}\``))).toEqual([])
    expect(options.filter((o) => !claimed.includes(`\`${o}\``))).toEqual([])
  })
})

describe('README values', () => {
  /** A default as the README spells it: `'float32'`, `[/\.pb$/, /\.pbtxt$/]`, `2147483648` (2 GiB). */
  const spell = (v: unknown): string =>
    v === undefined ? 'undefined' : Array.isArray(v) ? `[${v.map(spell).join(', ')}]` : typeof v === 'string' ? `'${v}'` : String(v)

  it("every option of the README's table has the default it states", () => {
    const root = '/app'
    const r = resolveOptions({}, root)
    const actual: Record<string, unknown> = { ...r, network: r.network.network, inputShape: r.network.inputShape, outputs: r.network.outputs, cacheDir: path.relative(root, r.cacheDir) }
    const rows = table(readme, '## Options')
    expect(rows.map(([o]) => o.replace(/`/g, '')).sort()).toEqual(Object.keys(actual).sort())
    for (const [option, stated] of rows) {
      const name = option.replace(/`/g, '')
      // The value in backticks; a path is written without quotes.
      const value = /^`([^`]+)`/.exec(stated)![1]
      const expected = name === 'cacheDir' ? `'${value}'` : value
      expect(spell(actual[name]), name).toBe(expected)
    }
  })

  it('the defaults of verify', () => {
    const [, , what] = table(readme, '## Options').find(([o]) => o === '`verify`')!
    const stated = /`\{ samples: (\d+), seed: (\d+), tolerance, backend: '(\w+)' \}`/.exec(what)
    expect(stated, what).not.toBeNull()
    expect(resolveOptions({ verify: true }).verify).toEqual({ samples: Number(stated![1]), seed: Number(stated![2]), tolerance: undefined, backend: stated![3] })
  })

  it("the Compatibility table: each bundler's peer range, and the oldest and newest versions installed for the tests", () => {
    const pkg = JSON.parse(read('package.json')) as { peerDependencies: Record<string, string>; devDependencies: Record<string, string> }
    const installed = (name: string) => (JSON.parse(read(`node_modules/${name}/package.json`)) as { version: string }).version
    const packages: Record<string, string> = { Vite: 'vite', Rollup: 'rollup', webpack: 'webpack', 'Rspack (`@rspack/core`)': '@rspack/core', esbuild: 'esbuild' }
    const rows = table(readme, '## Compatibility')
    expect(rows.map(([b]) => b)).toEqual(Object.keys(packages))
    for (const [bundler, range, versions] of rows) {
      const name = packages[bundler]
      const alias = Object.keys(pkg.devDependencies).find((d) => pkg.devDependencies[d].startsWith(`npm:${name}@`))!
      expect(range.replace(/\\\|/g, '|'), bundler).toBe(`\`${pkg.peerDependencies[name]}\``)
      expect(versions, bundler).toBe(`${installed(alias)}, ${installed(name)}`)
    }
  })

  it('the Errors table lists the codes src/ raises, and only codes that src/ has', () => {
    const listed = new Set(table(readme, '## Errors').flatMap(([c]) => [...c.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1])))
    const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]))
    const sources = walk(path.join(repo, 'src')).filter((f) => f.endsWith('.ts')).map((f) => fs.readFileSync(f, 'utf8'))
    // Raised: the first argument of new MpscnnError(...) or of the helpers that make one (error, refuse).
    const raised = new Set(sources.flatMap((s) => [...s.matchAll(/(?:MpscnnError|\berror)\(\s*'([A-Z][A-Z_]+)'|\brefuse\(\s*\w+,\s*'([A-Z][A-Z_]+)'/g)].map((m) => m[1] ?? m[2])))
    expect(raised.size).toBeGreaterThan(30)
    expect([...raised].filter((c) => !listed.has(c))).toEqual([])
    expect([...listed].filter((c) => !sources.some((s) => s.includes(`'${c}'`)))).toEqual([])
  })

  it("the CLI's flag table lists exactly the flags of mpscnn convert", () => {
    const inReadme = table(readme, '## CLI').flatMap(([flags]) => [...flags.matchAll(/`(-[^`]+)`/g)].flatMap((m) => m[1].split(/,?\s+/).filter((f) => f.startsWith('-'))))
    const inCli = [...CONVERT.flags.flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]), '-h', '--help']
    expect([...new Set(inReadme)].sort()).toEqual(inCli.sort())
  })

  it('every source file and folder the README names exists (src/ may be left out of a module path)', () => {
    const named = [...readme.matchAll(/[`(]([\w.-]+(?:\/[\w.-]+)+\.(?:ts|mjs|js|wat))[`)]/g)].map((m) => m[1])
    const folders = [...readme.matchAll(/`((?:src|test)\/[\w/-]+\/)`/g)].map((m) => m[1])
    expect(named.length).toBeGreaterThan(30)
    const missing = [...named, ...folders].filter((p) => !fs.existsSync(path.join(repo, p)) && !fs.existsSync(path.join(repo, 'src', p)))
    expect(missing).toEqual([])
  })

  it('the TensorFlow.js packages verify needs are optional peer dependencies, at the version the README names', () => {
    const pkg = JSON.parse(read('package.json')) as { peerDependencies: Record<string, string>; peerDependenciesMeta: Record<string, { optional?: boolean }> }
    const m = /`@tensorflow\/tfjs-core`, `-backend-cpu`, `-backend-wasm` and `-converter` \((\d+\.\d+)\)/.exec(readme)
    expect(m).not.toBeNull()
    const tfjs = Object.keys(pkg.peerDependencies).filter((d) => d.startsWith('@tensorflow/'))
    expect(tfjs.sort()).toEqual(['core', 'backend-cpu', 'backend-wasm', 'converter'].map((p) => `@tensorflow/tfjs-${p}`).sort())
    for (const d of tfjs) expect([d, pkg.peerDependencies[d], pkg.peerDependenciesMeta[d]?.optional]).toEqual([d, `^${m![1]}.0`, true])
  })

  it("the Node version the README names is the package's engines field", () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node
    const stated = /Node >= (\d+\.\d+)/.exec(readme)![1]
    expect(engines).toBe(`>=${stated}.0`)
    for (const m of readme.matchAll(/Node >= (\d+\.\d+)/g)) expect(m[1]).toBe(stated)
  })
})
