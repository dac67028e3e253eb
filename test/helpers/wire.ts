/**
 * Protobuf wire format by hand (https://protobuf.dev/programming-guides/encoding/), for tests
 * that need bytes no encoder writes: unknown fields, lengths that overrun, odd wire types.
 */
import { bytes, concatBytes, varintBytes } from './graph-builder.js'

/** A field's key: field number * 8 + wire type. */
export const key = (id: number, wire: number): Uint8Array => varintBytes(id * 8 + wire)

/** A varint field (wire type 0). */
export const varintField = (id: number, n: number): Uint8Array => concatBytes([key(id, 0), varintBytes(n)])

/** A length-delimited field (wire type 2) holding `parts` one after the other. */
export function lenField(id: number, ...parts: Uint8Array[]): Uint8Array {
  const body = concatBytes(parts)
  return concatBytes([key(id, 2), varintBytes(body.length), body])
}

/** A string field. */
export const strField = (id: number, s: string): Uint8Array => lenField(id, bytes(s))

/** A GraphDef `node` field holding a NodeDef with `name` and `op`, then `more` NodeDef fields. */
export const nodeField = (name: string, op: string, ...more: Uint8Array[]): Uint8Array => lenField(1, strField(1, name), strField(2, op), ...more)
