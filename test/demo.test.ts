/**
 * `npm run demo` prints the CLI command it runs: one a user can run again, from the
 * repository's root, into a folder that stays (not a temporary folder deleted afterwards).
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { REPO_ROOT, SAMPLE_CLI_COMMAND, SAMPLE_CLI_OUT, ensureSampleModel } from '../scripts/sample-model.js'

it('the command the demo prints runs again from the repository, each run replacing its output', () => {
  expect(SAMPLE_CLI_COMMAND).not.toMatch(/\/tmp\/|mpscnn-demo-|^cd /)
  ensureSampleModel()
  for (let run = 0; run < 2; run++) {
    const r = spawnSync('/bin/sh', ['-c', SAMPLE_CLI_COMMAND], { cwd: REPO_ROOT, encoding: 'utf8' })
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0)
    expect(r.stdout).toContain(`inception_v3_mini.pb: 95 layers, `)
    expect(r.stdout).toContain(`-> ${path.relative(REPO_ROOT, SAMPLE_CLI_OUT)}\n`)
    const manifest = JSON.parse(fs.readFileSync(path.join(SAMPLE_CLI_OUT, 'manifest.json'), 'utf8')) as { source: string; layers: unknown[] }
    expect(manifest.source).toBe('inception_v3_mini.pb')
    expect(fs.readdirSync(SAMPLE_CLI_OUT)).toHaveLength(2 * manifest.layers.length + 1)
  }
})
