/**
 * Two small parts of src/fold through their module API: the bound on what a conversion may
 * materialise (fold/budget.ts), and how layers are named (fold/layer-names.ts): after the weight's
 * scope, after the op's scope for a scopeless TF2 constant, numbered or refused on a collision,
 * and for ops that share one weight constant.
 */
import { describe, expect, it } from 'vitest'
import { MaterializeBudget, materializeLimit } from '../src/fold/budget.js'
import { LayerNames, layerName } from '../src/fold/layer-names.js'

describe('the materialisation bound', () => {
  it('is 64 MiB, or maxExpansion times the model, whichever is larger', () => {
    expect(materializeLimit(1000)).toBe(64 << 20)
    expect(materializeLimit(10 << 20)).toBe(160 << 20)
    expect(materializeLimit(10 << 20, 2)).toBe(64 << 20)
    expect(materializeLimit(100 << 20, 2)).toBe(200 << 20)
  })

  it('takes charges up to the limit exactly, and refuses the byte past it, naming the node and the sizes', () => {
    const b = new MaterializeBudget('m.pb', 3000)
    b.charge(1000, 'a', 'x')
    b.charge(2000, 'b', 'x')
    expect(b.used).toBe(3000)
    expect(() => b.charge(1, 'c', 'expanding this constant')).toThrow(
      expect.objectContaining({
        code: 'TOO_LARGE',
        node: 'c',
        message: 'm.pb: node "c": expanding this constant needs 1 B, which would bring what the conversion materialises to 3.0 kB, past its bound of 3.0 kB. ' +
          "The bound is max(64 MiB, maxExpansion x the model's size; default 16); raise the option maxExpansion (CLI: --max-expansion) if the model is genuine",
      }),
    )
    expect(b.used).toBe(3000)
  })
})

describe('layer names', () => {
  it('come from the weight constant\'s scope, or for a scopeless one from the op\'s scope without function-call scopes', () => {
    expect(layerName('mixed_9/tower/conv/conv2d_params')).toBe('mixed_9_tower_conv')
    expect(layerName('softmax/weights', 'softmax/MatMul')).toBe('softmax')
    expect(layerName('w')).toBe('w')
    expect(layerName('/w')).toBe('_w')
    expect(layerName('2687', 'model_11/conv2d_33/Conv2D')).toBe('model_11_conv2d_33')
    expect(layerName('2687', 'StatefulPartitionedCall/model/conv/Conv2D')).toBe('model_conv')
    expect(layerName('2687', 'PartitionedCall_12/StatefulPartitionedCall/model/conv/Conv2D')).toBe('model_conv')
    expect(layerName('2687', 'model/StatefulPartitionedCall/conv/Conv2D')).toBe('model_StatefulPartitionedCall_conv')
    expect(layerName('2687', 'Conv2D')).toBe('2687')
    expect(layerName('2687')).toBe('2687')
  })

  const layer = (weightNode: string, node: string, name = layerName(weightNode, node)) => ({ info: { name, node }, weightNode })

  it('number scopeless constants in one scope, and refuse two weight scopes with one name', () => {
    const names = new LayerNames('m.pb')
    const [a, b, c] = [layer('1', 'net/conv/Conv2D'), layer('2', 'net/conv/Conv2D_1'), layer('3', 'net/conv/Conv2D_2')]
    for (const l of [a, b, c]) names.add(l)
    expect([a, b, c].map((l) => l.info.name)).toEqual(['net_conv', 'net_conv_2', 'net_conv_3'])
    expect(() => names.add(layer('net/conv/weights', 'x/Conv2D'))).toThrow(
      expect.objectContaining({ code: 'NAME_COLLISION', node: 'net/conv/weights', message: expect.stringContaining('layer name "net_conv" is also the name of the layer from "1"') }),
    )
  })

  it('give ops that share a weight constant their own scope, or the first layer\'s name and the op', () => {
    const names = new LayerNames('m.pb')
    const first = layer('tower/w', 'tower/conv/Conv2D')
    const own = layer('tower/w', 'left/conv/Conv2D')
    const taken = layer('tower/w', 'tower/x')
    const again = layer('tower/w', 'tower/x_')
    for (const l of [first, own, taken, again]) names.add(l)
    // Until nameSharing, the sharing layers keep their provisional names.
    expect(own.info.name).toBe('tower')
    names.nameSharing()
    expect([first, own, taken, again].map((l) => l.info.name)).toEqual(['tower', 'left_conv', 'tower_tower_x', 'tower_tower_x_'])
    const clash = new LayerNames('m.pb')
    const [p, q, r] = [layer('s/w', 's/a'), layer('s/w', 'other/b'), layer('t/w', 'other/c')]
    for (const l of [p, q, r]) clash.add(l)
    clash.nameSharing()
    // q's own scope, `other`, is free, so q is named after it.
    expect([p, q, r].map((l) => l.info.name)).toEqual(['s', 'other', 't'])
  })
})
