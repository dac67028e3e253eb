/**
 * The playground's sample model: a scaled-down Inception v3 (December 2015 graph) with
 * seeded weights, generated on demand (it is not committed). Used by `scripts/demo.mjs`
 * and `test/e2e.test.ts`.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeInceptionV3_2015 } from '../test/helpers/inception.js'

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url))
export const PLAYGROUND_ROOT = path.join(REPO_ROOT, 'playground')
export const PLAYGROUND_CONFIG = path.join(PLAYGROUND_ROOT, 'vite.config.ts')
/** Where `playground/src/main.ts` imports the model from. */
export const SAMPLE_MODEL = path.join(PLAYGROUND_ROOT, 'src', 'models', 'inception_v3_mini.pb')
/**
 * The demo's CLI step, run from the repository's root: what `npm run demo` prints and runs, a
 * command to run again (its output folder stays; each run replaces it).
 */
export const SAMPLE_CLI_ARGS = ['convert', 'playground/src/models/inception_v3_mini.pb', '--out-dir', 'playground/inception_v3_mini-mpscnn']
export const SAMPLE_CLI_COMMAND = `npm run mpscnn -- ${SAMPLE_CLI_ARGS.join(' ')}`
export const SAMPLE_CLI_OUT = path.join(REPO_ROOT, SAMPLE_CLI_ARGS[3])
/** Channel divisor (~0.4 MB of GraphDef) and PRNG seed: fixed, so the bytes never change. */
export const SAMPLE_SCALE = 16
export const SAMPLE_SEED = 2015

/**
 * Writes the sample model unless an identical file is already there. The new bytes go to a
 * temporary file renamed into place, so concurrent callers (tests, a running `vite dev`)
 * never see a half-written model. Returns the path and whether the file was (re)written.
 */
export function ensureSampleModel(file = SAMPLE_MODEL): { file: string; bytes: Uint8Array; written: boolean } {
  const { bytes } = makeInceptionV3_2015({ scale: SAMPLE_SCALE, seed: SAMPLE_SEED, expected: false })
  let current: Buffer | undefined
  try {
    current = fs.readFileSync(file)
  } catch {
    current = undefined
  }
  if (current && Buffer.compare(current, bytes) === 0) return { file, bytes, written: false }
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`
  fs.writeFileSync(tmp, bytes)
  fs.renameSync(tmp, file)
  return { file, bytes, written: true }
}
