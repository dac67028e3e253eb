/**
 * Layer names: a layer is named for the scope of its weight constant, and layers that share
 * one weight constant, or come from scopeless constants in one scope, get names that differ.
 */
import { MpscnnError } from '../base/errors.js'

/**
 * `mixed_9/tower/mixed/conv/conv2d_params` -> `mixed_9_tower_mixed_conv`; `softmax/weights` -> `softmax`.
 * A weight constant without a scope (TF2 frozen graphs name them `2687`, `2699`) gives the
 * scope of the op that reads it, `opNode`: `model_11/conv2d_33/Conv2D` -> `model_11_conv2d_33`
 * (leading `StatefulPartitionedCall/` function-call scopes left out).
 */
export function layerName(weightNode: string, opNode?: string): string {
  // TF2's function-call scopes (`StatefulPartitionedCall/model_11/...`) say nothing about the layer.
  const named = opNode !== undefined && !weightNode.includes('/') && opNode.includes('/') ? opNode.replace(/^((Stateful)?PartitionedCall(_\d+)?\/)+/, '') : weightNode
  const slash = named.lastIndexOf('/')
  const scope = slash > 0 ? named.slice(0, slash) : named
  return scope.replace(/\//g, '_')
}

/** What naming needs of a planned layer. */
interface Named {
  info: { name: string; node: string }
  weightNode: string
}

/** Gives the planned layers, added in graph order, their final names. */
export class LayerNames {
  private readonly names = new Map<string, string>()
  /** Layers whose weight constant an earlier layer already uses: named by `nameSharing`. */
  private readonly sharing: Named[] = []
  private readonly firstUse = new Map<string, Named>()

  constructor(private readonly file: string) {}

  add(p: Named): void {
    const { names, firstUse } = this
    if (firstUse.has(p.weightNode)) {
      this.sharing.push(p)
      return
    }
    firstUse.set(p.weightNode, p)
    const prev = names.get(p.info.name)
    if (prev !== undefined && !p.weightNode.includes('/')) {
      // Named after the op's scope (a scopeless constant): two weighted ops in one scope are numbered.
      let n = 2
      while (names.has(`${p.info.name}_${n}`)) n++
      p.info.name = `${p.info.name}_${n}`
    } else if (prev !== undefined) {
      throw new MpscnnError('NAME_COLLISION', this.file, `layer name ${JSON.stringify(p.info.name)} is also the name of the layer from ${JSON.stringify(prev)}`, {
        node: p.weightNode,
        hint: 'Rename one of the weight constants so that their scopes differ',
      })
    }
    names.set(p.info.name, p.weightNode)
  }

  /**
   * Every op is a layer, also when it shares its weights with another: the first op
   * takes the weight's scope as its name, every other one its own scope
   * (`tower/conv/Conv2D` -> `tower_conv`), or `<weight scope>_<op name>` when that is taken.
   */
  nameSharing(): void {
    const { names, firstUse } = this
    for (const p of this.sharing) {
      const own = layerName(p.info.node)
      let name = names.has(own) ? `${firstUse.get(p.weightNode)!.info.name}_${p.info.node.replace(/\//g, '_')}` : own
      for (let n = 2; names.has(name); n++) name = `${own}_${n}`
      names.set(name, p.weightNode)
      p.info.name = name
    }
  }
}
