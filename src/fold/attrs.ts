/** Reading NodeDef attributes with TensorFlow's registered defaults. */
import type { NodeDef } from '../graphdef/schema.js'
import { int64ToNumber } from '../graphdef/schema.js'

const decoder = new TextDecoder()

/** protobufjs puts defaults on the prototype; only an own property was in the file. */
function has(v: object | undefined, key: string): boolean {
  return v !== undefined && v !== null && Object.prototype.hasOwnProperty.call(v, key)
}

export function attrString(node: NodeDef, key: string, fallback: string): string {
  const v = node.attr[key]
  return has(v, 's') && v.s ? decoder.decode(v.s) : fallback
}

export function attrInts(node: NodeDef, key: string, fallback: number[]): number[] {
  const v = node.attr[key]
  const list = has(v, 'list') ? v.list?.i : undefined
  if (!list || list.length === 0) return fallback
  return list.map(int64ToNumber)
}

export function attrFloat(node: NodeDef, key: string, fallback: number | undefined): number | undefined {
  const v = node.attr[key]
  return has(v, 'f') ? v.f : fallback
}

export function attrBool(node: NodeDef, key: string, fallback: boolean | undefined): boolean | undefined {
  const v = node.attr[key]
  return has(v, 'b') ? v.b : fallback
}
