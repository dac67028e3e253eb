/**
 * A small model whose layer names are hostile to file systems and URLs: `#`, `?`, `\`,
 * a space, unicode, NUL, two names differing only in case, a 260-character name. Each
 * layer is `input -> Conv2D 1x1 (2 -> 3) -> BiasAdd`, with its expected MPSCNN bytes.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import { GraphBuilder, attr } from './graph-builder.js'

export const ODD_NAMES = ['a#b', 'c?d', 'e\\f', 'g h', 'ünï/çødé', 'Conv', 'conv', 'n\u0000l', 'x'.repeat(260), 'mixed_9/tower/conv', '%41']

export interface OddLayer {
  /** The layer's name in the manifest (the weight's scope, `/` -> `_`). */
  name: string
  weights: Float32Array
  bias: Float32Array
}

/** The model's bytes and each layer's expected weights ([out][1][1][in]) and bias. */
export function oddNamesModel(seed = 1): { bytes: Uint8Array; layers: OddLayer[] } {
  const b = new GraphBuilder()
  b.placeholder('input', [1, 4, 4, 2])
  const layers: OddLayer[] = []
  ODD_NAMES.forEach((scope, k) => {
    const w = Float32Array.from({ length: 6 }, (_, i) => seed * 100 + k * 10 + i + 0.5) // [1][1][in 2][out 3]
    const bias = Float32Array.from({ length: 3 }, (_, o) => -(seed * 100 + k * 10 + o) - 0.25)
    b.constF32(`${scope}/weights`, [1, 1, 2, 3], w)
    b.constF32(`${scope}/biases`, [3], bias)
    b.op(`${scope}/Conv2D`, 'Conv2D', ['input', `${scope}/weights`], { T: attr.type('DT_FLOAT'), strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
    b.op(`${scope}/BiasAdd`, 'BiasAdd', [`${scope}/Conv2D`, `${scope}/biases`], { T: attr.type('DT_FLOAT') })
    const mps = new Float32Array(6)
    for (let o = 0; o < 3; o++) for (let i = 0; i < 2; i++) mps[o * 2 + i] = w[i * 3 + o]
    layers.push({ name: scope.replace(/\//g, '_'), weights: mps, bias })
  })
  return { bytes: b.encode(), layers }
}

/** A portable file name: ASCII letters, digits, `_`, `-`, `.`, `~`, at most 255 bytes. */
export function expectPortable(file: string): void {
  for (const seg of file.split('/')) {
    expect(seg, `${JSON.stringify(file)} is portable`).toMatch(/^[A-Za-z0-9_~-][A-Za-z0-9_.~-]*$/)
    expect(seg.length, `${file}: length`).toBeLessThan(255)
  }
}

/** Names that are equal ignoring case, among `files`. */
export function caseCollisions(files: Iterable<string>): string[] {
  const seen = new Map<string, string>()
  const out: string[] = []
  for (const f of files) {
    const k = f.toLowerCase()
    if (seen.has(k) && seen.get(k) !== f) out.push(`${seen.get(k)} / ${f}`)
    seen.set(k, f)
  }
  return out
}

/**
 * The file a manifest URL points at, in `outDir`: a `file:` URL as it is, any other URL's
 * path (resolved against a server root, decoded once) under `outDir`. Fails unless that
 * file is inside `outDir` and exists.
 */
export function fileAt(outDir: string, url: string): string {
  const u = new URL(url, 'http://server.invalid/')
  const p = u.protocol === 'file:' ? fileURLToPath(u) : path.join(outDir, decodeURIComponent(u.pathname))
  const rel = path.relative(outDir, p)
  expect(rel.startsWith('..') || path.isAbsolute(rel), `${url} resolves inside the output folder`).toBe(false)
  expect(fs.existsSync(p), `${url} resolves to an existing file (${rel})`).toBe(true)
  return rel.split(path.sep).join('/')
}

interface ManifestLike {
  layers: { name: string; weights: { url: string; offset: number; byteLength: number }; bias: { url: string; offset: number; byteLength: number } }[]
}

/** Every layer's name is its real name, and every URL resolves to its bytes inside `outDir`. */
export function checkOddBuild(manifest: ManifestLike, outDir: string, expected: OddLayer[]): void {
  expect(manifest.layers.map((l) => l.name)).toEqual(expected.map((e) => e.name))
  const files = new Set<string>()
  for (const [i, e] of expected.entries()) {
    const l = manifest.layers[i]
    for (const [t, want] of [[l.weights, e.weights], [l.bias, e.bias]] as const) {
      const file = fileAt(outDir, t.url)
      expectPortable(file)
      files.add(file)
      const bytes = fs.readFileSync(path.join(outDir, file))
      const got = new Float32Array(new Uint8Array(bytes.subarray(t.offset, t.offset + t.byteLength)).buffer)
      expect([...got], `${JSON.stringify(e.name)}: ${t.url}`).toEqual([...want])
    }
  }
  expect(files.size).toBe(2 * expected.length)
  expect(caseCollisions(files)).toEqual([])
}
