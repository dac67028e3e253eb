/** The MpscnnError `fn` throws (failing the test when it throws nothing, or something else), and checks of what it names. */
import { expect } from 'vitest'
import { MpscnnError } from '../../src/base/errors.js'

export function refusal(fn: () => unknown): MpscnnError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(MpscnnError)
    return e as MpscnnError
  }
  throw new Error('expected an MpscnnError, but nothing was thrown')
}

/** `fn`'s MpscnnError has `code`, names `file` and says each of `says`. */
export function expectRefusal(fn: () => unknown, code: string, file: string, says: RegExp[] = []): MpscnnError {
  const e = refusal(fn)
  expect(e.code, e.message).toBe(code)
  expect(e.file).toBe(file)
  expect(e.message.startsWith(`${file}: `), e.message).toBe(true)
  for (const re of says) expect(e.message).toMatch(re)
  return e
}

/** `fn`'s MpscnnError has `code` and names `file` and the graph node `node`. */
export function expectNodeRefusal(fn: () => unknown, code: string, node: string, file = 'case.pb'): MpscnnError {
  const e = expectRefusal(fn, code, file)
  expect(e.node).toBe(node)
  expect(e.message).toContain(JSON.stringify(node))
  return e
}
