/**
 * Decoders for the binary GraphDef messages, written the way protobufjs' static code
 * (`pbjs -t static-module`) is: a switch over field numbers on a protobufjs `Reader`,
 * which does the varints, strings, bounds checks and zero-copy `bytes`. Unlike the
 * reflection decoders protobufjs builds at run time, they cost nothing to set up (no
 * `Root.fromJSON`, no code generation) and need only `protobufjs/minimal`, which matters
 * for a CLI whose whole run is short, so that any set-up shows. They produce what
 * `root.lookupType(...).decode` does for the schema in schema.ts (a test checks that on
 * whole graphs): own properties only for the fields present, int64 as numbers.
 */
import protobuf from 'protobufjs/minimal.js'
import { int64ToNumber, type AttrValue, type NodeDef, type TensorProto, type TensorShapeProto } from './schema.js'

type Reader = protobuf.Reader

const WIRE_LEN = 2

/** A reader over `bytes`, to be positioned with `pos`/`len` per message. */
export function reader(bytes: Uint8Array): Reader {
  return protobuf.Reader.create(bytes)
}

/** The end of a length-delimited field whose length is read now. */
function sub(r: Reader): number {
  const end = r.uint32() + r.pos
  if (end > r.len) throw new RangeError(`index out of range: ${end} > ${r.len}`)
  return end
}

/** A repeated scalar, packed (wire type 2) or not: read one element with `one`. */
function repeated<T>(r: Reader, tag: number, into: T[], one: () => T): void {
  if ((tag & 7) === WIRE_LEN) {
    const end = sub(r)
    while (r.pos < end) into.push(one())
  } else into.push(one())
}

const int64 = (r: Reader) => int64ToNumber(r.int64() as unknown as number)

function decodeDim(r: Reader, end: number): { size?: number; name?: string } {
  const d: { size?: number; name?: string } = {}
  while (r.pos < end) {
    const t = r.uint32()
    switch (t >>> 3) {
      case 1:
        d.size = int64(r)
        break
      case 2:
        d.name = r.string()
        break
      default:
        r.skipType(t & 7)
    }
  }
  return d
}

function decodeShape(r: Reader, end: number): TensorShapeProto {
  const s: TensorShapeProto = {}
  while (r.pos < end) {
    const t = r.uint32()
    switch (t >>> 3) {
      case 2:
        ;(s.dim ??= []).push(decodeDim(r, sub(r)))
        break
      case 3:
        s.unknownRank = r.bool()
        break
      default:
        r.skipType(t & 7)
    }
  }
  return s
}

function decodeTensor(r: Reader, end: number): TensorProto {
  const m: TensorProto = {}
  while (r.pos < end) {
    const t = r.uint32()
    switch (t >>> 3) {
      case 1:
        m.dtype = r.int32()
        break
      case 2:
        m.tensorShape = decodeShape(r, sub(r))
        break
      case 3:
        r.int32() // version_number
        break
      case 4:
        m.tensorContent = r.bytes()
        break
      case 5:
        repeated(r, t, (m.floatVal ??= []), () => r.float())
        break
      case 6:
        repeated(r, t, (m.doubleVal ??= []), () => r.double())
        break
      case 7:
        repeated(r, t, (m.intVal ??= []), () => r.int32())
        break
      case 8:
        ;(m.stringVal ??= []).push(r.bytes())
        break
      case 10:
        repeated(r, t, (m.int64Val ??= []), () => int64(r))
        break
      case 11:
        repeated(r, t, (m.boolVal ??= []), () => r.bool())
        break
      case 13:
        repeated(r, t, (m.halfVal ??= []), () => r.int32())
        break
      default:
        r.skipType(t & 7)
    }
  }
  return m
}

function decodeList(r: Reader, end: number): NonNullable<AttrValue['list']> {
  const l: NonNullable<AttrValue['list']> = {}
  while (r.pos < end) {
    const t = r.uint32()
    switch (t >>> 3) {
      case 2:
        ;(l.s ??= []).push(r.bytes())
        break
      case 3:
        repeated(r, t, (l.i ??= []), () => int64(r))
        break
      case 4:
        repeated(r, t, (l.f ??= []), () => r.float())
        break
      case 5:
        repeated(r, t, (l.b ??= []), () => r.bool())
        break
      case 6:
        repeated(r, t, (l.type ??= []), () => r.int32())
        break
      case 7:
        ;(l.shape ??= []).push(decodeShape(r, sub(r)))
        break
      case 8:
        ;(l.tensor ??= []).push(decodeTensor(r, sub(r)))
        break
      default:
        r.skipType(t & 7)
    }
  }
  return l
}

function decodeAttrValue(r: Reader, end: number): AttrValue {
  const v: AttrValue = {}
  while (r.pos < end) {
    const t = r.uint32()
    switch (t >>> 3) {
      case 1:
        v.list = decodeList(r, sub(r))
        break
      case 2:
        v.s = r.bytes()
        break
      case 3:
        v.i = int64(r)
        break
      case 4:
        v.f = r.float()
        break
      case 5:
        v.b = r.bool()
        break
      case 6:
        v.type = r.int32()
        break
      case 7:
        v.shape = decodeShape(r, sub(r))
        break
      case 8:
        v.tensor = decodeTensor(r, sub(r))
        break
      case 9:
        v.placeholder = r.string()
        break
      default:
        r.skipType(t & 7)
    }
  }
  return v
}

/** Decodes the NodeDef in [r.pos, end). */
export function decodeNodeDef(r: Reader, end: number): NodeDef {
  const n = { name: '', op: '', input: [], attr: {} } as NodeDef
  while (r.pos < end) {
    const t = r.uint32()
    switch (t >>> 3) {
      case 1:
        n.name = r.string()
        break
      case 2:
        n.op = r.string()
        break
      case 3:
        n.input.push(r.string())
        break
      case 4:
        n.device = r.string()
        break
      case 5: {
        const e = sub(r)
        let key = ''
        let value: AttrValue = {}
        while (r.pos < e) {
          const t2 = r.uint32()
          switch (t2 >>> 3) {
            case 1:
              key = r.string()
              break
            case 2:
              value = decodeAttrValue(r, sub(r))
              break
            default:
              r.skipType(t2 & 7)
          }
        }
        // A key named __proto__ is data, not the object's prototype.
        if (key === '__proto__') Object.defineProperty(n.attr, key, { value, enumerable: true, writable: true, configurable: true })
        else n.attr[key] = value
        break
      }
      default:
        r.skipType(t & 7)
    }
  }
  return n
}

/** Decodes a VersionDef (only `producer` and `minConsumer` are read). */
export function decodeVersions(r: Reader, end: number): { producer?: number; minConsumer?: number } {
  const v: { producer?: number; minConsumer?: number } = {}
  while (r.pos < end) {
    const t = r.uint32()
    switch (t >>> 3) {
      case 1:
        v.producer = r.int32()
        break
      case 2:
        v.minConsumer = r.int32()
        break
      default:
        r.skipType(t & 7)
    }
  }
  return v
}
