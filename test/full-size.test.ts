/**
 * The full-size Inception v3 (2015) graph, generated here (95.7 MB, never committed),
 * converted by the CLI and checked layer by layer against the float64 reference fold, its
 * network description against Apple's Inception3Net.swift;
 * then twice more in one process, where the second conversion reuses the layout worker.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { expect, it } from 'vitest'
import { makeInceptionV3_2015 } from './helpers/inception.js'
import { checkAppleOffsets, checkInception } from './helpers/inception-network.js'

const repo = path.resolve(__dirname, '..')

it('converts the full-size 2015 graph: 95 layers, bit-for-bit the float64 reference fold', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-full-'))
  try {
    const model = makeInceptionV3_2015({ scale: 1, seed: 2015 })
    fs.writeFileSync(path.join(dir, 'inception_v3.pb'), model.bytes)
    expect(model.bytes.byteLength).toBeGreaterThan(95e6)
    const r = spawnSync(process.execPath, [path.join(repo, 'bin/mpscnn.js'), 'convert', 'inception_v3.pb', '--out-dir', 'out'], { cwd: dir, encoding: 'utf8' })
    expect(r.stderr.replace(/^mpscnn: warning: .*the input's preprocessing, Sub "Sub", Mul "Mul", .* \(every channel\)\n/m, '')).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^inception_v3\.pb: 95 layers, 95\.3 MB, converted in \d+ ms -> out$/m)
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'out/manifest.json'), 'utf8'))
    expect(manifest.layers.map((l: { name: string }) => l.name)).toEqual(model.layers.map((l) => l.name))
    // The network, as Apple's Inception3Net.swift encodes it: windows, sizes, ReLUs, and every
    // branch's destinationFeatureChannelOffset (mixed_9 at 0, 320, 704, 1088, 1472, 1856 of 2048).
    checkInception(manifest.network)
    checkAppleOffsets(manifest.network)
    let worst = 0
    for (const l of model.layers) {
      for (const [file, want] of [[`weights_${l.name}.dat`, l.weights], [`bias_${l.name}.dat`, l.bias]] as const) {
        const got = new Float32Array(Uint8Array.from(fs.readFileSync(path.join(dir, 'out', file))).buffer)
        expect(got.length).toBe(want.length)
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]))
      }
    }
    // Same float64 formula, one rounding to float32: bit-for-bit the reference.
    expect(worst).toBe(0)

    // Two conversions in one process: the second reuses the first one's layout worker (no
    // worker to boot), which starts over cleanly (the same files, the right sha256).
    const script = `
      const { main } = await import(${JSON.stringify(pathToFileURL(path.join(repo, 'dist/cli/main.js')).href)})
      for (const out of ['again1', 'again2']) if (await main(['convert', 'inception_v3.pb', '--out-dir', out, '--quiet'])) process.exit(1)`
    const twice = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, MPSCNN_TRACE: '1' } })
    expect(twice.status, twice.stderr).toBe(0)
    const workers = [...twice.stderr.matchAll(/trace: .* layout worker (\d+)/g)].map((m) => m[1])
    expect(workers).toHaveLength(2)
    expect(workers[1]).toBe(workers[0])
    const sha256 = createHash('sha256').update(model.bytes).digest('hex')
    expect(manifest.sha256).toBe(sha256)
    for (const out of ['again1', 'again2']) {
      const files = fs.readdirSync(path.join(dir, out))
      expect(files.sort()).toEqual(fs.readdirSync(path.join(dir, 'out')).sort())
      for (const f of files) expect(fs.readFileSync(path.join(dir, out, f)).equals(fs.readFileSync(path.join(dir, 'out', f))), `${out}/${f}`).toBe(true)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
