/**
 * The binary GraphDef decoders (src/graphdef/binary.ts, protobufjs `Reader` with
 * static-code style decoders) against protobufjs' reflection decoder of the schema in
 * src/graphdef/schema.ts: the same data for every field of every message, packed and
 * unpacked, on whole graphs.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { decodeGraphDef } from '../src/graphdef/decode.js'
import { reflection } from '../src/graphdef/schema.js'

const { GraphDefType } = reflection()
import { attr, encodeGraphDef, GraphBuilder, makeTensor, varintBytes } from './helpers/graph-builder.js'
import { makeInceptionV3_2015 } from './helpers/inception.js'

/**
 * Own enumerable data only: Uint8Array -> number[], Long -> number, and no empty repeated
 * fields (reflection gives every message its repeated fields as own empty arrays).
 */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v)
  if (Array.isArray(v)) return v.map(plain)
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    if (typeof o.toNumber === 'function' && 'low' in o && 'high' in o) return (o.toNumber as () => number)()
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(o)) if (!(Array.isArray(o[k]) && (o[k] as unknown[]).length === 0)) out[k] = plain(o[k])
    return out
  }
  return v
}

function expectSameAsReflection(bytes: Uint8Array): void {
  const ours = decodeGraphDef(bytes, 'g.pb')
  const reflected = GraphDefType.decode(bytes) as unknown as { node?: unknown[]; versions?: unknown }
  const theirs = { node: (reflected.node ?? []).map(plain), versions: reflected.versions == null ? undefined : plain(reflected.versions) }
  expect(plain(ours)).toEqual(theirs)
}

function everyFieldGraph(unpacked: boolean): Uint8Array {
  const b = new GraphBuilder({ producer: 27 })
  b.placeholder('input', [1, -1, 8, 3])
  b.placeholder('unknown_rank', null, 'DT_HALF')
  b.constF32('w', [2, 2, 3, 4], Float32Array.from({ length: 48 }, (_, i) => i / 7 - 3))
  b.const('f', { dtype: 'float32', shape: [5], values: [1, -2.5, 3e-8, 1e30, -0], encoding: 'floatVal', unpacked })
  b.const('splat', { dtype: 'float32', shape: [64], values: [0.25], encoding: 'splat', unpacked })
  b.const('short', { dtype: 'float32', shape: [4], values: [1, 2], encoding: 'short', unpacked })
  b.const('half', { dtype: 'float16', shape: [3], values: [1, -2, 65504], encoding: 'floatVal', unpacked })
  b.const('bf16', { dtype: 'bfloat16', shape: [2], values: [1.5, -3], encoding: 'floatVal', unpacked })
  b.const('f64', { dtype: 'float64', shape: [2], values: [Math.PI, -1e300], encoding: 'floatVal', unpacked })
  b.constI32('axis', [3], [3, -1, 2 ** 31 - 1], { unpacked })
  b.constTensor('i64', { dtype: 9, tensorShape: { dim: [{ size: 2, name: 'n' }] }, int64Val: [2 ** 40, -5] })
  b.constTensor('bools', { dtype: 10, tensorShape: { dim: [{ size: 2 }] }, boolVal: [true, false] })
  b.constTensor('strings', { dtype: 7, tensorShape: { dim: [{ size: 2 }] }, stringVal: [Uint8Array.of(1, 2), Uint8Array.of()] })
  b.op('conv', 'Conv2D', ['input', 'w', '^f'], {
    strides: attr.ints([1, 2, 2, 1]),
    padding: attr.s('SAME'),
    dilations: attr.ints([1, 1, 1, 1]),
    data_format: attr.s('NHWC'),
    use_cudnn_on_gpu: attr.b(true),
    T: attr.type('DT_FLOAT'),
  }, '/device:CPU:0')
  b.op('bn', 'FusedBatchNormV3', ['conv', 'f', 'f', 'f', 'f'], {
    epsilon: attr.f(0.001),
    is_training: attr.b(false),
    i: attr.i(-(2 ** 40)),
    p: attr.placeholder('ph'),
    shape: attr.shape([1, 2]),
    shapes: attr.shapes([[1], null, []]),
    tensor: attr.tensor(makeTensor({ dtype: 'float32', shape: [2], values: [1, 2], encoding: 'floatVal' })),
    tensors: { list: { tensor: [makeTensor({ dtype: 'float32', shape: [1], values: [3], encoding: 'floatVal' })] } },
    floats: attr.floats([0.5, -1]),
    bools: attr.bools([true, false, true]),
    strings: attr.strings(['a', 'é😀']),
    types: attr.types(['DT_FLOAT', 'DT_HALF']),
    empty: attr.emptyList(),
  })
  b.op('no_attrs', 'NoOp')
  return encodeGraphDef(b.graph(), { unpacked })
}

describe('binary decoders = protobufjs reflection', () => {
  it('every field of every message, repeated numbers packed', () => {
    expectSameAsReflection(everyFieldGraph(false))
  })

  it('every field of every message, repeated numbers unpacked', () => {
    expectSameAsReflection(everyFieldGraph(true))
  })

  it('a whole Inception v3 graph', () => {
    expectSameAsReflection(makeInceptionV3_2015({ scale: 8 }).bytes)
  })

  it('unknown fields of every wire type are skipped', () => {
    const b = new GraphBuilder()
    b.op('a', 'NoOp')
    const node = encodeGraphDef(b.graph()).subarray(2) // the NodeDef body
    // field 15 varint, 16 fixed64, 17 length-delimited, 18 fixed32, 19 a group
    const tag = (id: number, wire: number) => [...varintBytes((id << 3) | wire)]
    const extra = [...tag(15, 0), 0x96, 0x01, ...tag(16, 1), 1, 2, 3, 4, 5, 6, 7, 8, ...tag(17, 2), 2, 9, 9, ...tag(18, 5), 1, 2, 3, 4, ...tag(19, 3), 8, 1, ...tag(19, 4)]
    const body = new Uint8Array([...node, ...extra])
    const bytes = Uint8Array.of(0x0a, body.length, ...body)
    expectSameAsReflection(bytes)
    expect(decodeGraphDef(bytes, 'g.pb').node[0]).toMatchObject({ name: 'a', op: 'NoOp' })
  })

  it('an attr named __proto__ is data', () => {
    const b = new GraphBuilder()
    b.op('a', 'NoOp', [], { __proto__: attr.i(1) } as unknown as Record<string, ReturnType<typeof attr.i>>)
    const n = decodeGraphDef(b.encode(), 'g.pb').node[0]
    expect(Object.getPrototypeOf(n.attr)).toBe(Object.prototype)
    expect(Object.keys(n.attr)).toEqual(Object.keys(b.node('a').attr))
  })

  const shared = path.resolve(__dirname, '../../shared/fixtures/inception_v3_2015_mini.pb')
  it.skipIf(!fs.existsSync(shared))('the shared inception_v3_2015_mini.pb (skipped without ../shared)', () => {
    expectSameAsReflection(new Uint8Array(fs.readFileSync(shared)))
  })
})
