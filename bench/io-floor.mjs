/**
 * The floor for any Node program that converts this model: read the model, write the same
 * files as the CLI (names and sizes) into a temporary folder and rename it into place. No
 * parsing, folding, layout or hashing. `bench/run.mjs` calls `ioFloor` in its own process
 * (against the CLI's code path there) and runs this file as a process of its own, like the
 * CLI, taking the names and sizes from the CLI's manifest.json:
 *
 *   node bench/io-floor.mjs model.pb cli-out/manifest.json out
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** Reads `model` and writes `files` ([name, size][]) from its bytes into `out`, replacing it. */
export function ioFloor(model, files, out) {
  const bytes = fs.readFileSync(model)
  const tmp = `${out}.tmp-${process.pid}`
  fs.rmSync(tmp, { recursive: true, force: true })
  fs.mkdirSync(tmp, { recursive: true })
  let offset = 0
  for (const [name, size] of files) {
    if (offset + size > bytes.length) offset = 0
    fs.writeFileSync(path.join(tmp, name), bytes.subarray(offset, offset + size))
    offset += size
  }
  fs.rmSync(out, { recursive: true, force: true })
  fs.renameSync(tmp, out)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [model, manifestFile, out] = process.argv.slice(2)
  const manifest = fs.readFileSync(manifestFile)
  const files = JSON.parse(manifest.toString('utf8')).layers.flatMap((l) => [l.weights, l.bias].map((t) => [t.file, t.byteLength]))
  ioFloor(model, [...files, ['manifest.json', manifest.length]], out)
}
