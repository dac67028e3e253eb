/**
 * The executor's and verify's performance rows, in their own process (TensorFlow.js's memory stays out of the
 * other measures). Run by bench/run.mjs (step g), or alone:
 *
 *   node bench/execute.mjs <model.pb> <out-dir> [runs]
 *
 * 1. `mpscnn verify <model> --samples 8 --backend wasm`: wall time and peak RSS (GNU time).
 * 2. The converted network, run by the executor, against the original graph run by
 *    tfjs-converter (the reference), on the same backend and input, as medians of interleaved
 *    runs, on wasm and on cpu. Removing the batch norms is what the folding is for: the
 *    folded network should be measurably faster (target: ours / reference <= 0.8).
 * Prints one JSON object on stdout.
 */
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'

const REPO = fileURLToPath(new URL('..', import.meta.url))
const [model, outDir, runsArg] = process.argv.slice(2)
if (!model || !outDir) {
  console.error('usage: node bench/execute.mjs <model.pb> <out-dir> [runs]')
  process.exit(2)
}
const runs = Number(runsArg ?? 7)
const dist = (f) => pathToFileURL(path.join(REPO, 'dist', f)).href
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const result = { runs }

// 1. mpscnn verify, whole process, 8 samples on wasm.
{
  const t0 = performance.now()
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, path.join(REPO, 'bin/mpscnn.js'), 'verify', model, '--samples', '8', '--backend', 'wasm'], { encoding: 'utf8', maxBuffer: 64 << 20 })
  const ms = performance.now() - t0
  if (r.status !== 0) throw new Error(`mpscnn verify failed (${r.status}):\n${r.stdout}\n${r.stderr}`)
  const rssKb = Number(r.stderr.trim().split('\n').pop())
  result.verify = { ms, rssMB: rssKb / 1024, table: r.stdout.trim() }
}

// 2. Executor vs reference, interleaved, per backend.
{
  const convert = spawnSync(process.execPath, [path.join(REPO, 'bin/mpscnn.js'), 'convert', model, '--out-dir', outDir, '--quiet'], { encoding: 'utf8' })
  if (convert.status !== 0) throw new Error(`mpscnn convert failed:\n${convert.stderr}`)
  const { loadManifest } = await import(dist('runtime.js'))
  const { createExecutor } = await import(dist('execute/index.js'))
  const { createReference } = await import(dist('execute/reference.js'))
  const { parseModel } = await import(dist('fold/convert.js'))
  const manifest = await loadManifest(path.join(outDir, 'manifest.json'))
  const net = manifest.network
  const input = net.inputs[0]
  const img = net.images[input.image]
  const shape = [1, img.height, img.width, img.featureChannels]
  const x = new Float32Array(shape.reduce((a, b) => a * b, 1))
  let seed = 1
  for (let i = 0; i < x.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0
    x[i] = (seed / 2 ** 32) * 2 - 1
  }
  const graph = parseModel(fs.readFileSync(model), path.basename(model))
  result.backends = {}
  for (const backend of ['wasm', 'cpu']) {
    const n = backend === 'cpu' ? Math.min(runs, 3) : runs
    const ex = await createExecutor(manifest, { backend })
    const ref = await createReference(graph, { input: input.tfNode, outputs: net.outputs.map((o) => o.tfNode), backend, file: path.basename(model) })
    await ex.run(x) // warm-up: kernels compiled, weights uploaded
    await ref.run(x, shape)
    // Wall time, and the process's CPU time (all its threads), which another load on the
    // machine disturbs less.
    const wall = { ours: [], reference: [] }
    const cpu = { ours: [], reference: [] }
    const time = async (k, f) => {
      const c = process.cpuUsage()
      const t = performance.now()
      await f()
      wall[k].push(performance.now() - t)
      const u = process.cpuUsage(c)
      cpu[k].push((u.user + u.system) / 1000)
    }
    for (let i = 0; i < n; i++) {
      await time('ours', () => ex.run(x))
      await time('reference', () => ref.run(x, shape))
    }
    ex.dispose()
    ref.dispose()
    result.backends[backend] = { ours: median(wall.ours), reference: median(wall.reference), ratio: median(wall.ours) / median(wall.reference), samples: wall, cpu }
  }
}
process.stdout.write(`${JSON.stringify(result)}\n`)
