/**
 * The network description of Inception v3 (2015) against Apple's Inception3Net.swift
 * (test/helpers/inception-network.ts): the shared mini fixture and a generated graph.
 * The full-size graph is checked in full-size.test.ts, on the CLI's manifest.json.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { MpscnnNetwork } from '../src/base/manifest-types.js'
import { convertModel } from '../src/fold/convert.js'
import { buildNetwork } from '../src/network/index.js'
import { makeInceptionV3_2015 } from './helpers/inception.js'
import { checkInception } from './helpers/inception-network.js'

function describeOf(bytes: Uint8Array): MpscnnNetwork {
  const m = convertModel(bytes, { file: 'inception.pb' })
  return buildNetwork(m.graph, 'inception.pb', m.plans)
}

describe('Inception v3 (2015) as Apple encodes it', () => {
  it('generated at 1/16 of the channels: every window, size, ReLU and the input of Inception3Net.swift; every joined channel written once', () => {
    checkInception(describeOf(makeInceptionV3_2015({ scale: 16, expected: false }).bytes))
  })

  const shared = path.resolve(__dirname, '../../shared/fixtures/inception_v3_2015_mini.pb')
  const present = fs.existsSync(shared)
  if (!present) console.warn(`[network-inception.test] shared fixture skipped: ${shared} is absent`)
  it.skipIf(!present)('the shared 2015 mini fixture (../shared): the same windows, sizes, ReLUs and input; every joined channel written once', () => {
    const net = describeOf(fs.readFileSync(shared))
    checkInception(net)
    // Channel counts cut by 8: a branch writes in place where its offset is a multiple of 4 (MPSCNNKernel.h).
    for (const n of net.nodes) if (n.destinationFeatureChannelOffset) expect(n.destinationFeatureChannelOffset % 4).toBe(0)
  })
})
