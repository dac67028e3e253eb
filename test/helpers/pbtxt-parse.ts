/**
 * Small helpers for the text-format parser's tests: parse a snippet, read one attr's value, and
 * take a PBTXT_SYNTAX error apart into its line, column and problem.
 */
import { expect } from 'vitest'
import { MpscnnError } from '../../src/base/errors.js'
import type { GraphDef } from '../../src/graphdef/schema.js'
import { parseGraphDefText } from '../../src/graphdef/text.js'

export function parsePbtxt(text: string): GraphDef {
  return parseGraphDefText(text, 'test.pbtxt')
}

/** The AttrValue of `attr { key: "k" value { <body> } }` in a one-node graph. */
export function attrValue(body: string): GraphDef['node'][number]['attr'][string] {
  return parsePbtxt(`node { name: "n" attr { key: "k" value { ${body} } } }`).node[0].attr.k
}

export interface PbtxtSyntaxError {
  line: number
  column: number
  /** The message between "line L, column C: " and the hint. */
  problem: string
  message: string
}

/** Parses text that must fail; checks the error's code and that its message names the file. */
export function pbtxtError(text: string, file = 'broken.pbtxt'): PbtxtSyntaxError {
  let err: unknown
  try {
    parseGraphDefText(text, file)
  } catch (e) {
    err = e
  }
  expect(err).toBeInstanceOf(MpscnnError)
  const e = err as MpscnnError
  expect(e.code).toBe('PBTXT_SYNTAX')
  expect(e.file).toBe(file)
  const hint = '. Fix the text-format GraphDef or export it again with as_text=True'
  expect(e.message.endsWith(hint)).toBe(true)
  const m = /^(.*): line (\d+), column (\d+): (.*)$/s.exec(e.message.slice(0, -hint.length))
  expect(m).not.toBeNull()
  expect(m![1]).toBe(file)
  return { line: Number(m![2]), column: Number(m![3]), problem: m![4], message: e.message }
}
