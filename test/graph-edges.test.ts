/**
 * The graph's edges: TensorFlow's input strings (`name`, `name:k`, `^name` for a control
 * input), the errors a damaged graph gives, and how values are followed through pass-through
 * ops (Identity, IdentityN, ...) in both directions.
 */
import { describe, expect, it } from 'vitest'
import { Graph, parseInput } from '../src/fold/graph.js'
import { expectNodeRefusal } from './helpers/refusal.js'
import { GraphBuilder } from './helpers/graph-builder.js'

function graph(b: GraphBuilder): Graph {
  return new Graph(b.graph(), 'case.pb')
}

describe('input strings', () => {
  it('a control input (^name) is no data edge', () => {
    expect(parseInput('^init')).toBeNull()
    expect(parseInput('x^')).toEqual({ name: 'x^', output: 0 })
  })

  it('name:k names output k; a plain name is output 0', () => {
    expect(parseInput('split:2')).toEqual({ name: 'split', output: 2 })
    expect(parseInput('a/b:0')).toEqual({ name: 'a/b', output: 0 })
    expect(parseInput('conv')).toEqual({ name: 'conv', output: 0 })
  })

  it('a suffix that is not a non-negative integer is part of the name', () => {
    expect(parseInput('a:-1')).toEqual({ name: 'a:-1', output: 0 })
    expect(parseInput('a:1.5')).toEqual({ name: 'a:1.5', output: 0 })
    expect(parseInput('a:x')).toEqual({ name: 'a:x', output: 0 })
    // A leading colon leaves no node name before it.
    expect(parseInput(':1')).toEqual({ name: ':1', output: 0 })
  })
})

describe('a damaged graph', () => {
  it('two nodes of one name: DUPLICATE_NODE naming it', () => {
    const g = new GraphBuilder().graph()
    g.node.push({ name: 'x', op: 'Placeholder', input: [], attr: {} }, { name: 'x', op: 'Relu', input: [], attr: {} })
    expectNodeRefusal(() => new Graph(g, 'case.pb'), 'DUPLICATE_NODE', 'x')
  })

  it('a missing input: BAD_GRAPH naming the node that reads it', () => {
    const b = new GraphBuilder()
    b.placeholder('x')
    b.op('r', 'Relu', ['x'])
    b.op('s', 'Sub', ['x', 'ghost'])
    const g = graph(b)
    const e1 = expectNodeRefusal(() => g.input(g.node('r')!, 1), 'BAD_GRAPH', 'r')
    expect(e1.message).toContain('Relu has no input #1')
    const e2 = expectNodeRefusal(() => g.input(g.node('s')!, 1), 'BAD_GRAPH', 's')
    expect(e2.message).toContain('input "ghost" does not exist')
    expect(g.input(g.node('s')!, 0)).toEqual({ name: 'x', output: 0 })
  })
})

describe('following values through pass-through ops', () => {
  it('source() goes back through Identity to the producer, and stops at other ops', () => {
    const b = new GraphBuilder()
    b.placeholder('x')
    b.op('i1', 'Identity', ['x'])
    b.op('i2', 'Identity', ['i1', '^x'])
    b.op('r', 'Relu', ['i2'])
    const g = graph(b)
    expect(g.source({ name: 'i2', output: 0 })).toEqual({ name: 'x', output: 0 })
    expect(g.source({ name: 'r', output: 0 })).toEqual({ name: 'r', output: 0 })
  })

  it('output k of IdentityN is its input k, not input 0', () => {
    const b = new GraphBuilder()
    b.placeholder('x')
    b.placeholder('y')
    b.op('idn', 'IdentityN', ['x', 'y'])
    expect(graph(b).source({ name: 'idn', output: 1 })).toEqual({ name: 'idn', output: 1 })
    expect(graph(b).source({ name: 'idn', output: 0 })).toEqual({ name: 'x', output: 0 })
  })

  it('a name not in the graph, or an Identity with only a control input, is its own source', () => {
    const b = new GraphBuilder()
    b.placeholder('x')
    b.op('lonely', 'Identity', ['^x'])
    const g = graph(b)
    expect(g.source({ name: 'ghost', output: 0 })).toEqual({ name: 'ghost', output: 0 })
    expect(g.source({ name: 'lonely', output: 0 })).toEqual({ name: 'lonely', output: 0 })
  })

  it('a cycle of Identity ops ends in both directions', () => {
    const b = new GraphBuilder()
    b.op('a', 'Identity', ['b'])
    b.op('b', 'Identity', ['a'])
    const g = graph(b)
    expect(['a', 'b']).toContain(g.source({ name: 'a', output: 0 }).name)
    expect(g.effectiveConsumers('a')).toEqual([])
  })

  it('effectiveConsumers() looks through Identity at input 0, counting every edge visited', () => {
    const b = new GraphBuilder()
    b.placeholder('x')
    b.placeholder('y')
    b.op('read', 'Identity', ['x'])
    b.op('relu', 'Relu', ['read'])
    b.op('sig', 'Sigmoid', ['read'])
    b.op('idn', 'IdentityN', ['y', 'x'])
    const g = graph(b)
    const count = { steps: 0 }
    const cons = g.effectiveConsumers('x', 0, count)
    // x -> read (followed), x -> idn at input 1 (a consumer), read -> relu, read -> sig: 4 edges.
    expect(cons.map((e) => [e.node.name, e.inputIndex]).sort()).toEqual([['idn', 1], ['relu', 0], ['sig', 0]])
    expect(count.steps).toBe(4)
    expect(g.effectiveConsumers('x').length).toBe(3)
  })
})
