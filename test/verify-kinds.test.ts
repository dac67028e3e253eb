/**
 * Agreement: every graph kind the network description covers (test/helpers/graphs.ts), a TF2
 * Keras export, TF-slim MobileNets (both batch-norm spellings, and after quantize_weights) and
 * the shared 2015 Inception fixture, converted as the CLI converts them in float32 and float16,
 * packed and not, verify within the documented tolerance (TOLERANCE in src/execute/verify.ts),
 * with top-1 agreeing on every sample in float32.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseModel } from '../src/fold/convert.js'
import { createExecutor } from '../src/execute/executor.js'
import { TOLERANCE, verify } from '../src/execute/verify.js'
import { convertToFolder } from './helpers/conversion.js'
import { encodeGraphDef, type GraphBuilder } from './helpers/graph-builder.js'
import * as graphs from './helpers/graphs.js'

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'mpscnn-verify-kinds-'))
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }))

const MINI = new URL('../../shared/fixtures/inception_v3_2015_mini.pb', import.meta.url)
const haveShared = fs.existsSync(MINI)
if (!haveShared) console.warn('../shared is absent: skipping the agreement of the shared 2015 Inception fixture (../shared/fixtures/inception_v3_2015_mini.pb)')

/** The padding matrix of one input size: kernels 1-4, strides 1-2, SAME and VALID. */
const matrix = (size: number): graphs.PaddingCase[] =>
  [1, 2, 3, 4].flatMap((k) => [1, 2].flatMap((s) => (['SAME', 'VALID'] as const).map((padding) => ({ name: `k${k}s${s}${padding}`, k, s, d: 1, padding }))))

const KINDS: [string, () => Uint8Array][] = [
  ['padding matrix, 7 px', () => graphs.paddingConvs(7, matrix(7)).encode()],
  ['padding matrix, 8 px', () => graphs.paddingConvs(8, matrix(8)).encode()],
  ['dilation 2, SAME and VALID', () => graphs.paddingConvs(9, [{ name: 'same', k: 3, s: 1, d: 2, padding: 'SAME' }, { name: 'valid', k: 3, s: 2, d: 2, padding: 'VALID' }]).encode()],
  ['explicit Pad folded into a convolution and a max pool', () => graphs.explicitPad().encode()],
  ['pools', () => graphs.pools().encode()],
  ['residual Add, standalone and fused neurons, log softmax', () => graphs.residualNeurons().encode()],
  ['Mean, fully connected with its bias, softmax', () => graphs.meanFullyConnected().encode()],
  ['flatten (Reshape) + fully connected', () => graphs.flatten('Reshape').encode()],
  ['flatten (Keras Flatten) + fully connected', () => graphs.flatten('Keras Flatten').encode()],
  ['an NCHW graph', () => graphs.nchw().encode()],
  ['NCHW Transpose + flatten + fully connected', () => graphs.nchwFlatten().b.encode()],
  ['preprocessing, unfolded batch norm, Relu6 in a depthwise convolution, upsampling', () => graphs.upsamplingBatchNorm().encode()],
  ['a depthwise convolution with multiplier 2 (grouped)', () => graphs.depthwiseMultiplier().encode()],
  ['dropout, CheckNumerics, Identity', () => graphs.trainingLeftovers().encode()],
  ['nested concatenations', () => graphs.nestedConcat().encode()],
  ['a concatenation copied (producer read elsewhere, offset not a multiple of 4)', () => graphs.concatCopied().encode()],
  ['transposed convolution, SAME, stride 2, odd output, kernel 4 x 3', () => graphs.convolutionTranspose({ inH: 3, inW: 4, outH: 5, outW: 7, k: [4, 3], s: 2, padding: 'SAME', cin: 3, cout: 2 }, graphs.seeded(16)).b.encode()],
  ['transposed convolution, VALID, stride 2, kernel 3 x 4', () => graphs.convolutionTranspose({ inH: 3, inW: 3, outH: 7, outW: 8, k: [3, 4], s: 2, padding: 'VALID', cin: 2, cout: 2 }, graphs.seeded(17)).b.encode()],
  ['transposed convolution, SAME, stride 1, kernel 2', () => graphs.convolutionTranspose({ inH: 4, inW: 4, outH: 4, outW: 4, k: [2, 2], s: 1, padding: 'SAME', cin: 1, cout: 4 }, graphs.seeded(18)).b.encode()],
  ['TF2 Keras export', () => graphs.keras().encode()],
  ['TF-slim MobileNet, FusedBatchNorm', () => encodeGraphDef(graphs.slimMobilenet(true).graph)],
  ['TF-slim MobileNet, spelled-out batch norm', () => encodeGraphDef(graphs.slimMobilenet(false).graph)],
  ['TF-slim MobileNet after quantize_weights', () => graphs.quantizedMobilenet().encode()],
]

const COMBOS = [
  ['float32', false],
  ['float32', true],
  ['float16', false],
  ['float16', true],
] as const

let seq = 0

/** Converts `bytes` as the CLI does in each combination and verifies it on 2 samples. */
async function agrees(bytes: Uint8Array, file: string, backend: 'cpu' | 'wasm' = 'cpu'): Promise<void> {
  const graphDef = parseModel(bytes, file)
  for (const [precision, packed] of COMBOS) {
    const m = await convertToFolder(bytes, path.join(TMP, `m${seq++}`), { file, precision, packed })
    const r = await verify(graphDef, m, { samples: 2, backend })
    const what = `${precision}${packed ? ', packed' : ''}: ${JSON.stringify({ outputs: r.outputs, firstDivergence: r.firstDivergence })}`
    expect(r.tolerance, what).toBe(TOLERANCE[precision])
    expect(r.ok, what).toBe(true)
    for (const o of r.outputs) {
      expect(o.maxRel, what).toBeLessThanOrEqual(TOLERANCE[precision])
      if (precision === 'float32') expect(o.top1, what).toBe(2)
    }
  }
}

describe('every graph kind verifies, float32 and float16, packed and not', () => {
  it.each(KINDS)('%s', async (_, make) => {
    await agrees(make(), 'case.pb')
  })

  it.skipIf(!haveShared)('the shared 2015 Inception fixture (mini), fed at Mul, on wasm', async () => {
    await agrees(new Uint8Array(fs.readFileSync(MINI)), 'inception_v3_2015_mini.pb', 'wasm')
  }, 60_000)
})
