/**
 * The plugin option `verify`: after a model converts (or comes from the cache), its converted
 * network runs with MPS semantics against the original graph on TensorFlow.js (src/execute,
 * loaded with import() only when the option is on), reading the weights from the build's
 * memory. One log line per model; beyond the tolerance, an MpscnnError (VERIFY_FAILED) naming
 * the model and the first diverging node fails the build.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { ConvertedAssets } from '../emit/assets.js'
import { manifestJson } from '../emit/manifest.js'
import { parseModel } from '../fold/convert.js'
import { MpscnnError } from '../base/errors.js'
import type { MpscnnManifest } from '../base/manifest-types.js'
import type { VerifySettings } from './options.js'

const fmt = (n: number) => (n === 0 ? '0' : n.toExponential(1))

let calls = 0

/**
 * Verifies one converted model (`file` is the .pb on disk, `display` how messages name it).
 * Resolves to the log line (`model.pb: verified, 8/8 top-1, max abs 3.1e-9`); rejects with
 * VERIFY_FAILED beyond the tolerance, MISSING_DEPENDENCY without TensorFlow.js.
 */
export async function verifyModel(file: string, display: string, assets: ConvertedAssets, settings: VerifySettings): Promise<string> {
  if (!assets.network) {
    throw new MpscnnError('BAD_OPTION', display, 'option verify needs the network description, and option network is false', { hint: 'Remove network: false, or verify: true' })
  }
  const { verify } = await import('../execute/verify.js')
  const graphDef = parseModel(new Uint8Array(await fs.promises.readFile(file)), display)
  const manifest = JSON.parse(manifestJson(assets.header, assets.plan, assets.network)) as MpscnnManifest
  manifest.source = display
  // The weights come from the build's memory: a base of their own per run, so that no other
  // model's (or an earlier build's) file of the same name is taken for them.
  const base = `mpscnn-memory://m${process.pid}-${++calls}/`
  const memoryFetch = (async (url: string) => {
    const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''))
    const bytes = assets.files.get(name)
    return bytes ? new Response(bytes.slice()) : new Response(null, { status: 404 })
  }) as typeof fetch
  const report = await verify(graphDef, manifest, { ...settings, load: { base, fetch: memoryFetch } })
  const top1 = Math.min(...report.outputs.map((o) => o.top1))
  const maxAbs = Math.max(...report.outputs.map((o) => o.maxAbs))
  if (!report.ok) {
    const worst = report.outputs.reduce((a, b) => (b.maxRel > a.maxRel ? b : a))
    const d = report.firstDivergence
    const where = d ? `; first diverging node ${JSON.stringify(d.node)} (image ${JSON.stringify(d.image)}, max rel ${fmt(d.maxRel)}): ${JSON.stringify(d.parameters)}` : ''
    throw new MpscnnError(
      'VERIFY_FAILED',
      display,
      `verify: output ${JSON.stringify(worst.tfNode)} differs from the TensorFlow graph by ${fmt(worst.maxRel)} (relative), beyond the tolerance ${report.tolerance}${where}`,
      { hint: 'Run `mpscnn verify` on the model for the full table' },
    )
  }
  return `${path.basename(file)}: verified, ${top1}/${report.samples} top-1, max abs ${fmt(maxAbs)}`
}
