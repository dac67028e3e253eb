/**
 * The package as a user installs it: `npm pack` (of the dist/ that `npm test` built),
 * `npm install` of the tarball into a fresh Vite app, `vite build` of that app (Vite from
 * this repository's node_modules; the plugin and its dependencies from the app's), and the
 * emitted `.dat` files against the oracle. npm must not warn about install scripts: the
 * published package runs none (`prepack` builds, `prepare` would run on install).
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, checkBuild, importBundle, listFiles, makeApp, oracle, readDatFiles, removeApps, urlWithPrefix } from './bundlers/helpers.js'

beforeAll(() => void oracle())
afterAll(removeApps)

/** Runs a command to completion; fails the test, with its output, when it exits non-zero. Returns stdout and the whole output. */
function run(cmd: string, args: string[], cwd: string): { stdout: string; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' } })
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`
  expect(r.status, `${cmd} ${args.join(' ')}:\n${out}${r.error ? String(r.error) : ''}`).toBe(0)
  return { stdout: r.stdout, out }
}

describe('the packed package', () => {
  it('installs into a Vite app without install scripts, and `vite build` emits the model', async () => {
    const app = makeApp({
      files: {
        'vite.config.mjs': [
          "import mpscnn from 'unplugin-mpscnn/vite'",
          "export default { logLevel: 'warn', plugins: [mpscnn()], build: { rollupOptions: { input: 'main.js', preserveEntrySignatures: 'strict' } } }",
          '',
        ].join('\n'),
      },
    })

    // dist/ is already built (npm test builds first); prepack would build it again.
    const packed = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', app.dir], REPO_ROOT).stdout) as { filename: string; files: { path: string }[] }[]
    const files = packed[0].files.map((f) => f.path)
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'bin/mpscnn.js', 'client.d.ts', 'dist/plugin/vite.js', 'dist/cli/bundle.js']))
    expect(files.filter((f) => !/^(dist|bin)\/|^(LICENSE|README\.md|package\.json|client\.d\.ts)$/.test(f))).toEqual([])

    const installed = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `./${packed[0].filename}`], app.dir).out
    expect(installed).not.toMatch(/install-scripts|prepare|postinstall/)
    const pkg = JSON.parse(fs.readFileSync(path.join(app.dir, 'node_modules/unplugin-mpscnn/package.json'), 'utf8')) as { version: string; license: string }
    expect(pkg.license).toBe('MIT')

    // The bin, linked by npm.
    expect(run(path.join(app.dir, 'node_modules/.bin/mpscnn'), ['--version'], app.dir).stdout.trim()).toBe(pkg.version)

    run(process.execPath, [path.join(REPO_ROOT, 'node_modules/vite/bin/vite.js'), 'build'], app.dir)
    const dist = path.join(app.dir, 'dist')
    const entry = listFiles(dist).filter((f) => f.endsWith('.js'))
    expect(entry).toEqual([expect.stringMatching(/^assets\/main-[\w-]+\.js$/)])
    const manifest = (await importBundle(path.join(dist, entry[0]))).default
    checkBuild({ manifest, assets: readDatFiles(dist), fileOf: urlWithPrefix('/') })
  })
})
