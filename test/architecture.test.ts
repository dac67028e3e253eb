/**
 * The layout of src/ is an architecture: folders name the parts, and a module imports
 * only from its own folder or from a folder below it in this order (README, Development).
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const SRC = fileURLToPath(new URL('../src/', import.meta.url))

/**
 * Lowest first. App-facing parts stand apart: `runtime.ts` (app code) may use `base` only;
 * `execute` (the reference, run on TensorFlow.js) may use `base`, `graphdef`, `fold` and `runtime.ts`.
 */
const LAYERS = ['base', 'graphdef', 'fold', 'network', 'emit', 'io', 'pipeline', 'parallel', 'plugin', 'cli'] as const
type Layer = (typeof LAYERS)[number]
const APP_FACING: Record<string, readonly string[]> = { 'runtime.ts': ['base'], execute: ['base', 'graphdef', 'fold', 'runtime.ts'] }
/** Beyond the layers below: `mpscnn verify` and the plugin's `verify` option run the executor and the reference. */
const ALSO: Record<string, readonly string[]> = { cli: ['execute'], plugin: ['execute'] }

function sources(dir = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    return e.isDirectory() ? sources(p) : /\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : []
  })
}

/** Every relative module a file refers to: imports, re-exports, dynamic imports, worker URLs. */
function references(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8')
  const specs: string[] = []
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|new URL\(\s*)(['"])(\.{1,2}\/[^'"]+)\1/g
  for (let m; (m = re.exec(text)); ) specs.push(m[2])
  return specs
}

/** The part a file under src/ belongs to: its top folder, or its own name at the top. */
function partOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0].replace(/\.js$/, '.ts')
}

/** Lowest first. */
function violations(files = sources()): string[] {
  const out: string[] = []
  for (const file of files) {
    const from = partOf(file)
    const below = APP_FACING[from] ?? (LAYERS.includes(from as Layer) ? LAYERS.slice(0, LAYERS.indexOf(from as Layer)) : undefined)
    const allowed = below && [...below, ...(ALSO[from] ?? [])]
    if (!allowed) {
      out.push(`${path.relative(SRC, file)}: not in any part (${LAYERS.join(', ')}, or ${Object.keys(APP_FACING).join(', ')})`)
      continue
    }
    for (const spec of references(file)) {
      const target = path.resolve(path.dirname(file), spec)
      if (!target.startsWith(SRC)) continue // package.json
      const to = partOf(target)
      if (to !== from && !allowed.includes(to)) out.push(`${path.relative(SRC, file)} imports ${spec} (${from} -> ${to})`)
    }
  }
  return out
}

describe('src/ layout', () => {
  it('every module sits in a named part and imports only its own part or parts below it', () => {
    expect(violations()).toEqual([])
  })

  it('the check names an upward import (fold -> plugin), an app-facing module reaching past base, and a file outside the parts', () => {
    // Probes are written inside src/ so that the check resolves them exactly as it does real modules.
    const probes = {
      fold: path.join(SRC, 'fold', `arch-probe-${process.pid}.ts`),
      top: path.join(SRC, `arch-probe-${process.pid}.ts`),
    }
    const runtime = path.join(SRC, 'runtime.ts')
    try {
      fs.writeFileSync(probes.fold, "import { resolveOptions } from '../plugin/options.js'\nimport { MpscnnError } from '../base/errors.js'\n")
      fs.writeFileSync(probes.top, 'export {}\n')
      expect(violations([probes.fold, probes.top, runtime])).toEqual([
        `fold/arch-probe-${process.pid}.ts imports ../plugin/options.js (fold -> plugin)`,
        `arch-probe-${process.pid}.ts: not in any part (${LAYERS.join(', ')}, or ${Object.keys(APP_FACING).join(', ')})`,
      ])
      fs.writeFileSync(probes.top, "import { convertModel } from './fold/convert.js'\n")
      expect(references(probes.top)).toEqual(['./fold/convert.js'])
    } finally {
      for (const p of Object.values(probes)) fs.rmSync(p, { force: true })
    }
  })

  it('TensorFlow.js is loaded only inside execute/, and there only on demand (type imports and import())', () => {
    expect(tfjsLoads()).toEqual([])
    const probe = path.join(SRC, 'fold', `arch-probe-${process.pid}.ts`)
    const inside = path.join(SRC, 'execute', `arch-probe-${process.pid}.ts`)
    try {
      fs.writeFileSync(probe, "const tf = await import('@tensorflow/tfjs-core')\n")
      fs.writeFileSync(inside, "import type * as Tfc from '@tensorflow/tfjs-core'\nimport { registerOp } from '@tensorflow/tfjs-converter'\nconst w = await import('@tensorflow/tfjs-backend-wasm')\n")
      expect(tfjsLoads([probe, inside])).toEqual([
        `fold/arch-probe-${process.pid}.ts loads @tensorflow/tfjs-core`,
        `execute/arch-probe-${process.pid}.ts loads @tensorflow/tfjs-converter`,
      ])
    } finally {
      fs.rmSync(probe, { force: true })
      fs.rmSync(inside, { force: true })
    }
  })
})

/** Files that load TensorFlow.js where they must not: outside execute/ at all, inside it with a static value import. */
function tfjsLoads(files = sources()): string[] {
  const out: string[] = []
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8')
    const inExecute = partOf(file) === 'execute'
    const re = /(import\s+type\s[^'"]*?from\s*|\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"`])(@tensorflow\/[^'"`/]+)/g
    for (let m; (m = re.exec(text)); ) {
      const typeOnly = /^import\s+type\s/.test(m[1])
      const dynamic = /^import\s*\(/.test(m[1])
      if (typeOnly || (inExecute && dynamic)) continue
      out.push(`${path.relative(SRC, file)} loads ${m[3]}`)
    }
  }
  return out
}
