/**
 * The schema side of the text-format parser: what each GraphDef message field is (kind,
 * repetition, enum values), read once per message type from protobufjs' reflection of
 * `schema.ts`.
 */
import type { Field as PbField, MapField as PbMapField, Type as PbType } from 'protobufjs'
import { reflection } from './schema.js'

export type Kind = 'message' | 'enum' | 'string' | 'bytes' | 'bool' | 'float' | 'double' | 'int32' | 'uint32' | 'int64' | 'uint64'
export type Msg = Record<string, unknown>

export interface FieldInfo {
  /** Property name on the message object (protobufjs' camelCase name). */
  prop: string
  kind: Kind
  /** Repeated or map: accepts several occurrences and `[...]` list syntax. */
  repeated: boolean
  /** For message fields: the message type. For map fields: the synthetic entry type. */
  message?: MessageInfo
  /** Map fields only. */
  isMap?: boolean
  enumName?: string
  enumValues?: Map<string, number>
}

export interface MessageInfo {
  create: () => Msg
  fields: Map<string, FieldInfo>
}

// ---------------------------------------------------------------------------
// Schema reflection

const SCALAR_KINDS: Record<string, Kind> = {
  double: 'double',
  float: 'float',
  int32: 'int32',
  sint32: 'int32',
  sfixed32: 'int32',
  uint32: 'uint32',
  fixed32: 'uint32',
  int64: 'int64',
  sint64: 'int64',
  sfixed64: 'int64',
  uint64: 'uint64',
  fixed64: 'uint64',
  bool: 'bool',
  string: 'string',
  bytes: 'bytes',
}

const infos = new Map<PbType, MessageInfo>()

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (m) => '_' + m.toLowerCase())
}

function valueField(prop: string, field: PbField, typeName: string, repeated: boolean): FieldInfo {
  const resolved = field.resolvedType
  const { protobuf } = reflection()
  if (resolved instanceof protobuf.Type) return { prop, kind: 'message', repeated, message: messageInfo(resolved) }
  if (resolved instanceof protobuf.Enum) {
    return { prop, kind: 'enum', repeated, enumName: resolved.name, enumValues: new Map(Object.entries(resolved.values)) }
  }
  const kind = SCALAR_KINDS[typeName]
  if (kind === undefined) throw new Error(`pbtxt: unsupported field type ${typeName} for ${field.fullName}`)
  return { prop, kind, repeated }
}

export function messageInfo(type: PbType): MessageInfo {
  const cached = infos.get(type)
  if (cached) return cached
  // protobufjs generates the constructor (and puts the defaults on its prototype) on first access.
  const Ctor = type.ctor as unknown as new () => Msg
  const info: MessageInfo = { create: () => new Ctor(), fields: new Map() }
  infos.set(type, info) // before the fields, for recursive types
  for (const field of type.fieldsArray) {
    field.resolve()
    let fi: FieldInfo
    if (field.map) {
      const keyType = (field as unknown as PbMapField).keyType
      const keyKind = SCALAR_KINDS[keyType]
      if (keyKind === undefined) throw new Error(`pbtxt: unsupported map key type ${keyType} for ${field.fullName}`)
      const entry: MessageInfo = {
        create: () => ({}),
        fields: new Map([
          ['key', { prop: 'key', kind: keyKind, repeated: false }],
          ['value', valueField('value', field, field.type, false)],
        ]),
      }
      fi = { prop: field.name, kind: 'message', repeated: true, isMap: true, message: entry }
    } else {
      fi = valueField(field.name, field, field.type, field.repeated)
    }
    info.fields.set(field.name, fi)
    info.fields.set(snakeCase(field.name), fi)
  }
  return info
}

export function lookupField(info: MessageInfo, name: string): FieldInfo | undefined {
  return info.fields.get(name) ?? (name.includes('_') ? info.fields.get(reflection().protobuf.util.camelCase(name)) : undefined)
}

export function defaultValue(field: FieldInfo): unknown {
  switch (field.kind) {
    case 'message':
      return field.message!.create()
    case 'string':
      return ''
    case 'bytes':
      return new Uint8Array(0)
    case 'bool':
      return false
    default:
      return 0
  }
}
