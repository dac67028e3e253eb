/**
 * "A corrupt entry is reported, deleted and rebuilt": `readEntry` removes the entry it
 * finds corrupt (whatever the build does next, a damaged file never stays in the cache),
 * and the next load writes a whole one under the same key.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expect, it } from 'vitest'
import { readEntry } from '../src/io/cache.js'
import { cacheWritesSettled, loadModel } from '../src/plugin/core.js'
import { resolveOptions } from '../src/plugin/options.js'
import { makeInceptionV3_2015 } from './helpers/inception.js'

const fixture = makeInceptionV3_2015({ scale: 32, seed: 12 })

for (const damage of ['a flipped byte', 'a cut tail', 'a bad header'] as const) {
  it(`an entry with ${damage} is reported corrupt and deleted by the read, then rebuilt whole by the next load`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-cache-corrupt-'))
    try {
      const model = path.join(dir, 'model.pb')
      fs.writeFileSync(model, fixture.bytes)
      const old = new Date(Date.now() - 60_000)
      fs.utimesSync(model, old, old)
      const options = resolveOptions({ cacheDir: path.join(dir, 'cache') }, dir)
      const cache = { dir: options.cacheDir, maxBytes: options.cacheMaxBytes }
      const warnings: string[] = []
      const load = async () => {
        const r = await loadModel(model, options, dir, (m) => warnings.push(m))
        await cacheWritesSettled()
        return r
      }
      const first = await load()
      const entriesDir = path.join(options.cacheDir, 'entries')
      const [name] = fs.readdirSync(entriesDir).filter((f) => f.endsWith('.bin'))
      const entry = path.join(entriesDir, name)
      const key = name.slice(0, -'.bin'.length)
      const whole = fs.readFileSync(entry)
      const damaged = Buffer.from(whole)
      if (damage === 'a flipped byte') damaged[damaged.length >> 1] ^= 0x10
      else if (damage === 'a bad header') damaged[0] ^= 0xff
      fs.writeFileSync(entry, damage === 'a cut tail' ? damaged.subarray(0, damaged.length - 100) : damaged)

      const read = await readEntry(cache, key, 'model.pb')
      expect(read.kind).toBe('corrupt')
      expect(fs.existsSync(entry)).toBe(false)
      // Gone, it is a miss, not reported again.
      expect((await readEntry(cache, key, 'model.pb')).kind).toBe('miss')

      const again = await load()
      expect(again.fromCache).toBe(false)
      expect(warnings).toEqual([])
      expect(fs.readFileSync(entry).equals(whole)).toBe(true)
      const hit = await readEntry(cache, key, 'model.pb')
      expect(hit.kind).toBe('hit')
      if (hit.kind === 'hit') for (const [f, bytes] of first.assets.files) expect(Buffer.from(hit.assets.files.get(f)!).equals(Buffer.from(bytes)), f).toBe(true)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
}
