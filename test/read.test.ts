/**
 * Reading models and cache entries on libuv's thread pool, several chunks at once
 * (src/io/read.ts readInParallel): the bytes, the order of the progress calls, a file that
 * is shorter than expected, and the errors of the model reader.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { readInParallel, readModelMemoryInParallel } from '../src/io/read.js'

let dir: string
let file: string
let data: Uint8Array
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-read-'))
  file = path.join(dir, 'data.bin')
  // 10.5 MB: two whole 4 MB chunks and a partial one.
  data = new Uint8Array(10.5 * 2 ** 20)
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24
  data[0] = 0x0a // a GraphDef's first tag: the model readers refuse other heads before reading on
  fs.writeFileSync(file, data)
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

it('reads every byte, reporting the gapless prefix in increasing order up to the end', async () => {
  const into = new Uint8Array(data.length)
  const prefixes: number[] = []
  const fh = await fs.promises.open(file, 'r')
  try {
    expect(await readInParallel(fh.fd, into, (end) => prefixes.push(end))).toBe(data.length)
  } finally {
    await fh.close()
  }
  expect(Buffer.from(into).equals(Buffer.from(data))).toBe(true)
  expect(prefixes.at(-1)).toBe(data.length)
  for (let i = 1; i < prefixes.length; i++) expect(prefixes[i]).toBeGreaterThan(prefixes[i - 1])
})

it('a file shorter than the buffer (it shrank meanwhile) reads up to its end', async () => {
  const into = new Uint8Array(data.length + 5 * 2 ** 20)
  const fh = await fs.promises.open(file, 'r')
  try {
    expect(await readInParallel(fh.fd, into)).toBe(data.length)
  } finally {
    await fh.close()
  }
  expect(Buffer.from(into.subarray(0, data.length)).equals(Buffer.from(data))).toBe(true)
})

it('readModelMemoryInParallel: the bytes in a shared model memory, and clear errors', async () => {
  const m = await readModelMemoryInParallel(file, 'data.bin')
  expect(m.bytes.buffer).toBe(m.memory.buffer)
  expect(Buffer.from(m.bytes).equals(Buffer.from(data))).toBe(true)
  await expect(readModelMemoryInParallel(path.join(dir, 'nope.pb'), 'nope.pb')).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/^nope\.pb: no such file/) })
  await expect(readModelMemoryInParallel(dir, 'folder')).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/directory/) })
})
