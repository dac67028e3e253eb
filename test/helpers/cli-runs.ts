/**
 * Several `mpscnn convert` runs one after another in one Node process, through the built
 * CLI's `main(argv, undefined, tuning)`: `tuning.layoutWorkerMinBytes` lets a small model
 * take the two-thread path. MPSCNN_TRACE tells how many layers the layout worker laid out.
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { expect } from 'vitest'

export interface CliRun {
  label: string
  argv: string[]
  tuning?: { layoutWorkerMinBytes?: number }
}

export interface CliRunResult {
  exit: number
  /** What the run wrote on stderr, trace lines apart. */
  stderr: string
  /** How many layers the layout worker laid out, from the trace (undefined: no worker). */
  workerLayers?: number
}

/** Runs `runs` in `cwd` with the CLI built in `dist`, by label. */
export function runCliInOneProcess(runs: CliRun[], cwd: string, dist: string): Map<string, CliRunResult> {
  const script = `
    const { main } = await import(${JSON.stringify(pathToFileURL(path.join(dist, 'cli/main.js')).href)})
    for (const r of ${JSON.stringify(runs)}) {
      process.stderr.write('@@run ' + r.label + '\\n')
      const exit = await main(r.argv, undefined, r.tuning)
      process.stderr.write('@@exit ' + exit + '\\n')
    }`
  const p = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8', env: { ...process.env, MPSCNN_TRACE: '1', MPSCNN_DEBUG: '' } })
  expect(p.status, p.stderr).toBe(0)
  const out = new Map<string, CliRunResult>()
  for (const part of p.stderr.split('@@run ').slice(1)) {
    const label = part.slice(0, part.indexOf('\n'))
    const body = part.slice(label.length + 1)
    // The worker's own trace lines reach stderr through the main thread, whenever it gets to
    // them: one may land after its run's @@exit line.
    const all = body.split('\n').filter((l) => l !== '')
    const exit = Number(all.map((l) => /^@@exit (\d+)$/.exec(l)).find((m) => m)![1])
    const lines = all.filter((l) => !l.startsWith('@@exit '))
    const worker = lines.map((l) => /^mpscnn: trace: .* the worker's (\d+) layers$/.exec(l)).find((m) => m)
    out.set(label, { exit, stderr: lines.filter((l) => !l.startsWith('mpscnn: trace: ')).join('\n'), workerLayers: worker ? Number(worker[1]) : undefined })
  }
  expect([...out.keys()]).toEqual(runs.map((r) => r.label))
  return out
}
