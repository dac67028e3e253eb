/**
 * A small typed builder for synthetic TensorFlow GraphDefs, for tests, benchmarks and demos.
 *
 *   const b = new GraphBuilder()
 *   b.placeholder('input', [1, 8, 8, 3])
 *   b.constF32('w', [3, 3, 3, 4], data)                        // tensor_content
 *   b.const('eps', { dtype: 'float16', shape: [], values: [1e-3], encoding: 'floatVal' })
 *   b.op('conv/Conv2D', 'Conv2D', ['input', 'w'], { strides: attr.ints([1, 1, 1, 1]), padding: attr.s('SAME') })
 *   const bytes = encodeGraphDef(b.graph())
 *
 * Encoding is done by protobufjs (`GraphDefType.encode`), which always writes repeated
 * numbers packed. Tensors built with `unpacked: true` (or `encodeGraphDef(g, { unpacked: true })`)
 * are written by a hand encoder in this file, which writes the same bytes as protobufjs
 * except that the TensorProto `*_val` fields are unpacked (one tag per element), as older
 * writers and proto2 parsers do.
 *
 * Nothing here imports vitest: the module is usable from `bench/` and scripts run by tsx.
 */
import { DataType, reflection, type AttrValue, type GraphDef, type NodeDef, type TensorProto, type TensorShapeProto } from '../../src/graphdef/schema.js'

const { root, GraphDefType } = reflection()
const NodeDefType = root.lookupType('tensorflow.NodeDef')

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

// ---------------------------------------------------------------------------------------
// float16 / bfloat16 bit conversions (round to nearest, ties to even)
// ---------------------------------------------------------------------------------------

const convF32 = new Float32Array(1)
const convU32 = new Uint32Array(convF32.buffer)

/**
 * IEEE 754 binary16 bits of `v` (first rounded to float32), round to nearest even.
 * Overflow gives +-Infinity (0x7c00), NaN gives a quiet NaN (payload's top bits kept).
 */
export function float32ToFloat16Bits(v: number): number {
  convF32[0] = v
  const x = convU32[0]
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  const mant = x & 0x7fffff
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13)
  const e = exp - 127 + 15 // half exponent field if normal
  if (e >= 31) return sign | 0x7c00
  if (e >= 1) {
    let q = (e << 10) | (mant >>> 13)
    const rem = mant & 0x1fff
    if (rem > 0x1000 || (rem === 0x1000 && (q & 1) === 1)) q++ // may carry into the exponent (up to Infinity): correct
    return sign | q
  }
  // Subnormal half: value = q * 2^-24, with the float32 value = full * 2^(exp - 150).
  const full = mant | 0x800000
  const shift = 126 - exp // >= 14
  if (shift > 24) return sign // < 2^-25: rounds to zero (exactly 2^-25 is handled below as a tie)
  let q = full >>> shift
  const rem = full & ((1 << shift) - 1)
  const half = 1 << (shift - 1)
  if (rem > half || (rem === half && (q & 1) === 1)) q++ // may become 0x400, the smallest normal: correct
  return sign | q
}

/** The float value of binary16 bits. */
export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >>> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * frac * 2 ** -24
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN
  return sign * (1024 + frac) * 2 ** (exp - 25)
}

/** bfloat16 bits of `v` (first rounded to float32), round to nearest even; NaN stays a (quiet) NaN. */
export function float32ToBfloat16Bits(v: number): number {
  convF32[0] = v
  const x = convU32[0]
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff
  const lsb = (x >>> 16) & 1
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff
}

/** The float value of bfloat16 bits. */
export function bfloat16BitsToFloat32(b: number): number {
  convU32[0] = (b & 0xffff) << 16
  return convF32[0]
}

/** `v` as a float16 would hold it. */
export const roundToFloat16 = (v: number): number => float16BitsToFloat32(float32ToFloat16Bits(v))
/** `v` as a bfloat16 would hold it. */
export const roundToBfloat16 = (v: number): number => bfloat16BitsToFloat32(float32ToBfloat16Bits(v))

// ---------------------------------------------------------------------------------------
// Attr helpers
// ---------------------------------------------------------------------------------------

export type DataTypeName = keyof typeof DataType

/** UTF-8 bytes of a string (AttrValue.s is bytes). */
export function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s)
}

function dataTypeOf(t: DataTypeName | number): number {
  if (typeof t === 'number') return t
  const v = DataType[t]
  if (v === undefined) throw new Error(`unknown DataType ${t}`)
  return v
}

/** A TensorShapeProto; `null` is unknown rank, -1 an unknown dimension. */
export function shapeProto(dims: readonly number[] | null): TensorShapeProto {
  if (dims === null) return { unknownRank: true }
  return { dim: dims.map((size) => ({ size })) }
}

export const attr = {
  s: (v: string | Uint8Array): AttrValue => ({ s: typeof v === 'string' ? bytes(v) : v }),
  i: (v: number): AttrValue => ({ i: v }),
  f: (v: number): AttrValue => ({ f: v }),
  b: (v: boolean): AttrValue => ({ b: v }),
  type: (t: DataTypeName | number): AttrValue => ({ type: dataTypeOf(t) }),
  shape: (dims: readonly number[] | null): AttrValue => ({ shape: shapeProto(dims) }),
  tensor: (t: TensorProto): AttrValue => ({ tensor: t }),
  placeholder: (name: string): AttrValue => ({ placeholder: name }),
  ints: (v: readonly number[]): AttrValue => ({ list: { i: [...v] } }),
  floats: (v: readonly number[]): AttrValue => ({ list: { f: [...v] } }),
  bools: (v: readonly boolean[]): AttrValue => ({ list: { b: [...v] } }),
  strings: (v: readonly string[]): AttrValue => ({ list: { s: v.map(bytes) } }),
  types: (v: readonly (DataTypeName | number)[]): AttrValue => ({ list: { type: v.map(dataTypeOf) } }),
  shapes: (v: readonly (readonly number[] | null)[]): AttrValue => ({ list: { shape: v.map(shapeProto) } }),
  /** An empty list (`list {}`), e.g. an empty `strides`. */
  emptyList: (): AttrValue => ({ list: {} }),
}

// ---------------------------------------------------------------------------------------
// Tensors
// ---------------------------------------------------------------------------------------

export type ConstDtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int32'

/**
 * How a tensor's values are stored:
 * - `content`: `tensor_content`, little-endian raw bytes (float16/bfloat16 as uint16).
 * - `floatVal`: the dtype's repeated field, one entry per element: `float_val` (float32),
 *   `half_val` (float16 and bfloat16 bit patterns as int32, as TensorFlow writes them),
 *   `double_val` (float64), `int_val` (int32).
 * - `splat`: that field with a single entry for the whole tensor (all values must be equal,
 *   or `values` has one element).
 * - `short`: that field with the trailing run of equal values cut to one entry (TensorFlow's
 *   compressed form: readers repeat the last value). `values` may also be given already short.
 */
export type ConstEncoding = 'content' | 'floatVal' | 'splat' | 'short'

export interface TensorOptions {
  dtype?: ConstDtype
  shape: readonly number[]
  values: ArrayLike<number>
  encoding?: ConstEncoding
  /** Write the `*_val` field unpacked (hand encoder). Ignored for `content`. */
  unpacked?: boolean
}

const DTYPE_ENUM: Record<ConstDtype, number> = {
  float32: DataType.DT_FLOAT,
  float16: DataType.DT_HALF,
  bfloat16: DataType.DT_BFLOAT16,
  float64: DataType.DT_DOUBLE,
  int32: DataType.DT_INT32,
}

/** Tensors whose repeated fields must be written unpacked. */
const unpackedTensors = new WeakSet<TensorProto>()

/** Marks a tensor so that `encodeGraphDef` writes its `*_val` fields unpacked. */
export function markUnpacked(t: TensorProto): TensorProto {
  unpackedTensors.add(t)
  return t
}

/** The raw little-endian bytes of a typed array, without copying. */
export function viewBytes(a: ArrayBufferView): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error('graph-builder assumes a little-endian host')
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}

function numElements(shape: readonly number[]): number {
  let n = 1
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`bad dimension ${d} in shape [${shape.join(', ')}]`)
    n *= d
  }
  return n
}

/** Builds a TensorProto from values (see {@link ConstEncoding}). */
export function makeTensor(opts: TensorOptions): TensorProto {
  const dtype = opts.dtype ?? 'float32'
  const encoding = opts.encoding ?? 'content'
  const n = numElements(opts.shape)
  const values = opts.values
  const t: TensorProto = { dtype: DTYPE_ENUM[dtype], tensorShape: shapeProto(opts.shape) }

  if (encoding === 'content') {
    if (values.length !== n) throw new Error(`tensor_content needs ${n} values, got ${values.length}`)
    let typed: ArrayBufferView
    switch (dtype) {
      case 'float32':
        typed = values instanceof Float32Array ? values : Float32Array.from(values)
        break
      case 'float64':
        typed = values instanceof Float64Array ? values : Float64Array.from(values)
        break
      case 'int32':
        typed = values instanceof Int32Array ? values : Int32Array.from(values)
        break
      case 'float16':
      case 'bfloat16': {
        const conv = dtype === 'float16' ? float32ToFloat16Bits : float32ToBfloat16Bits
        const u16 = new Uint16Array(n)
        for (let k = 0; k < n; k++) u16[k] = conv(values[k])
        typed = u16
        break
      }
    }
    t.tensorContent = viewBytes(typed)
    return t
  }

  // A repeated *_val field. Values are normalised to what the field holds, so that runs of
  // equal values are found on the stored representation.
  const store = (v: number): number => {
    switch (dtype) {
      case 'float16':
        return float32ToFloat16Bits(v)
      case 'bfloat16':
        return float32ToBfloat16Bits(v)
      case 'int32':
        return v | 0
      case 'float32':
        return Math.fround(v)
      case 'float64':
        return v
    }
  }
  let list: number[] = Array.from(values, store)
  const same = Object.is
  if (encoding === 'floatVal') {
    if (list.length !== n) throw new Error(`'floatVal' needs ${n} values, got ${list.length}; use 'short' or 'splat'`)
  } else if (encoding === 'splat') {
    if (list.length === 0) throw new Error(`'splat' needs a value`)
    if (!list.every((v) => same(v, list[0]))) throw new Error(`'splat' needs all values equal`)
    list = [list[0]]
  } else {
    if (list.length === 0 || list.length > n) throw new Error(`'short' needs 1..${n} values, got ${list.length}`)
    let end = list.length
    while (end > 1 && same(list[end - 1], list[end - 2])) end--
    list = list.slice(0, end)
  }
  switch (dtype) {
    case 'float32':
      t.floatVal = list
      break
    case 'float64':
      t.doubleVal = list
      break
    case 'int32':
      t.intVal = list
      break
    case 'float16':
    case 'bfloat16':
      t.halfVal = list
      break
  }
  if (opts.unpacked) markUnpacked(t)
  return t
}

// ---------------------------------------------------------------------------------------
// The builder
// ---------------------------------------------------------------------------------------

export interface ConstF32Options {
  encoding?: ConstEncoding
  unpacked?: boolean
}

export class GraphBuilder {
  readonly nodes: NodeDef[] = []
  private readonly byName = new Map<string, NodeDef>()
  versions: GraphDef['versions']

  constructor(opts: { producer?: number } = {}) {
    this.versions = opts.producer === undefined ? undefined : { producer: opts.producer }
  }

  /**
   * Adds a node; returns its name. Attr keys are written sorted, as TensorFlow's
   * deterministic serialization does. Inputs may be `name`, `name:1` or `^name`.
   */
  op(name: string, op: string, inputs: readonly string[] = [], attrs: Record<string, AttrValue> = {}, device?: string): string {
    if (this.byName.has(name)) throw new Error(`duplicate node name ${name}`)
    const sorted: Record<string, AttrValue> = {}
    for (const k of Object.keys(attrs).sort()) sorted[k] = attrs[k]
    const node: NodeDef = { name, op, input: [...inputs], attr: sorted }
    if (device !== undefined) node.device = device
    this.nodes.push(node)
    this.byName.set(name, node)
    return name
  }

  /** A Placeholder; `shape` null means unknown rank. */
  placeholder(name: string, shape: readonly number[] | null = null, dtype: DataTypeName | number = 'DT_FLOAT'): string {
    return this.op(name, 'Placeholder', [], { dtype: attr.type(dtype), shape: attr.shape(shape) })
  }

  /** A Const holding any TensorProto (for malformed or unusual tensors). */
  constTensor(name: string, tensor: TensorProto, dtype: DataTypeName | number = tensor.dtype ?? DataType.DT_FLOAT): string {
    return this.op(name, 'Const', [], { dtype: attr.type(dtype), value: attr.tensor(tensor) })
  }

  /** A Const from values (see {@link ConstEncoding}). */
  const(name: string, opts: TensorOptions): string {
    const t = makeTensor(opts)
    return this.constTensor(name, t, t.dtype)
  }

  /** A float32 Const; with the default `content` encoding a Float32Array is used without copying. */
  constF32(name: string, shape: readonly number[], data: ArrayLike<number>, opts: ConstF32Options = {}): string {
    return this.const(name, { dtype: 'float32', shape, values: data, encoding: opts.encoding, unpacked: opts.unpacked })
  }

  /** An int32 Const (e.g. a concat axis or a reshape target). */
  constI32(name: string, shape: readonly number[], data: ArrayLike<number>, opts: ConstF32Options = {}): string {
    return this.const(name, { dtype: 'int32', shape, values: data, encoding: opts.encoding ?? 'floatVal', unpacked: opts.unpacked })
  }

  has(name: string): boolean {
    return this.byName.has(name)
  }

  /** The node, to mutate it for negative tests. */
  node(name: string): NodeDef {
    const n = this.byName.get(name)
    if (!n) throw new Error(`no node ${name}`)
    return n
  }

  remove(name: string): void {
    const n = this.node(name)
    this.nodes.splice(this.nodes.indexOf(n), 1)
    this.byName.delete(name)
  }

  graph(): GraphDef {
    const g: GraphDef = { node: this.nodes.slice() }
    if (this.versions) g.versions = { ...this.versions }
    return g
  }

  encode(opts?: EncodeOptions): Uint8Array {
    return encodeGraphDef(this.graph(), opts)
  }
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

export interface EncodeOptions {
  /**
   * `protobufjs` (the default unless a tensor is marked unpacked) or `manual`, the hand
   * encoder. Both write fields in field-number order and give the same bytes when nothing
   * is unpacked.
   */
  encoder?: 'protobufjs' | 'manual'
  /** Write every TensorProto's `*_val` fields unpacked (implies the manual encoder). */
  unpacked?: boolean
}

function graphHasUnpacked(g: GraphDef): boolean {
  const visit = (a: AttrValue | undefined): boolean =>
    !!a && ((a.tensor !== undefined && unpackedTensors.has(a.tensor)) || (a.list?.tensor?.some((t) => unpackedTensors.has(t)) ?? false))
  return g.node.some((n) => Object.values(n.attr ?? {}).some(visit))
}

/** Encodes a GraphDef to its binary form. */
export function encodeGraphDef(g: GraphDef, opts: EncodeOptions = {}): Uint8Array {
  const manual = opts.encoder === 'manual' || opts.unpacked === true || (opts.encoder === undefined && graphHasUnpacked(g))
  if (!manual) return GraphDefType.encode(GraphDefType.fromObject(g as unknown as Record<string, unknown>)).finish()
  const w = new ChunkWriter()
  writeGraphDef(w, g, opts.unpacked === true)
  return w.finish()
}

/** One NodeDef framed as a GraphDef `node` field (tag + length + NodeDef), via protobufjs. */
export function encodeNodeRecord(node: NodeDef): Uint8Array[] {
  const body = NodeDefType.encode(NodeDefType.fromObject(node as unknown as Record<string, unknown>)).finish()
  const head = new ChunkWriter()
  head.tag(1, 2)
  head.varint(body.length)
  return [head.finish(), body]
}

/** The `versions` field of a GraphDef (tag + length + VersionDef). */
export function encodeVersionsRecord(versions: NonNullable<GraphDef['versions']>): Uint8Array {
  const w = new ChunkWriter()
  const v = new ChunkWriter()
  writeVersionDef(v, versions)
  w.message(4, v)
  return w.finish()
}

/** Concatenates byte chunks into one Uint8Array. */
/** A protobuf varint. */
export function varintBytes(n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/**
 * A SavedModel (saved_model.pb) wrapping a GraphDef, as TensorFlow writes one:
 * SavedModel { saved_model_schema_version (1): 1, meta_graphs (2): MetaGraphDef { graph_def (2) } }.
 */
export function savedModelBytes(graphDef: Uint8Array): Uint8Array {
  const metaGraph = concatBytes([Uint8Array.of(0x12), varintBytes(graphDef.length), graphDef])
  return concatBytes([Uint8Array.of(0x08, 0x01, 0x12), varintBytes(metaGraph.length), metaGraph])
}

export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  let len = 0
  for (const c of chunks) len += c.length
  const out = new Uint8Array(len)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/**
 * A protobuf writer that keeps large byte fields as separate chunks, so that nested
 * messages holding big tensors are copied once, at `finish()`.
 */
class ChunkWriter {
  readonly chunks: Uint8Array[] = []
  length = 0
  private readonly buf = new Uint8Array(256)
  private readonly dv = new DataView(this.buf.buffer)
  private pos = 0

  private ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.flush()
  }
  private flush(): void {
    if (this.pos > 0) {
      this.chunks.push(this.buf.slice(0, this.pos))
      this.pos = 0
    }
  }
  private byte(b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b
    this.length++
  }
  private raw(u8: Uint8Array): void {
    if (u8.length <= 64) {
      this.ensure(u8.length)
      this.buf.set(u8, this.pos)
      this.pos += u8.length
    } else {
      this.flush()
      this.chunks.push(u8)
    }
    this.length += u8.length
  }

  /** Unsigned varint of a non-negative integer below 2^53. */
  varint(n: number): void {
    if (n < 0) {
      this.varint64(n)
      return
    }
    while (n >= 0x80) {
      this.byte((n % 0x80) | 0x80)
      n = Math.floor(n / 0x80)
    }
    this.byte(n)
  }
  /** int32/int64/enum varint: negative values as 10-byte two's complement. */
  varint64(n: number): void {
    if (n >= 0) {
      this.varint(n)
      return
    }
    let x = BigInt.asUintN(64, BigInt(n))
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80)
      x >>= 7n
    }
    this.byte(Number(x))
  }
  tag(id: number, wire: number): void {
    this.varint(id * 8 + wire)
  }
  float(v: number): void {
    this.ensure(4)
    this.dv.setFloat32(this.pos, v, true)
    this.pos += 4
    this.length += 4
  }
  double(v: number): void {
    this.ensure(8)
    this.dv.setFloat64(this.pos, v, true)
    this.pos += 8
    this.length += 8
  }
  bytesField(id: number, u8: Uint8Array): void {
    this.tag(id, 2)
    this.varint(u8.length)
    this.raw(u8)
  }
  stringField(id: number, s: string): void {
    this.bytesField(id, bytes(s))
  }
  message(id: number, sub: ChunkWriter): void {
    sub.flush()
    this.tag(id, 2)
    this.varint(sub.length)
    this.flush()
    for (const c of sub.chunks) this.chunks.push(c)
    this.length += sub.length
  }
  finish(): Uint8Array {
    this.flush()
    return this.chunks.length === 1 ? this.chunks[0] : concatBytes(this.chunks)
  }
}

type Kind = 'int32' | 'int64' | 'enum' | 'bool' | 'float' | 'double'

function int64Num(v: unknown): number {
  if (typeof v === 'number') return v
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const l = v as { low: number; high: number }
    return l.high * 4294967296 + (l.low >>> 0)
  }
  return Number(v)
}

function writeScalar(w: ChunkWriter, kind: Kind, v: unknown): void {
  switch (kind) {
    case 'float':
      w.float(v as number)
      break
    case 'double':
      w.double(v as number)
      break
    case 'bool':
      w.varint(v ? 1 : 0)
      break
    default:
      w.varint64(int64Num(v))
  }
}

const WIRE_OF: Record<Kind, number> = { int32: 0, int64: 0, enum: 0, bool: 0, float: 5, double: 1 }

function writeRepeated(w: ChunkWriter, id: number, kind: Kind, values: readonly unknown[] | undefined, unpacked: boolean): void {
  if (!values || values.length === 0) return
  if (unpacked) {
    for (const v of values) {
      w.tag(id, WIRE_OF[kind])
      writeScalar(w, kind, v)
    }
    return
  }
  const p = new ChunkWriter()
  for (const v of values) writeScalar(p, kind, v)
  w.message(id, p)
}

function has<T extends object>(m: T, k: keyof T): boolean {
  return Object.prototype.hasOwnProperty.call(m, k) && m[k] != null
}

function writeGraphDef(w: ChunkWriter, g: GraphDef, unpackAll: boolean): void {
  for (const n of g.node ?? []) {
    const s = new ChunkWriter()
    writeNodeDef(s, n, unpackAll)
    w.message(1, s)
  }
  const version = (g as { version?: number }).version
  if (version != null) {
    w.tag(3, 0)
    w.varint64(version)
  }
  if (g.versions != null) {
    const s = new ChunkWriter()
    writeVersionDef(s, g.versions)
    w.message(4, s)
  }
}

function writeVersionDef(w: ChunkWriter, v: NonNullable<GraphDef['versions']> & { badConsumers?: number[] }): void {
  if (has(v, 'producer')) {
    w.tag(1, 0)
    w.varint64(v.producer!)
  }
  if (has(v, 'minConsumer')) {
    w.tag(2, 0)
    w.varint64(v.minConsumer!)
  }
  writeRepeated(w, 3, 'int32', v.badConsumers, false)
}

function writeNodeDef(w: ChunkWriter, n: NodeDef, unpackAll: boolean): void {
  if (has(n, 'name')) w.stringField(1, n.name)
  if (has(n, 'op')) w.stringField(2, n.op)
  for (const i of n.input ?? []) w.stringField(3, i)
  if (has(n, 'device')) w.stringField(4, n.device!)
  if (has(n, 'attr')) {
    for (const key of Object.keys(n.attr)) {
      const entry = new ChunkWriter()
      entry.stringField(1, key)
      const v = new ChunkWriter()
      writeAttrValue(v, n.attr[key], unpackAll)
      entry.message(2, v)
      w.message(5, entry)
    }
  }
}

function writeAttrValue(w: ChunkWriter, a: AttrValue, unpackAll: boolean): void {
  if (has(a, 'list')) {
    const l = a.list!
    const s = new ChunkWriter()
    for (const x of l.s ?? []) s.bytesField(2, x)
    writeRepeated(s, 3, 'int64', l.i, false)
    writeRepeated(s, 4, 'float', l.f, false)
    writeRepeated(s, 5, 'bool', l.b, false)
    writeRepeated(s, 6, 'enum', l.type, false)
    for (const sh of l.shape ?? []) {
      const m = new ChunkWriter()
      writeShape(m, sh)
      s.message(7, m)
    }
    for (const t of l.tensor ?? []) {
      const m = new ChunkWriter()
      writeTensor(m, t, unpackAll)
      s.message(8, m)
    }
    w.message(1, s)
  }
  if (has(a, 's')) w.bytesField(2, a.s!)
  if (has(a, 'i')) {
    w.tag(3, 0)
    w.varint64(int64Num(a.i))
  }
  if (has(a, 'f')) {
    w.tag(4, 5)
    w.float(a.f!)
  }
  if (has(a, 'b')) {
    w.tag(5, 0)
    w.varint(a.b ? 1 : 0)
  }
  if (has(a, 'type')) {
    w.tag(6, 0)
    w.varint64(a.type!)
  }
  if (has(a, 'shape')) {
    const m = new ChunkWriter()
    writeShape(m, a.shape!)
    w.message(7, m)
  }
  if (has(a, 'tensor')) {
    const m = new ChunkWriter()
    writeTensor(m, a.tensor!, unpackAll)
    w.message(8, m)
  }
  if (has(a, 'placeholder')) w.stringField(9, a.placeholder!)
}

function writeShape(w: ChunkWriter, s: TensorShapeProto): void {
  for (const d of s.dim ?? []) {
    const m = new ChunkWriter()
    if (has(d, 'size')) {
      m.tag(1, 0)
      m.varint64(int64Num(d.size))
    }
    if (has(d, 'name')) m.stringField(2, d.name!)
    w.message(2, m)
  }
  if (has(s, 'unknownRank')) {
    w.tag(3, 0)
    w.varint(s.unknownRank ? 1 : 0)
  }
}

function writeTensor(w: ChunkWriter, t: TensorProto & { versionNumber?: number }, unpackAll: boolean): void {
  const unpacked = unpackAll || unpackedTensors.has(t)
  if (has(t, 'dtype')) {
    w.tag(1, 0)
    w.varint64(t.dtype!)
  }
  if (has(t, 'tensorShape')) {
    const m = new ChunkWriter()
    writeShape(m, t.tensorShape!)
    w.message(2, m)
  }
  if (has(t, 'versionNumber')) {
    w.tag(3, 0)
    w.varint64(t.versionNumber!)
  }
  if (has(t, 'tensorContent')) w.bytesField(4, t.tensorContent!)
  writeRepeated(w, 5, 'float', t.floatVal, unpacked)
  writeRepeated(w, 6, 'double', t.doubleVal, unpacked)
  writeRepeated(w, 7, 'int32', t.intVal, unpacked)
  for (const s of t.stringVal ?? []) w.bytesField(8, s)
  writeRepeated(w, 10, 'int64', t.int64Val, unpacked)
  writeRepeated(w, 11, 'bool', t.boolVal, unpacked)
  writeRepeated(w, 13, 'int32', t.halfVal, unpacked)
}
