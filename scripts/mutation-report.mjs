// Writes docs/mutation.md from Stryker's JSON report (reports/mutation/mutation.json, in the
// mutation-testing-report-schema): the source hash, the score overall and per module, and every
// mutant no test detected, with its explanation from docs/mutation-explained.json.
// `node scripts/mutation-report.mjs [report.json ...]`; exits 1 below the target score.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
export const TARGET = 85
const MODULES = ['src/fold/', 'src/graphdef/', 'src/emit/', 'src/io/cache.ts']
const PARTS = ['emit', 'cache', 'graphdef', 'fold']
const UNDETECTED = new Set(['Survived', 'NoCoverage'])
const DETECTED = new Set(['Killed', 'Timeout'])

/** One line of the hash input per file, as `sha256sum` prints it: `<hex>  <path>`. */
export function sourceHash(files) {
  const lines = Object.keys(files)
    .sort()
    .map((f) => `${createHash('sha256').update(files[f]).digest('hex')}  ${f}\n`)
  return createHash('sha256').update(lines.join('')).digest('hex')
}

/** The text a mutant replaces, whitespace collapsed and cut at 100 characters. */
export function originalText(source, { start, end }) {
  const lines = source.split('\n')
  const text = lines.slice(start.line - 1, end.line).join('\n')
  const from = start.column - 1
  const to = text.length - (lines[end.line - 1].length - (end.column - 1))
  return shorten(text.slice(from, to))
}

const shorten = (s) => {
  const t = s.replace(/\s+/g, ' ').trim()
  return t.length > 100 ? `${t.slice(0, 100)}…` : t
}

/**
 * A mutant's key in docs/mutation-explained.json: its file, the text of the line it starts on,
 * the mutator, what it replaces and with what. No line number, so that keys outlive edits above.
 */
export const explanationKey = (file, m) => `${file}: ${m.line} | ${m.mutatorName}: ${m.original} -> ${shorten(m.replacement ?? '')}`

/** A mutant of the report with its file, the text it replaces and its line's text. */
export const withText = (file, source, m) => ({ ...m, file, original: originalText(source, m.location), line: shorten(source.split('\n')[m.location.start.line - 1]) })

function tally(mutants) {
  const t = { Killed: 0, Survived: 0, Timeout: 0, NoCoverage: 0, Ignored: 0, other: 0 }
  for (const m of mutants) if (m.status in t) t[m.status]++; else t.other++
  const detected = t.Killed + t.Timeout
  const valid = detected + t.Survived + t.NoCoverage
  return { ...t, valid, score: valid ? (100 * detected) / valid : NaN }
}

/** One report of several: their files, and the time they took in all. */
export function mergeReports(reports) {
  const total = reports.reduce((a, r) => a + (r.performance?.total ?? 0), 0)
  return { files: Object.assign({}, ...reports.map((r) => r.files)), performance: total ? { total } : undefined }
}

/** The Markdown report: `report` is Stryker's JSON, `explained` maps explanation keys to reasons. */
export function renderReport(report, explained, { date, current } = {}) {
  const files = Object.fromEntries(Object.entries(report.files).map(([f, v]) => [path.relative(ROOT, path.resolve(ROOT, f)).split(path.sep).join('/'), v]))
  const all = Object.entries(files).flatMap(([file, v]) => v.mutants.map((m) => withText(file, v.source, m)))
  const hash = sourceHash(Object.fromEntries(Object.entries(files).map(([f, v]) => [f, v.source])))
  const total = tally(all)
  const row = (name, t) => `| ${name} | ${t.Killed} | ${t.Timeout} | ${t.Survived} | ${t.NoCoverage} | ${t.Ignored} | ${t.valid ? `${t.score.toFixed(2)}%` : 'not run'} |`
  const undetected = all
    .filter((m) => UNDETECTED.has(m.status))
    .sort((a, b) => a.file.localeCompare(b.file) || a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column)
  const cell = (s) => `\`${String(s).replace(/\|/g, '\\|').replace(/`/g, "'")}\``
  const unexplained = undetected.filter((m) => !explained[explanationKey(m.file, m)]).length
  const seconds = report.performance?.total ? ` in ${Math.round(report.performance.total / 1000)} s` : ''
  const stale = current && current !== hash ? `\n**Stale:** the sources have changed since (their hash is now \`${current}\`): run \`npm run mutation\` again.\n` : ''
  return `# Mutation testing

\`npm run mutation\` (StrykerJS, configured in stryker.config.mjs, running the unit tests listed in
vitest.mutation.config.ts) writes this file. The project's target is a score of ${TARGET}% or more on
src/fold, src/graphdef, src/emit and src/io/cache.ts; every mutant no test detects is listed below,
explained in docs/mutation-explained.json or marked **unexplained**.

- Run: ${date ?? new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${all.length} mutants${seconds}.
- Source hash: \`${hash}\`
- Score: **${total.score.toFixed(2)}%** (${total.score >= TARGET ? 'meets' : 'below'} the ${TARGET}% target); ${undetected.length} undetected, ${unexplained} of them unexplained.
${stale}
The hash is sha256 over \`sha256sum\`'s output for the mutated files, sorted by path. To re-check it:

\`\`\`sh
sha256sum ${Object.keys(files).sort().join(' ')} | sha256sum
\`\`\`

Score = detected / valid: detected = killed + timeout, valid = detected + survived + no coverage.
Not valid: mutants that crash the run (${total.other}), and ignored ones: string literals, which are
not mutated (mostly messages and hints; see stryker.config.mjs). Static mutants (code run once, when
its module loads: the protobuf schema tables, the constant folder's op tables) are run, each with a
fresh load and every unit test (\`ignoreStatic: false\` in stryker.config.mjs says why).

| module | killed | timeout | survived | no coverage | ignored | score |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${MODULES.map((m) => row(m, tally(all.filter((x) => x.file.startsWith(m))))).join('\n')}
${row('all', total)}

## Undetected mutants

| where | mutator | original | replacement | status | why no test detects it |
| --- | --- | --- | --- | --- | --- |
${undetected
  .map((m) => `| ${m.file}:${m.location.start.line} | ${m.mutatorName} | ${cell(m.original)} | ${cell(shorten(m.replacement ?? ''))} | ${m.status === 'NoCoverage' ? 'no coverage' : 'survived'} | ${(explained[explanationKey(m.file, m)] ?? '**unexplained**').replace(/\|/g, '\\|')} |`)
  .join('\n')}
`
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  // The parts' reports (stryker.config.mjs, MUTATION_PART), or the given ones; a file in two reports counts from the last.
  const inputs = process.argv.slice(2).length ? process.argv.slice(2) : ['all', ...PARTS].map((p) => path.join(ROOT, `reports/mutation/${p}.json`)).filter((f) => fs.existsSync(f))
  const report = mergeReports(inputs.map((f) => JSON.parse(fs.readFileSync(f, 'utf8'))))
  const explainedFile = path.join(ROOT, 'docs/mutation-explained.json')
  const explained = fs.existsSync(explainedFile) ? JSON.parse(fs.readFileSync(explainedFile, 'utf8')) : {}
  const current = sourceHash(Object.fromEntries(Object.keys(report.files).map((f) => [f, fs.existsSync(path.resolve(ROOT, f)) ? fs.readFileSync(path.resolve(ROOT, f), 'utf8') : ''])))
  const md = renderReport(report, explained, { current })
  const output = path.join(ROOT, 'docs/mutation.md')
  fs.writeFileSync(output, md)
  const score = /Score: \*\*([\d.]+)%/.exec(md)[1]
  console.log(`${path.relative(ROOT, output)}: score ${score}% (target ${TARGET}%) from ${inputs.map((f) => path.relative(ROOT, f)).join(', ')}`)
  if (Number(score) < TARGET) process.exitCode = 1
}
