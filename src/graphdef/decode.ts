/**
 * Binary GraphDef -> NodeDefs. The top level is walked by hand (a cursor with bounds
 * checks), so that a truncated file or a protobuf of another type is recognised before
 * anything is decoded, and each NodeDef is then decoded on its own by protobufjs over a
 * zero-copy `subarray` of the file: `tensor_content` stays a view into the file's bytes.
 */
import { MpscnnError } from '../base/errors.js'
import { notProtobuf } from './sniff.js'
import { decodeNodeDef, decodeVersions, reader } from './binary.js'
import type { GraphDef, NodeDef } from './schema.js'

const WIRE_VARINT = 0
const WIRE_I64 = 1
const WIRE_LEN = 2
const WIRE_I32 = 5

class Cursor {
  pos = 0
  constructor(readonly buf: Uint8Array) {}
  varint(): number {
    let result = 0
    let mul = 1
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new RangeError('varint runs past the end of the file')
      const b = this.buf[this.pos++]
      result += (b & 0x7f) * mul
      if (b < 0x80) return result
      mul *= 128
    }
    throw new RangeError('varint longer than 10 bytes')
  }
}

interface Field {
  id: number
  wire: number
  start: number
  end: number
}

function scanTopLevel(bytes: Uint8Array, file: string): Field[] {
  const c = new Cursor(bytes)
  const fields: Field[] = []
  const truncated = (at: number) =>
    new MpscnnError('TRUNCATED', file, `the file is truncated or corrupt: a field at byte ${at} runs past the end (${bytes.length} bytes)`, {
      hint: 'Download or export the model again',
    })
  const garbage = (at: number, why: string) => notProtobuf(file, at, why)
  while (c.pos < bytes.length) {
    const at = c.pos
    let key: number
    try {
      key = c.varint()
    } catch {
      throw truncated(at)
    }
    const id = Math.floor(key / 8)
    const wire = key & 7
    if (id === 0) throw garbage(at, 'field number 0')
    let start = c.pos
    let end: number
    try {
      switch (wire) {
        case WIRE_VARINT:
          c.varint()
          end = c.pos
          break
        case WIRE_I64:
          end = start + 8
          break
        case WIRE_LEN: {
          const len = c.varint()
          start = c.pos
          end = start + len
          break
        }
        case WIRE_I32:
          end = start + 4
          break
        default:
          throw garbage(at, `wire type ${wire}`)
      }
    } catch (e) {
      if (e instanceof MpscnnError) throw e
      throw truncated(at)
    }
    if (end > bytes.length) throw truncated(at)
    c.pos = end
    fields.push({ id, wire, start, end })
  }
  return fields
}

/** Decodes a binary GraphDef. Nodes whose NodeDef cannot be decoded raise one error naming the node's index. */
export function decodeGraphDef(bytes: Uint8Array, file: string): GraphDef {
  const fields = scanTopLevel(bytes, file)
  const expected: Record<number, number> = { 1: WIRE_LEN, 2: WIRE_LEN, 3: WIRE_VARINT, 4: WIRE_LEN }
  const savedModel = fields.length > 0 && fields[0].id === 1 && fields[0].wire === WIRE_VARINT
  const noNodesButLibrary = !fields.some((f) => f.id === 1) && fields.some((f) => f.id === 2)
  if (savedModel || noNodesButLibrary) {
    throw new MpscnnError('SAVED_MODEL', file, 'this is a SavedModel (saved_model.pb), not a frozen GraphDef', {
      hint: 'Freeze the graph first (tf.compat.v1.graph_util.convert_variables_to_constants, or freeze_graph) and import the frozen .pb',
    })
  }
  for (const f of fields) {
    const want = expected[f.id]
    if (want !== undefined && want !== f.wire) {
      throw new MpscnnError('NOT_PROTOBUF', file, `not a TensorFlow GraphDef: field ${f.id} at byte ${f.start} has wire type ${f.wire}`, {
        hint: 'Point the import at a frozen GraphDef (.pb or .pbtxt)',
      })
    }
  }
  const node: NodeDef[] = []
  let versions: GraphDef['versions']
  // One reader over the file, bounded to each field in turn: `bytes` fields come out as
  // views of the file (tensor_content is never copied).
  const r = reader(bytes)
  const within = (f: Field) => {
    r.pos = f.start
    r.len = f.end
  }
  for (const f of fields) {
    if (f.id === 1) {
      let decoded: NodeDef
      try {
        within(f)
        decoded = decodeNodeDef(r, f.end)
      } catch (e) {
        throw new MpscnnError('CORRUPT', file, `node #${node.length} (bytes ${f.start}-${f.end}) is corrupt: ${(e as Error).message}`, {
          hint: 'The file is damaged; download or export the model again',
        })
      }
      if (!decoded.name) {
        throw new MpscnnError('CORRUPT', file, `node #${node.length} (bytes ${f.start}-${f.end}) has no name`, {
          hint: 'The file is damaged or not a GraphDef; download or export the model again',
        })
      }
      node.push(decoded)
    } else if (f.id === 4) {
      try {
        within(f)
        versions = decodeVersions(r, f.end)
      } catch {
        // VersionDef is informational only; a damaged one is not worth refusing the model.
      }
    }
  }
  return { node, versions }
}
