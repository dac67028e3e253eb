/**
 * A binary GraphDef's top level (src/graphdef/decode.ts): unknown fields of each valid wire type
 * are skipped (fixed64 is 8 bytes, fixed32 4), wire types that do not exist are refused where
 * they are, a varint key may be at most 10 bytes, a file with `meta_graphs` (field 2) and no node
 * is a SavedModel, every node needs a name, and only field 4 is the VersionDef.
 * Field numbers from tensorflow/core/framework/graph.proto and versions.proto.
 */
import { describe, expect, it } from 'vitest'
import { decodeGraphDef } from '../src/graphdef/decode.js'
import { concatBytes } from './helpers/graph-builder.js'
import { expectRefusal } from './helpers/refusal.js'
import { key, lenField, nodeField, strField, varintField } from './helpers/wire.js'

const decode = (b: Uint8Array) => decodeGraphDef(b, 'g.pb')
const refused = (b: Uint8Array, code: string, says: RegExp[]) => expectRefusal(() => decode(b), code, 'g.pb', says)
const names = (b: Uint8Array) => decode(b).node.map((n) => `${n.name}:${n.op}`)

describe('unknown top-level fields', () => {
  it('a fixed64 field (wire type 1) is 8 bytes, skipped', () => {
    // Its first byte, 0x7f, read as a length would run past the end.
    const fixed64 = concatBytes([key(7, 1), Uint8Array.of(0x7f, 1, 2, 3, 4, 5, 6, 7)])
    expect(names(concatBytes([fixed64, nodeField('a', 'NoOp')]))).toEqual(['a:NoOp'])
  })

  it('a fixed32 field (wire type 5) is 4 bytes, skipped', () => {
    const fixed32 = concatBytes([key(8, 5), Uint8Array.of(0x7f, 1, 2, 3)])
    expect(names(concatBytes([fixed32, nodeField('a', 'NoOp')]))).toEqual(['a:NoOp'])
  })

  it('varint and length-delimited fields of numbers GraphDef does not read are skipped', () => {
    // 5 is debug_info, 6 and 9 are unused.
    const file = concatBytes([varintField(6, 150), nodeField('a', 'NoOp'), lenField(5, strField(1, 'x')), lenField(9), nodeField('b', 'Relu')])
    expect(names(file)).toEqual(['a:NoOp', 'b:Relu'])
  })

  it('wire types 3, 4, 6 and 7 are refused at their byte, whatever the field number', () => {
    const node = nodeField('a', 'NoOp')
    for (const wire of [3, 4, 6, 7]) {
      refused(concatBytes([node, key(6, wire), Uint8Array.of(0, 0)]), 'NOT_PROTOBUF', [new RegExp(`not a TensorFlow GraphDef: wire type ${wire} at byte ${node.length}`)])
    }
  })
})

describe('varint keys', () => {
  it('a key longer than 10 bytes is refused', () => {
    const e = refused(Uint8Array.from([...new Uint8Array(10).fill(0x80), 0x08, 0x01]), 'TRUNCATED', [/a field at byte 0/, /\(12 bytes\)/])
    expect(e.node).toBeUndefined()
  })

  it('a key cut by the end of the file is TRUNCATED at its byte', () => {
    refused(concatBytes([nodeField('a', 'NoOp'), Uint8Array.of(0x80)]), 'TRUNCATED', [/a field at byte 11 runs past the end \(12 bytes\)/])
  })
})

describe('SavedModel', () => {
  const metaGraphs = lenField(2, lenField(2, nodeField('a', 'NoOp')))

  it('meta_graphs without saved_model_schema_version (proto3 leaves a 0 out) is a SavedModel', () => {
    refused(metaGraphs, 'SAVED_MODEL', [/this is a SavedModel/, /Freeze the graph first/])
  })

  it('field 2 and no node is a SavedModel also beside other fields', () => {
    refused(concatBytes([metaGraphs, lenField(4, varintField(1, 27))]), 'SAVED_MODEL', [/SavedModel/])
  })
})

describe('nodes and versions', () => {
  it('a node without a name is CORRUPT, naming its index and bytes', () => {
    const named = nodeField('a', 'NoOp')
    const nameless = lenField(1, strField(2, 'No'))
    refused(nameless, 'CORRUPT', [/node #0 \(bytes 2-6\) has no name/, /not a GraphDef; download or export the model again/])
    refused(concatBytes([named, nameless]), 'CORRUPT', [new RegExp(`node #1 \\(bytes ${named.length + 2}-${named.length + 6}\\) has no name`)])
  })

  it('versions come from field 4 only, min_consumer included', () => {
    const node = nodeField('a', 'NoOp')
    // debug_info (5) holding bytes that would read as producer 5.
    const debugInfo = lenField(5, varintField(1, 5))
    expect(decode(concatBytes([node, debugInfo])).versions).toBeUndefined()
    const versions = lenField(4, varintField(1, 27), varintField(2, 12))
    expect(decode(concatBytes([versions, node, debugInfo, lenField(9)])).versions).toEqual({ producer: 27, minConsumer: 12 })
  })
})


describe('an empty message', () => {
  it('zero bytes are a valid GraphDef with no nodes (every protobuf field is optional)', () => {
    expect(decodeGraphDef(new Uint8Array(0), 'empty.pb').node).toEqual([])
  })
})
