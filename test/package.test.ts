/** What the package promises in package.json: every export and the bin resolve and load. */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const repo = path.resolve(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
  version: string
  exports: Record<string, string | { types: string; default?: string }>
  bin: Record<string, string>
}

describe('package exports', () => {
  for (const [sub, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue
    it(`${sub} has its types${target.default ? ' and loads by its package name' : ''}`, async () => {
      expect(fs.existsSync(path.join(repo, target.types))).toBe(true)
      if (!target.default) return
      // Self-reference: the package resolves its own name through "exports", as a user's code would.
      const specifier = sub === '.' ? 'unplugin-mpscnn' : `unplugin-mpscnn/${sub.slice(2)}`
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(specifier)}); console.log(Object.keys(m).sort().join(','))`], { cwd: repo, encoding: 'utf8' })
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      const names = r.stdout.trim().split(',')
      if (['./vite', './rollup', './webpack', './esbuild', './rspack'].includes(sub)) expect(names).toEqual(['default'])
      if (sub === './runtime') expect(names).toEqual(expect.arrayContaining(['getLayer', 'loadBias', 'loadFile', 'loadTensor', 'loadWeights']))
      if (sub === './convert') expect(names).toEqual(expect.arrayContaining(['convertModel']))
      if (sub === './execute') expect(names).toEqual(['TOLERANCE', 'createExecutor', 'verify'])
      if (sub === '.') expect(names).toEqual(expect.arrayContaining(['default', 'MpscnnError', 'unplugin', 'unpluginFactory']))
    })
  }

  it('the mpscnn bin prints the package version', () => {
    const r = spawnSync(process.execPath, [path.join(repo, pkg.bin.mpscnn), '--version'], { encoding: 'utf8' })
    expect(r.status).toBe(0)
    expect(r.stdout.trim()).toBe(pkg.version)
  })
})
