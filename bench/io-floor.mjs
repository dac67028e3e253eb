/**
 * The floor for any Node program that converts this model: start Node, read the model,
 * write the same files as the CLI (names and sizes from its manifest.json) into a
 * temporary folder and rename it into place. No parsing, folding, layout or hashing.
 * Run by `bench/run.mjs`, in its own process, like the CLI:
 *
 *   node bench/io-floor.mjs model.pb cli-out/manifest.json out
 */
import fs from 'node:fs'
import path from 'node:path'

const [model, manifestFile, out] = process.argv.slice(2)
const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'))
const bytes = fs.readFileSync(model)
const tmp = `${out}.tmp-${process.pid}`
fs.mkdirSync(tmp, { recursive: true })
let offset = 0
for (const layer of manifest.layers) {
  for (const t of [layer.weights, layer.bias]) {
    if (offset + t.byteLength > bytes.length) offset = 0
    fs.writeFileSync(path.join(tmp, t.file), bytes.subarray(offset, offset + t.byteLength))
    offset += t.byteLength
  }
}
fs.writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify(manifest))
fs.renameSync(tmp, out)
