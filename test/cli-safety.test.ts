/**
 * Nothing lost by the CLI: `--out-dir` replaces only a folder the CLI wrote
 * itself, and a run killed on the way (a real process, SIGKILLed) leaves nothing that the
 * next run does not recover. The real CLI (`node bin/mpscnn.js`, the built dist/) runs in
 * a temporary folder that also holds a user's other files.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeInceptionV3_2015 } from './helpers/inception.js'
import { exitedPid, killWhen, runningProcess } from './helpers/processes.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = path.join(ROOT, 'bin', 'mpscnn.js')

let tmp: string
let model: Uint8Array
/** Outputs of `model.pb`: float32 (what a run writes) and float16 (an earlier output). */
let ref: string
let ref16: string

function cli(args: string[], cwd: string): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, MPSCNN_DEBUG: '' } })
  if (r.error) throw r.error
  return r
}

function cliOk(args: string[], cwd: string): void {
  const r = cli(args, cwd)
  if (r.status !== 0) throw new Error(`mpscnn ${args.join(' ')}: exit ${r.status}\n${r.stderr}`)
}

/** Runs the CLI expecting it to refuse: exit 1 and one error line, which it returns. */
function refused(args: string[], cwd: string): string {
  const r = cli(args, cwd)
  expect(r.status, r.stderr).toBe(1)
  expect(r.stdout).toBe('')
  const lines = r.stderr.trimEnd().split('\n')
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0].startsWith('mpscnn: ')).toBe(true)
  return lines[0]
}

/** Every file and folder under `dir`: relative path -> bytes (folders: null). */
function snapshot(dir: string): Map<string, Buffer | null> {
  const out = new Map<string, Buffer | null>()
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(e.parentPath, e.name)
    out.set(path.relative(dir, full), e.isDirectory() ? null : fs.readFileSync(full))
  }
  return out
}

function expectSameTree(dir: string, before: Map<string, Buffer | null>): void {
  const after = snapshot(dir)
  expect([...after.keys()].sort()).toEqual([...before.keys()].sort())
  for (const [name, bytes] of before) if (bytes) expect(after.get(name)?.equals(bytes), `${name} changed`).toBe(true)
}

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => /\.(tmp|old)-/.test(n)).sort()
}

/** A fresh folder holding a user's project: the model and files of their own. */
function project(): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'project-'))
  fs.writeFileSync(path.join(dir, 'model.pb'), model)
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'my notes\n')
  fs.mkdirSync(path.join(dir, 'src'))
  fs.writeFileSync(path.join(dir, 'src', 'main.js'), "import model from '../model.pb'\n")
  fs.mkdirSync(path.join(dir, 'data'))
  fs.writeFileSync(path.join(dir, 'data', 'labels.txt'), 'cat\ndog\n')
  fs.writeFileSync(path.join(dir, 'empty.pb'), '')
  return dir
}

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'bundle.js'))) throw new Error('dist/ is missing: run `npm run build` first')
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-cli-safety-'))
  model = makeInceptionV3_2015({ scale: 16, seed: 5, expected: false }).bytes
  fs.writeFileSync(path.join(tmp, 'model.pb'), model)
  ref = path.join(tmp, 'ref')
  ref16 = path.join(tmp, 'ref16')
  cliOk(['convert', 'model.pb', '--out-dir', ref, '--quiet'], tmp)
  cliOk(['convert', 'model.pb', '--out-dir', ref16, '--precision', 'float16', '--quiet'], tmp)
})

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})

describe('which folders --out-dir may replace', () => {
  it('--out-dir . is refused, and the folder keeps every file', () => {
    const dir = project()
    const before = snapshot(dir)
    const line = refused(['convert', 'model.pb', '--out-dir', '.'], dir)
    expect(line).toBe('mpscnn: .: cannot be the output folder: it is the current folder or above it, and mpscnn replaces its output folder whole. Choose a folder of its own, such as --out-dir model-mpscnn')
    expectSameTree(dir, before)
  })

  it('a folder holding files of its own (data/labels.txt) is refused and kept', () => {
    const dir = project()
    const before = snapshot(dir)
    const line = refused(['convert', 'model.pb', '--out-dir', 'data'], dir)
    expect(line).toBe('mpscnn: data: the output folder holds "labels.txt", which mpscnn did not write; mpscnn replaces only a folder it wrote itself. Choose a new or empty folder, or move those files out')
    expectSameTree(dir, before)
    expect(leftovers(dir)).toEqual([])
  })

  it("the model's folder, a folder above it and a folder above the current one are refused", () => {
    const dir = project()
    fs.mkdirSync(path.join(dir, 'models', 'v1'), { recursive: true })
    fs.renameSync(path.join(dir, 'model.pb'), path.join(dir, 'models', 'v1', 'model.pb'))
    const cwd = path.join(dir, 'src')
    const before = snapshot(dir)
    for (const [out, why] of [
      ['../models/v1', "it is the model's folder or above it"],
      ['../models', "it is the model's folder or above it"],
      ['..', 'it is the current folder or above it'],
    ]) {
      expect(refused(['convert', '../models/v1/model.pb', '--out-dir', out], cwd)).toContain(`mpscnn: ${out}: cannot be the output folder: ${why}`)
      expectSameTree(dir, before)
    }
  })

  it('the root folder is refused before anything is written', () => {
    const dir = project()
    expect(refused(['convert', path.join(dir, 'model.pb'), '--out-dir', '/'], dir)).toContain('mpscnn: /: cannot be the output folder: it is the root folder')
    expect(fs.readdirSync('/').filter((n) => n.startsWith('.tmp-'))).toEqual([])
  })

  it('a file given as --out-dir is refused, not replaced', () => {
    const dir = project()
    const before = snapshot(dir)
    expect(refused(['convert', 'model.pb', '--out-dir', 'notes.txt'], dir)).toMatch(/^mpscnn: notes\.txt: the output folder is a file, not a folder/)
    expectSameTree(dir, before)
  })

  it('an earlier output and an empty folder are replaced; an earlier output holding another file is refused', () => {
    const dir = project()
    cliOk(['convert', 'model.pb', '--out-dir', 'out', '--precision', 'float16', '--quiet'], dir)
    expectSameTree(path.join(dir, 'out'), snapshot(ref16))
    cliOk(['convert', 'model.pb', '--out-dir', 'out', '--quiet'], dir)
    expectSameTree(path.join(dir, 'out'), snapshot(ref))
    fs.mkdirSync(path.join(dir, 'empty'))
    cliOk(['convert', 'model.pb', '--out-dir', 'empty', '--quiet'], dir)
    expectSameTree(path.join(dir, 'empty'), snapshot(ref))
    expect(leftovers(dir)).toEqual([])

    fs.writeFileSync(path.join(dir, 'out', 'README.md'), 'my own file\n')
    const before = snapshot(dir)
    expect(refused(['convert', 'model.pb', '--out-dir', 'out', '--hash'], dir)).toMatch(/^mpscnn: out: the output folder holds "README\.md", which mpscnn did not write/)
    expectSameTree(dir, before)
  })
})

describe('recovery from a killed run', () => {
  /** The state of `dir/out` a run with PID `pid` leaves when it is killed between its two renames. */
  function killedBetweenRenames(dir: string, pid: number, newOutput: 'whole' | 'partial'): void {
    fs.cpSync(ref16, path.join(dir, `out.old-${pid}`), { recursive: true })
    const tmpOut = path.join(dir, `out.tmp-${pid}`)
    fs.cpSync(ref, tmpOut, { recursive: true })
    if (newOutput === 'partial') {
      fs.rmSync(path.join(tmpOut, 'manifest.json'))
      for (const n of fs.readdirSync(tmpOut).slice(0, 20)) fs.rmSync(path.join(tmpOut, n))
    }
  }

  it('killed between its two renames with its new folder whole: the next run finishes the swap, even if it fails itself', () => {
    const dir = project()
    killedBetweenRenames(dir, exitedPid(), 'whole')
    expect(refused(['convert', 'empty.pb', '--out-dir', 'out'], dir)).toMatch(/^mpscnn: empty\.pb: the file is empty/)
    expectSameTree(path.join(dir, 'out'), snapshot(ref))
    expect(leftovers(dir)).toEqual([])
  })

  it('killed between its two renames before its new folder was whole: the old output comes back', () => {
    const dir = project()
    killedBetweenRenames(dir, exitedPid(), 'partial')
    refused(['convert', 'empty.pb', '--out-dir', 'out'], dir)
    expectSameTree(path.join(dir, 'out'), snapshot(ref16))
    expect(leftovers(dir)).toEqual([])
  })

  it("the leftovers of exited runs are removed, a running process's are left alone", () => {
    const dir = project()
    const running = runningProcess()
    try {
      fs.cpSync(ref16, path.join(dir, 'out'), { recursive: true })
      // Killed while removing its old output, and one killed while writing.
      const removing = path.join(dir, `out.old-${exitedPid()}`)
      fs.cpSync(ref16, removing, { recursive: true })
      fs.rmSync(path.join(removing, 'manifest.json'))
      const writing = path.join(dir, `out.tmp-${exitedPid()}`)
      fs.mkdirSync(writing)
      fs.copyFileSync(path.join(ref, 'weights_conv.dat'), path.join(writing, 'weights_conv.dat'))
      // A run still going, and a folder of the user's that only looks like a leftover.
      const theirs = [`out.tmp-${running.pid}`, `out.old-${running.pid}`, 'out.tmp-notes']
      for (const n of theirs) fs.cpSync(ref16, path.join(dir, n), { recursive: true })
      const before = new Map(theirs.map((n) => [n, snapshot(path.join(dir, n))]))

      cliOk(['convert', 'model.pb', '--out-dir', 'out', '--quiet'], dir)
      expectSameTree(path.join(dir, 'out'), snapshot(ref))
      expect(leftovers(dir)).toEqual([...theirs].sort())
      for (const [n, tree] of before) expectSameTree(path.join(dir, n), tree)
    } finally {
      running.kill()
    }
  })

  it('runs killed at any point of their work: after each, the output is whole and the next run leaves no leftovers', async () => {
    const dir = project()
    fs.writeFileSync(path.join(dir, 'big.pb'), makeInceptionV3_2015({ scale: 8, seed: 9, expected: false }).bytes)
    cliOk(['convert', 'big.pb', '--out-dir', 'out', '--quiet'], dir)
    const whole = snapshot(path.join(dir, 'out'))
    const files = whole.size
    const others = fs.readdirSync(dir).filter((n) => n !== 'out')
    const holds = (pid: number, n: number) => {
      try {
        return fs.readdirSync(path.join(dir, `out.tmp-${pid}`)).length >= n
      } catch {
        return false
      }
    }
    // Points of a run: its start, its temporary folder made, a fifth, half, all of its
    // files written, its old output moved aside.
    const points: ((pid: number) => boolean)[] = [
      () => true,
      (pid) => fs.existsSync(path.join(dir, `out.tmp-${pid}`)),
      (pid) => holds(pid, files / 5),
      (pid) => holds(pid, files / 2),
      (pid) => holds(pid, files),
      (pid) => fs.existsSync(path.join(dir, `out.old-${pid}`)) || !fs.existsSync(path.join(dir, 'out')),
    ]
    let leftBehind = 0
    for (const point of points) {
      const child = spawn(process.execPath, [BIN, 'convert', 'big.pb', '--out-dir', 'out', '--quiet'], { cwd: dir, stdio: 'ignore' })
      await killWhen(child, () => point(child.pid!))
      if (leftovers(dir).length) leftBehind++
      // A next run that fails on its model still recovers: the output is whole again.
      refused(['convert', 'empty.pb', '--out-dir', 'out'], dir)
      expectSameTree(path.join(dir, 'out'), whole)
      expect(leftovers(dir)).toEqual([])
    }
    expect(leftBehind).toBeGreaterThan(0)
    cliOk(['convert', 'big.pb', '--out-dir', 'out', '--quiet'], dir)
    expectSameTree(path.join(dir, 'out'), whole)
    expect(fs.readdirSync(dir).filter((n) => n !== 'out').sort()).toEqual(others.sort())
  })
})
