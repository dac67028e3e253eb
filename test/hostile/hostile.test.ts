/**
 * The hostile-input suite: every input of test/hostile/inputs.ts converted by the built CLI
 * and the plugin's loader in a child process with a capped heap, whose peak RSS must stay
 * bounded; a refusal must be one MpscnnError with its code and node, leaving no output
 * behind. (Mutation fuzzing: fuzz.test.ts here.)
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseModel } from '../../src/fold/convert.js'
import { Graph } from '../../src/fold/graph.js'
import { planLayers } from '../../src/fold/plan-layers.js'
import { biasAddChain, biasAddChainOnInput, hostileInputs } from './inputs.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CHILD = path.join(ROOT, 'test', 'hostile', 'child.mjs')
/** Node and the built plugin take ~70 MB; a conversion of these inputs may add little. */
const RSS_LIMIT_MB = 256

interface ChildReport {
  cli: { status: number; stderr: string; outDirExists: boolean }
  plugin: { ok: boolean; code?: string; node?: string; message?: string; name?: string; layers?: number; warnings?: string[] }
  maxRssMb: number
}

let tmp: string

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first')
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-hostile-'))
})

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
})

describe('hostile inputs, in a memory-capped child (CLI and plugin)', () => {
  hostileInputs().forEach((input, i) => {
    it(input.name, () => {
      const dir = path.join(tmp, String(i))
      fs.mkdirSync(dir)
      const model = path.join(dir, 'model.pb')
      if (input.bytes instanceof Uint8Array) fs.writeFileSync(model, input.bytes)
      else {
        fs.writeFileSync(model, '')
        fs.truncateSync(model, input.bytes.zeros) // sparse: no disk, no memory
      }
      const out = path.join(dir, 'out')
      const r = spawnSync(process.execPath, ['--max-old-space-size=256', CHILD, model, out, ...(input.args ?? [])], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' })
      expect(r.status, `child: ${r.error?.message ?? r.signal ?? ''}\n${r.stderr}`).toBe(0)
      const rep = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ChildReport
      console.log(`${input.name}: peak RSS ${rep.maxRssMb.toFixed(0)} MB`)
      expect(rep.maxRssMb, `peak RSS ${rep.maxRssMb} MB`).toBeLessThan(RSS_LIMIT_MB)
      const e = input.expected
      if ('ok' in e) {
        expect(rep.cli, rep.cli.stderr).toMatchObject({ status: 0, outDirExists: true })
        expect(rep.plugin, rep.plugin.message).toMatchObject({ ok: true, layers: e.layers })
        if (e.warning) expect(rep.plugin.warnings!.join('\n')).toMatch(e.warning)
        else expect(rep.plugin.warnings).toEqual([])
      } else {
        expect(rep.plugin, rep.plugin.message).toMatchObject({ ok: false, name: 'MpscnnError', code: e.code })
        expect(rep.plugin.node).toBe(e.node)
        expect(rep.plugin.message).toMatch(e.says)
        expect(rep.plugin.message).not.toContain('\n')
        // The CLI: the same one line, exit 1, nothing written.
        expect(rep.cli.status).toBe(1)
        expect(rep.cli.stderr).toBe(`mpscnn: ${rep.plugin.message!.replace(path.relative(dir, model), model)}\n`)
        expect(rep.cli.outDirExists).toBe(false)
        expect(fs.readdirSync(dir)).toEqual(['model.pb'])
      }
    }, 90_000)
  })
})

describe('planning is linear in nodes and edges', () => {
  it('a chain of 30000 BiasAdd ops folds into its layer in a number of steps linear in the graph', () => {
    const counts = [10000, 30000].map((n) => {
      const graph = new Graph(parseModel(biasAddChain(n), 'chain.pb'), 'chain.pb')
      const plan = planLayers(graph, 'chain.pb')
      expect(plan.layers).toHaveLength(1)
      expect(plan.layers[0].info.folded).toHaveLength(n)
      expect(plan.layers[0].info.activation).toBe('relu')
      let edges = 0
      for (const ins of graph.inputs.values()) edges += ins.length
      // A step per fold and per consumer edge visited: at most a few per node and edge.
      expect(plan.stats.steps).toBeLessThanOrEqual(2 * (graph.nodes.length + edges))
      return plan.stats.steps
    })
    // Three times the chain, three times the steps (not nine).
    expect(counts[1] / counts[0]).toBeLessThan(3.1)
  })

  it('30000 BiasAdd ops on the network input, listed consumers first: each named in the preprocessing message, in linear steps', () => {
    const n = 30000
    const graph = new Graph(parseModel(biasAddChainOnInput(n, true), 'chain.pb'), 'chain.pb')
    const plan = planLayers(graph, 'chain.pb')
    expect(plan.layers.map((l) => l.info.folded)).toEqual([[]])
    expect(plan.warnings).toHaveLength(1)
    // Affine ops on the network input are its preprocessing: one message, every op named.
    expect(plan.warnings[0].startsWith(`chain.pb: the input's preprocessing, BiasAdd "bias/0", `)).toBe(true)
    for (const i of [0, n / 2, n - 1]) expect(plan.warnings[0]).toContain(`BiasAdd "bias/${i}"`)
    let edges = 0
    for (const ins of graph.inputs.values()) edges += ins.length
    expect(plan.stats.steps).toBeLessThanOrEqual(2 * (graph.nodes.length + edges))
  })
})
