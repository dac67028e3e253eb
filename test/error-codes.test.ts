/**
 * The README's error codes that no other test reaches by its code: each raised by a real
 * situation (a symlink loop, a damaged graph, a folder the CLI may not replace, a bad
 * `--dat-dir`), checked by `error.code` and the one-line message naming what is wrong.
 * The CLI prints these without their code, so the modules it calls are used directly.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Comparison } from '../src/cli/compare.js'
import { convertModel } from '../src/fold/convert.js'
import { prepareOutDir } from '../src/io/out-dir.js'
import { readModelMemory } from '../src/io/read.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-codes-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** The MpscnnError `f` throws, as code and message. */
function thrown(f: () => unknown): { code: string; message: string } {
  try {
    f()
  } catch (e) {
    return e as { code: string; message: string }
  }
  throw new Error('nothing was thrown')
}

describe('error codes', () => {
  it('READ_FAILED: a model that cannot be read (a symlink loop) names the file and why', () => {
    const loop = path.join(tmp, 'loop.pb')
    fs.symlinkSync(loop, loop)
    const e = thrown(() => readModelMemory(loop, 'models/loop.pb'))
    expect(e.code).toBe('READ_FAILED')
    expect(e.message).toBe('models/loop.pb: cannot be read (ELOOP)')
  })

  it('DUPLICATE_NODE: two nodes of one name are refused, naming the node', () => {
    // The text format, since the graph builder itself refuses a second node of one name.
    const text = [
      'node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }',
      'node { name: "c/weights" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 1 } dim { size: 1 } dim { size: 3 } dim { size: 2 } } float_val: 0.5 } } } }',
      'node { name: "c/Conv2D" op: "Conv2D" input: "x" input: "c/weights" attr { key: "T" value { type: DT_FLOAT } } attr { key: "padding" value { s: "SAME" } } attr { key: "strides" value { list { i: 1 i: 1 i: 1 i: 1 } } } }',
      'node { name: "c/Conv2D" op: "Relu" input: "x" attr { key: "T" value { type: DT_FLOAT } } }',
    ].join('\n')
    const e = thrown(() => convertModel(new TextEncoder().encode(text), { file: 'dup.pbtxt' }))
    expect(e.code).toBe('DUPLICATE_NODE')
    expect(e.message).toMatch(/^dup\.pbtxt: node "c\/Conv2D": two nodes have this name\. /)
  })

  it('OUT_DIR_UNSAFE and OUT_DIR_NOT_OURS: the output folders the CLI refuses, before anything is written', () => {
    const model = path.join(tmp, 'app', 'model.pb')
    fs.mkdirSync(path.dirname(model), { recursive: true })
    fs.writeFileSync(model, 'x')
    const unsafe = thrown(() => prepareOutDir(path.dirname(model), 'app', model))
    expect(unsafe.code).toBe('OUT_DIR_UNSAFE')
    expect(unsafe.message).toMatch(/^app: cannot be the output folder: /)
    const data = path.join(tmp, 'data')
    fs.mkdirSync(data)
    fs.writeFileSync(path.join(data, 'labels.txt'), 'cat\n')
    const theirs = thrown(() => prepareOutDir(data, 'data', model))
    expect(theirs.code).toBe('OUT_DIR_NOT_OURS')
    expect(theirs.message).toMatch(/^data: the output folder holds "labels\.txt", which mpscnn did not write/)
    expect(fs.readdirSync(data)).toEqual(['labels.txt'])
  })

  it('BAD_DAT_DIR: a reference folder that does not exist, is a file, or holds none of the model files', () => {
    const missing = thrown(() => new Comparison(path.join(tmp, 'nope'), 'nope'))
    expect([missing.code, missing.message]).toEqual(['BAD_DAT_DIR', expect.stringMatching(/^nope: the reference folder \(--dat-dir\) does not exist\. /)])
    const file = path.join(tmp, 'ref.dat')
    fs.writeFileSync(file, '')
    const notDir = thrown(() => new Comparison(file, 'ref.dat'))
    expect([notDir.code, notDir.message]).toEqual(['BAD_DAT_DIR', expect.stringMatching(/^ref\.dat: the reference folder \(--dat-dir\) is a file, not a folder\. /)])
    const other = path.join(tmp, 'ref')
    fs.mkdirSync(other)
    fs.writeFileSync(path.join(other, 'weights_other.dat'), '')
    const none = thrown(() => new Comparison(other, 'ref').expectLayers(['conv', 'fc']))
    expect([none.code, none.message]).toEqual(['BAD_DAT_DIR', expect.stringMatching(/^ref: the reference folder \(--dat-dir\) holds none of the model's 4 files/)])
  })
})
