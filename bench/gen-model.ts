/**
 * Writes an Inception v3 2015 GraphDef with random weights (no expected values).
 * Usage: node --import tsx bench/gen-model.ts <out.pb> [scale] [seed]
 */
import { writeInceptionFixture } from '../test/helpers/inception.js'

const [out, scale = '1', seed = '1'] = process.argv.slice(2)
if (!out) throw new Error('usage: gen-model.ts <out.pb> [scale] [seed]')
const { size } = writeInceptionFixture(out, { scale: Number(scale), seed: Number(seed), expected: false })
process.stdout.write(`${size}\n`)
