/**
 * The subset of TensorFlow's GraphDef schema the converter reads, as a protobufjs
 * descriptor. Field numbers follow tensorflow/core/framework/{graph,node_def,
 * attr_value,tensor,tensor_shape,types,versions}.proto. Fields we never read
 * (function libraries, debug info, resource handles) are left out: protobufjs
 * skips unknown fields.
 *
 * Binary models are decoded by binary.ts on protobufjs' Reader alone; the reflection of
 * this descriptor (`reflection()`) is built on first use, by the text-format parser.
 */
import type * as Protobuf from 'protobufjs'

export const DataType = {
  DT_INVALID: 0,
  DT_FLOAT: 1,
  DT_DOUBLE: 2,
  DT_INT32: 3,
  DT_UINT8: 4,
  DT_INT16: 5,
  DT_INT8: 6,
  DT_STRING: 7,
  DT_COMPLEX64: 8,
  DT_INT64: 9,
  DT_BOOL: 10,
  DT_QINT8: 11,
  DT_QUINT8: 12,
  DT_QINT32: 13,
  DT_BFLOAT16: 14,
  DT_QINT16: 15,
  DT_QUINT16: 16,
  DT_UINT16: 17,
  DT_COMPLEX128: 18,
  DT_HALF: 19,
  DT_RESOURCE: 20,
  DT_VARIANT: 21,
  DT_UINT32: 22,
  DT_UINT64: 23,
} as const

export const dataTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(DataType).map(([k, v]) => [v, k]),
)

const descriptor = {
  nested: {
    tensorflow: {
      nested: {
        DataType: { values: DataType },
        GraphDef: {
          fields: {
            node: { rule: 'repeated', type: 'NodeDef', id: 1 },
            versions: { type: 'VersionDef', id: 4 },
            version: { type: 'int32', id: 3 },
          },
        },
        VersionDef: {
          fields: {
            producer: { type: 'int32', id: 1 },
            minConsumer: { type: 'int32', id: 2 },
            badConsumers: { rule: 'repeated', type: 'int32', id: 3 },
          },
        },
        NodeDef: {
          fields: {
            name: { type: 'string', id: 1 },
            op: { type: 'string', id: 2 },
            input: { rule: 'repeated', type: 'string', id: 3 },
            device: { type: 'string', id: 4 },
            attr: { keyType: 'string', type: 'AttrValue', id: 5 },
          },
        },
        AttrValue: {
          oneofs: { value: { oneof: ['list', 's', 'i', 'f', 'b', 'type', 'shape', 'tensor', 'placeholder'] } },
          fields: {
            list: { type: 'ListValue', id: 1 },
            s: { type: 'bytes', id: 2 },
            i: { type: 'int64', id: 3 },
            f: { type: 'float', id: 4 },
            b: { type: 'bool', id: 5 },
            type: { type: 'DataType', id: 6 },
            shape: { type: 'TensorShapeProto', id: 7 },
            tensor: { type: 'TensorProto', id: 8 },
            placeholder: { type: 'string', id: 9 },
          },
          nested: {
            ListValue: {
              fields: {
                s: { rule: 'repeated', type: 'bytes', id: 2 },
                i: { rule: 'repeated', type: 'int64', id: 3 },
                f: { rule: 'repeated', type: 'float', id: 4 },
                b: { rule: 'repeated', type: 'bool', id: 5 },
                type: { rule: 'repeated', type: 'DataType', id: 6 },
                shape: { rule: 'repeated', type: 'TensorShapeProto', id: 7 },
                tensor: { rule: 'repeated', type: 'TensorProto', id: 8 },
              },
            },
          },
        },
        TensorShapeProto: {
          fields: {
            dim: { rule: 'repeated', type: 'Dim', id: 2 },
            unknownRank: { type: 'bool', id: 3 },
          },
          nested: {
            Dim: {
              fields: {
                size: { type: 'int64', id: 1 },
                name: { type: 'string', id: 2 },
              },
            },
          },
        },
        TensorProto: {
          fields: {
            dtype: { type: 'DataType', id: 1 },
            tensorShape: { type: 'TensorShapeProto', id: 2 },
            versionNumber: { type: 'int32', id: 3 },
            tensorContent: { type: 'bytes', id: 4 },
            halfVal: { rule: 'repeated', type: 'int32', id: 13 },
            floatVal: { rule: 'repeated', type: 'float', id: 5 },
            doubleVal: { rule: 'repeated', type: 'double', id: 6 },
            intVal: { rule: 'repeated', type: 'int32', id: 7 },
            stringVal: { rule: 'repeated', type: 'bytes', id: 8 },
            int64Val: { rule: 'repeated', type: 'int64', id: 10 },
            boolVal: { rule: 'repeated', type: 'bool', id: 11 },
          },
        },
      },
    },
  },
}

interface Reflection {
  /** protobufjs (its `light` build: reflection without the .proto parser). */
  protobuf: typeof Protobuf
  root: Protobuf.Root
  GraphDefType: Protobuf.Type
}

let reflected: Reflection | undefined

/** The schema as protobufjs reflection, built on first use (loading protobufjs/light then). */
export function reflection(): Reflection {
  if (!reflected) {
    // Node's require without a static `node:module` import, which would break this module's
    // loading in a browser (the executor's entry imports it, and never calls this).
    const { createRequire } = process.getBuiltinModule('node:module')
    const protobuf = createRequire(import.meta.url)('protobufjs/light.js') as typeof Protobuf
    const root = protobuf.Root.fromJSON(descriptor)
    reflected = { protobuf, root, GraphDefType: root.lookupType('tensorflow.GraphDef') }
  }
  return reflected
}

/** An int64 as protobufjs hands it back: a number, or a Long when `long` is installed. */
export type Int64 = number | { low: number; high: number; unsigned?: boolean; toNumber?: () => number }

export interface TensorShapeProto {
  dim?: { size?: Int64; name?: string }[]
  unknownRank?: boolean
}

export interface TensorProto {
  dtype?: number
  tensorShape?: TensorShapeProto
  tensorContent?: Uint8Array
  halfVal?: number[]
  floatVal?: number[]
  doubleVal?: number[]
  intVal?: number[]
  int64Val?: Int64[]
  boolVal?: boolean[]
  stringVal?: Uint8Array[]
}

export interface AttrValue {
  list?: {
    s?: Uint8Array[]
    i?: Int64[]
    f?: number[]
    b?: boolean[]
    type?: number[]
    shape?: TensorShapeProto[]
    tensor?: TensorProto[]
  }
  s?: Uint8Array
  i?: Int64
  f?: number
  b?: boolean
  type?: number
  shape?: TensorShapeProto
  tensor?: TensorProto
  placeholder?: string
}

export interface NodeDef {
  name: string
  op: string
  input: string[]
  device?: string
  attr: Record<string, AttrValue>
}

export interface GraphDef {
  node: NodeDef[]
  versions?: { producer?: number; minConsumer?: number }
}

/** Converts a protobufjs int64 (number or Long) to a JS number. */
export function int64ToNumber(v: Int64 | undefined | null): number {
  if (v == null) return 0
  if (typeof v === 'number') return v
  if (typeof v.toNumber === 'function') return v.toNumber()
  return v.high * 4294967296 + (v.low >>> 0) // the schema's int64 fields are signed
}
