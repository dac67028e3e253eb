/**
 * scripts/mutation-report.mjs, which writes docs/mutation.md from Stryker's JSON reports: the
 * score counts, the source hash a reader can re-check with sha256sum, and explanations found by
 * the mutant's text whatever line it moved to.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
// @ts-expect-error: a plain .mjs script, without types
import { explanationKey, mergeReports, renderReport, sourceHash, withText } from '../scripts/mutation-report.mjs'

const sha = (s: string) => createHash('sha256').update(s).digest('hex')
const at = (line: number, column: number, length: number) => ({ start: { line, column }, end: { line, column: column + length } })
const source = 'const a = 1\nif (a > 0) f()\n'
const mutant = (id: string, status: string, location = at(2, 5, 5), mutatorName = 'EqualityOperator', replacement = 'a >= 0') => ({ id, status, location, mutatorName, replacement })

describe('mutation report', () => {
  it('hashes what `sha256sum <files sorted> | sha256sum` prints', () => {
    expect(sourceHash({ 'src/b.ts': 'B', 'src/a.ts': 'A' })).toBe(sha(`${sha('A')}  src/a.ts\n${sha('B')}  src/b.ts\n`))
  })

  it('scores detected / valid per module, lists the undetected, and finds explanations by text, not line', () => {
    const report = mergeReports([
      { files: { 'src/emit/x.ts': { source, mutants: [mutant('1', 'Killed'), mutant('2', 'Timeout'), mutant('3', 'Survived'), mutant('4', 'Ignored'), mutant('5', 'RuntimeError')] } }, performance: { total: 2000 } },
      { files: { 'src/io/cache.ts': { source, mutants: [mutant('6', 'NoCoverage', at(1, 11, 1), 'ArithmeticOperator', '2')] } }, performance: { total: 3000 } },
    ])
    const moved = `// a line above\n${source}`
    const key = explanationKey('src/emit/x.ts', withText('src/emit/x.ts', moved, mutant('3', 'Survived', at(3, 5, 5))))
    expect(key).toBe('src/emit/x.ts: if (a > 0) f() | EqualityOperator: a > 0 -> a >= 0')
    const md = renderReport(report, { [key]: 'equivalent here' }, { date: 'D' })
    expect(md).toContain('- Run: D UTC, 6 mutants in 5 s.')
    expect(md).toContain(`- Source hash: \`${sourceHash({ 'src/emit/x.ts': source, 'src/io/cache.ts': source })}\``)
    expect(md).toContain('| src/emit/ | 1 | 1 | 1 | 0 | 1 | 66.67% |')
    expect(md).toContain('| src/io/cache.ts | 0 | 0 | 0 | 1 | 0 | 0.00% |')
    expect(md).toContain('| src/fold/ | 0 | 0 | 0 | 0 | 0 | not run |')
    expect(md).toContain('| all | 1 | 1 | 1 | 1 | 1 | 50.00% |')
    expect(md).toContain('Score: **50.00%** (below the 85% target); 2 undetected, 1 of them unexplained.')
    expect(md).toContain('| src/emit/x.ts:2 | EqualityOperator | `a > 0` | `a >= 0` | survived | equivalent here |')
    expect(md).toContain('| src/io/cache.ts:1 | ArithmeticOperator | `1` | `2` | no coverage | **unexplained** |')
    expect(renderReport(report, {}, { current: 'f'.repeat(64) })).toContain(`their hash is now \`${'f'.repeat(64)}\``)
  })
})
