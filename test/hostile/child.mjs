#!/usr/bin/env node
/**
 * Converts one hostile input with the built converter, in this (memory-capped) process, the
 * way the CLI does (`main(['convert', ...])`) and the way the plugin does (`loadModel`, which
 * reads the model in parallel), and prints one JSON line:
 *   { cli: { status, stderr, outDirExists }, plugin: { ok, code, node, message, layers, warnings }, maxRssMb }
 *
 *   node --max-old-space-size=256 test/hostile/child.mjs <model> <outDir> [--max-expansion N]
 */
import fs from 'node:fs'
import path from 'node:path'

const dist = new URL('../../dist/', import.meta.url)
const [model, outDir, ...extra] = process.argv.slice(2)
const { main } = await import(new URL('cli/main.js', dist).href)
const { loadModel } = await import(new URL('plugin/core.js', dist).href)
const { resolveOptions } = await import(new URL('plugin/options.js', dist).href)

// The CLI, with its stderr captured.
let stderr = ''
const write = process.stderr.write.bind(process.stderr)
process.stderr.write = (chunk, ...rest) => {
  stderr += String(chunk)
  return true
}
let status
try {
  status = await main(['convert', model, '--out-dir', outDir, '--quiet', ...extra])
} finally {
  process.stderr.write = write
}
const cli = { status, stderr, outDirExists: fs.existsSync(outDir) }

// The plugin's path: no cache, so that nothing else is read or written.
const maxExpansion = extra[0] === '--max-expansion' ? Number(extra[1]) : undefined
const network = !extra.includes('--layers-only')
const root = path.dirname(model)
let plugin
try {
  const m = await loadModel(model, resolveOptions({ cache: false, quiet: true, maxExpansion, network }, root), root, () => {})
  plugin = { ok: true, layers: m.assets.plan.layers.length, warnings: m.assets.warnings }
} catch (e) {
  plugin = { ok: false, code: e.code, node: e.node, message: e.message, name: e.name }
}
process.stdout.write(`${JSON.stringify({ cli, plugin, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`)
process.exit(0)
