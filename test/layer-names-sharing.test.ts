/**
 * A layer that shares its weight constant with an earlier one, when both names it could take
 * (its own scope, and the first layer's name joined to its op) are taken: its scope numbered
 * from 2, past the numbers taken too (src/fold/layer-names.ts).
 */
import { describe, expect, it } from 'vitest'
import { LayerNames, layerName } from '../src/fold/layer-names.js'

describe('a layer sharing a weight constant', () => {
  it('numbers its scope past every name taken', () => {
    const names = new LayerNames('m.pb')
    const planned = (weightNode: string, node: string) => ({ info: { name: layerName(weightNode, node), node }, weightNode })
    const layers = [
      planned('tower/w', 'tower/conv/Conv2D'), // tower
      planned('tower_tower_x/w', 'tower_tower_x/conv/Conv2D'), // tower_tower_x: the shared layer's second choice
      planned('tower_2/w', 'tower_2/conv/Conv2D'), // tower_2
      planned('tower/w', 'tower/x'), // shares tower/w; its own scope is `tower`
    ]
    for (const l of layers) names.add(l)
    names.nameSharing()
    expect(layers.map((l) => l.info.name)).toEqual(['tower', 'tower_tower_x', 'tower_2', 'tower_3'])
  })
})
