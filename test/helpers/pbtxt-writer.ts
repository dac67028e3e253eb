/**
 * GraphDef -> protobuf text format, the way TensorFlow's `tf.io.write_graph(...,
 * as_text=True)` (Python `text_format.MessageToString`) writes it: fields in field-number
 * order, two-space indentation, map entries sorted by key, enums by name, strings and
 * bytes C-escaped (octal for non-printable bytes), floats in their shortest form.
 * Driven by the protobufjs reflection of the schema. Test helper only.
 */
import protobuf from 'protobufjs'
import type { Field, MapField, Type } from 'protobufjs'
import { int64ToNumber, reflection, type GraphDef, type Int64 } from '../../src/graphdef/schema.js'

const { GraphDefType } = reflection()

const ESCAPED: string[] = []
for (let b = 0; b < 256; b++) {
  if (b === 9) ESCAPED.push('\\t')
  else if (b === 10) ESCAPED.push('\\n')
  else if (b === 13) ESCAPED.push('\\r')
  else if (b === 34) ESCAPED.push('\\"')
  else if (b === 39) ESCAPED.push("\\'")
  else if (b === 92) ESCAPED.push('\\\\')
  else if (b < 32 || b >= 127) ESCAPED.push('\\' + b.toString(8).padStart(3, '0'))
  else ESCAPED.push(String.fromCharCode(b))
}

/** protobuf's CEscape: the bytes as the inside of a double-quoted text-format string. */
export function cEscape(bytes: Uint8Array): string {
  const parts: string[] = []
  for (let start = 0; start < bytes.length; start += 4096) {
    const end = Math.min(bytes.length, start + 4096)
    const chunk: string[] = new Array(end - start)
    for (let i = start; i < end; i++) chunk[i - start] = ESCAPED[bytes[i]]
    parts.push(chunk.join(''))
  }
  return parts.join('')
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (m) => '_' + m.toLowerCase())
}

function formatFloat(v: number, single: boolean): string {
  if (Number.isNaN(v)) return 'nan'
  if (v === Infinity) return 'inf'
  if (v === -Infinity) return '-inf'
  let text = String(v)
  if (single) {
    for (let p = 1; p <= 9; p++) {
      const t = Number(v.toPrecision(p))
      if (Math.fround(t) === v) {
        text = String(t)
        break
      }
    }
  }
  if (Object.is(v, -0)) text = '-0'
  return /[.eE]/.test(text) ? text : text + '.0'
}

function formatScalar(field: Field, type: string, v: unknown): string {
  const resolved = field.resolvedType
  if (resolved instanceof protobuf.Enum) {
    const name = resolved.valuesById[v as number]
    return name ?? String(v)
  }
  switch (type) {
    case 'string':
      return `"${cEscape(new TextEncoder().encode(v as string))}"`
    case 'bytes':
      return `"${cEscape(v as Uint8Array)}"`
    case 'bool':
      return v ? 'true' : 'false'
    case 'float':
      return formatFloat(v as number, true)
    case 'double':
      return formatFloat(v as number, false)
    default:
      return String(typeof v === 'number' ? v : int64ToNumber(v as Int64))
  }
}

function writeMessage(type: Type, msg: Record<string, unknown>, indent: string, out: string[]): void {
  const fields = [...type.fieldsArray].sort((a, b) => a.id - b.id)
  for (const field of fields) {
    field.resolve()
    if (!Object.prototype.hasOwnProperty.call(msg, field.name)) continue
    const v = msg[field.name]
    if (v == null) continue
    const name = snakeCase(field.name)
    const message = field.resolvedType instanceof protobuf.Type ? field.resolvedType : null
    const writeValue = (value: unknown, label: string, ind: string) => {
      if (message) {
        out.push(`${ind}${label} {\n`)
        writeMessage(message, value as Record<string, unknown>, ind + '  ', out)
        out.push(`${ind}}\n`)
      } else {
        out.push(`${ind}${label}: ${formatScalar(field, field.type, value)}\n`)
      }
    }
    if (field.map) {
      const keyType = (field as unknown as MapField).keyType
      const map = v as Record<string, unknown>
      for (const key of Object.keys(map).sort()) {
        out.push(`${indent}${name} {\n`)
        const k = keyType === 'string' ? `"${cEscape(new TextEncoder().encode(key))}"` : key
        out.push(`${indent}  key: ${k}\n`)
        writeValue(map[key], 'value', indent + '  ')
        out.push(`${indent}}\n`)
      }
    } else if (field.repeated) {
      for (const item of v as unknown[]) writeValue(item, name, indent)
    } else {
      writeValue(v, name, indent)
    }
  }
}

/** Formats a GraphDef (plain object or decoded message) as text format. */
export function formatGraphDefText(g: GraphDef): string {
  const out: string[] = []
  writeMessage(GraphDefType, g as unknown as Record<string, unknown>, '', out)
  return out.join('')
}
