/**
 * `npm run playground` (scripts/serve.mjs) as a process: it serves the folder on the host and
 * port that HOST and PORT give, and refuses a folder without an index.html.
 */
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, expect, it } from 'vitest'

const SERVE = path.resolve(__dirname, '../scripts/serve.mjs')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-serve-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

it('serves on the HOST and PORT of its environment (port 0: one the system picks)', async () => {
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><p>playground</p>\n')
  const p = spawn(process.execPath, [SERVE, dir], { env: { ...process.env, HOST: '127.0.0.2', PORT: '0' } })
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      p.stdout.on('data', (d) => {
        out += d
        if (out.includes('\n')) resolve(out)
      })
      p.on('exit', (code) => reject(new Error(`exited with ${code} before serving`)))
    })
    const url = /at (http:\/\/127\.0\.0\.2:(\d+)\/)/.exec(line)
    expect(url, line).not.toBeNull()
    // Not the default 4173: the system picks ports from its ephemeral range, far above it.
    expect(Number(url![2])).toBeGreaterThan(4173)
    const res = await fetch(url![1])
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('playground')
  } finally {
    p.kill()
  }
})

it('refuses a folder without index.html, saying to build the playground first', () => {
  const empty = fs.mkdtempSync(path.join(dir, 'empty-'))
  const r = spawnSync(process.execPath, [SERVE, empty], { encoding: 'utf8' })
  expect(r.status).toBe(1)
  expect(r.stderr).toMatch(/index\.html is missing; build the playground first \(npm run demo\)/)
})
