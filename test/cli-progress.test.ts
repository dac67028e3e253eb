/**
 * The CLI's progress line: on a terminal (a pseudo-terminal from util-linux `script`)
 * once a conversion runs long, never when stderr is a pipe.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeInceptionV3_2015 } from './helpers/inception.js'

const repo = path.resolve(__dirname, '..')
const hasScript = fs.existsSync('/usr/bin/script')

describe.skipIf(!hasScript)('progress on a TTY', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-tty-'))
  const model = path.join(dir, 'model.pb')
  fs.writeFileSync(model, makeInceptionV3_2015({ scale: 16, seed: 3, expected: false }).bytes)
  const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(repo, 'bin/mpscnn.js'))} convert ${JSON.stringify(model)} --out-dir ${JSON.stringify(path.join(dir, 'out'))}`
  // Every layer counts as slow: the line must appear and be cleared at the end.
  const env = { ...process.env, MPSCNN_PROGRESS_DELAY_MS: '0' }

  it('shows a progress bar on a terminal once the conversion takes long', () => {
    const r = spawnSync('/usr/bin/script', ['-qec', cli, '/dev/null'], { encoding: 'utf8', env })
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/\[#+\.*\] \d+\/95 layers/)
    expect(r.stdout).toMatch(/95\/95 layers/)
    expect(r.stdout).toMatch(/\r\x1b\[K/) // cleared before the summary line
    expect(r.stdout).toMatch(/model\.pb: 95 layers/)
  })

  it('prints none when stderr is not a terminal', () => {
    const r = spawnSync('/bin/sh', ['-c', cli], { encoding: 'utf8', env })
    expect(r.status).toBe(0)
    expect(r.stderr).not.toMatch(/layers\r|\[#/)
  })
})
