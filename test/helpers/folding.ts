/**
 * The constant folder (src/fold/constant.ts) on a graph a test builds: the folder itself, and the
 * folded value of one node as a shape and plain numbers (null when it is not constant).
 *
 * Nothing here imports vitest.
 */
import { MaterializeBudget } from '../../src/fold/budget.js'
import { ConstantFolder } from '../../src/fold/constant.js'
import { Graph } from '../../src/fold/graph.js'
import { decodeGraphDef } from '../../src/graphdef/decode.js'
import { GraphBuilder } from './graph-builder.js'

export type Build = (b: GraphBuilder) => void

export interface FoldOptions {
  /** The folder's operand count (ConstantFolder's `stats`). */
  stats?: { steps: number }
  /** A bound on what folding may materialise, in bytes. */
  limit?: number
  /** Or the budget itself, to read what was charged. */
  budget?: MaterializeBudget
}

/** A folder over the graph `build` makes, encoded and decoded as a file would be. */
export function folderOf(build: Build, opts: FoldOptions = {}): ConstantFolder {
  const b = new GraphBuilder()
  build(b)
  const graph = new Graph(decodeGraphDef(b.encode(), 'f.pb'), 'f.pb')
  return new ConstantFolder(graph, opts.budget ?? new MaterializeBudget('f.pb', opts.limit ?? Infinity), opts.stats ?? { steps: 0 })
}

/** The folded value of node `out` of the graph `build` makes, as a shape and plain numbers (null when not constant). */
export function fold(build: Build, out = 'out', opts: FoldOptions = {}): { shape: number[]; data: number[] } | null {
  const v = folderOf(build, opts).value({ name: out, output: 0 })
  return v && { shape: v.shape, data: Array.from(v.data) }
}
