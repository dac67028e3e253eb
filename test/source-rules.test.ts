/**
 * Rules for the text of src/. Comments say why: what was measured (a speed, a time, "2x
 * faster here") goes to docs/performance.md, "Notes from measurements", where it can be dated
 * and re-measured. No module grows past about 400 lines: past that, a file usually does more
 * than one job, and is split by job (as src/network/ops.ts was into ops, views, affine,
 * before-input).
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const SRC = fileURLToPath(new URL('../src/', import.meta.url))
const MAX_LINES = 400

/** What a benchmark diary note looks like. Defaults (`Default: 1000 ms`) and sizes are not notes. */
const DIARY = [/\bmeasured\b/i, /\b(?:slower|faster)\b/i, /\d\s?[GMk]B\/s\b/, /(?:\babout|\bsome|~)\s?\d+(?:\.\d+)?\s?(?:ms|s|x)\b/i]

/** `file:line: text` for every comment line that reads like a measurement. */
function diaryNotes(file: string, text: string): string[] {
  const out: string[] = []
  text.split('\n').forEach((line, i) => {
    const comment = /(?:^\s*(?:\/\*\*?|\*)|\/\/|;;)(.*)$/.exec(line)?.[1]
    if (comment && DIARY.some((re) => re.test(comment))) out.push(`${file}:${i + 1}: ${line.trim()}`)
  })
  return out
}

function sources(dir = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    return e.isDirectory() ? sources(p) : /\.(?:ts|wat)$/.test(e.name) && !e.name.endsWith('-wasm.ts') ? [p] : []
  })
}

describe('comments', () => {
  it('no comment in src/ records a measurement (they live in docs/performance.md)', () => {
    const notes = sources().flatMap((f) => diaryNotes(path.relative(SRC, f), fs.readFileSync(f, 'utf8')))
    expect(notes).toEqual([])
  })

  it('the check names a diary note and leaves defaults and reasons alone', () => {
    const text = [
      '/** Nothing is drawn before this long. Default: 1000 ms. */',
      ' * then happens on more than one core (~2x faster here).',
      ';; (k outer) leaves partly written lines behind: 2 to 3 times slower here.',
      '// booting a worker thread takes some 40 ms',
      'const HASH_COST = 0.55 // sha256 runs at about 1.8 GB/s',
      ' * Bounds the memory: max(64 MiB, maxExpansion x the size).',
    ].join('\n')
    expect(diaryNotes('f.ts', text).map((n) => n.split(':')[1])).toEqual(['2', '3', '4', '5'])
  })
})

describe('file size', () => {
  it(`no module in src/ is over ${MAX_LINES} lines`, () => {
    const over = sources()
      .filter((f) => f.endsWith('.ts') && fs.readFileSync(f, 'utf8').split('\n').length - 1 > MAX_LINES)
      .map((f) => path.relative(SRC, f).split(path.sep).join('/'))
    expect(over).toEqual([])
  })
})
