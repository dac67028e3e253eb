/**
 * A GraphDef as a graph: nodes by name, data edges in both directions. Control
 * inputs (`^name`) order execution only and carry no value, so they are not edges.
 * Pass-through ops (Identity, CheckNumerics, ...) are looked through when asking
 * "who really consumes this value".
 */
import { MpscnnError } from '../base/errors.js'
import type { GraphDef, NodeDef } from '../graphdef/schema.js'

/** Ops whose output 0 is their input 0, unchanged. */
export const PASS_THROUGH = new Set(['Identity', 'CheckNumerics', 'Snapshot', 'StopGradient', 'PreventGradient', 'IdentityN', 'EnsureShape'])

interface Edge {
  node: NodeDef
  /** Which input of `node` the value arrives at. */
  inputIndex: number
}

export interface InputRef {
  name: string
  output: number
}

export function parseInput(input: string): InputRef | null {
  if (input.startsWith('^')) return null
  const colon = input.lastIndexOf(':')
  if (colon > 0) {
    const out = Number(input.slice(colon + 1))
    if (Number.isInteger(out) && out >= 0) return { name: input.slice(0, colon), output: out }
  }
  return { name: input, output: 0 }
}

export class Graph {
  readonly nodes: NodeDef[]
  readonly byName = new Map<string, NodeDef>()
  readonly index = new Map<string, number>()
  /** Data inputs of each node, in order (control inputs dropped). */
  readonly inputs = new Map<string, InputRef[]>()
  /** Data consumers of (node, output). Key: `name:output`. */
  private readonly consumers = new Map<string, Edge[]>()

  constructor(
    def: GraphDef,
    readonly file: string,
  ) {
    this.nodes = def.node
    def.node.forEach((n, i) => {
      if (this.byName.has(n.name)) {
        throw new MpscnnError('DUPLICATE_NODE', file, 'two nodes have this name', { node: n.name, hint: 'The graph is damaged; export it again' })
      }
      this.byName.set(n.name, n)
      this.index.set(n.name, i)
    })
    for (const n of def.node) {
      const refs: InputRef[] = []
      for (const s of n.input) {
        const ref = parseInput(s)
        if (!ref) continue
        refs.push(ref)
        const key = `${ref.name}:${ref.output}`
        let list = this.consumers.get(key)
        if (!list) this.consumers.set(key, (list = []))
        list.push({ node: n, inputIndex: refs.length - 1 })
      }
      this.inputs.set(n.name, refs)
    }
  }

  node(name: string): NodeDef | undefined {
    return this.byName.get(name)
  }

  /** The node feeding data input `i` of `node`, or an error naming `node`. */
  input(node: NodeDef, i: number): InputRef {
    const ref = this.inputs.get(node.name)![i]
    if (!ref) {
      throw new MpscnnError('BAD_GRAPH', this.file, `${node.op} has no input #${i}`, { node: node.name, hint: 'The graph is damaged; export it again' })
    }
    if (!this.byName.has(ref.name)) {
      throw new MpscnnError('BAD_GRAPH', this.file, `input ${JSON.stringify(ref.name)} does not exist in the graph`, {
        node: node.name,
        hint: 'The graph is damaged or incomplete; export it again',
      })
    }
    return ref
  }

  /** Follows input 0 through pass-through ops to the node that produces the value. */
  source(ref: InputRef): InputRef {
    let cur = ref
    for (let guard = 0; guard < this.nodes.length; guard++) {
      const n = this.byName.get(cur.name)
      if (!n || cur.output !== 0 || !PASS_THROUGH.has(n.op)) return cur
      const next = this.inputs.get(n.name)![0]
      if (!next) return cur
      cur = next
    }
    return cur
  }

  /**
   * Who consumes the value (name, output), looking through pass-through ops. A
   * pass-through op nobody reads (CheckNumerics used only as a control input)
   * contributes nothing. `count.steps` grows by one per consumer edge visited.
   */
  effectiveConsumers(name: string, output = 0, count?: { steps: number }): Edge[] {
    const out: Edge[] = []
    const seen = new Set<string>()
    // An explicit stack, not recursion: a chain of thousands of Identity ops is legal.
    const stack: [string, number, number][] = [[name, output, 0]]
    while (stack.length) {
      const top = stack[stack.length - 1]
      const list = this.consumers.get(`${top[0]}:${top[1]}`) ?? []
      if (top[2] >= list.length) {
        stack.pop()
        continue
      }
      const e = list[top[2]++]
      if (count) count.steps++
      if (PASS_THROUGH.has(e.node.op) && e.inputIndex === 0) {
        if (seen.has(e.node.name)) continue
        seen.add(e.node.name)
        stack.push([e.node.name, 0, 0])
      } else {
        out.push(e)
      }
    }
    return out
  }

}
