/**
 * The "no silent drops" property: converting a model, every Conv2D,
 * DepthwiseConv2dNative, MatMul and Conv2DBackpropInput becomes a layer, or is named in a
 * warning; with the network described (the default) a weighted op on the path becomes a
 * network node, else the conversion is refused. A refused conversion writes nothing, so it
 * drops nothing; it must be an MpscnnError. Checked both ways, `network: false` and on.
 */
import { MpscnnError } from '../../src/base/errors.js'
import { convertModel, parseModel } from '../../src/fold/convert.js'
import { buildNetwork, type NetworkOptions } from '../../src/network/index.js'

export const WEIGHTED_OPS = new Set(['Conv2D', 'DepthwiseConv2dNative', 'MatMul', 'Conv2DBackpropInput'])

/** The weighted ops dropped in silence (`[]` when none), as `network on|off: op "name"`. */
export function silentlyDropped(bytes: Uint8Array, file: string, options: NetworkOptions = {}): string[] {
  let names: string[]
  try {
    names = parseModel(bytes, file).node.filter((n) => WEIGHTED_OPS.has(n.op)).map((n) => n.name)
  } catch (e) {
    if (e instanceof MpscnnError) return []
    throw e
  }
  const dropped: string[] = []
  for (const network of [false, true]) {
    try {
      const m = convertModel(bytes, { file })
      const covered = new Set(m.layers.map((l) => l.node))
      if (network) for (const n of buildNetwork(m.graph, file, m.plans, options).nodes) covered.add(n.name)
      const said = m.warnings.join('\n')
      for (const name of names) if (!covered.has(name) && !said.includes(JSON.stringify(name))) dropped.push(`network ${network ? 'on' : 'off'}: ${JSON.stringify(name)}`)
    } catch (e) {
      if (!(e instanceof MpscnnError)) throw e
    }
  }
  return dropped
}
