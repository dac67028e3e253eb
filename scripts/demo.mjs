/**
 * `npm run demo` (= `npm run build && node --import tsx scripts/demo.mjs`):
 *
 * 1. generates the sample model playground/src/models/inception_v3_mini.pb (a scaled-down
 *    Inception v3, fixed seed; not committed),
 * 2. converts it with the CLI into playground/inception_v3_mini-mpscnn (printing the command,
 *    which can be run again) and prints the layers of the manifest.json it wrote,
 * 3. runs `mpscnn verify` on that output: the converted network against the TensorFlow graph;
 * 4. builds the playground with Vite into playground/dist (serve it with `npm run playground`).
 *
 * Needs tsx (the model generator is TypeScript) and a built dist/ (the CLI and the plugin).
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { PLAYGROUND_CONFIG, PLAYGROUND_ROOT, REPO_ROOT, SAMPLE_CLI_ARGS, SAMPLE_CLI_COMMAND, SAMPLE_CLI_OUT, SAMPLE_SCALE, SAMPLE_SEED, ensureSampleModel } from './sample-model.ts'

const tty = process.stdout.isTTY && !process.env.NO_COLOR
const style = (code) => (s) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s)
const bold = style(1)
const dim = style(2)
const rel = (p) => path.relative(process.cwd(), p) || '.'

function formatBytes(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`
  return `${n} B`
}
const int = new Intl.NumberFormat('en-US')
const count = (shape) => shape.reduce((a, b) => a * b, 1)

function step(n, text) {
  console.log(`\n${bold(`${n}.`)} ${bold(text)}`)
}

if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('demo: dist/ is missing; run `npm run build` first (`npm run demo` does)')
  process.exit(1)
}

// 1. The model --------------------------------------------------------------------------

step(1, 'Sample model')
const model = ensureSampleModel()
console.log(`   ${rel(model.file)}: Inception v3 (2015 graph) at 1/${SAMPLE_SCALE} of its channels, seed ${SAMPLE_SEED}, ${formatBytes(model.bytes.byteLength)}${model.written ? '' : dim(' (up to date)')}`)

// 2. The CLI ----------------------------------------------------------------------------

step(2, 'CLI conversion')
console.log(dim(`   $ ${SAMPLE_CLI_COMMAND}`))
const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'mpscnn.js'), ...SAMPLE_CLI_ARGS], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
if (run.status !== 0) {
  console.error(`demo: the CLI failed (${run.signal ?? `exit code ${run.status}`})`)
  process.exit(1)
}
console.log()
printLayerTable(JSON.parse(fs.readFileSync(path.join(SAMPLE_CLI_OUT, 'manifest.json'), 'utf8')))

// 3. Verify -----------------------------------------------------------------------------

step(3, 'Verify: the converted network (MPS semantics) against the TensorFlow graph')
const verifyArgs = ['verify', path.relative(REPO_ROOT, model.file), '--assets', path.relative(REPO_ROOT, SAMPLE_CLI_OUT), '--samples', '4']
console.log(dim(`   $ npm run mpscnn -- ${verifyArgs.join(' ')}`))
const verified = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'mpscnn.js'), ...verifyArgs], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
if (verified.status !== 0) {
  console.error(`demo: verify failed (${verified.signal ?? `exit code ${verified.status}`})`)
  process.exit(1)
}

// 4. The playground ---------------------------------------------------------------------

step(4, 'Playground build (Vite)')
const { build } = await import('vite')
await build({ root: PLAYGROUND_ROOT, configFile: PLAYGROUND_CONFIG, logLevel: 'warn' })
const dist = path.join(PLAYGROUND_ROOT, 'dist')
const assets = fs.readdirSync(path.join(dist, 'assets'))
const sizeOf = (ext) =>
  assets
    .filter((f) => f.endsWith(ext))
    .map((f) => fs.readFileSync(path.join(dist, 'assets', f)))
    .reduce((a, b) => ({ raw: a.raw + b.byteLength, gzip: a.gzip + gzipSync(b).byteLength }), { raw: 0, gzip: 0 })
const js = sizeOf('.js')
const css = sizeOf('.css')
const dat = assets.filter((f) => f.endsWith('.dat'))
const datBytes = dat.reduce((a, f) => a + fs.statSync(path.join(dist, 'assets', f)).size, 0)
console.log(`   ${rel(dist)}/`)
console.log(`     JavaScript  ${formatBytes(js.raw).padStart(9)}  ${dim(`(${formatBytes(js.gzip)} gzip)`)}`)
console.log(`     CSS         ${formatBytes(css.raw).padStart(9)}  ${dim(`(${formatBytes(css.gzip)} gzip)`)}`)
console.log(`     weights     ${formatBytes(datBytes).padStart(9)}  ${dim(`(${dat.length} .dat files)`)}`)
console.log(`\n   Serve it: ${bold('npm run playground')}  ${dim('(http://127.0.0.1:4173/)')}`)

/** The layers of a CLI manifest.json, in aligned columns. */
function printLayerTable(manifest) {
  const layers = manifest.layers
  const inW = Math.max(...layers.map((l) => String(l.inputChannels).length))
  const outW = Math.max(...layers.map((l) => String(l.outputChannels).length))
  const cols = [
    { head: 'layer', get: (l) => l.name },
    { head: 'kind', get: (l) => l.kind },
    { head: 'kernel', get: (l) => `${l.kernelHeight}x${l.kernelWidth}`, right: true },
    { head: 'stride', get: (l) => `${l.strideY}x${l.strideX}`, right: true },
    { head: 'in -> out', get: (l) => `${String(l.inputChannels).padStart(inW)} -> ${String(l.outputChannels).padEnd(outW)}` },
    { head: 'params', get: (l) => int.format(count(l.weights.shape) + count(l.bias.shape)), right: true },
    { head: 'bytes', get: (l) => int.format(l.weights.byteLength + l.bias.byteLength), right: true },
  ]
  const cells = layers.map((l) => cols.map((c) => c.get(l)))
  const params = layers.reduce((a, l) => a + count(l.weights.shape) + count(l.bias.shape), 0)
  const bytes = layers.reduce((a, l) => a + l.weights.byteLength + l.bias.byteLength, 0)
  const total = [`${layers.length} layers`, '', '', '', '', int.format(params), int.format(bytes)]
  const widths = cols.map((c, i) => Math.max(c.head.length, total[i].length, ...cells.map((r) => r[i].length)))
  const line = (r) => `   ${r.map((v, i) => (cols[i].right ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ')}`.trimEnd()
  const rule = `   ${widths.map((w) => '-'.repeat(w)).join('  ')}`
  console.log(bold(line(cols.map((c) => c.head))))
  console.log(dim(rule))
  for (const r of cells) console.log(line(r))
  console.log(dim(rule))
  console.log(bold(line(total)))
  console.log(dim(`   ${manifest.source}, sha256 ${manifest.sha256.slice(0, 16)}…, ${manifest.precision}, ${formatBytes(bytes)}`))
}
