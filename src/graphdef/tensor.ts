/**
 * TensorProto -> a typed numeric view. float32 `tensor_content` is returned as a
 * Float32Array over the file's own bytes when its offset is 4-byte aligned, and copied
 * only when it is not. Every other encoding is decoded to float32 or float64.
 */
import { MpscnnError } from '../base/errors.js'
import { halfToFloat, bfloat16ToFloat } from '../base/half.js'
import { DataType, dataTypeName, int64ToNumber, type TensorProto, type TensorShapeProto } from './schema.js'

/** A constant as the converter sees it. `data` is row-major; `dtype` is the TF dtype it came from. */
export interface Tensor {
  dtype: number
  shape: number[]
  data: Float32Array | Float64Array
  /**
   * For float32 `tensor_content`: the little-endian bytes inside the model file. Weights
   * are read from here at layout time, so that planning never copies them.
   */
  raw?: Uint8Array
}

/**
 * A float32 `tensor_content` constant whose values are only materialised when read: a
 * zero-copy view when the content is 4-byte aligned in the file, else a copy (kept only
 * for small tensors, so that big unaligned weights are never held twice).
 */
class ContentTensor implements Tensor {
  private cached?: Float32Array
  constructor(
    readonly dtype: number,
    readonly shape: number[],
    readonly raw: Uint8Array,
    private readonly n: number,
  ) {}
  get data(): Float32Array {
    if (this.cached) return this.cached
    const d = viewOrCopy(Float32Array, this.raw, this.n)
    if (this.raw.byteOffset % 4 === 0 || this.n <= 1 << 16) this.cached = d
    return d
  }
}

/** A float32 constant whose content is `raw` (little-endian bytes, e.g. a view of a model another thread read). */
export function float32Content(shape: number[], raw: Uint8Array): Tensor {
  return new ContentTensor(DataType.DT_FLOAT, shape, raw, raw.byteLength >> 2)
}

/** No weight tensor of a vision model comes near this; past it a shape is corrupt, not big. */
export const MAX_TENSOR_ELEMENTS = 1 << 28

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

export function shapeOf(shape: TensorShapeProto | undefined, file: string, node: string): number[] {
  if (!shape || shape.unknownRank) return []
  const dims = (shape.dim ?? []).map((d) => int64ToNumber(d.size))
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new MpscnnError('BAD_SHAPE', file, `constant has an invalid dimension ${d}`, { node, hint: 'The graph is damaged; export it again' })
    }
  }
  return dims
}

export function elementCount(shape: number[]): number {
  let n = 1
  for (const d of shape) n *= d
  return n
}

function checkCount(n: number, file: string, node: string): void {
  if (n > MAX_TENSOR_ELEMENTS) {
    throw new MpscnnError('BAD_SHAPE', file, `constant claims ${n} elements, more than any layer can hold`, {
      node,
      hint: 'The graph is damaged; export it again',
    })
  }
}

/** A view of `bytes` as `Ctor` when aligned (zero-copy), else a copy. */
function viewOrCopy<T extends Float32Array | Float64Array | Uint16Array | Int32Array>(
  Ctor: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; new (length: number): T; BYTES_PER_ELEMENT: number },
  bytes: Uint8Array,
  n: number,
): T {
  if (!littleEndian) throw new Error('unplugin-mpscnn needs a little-endian host')
  if (bytes.byteOffset % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(bytes.buffer, bytes.byteOffset, n)
  const copy = new Uint8Array(n * Ctor.BYTES_PER_ELEMENT)
  copy.set(bytes.subarray(0, copy.length))
  return new Ctor(copy.buffer, 0, n)
}

/**
 * Expands TF's short form: fewer values than elements means the last value repeats
 * (no value at all means zeros).
 */
function expand<T extends Float32Array | Float64Array>(out: T, values: ArrayLike<number>, conv: (v: number) => number, file: string, node: string): T {
  const n = out.length
  const m = values.length
  if (m > n) {
    throw new MpscnnError('BAD_SHAPE', file, `constant has ${m} values but its shape holds ${n}`, { node, hint: 'The graph is damaged; export it again' })
  }
  for (let i = 0; i < m; i++) out[i] = conv(values[i])
  if (m > 0 && m < n) out.fill(out[m - 1], m)
  return out
}

const ident = (v: number) => v

/** Bytes per element in `tensor_content`, and whether signed, of the integer and quantized dtypes. */
const INTEGER_LAYOUT: Record<number, [number, boolean]> = {
  [DataType.DT_INT32]: [4, true],
  [DataType.DT_QINT32]: [4, true],
  [DataType.DT_INT16]: [2, true],
  [DataType.DT_QINT16]: [2, true],
  [DataType.DT_UINT16]: [2, false],
  [DataType.DT_QUINT16]: [2, false],
  [DataType.DT_INT8]: [1, true],
  [DataType.DT_QINT8]: [1, true],
  [DataType.DT_UINT8]: [1, false],
  [DataType.DT_QUINT8]: [1, false],
}

/**
 * `charge(bytes)` is told of every array about to be allocated for the values (not of
 * views of the file's bytes), and may refuse it by throwing (see fold/budget.ts).
 */
export function tensorFromProto(t: TensorProto, file: string, node: string, charge: (bytes: number) => void = () => {}): Tensor {
  const dtype = t.dtype ?? DataType.DT_INVALID
  const shape = shapeOf(t.tensorShape, file, node)
  const n = elementCount(shape)
  checkCount(n, file, node)
  const f32 = () => (charge(n * 4), new Float32Array(n))
  const f64 = () => (charge(n * 8), new Float64Array(n))
  const content = t.tensorContent
  const hasContent = content !== undefined && content.length > 0
  const contentSize = (bytesPer: number) => {
    if (content!.length !== n * bytesPer) {
      throw new MpscnnError('BAD_SHAPE', file, `tensor_content has ${content!.length} bytes but shape [${shape.join(', ')}] of ${dataTypeName[dtype]} needs ${n * bytesPer}`, {
        node,
        hint: 'The file is truncated or damaged; export it again',
      })
    }
  }
  switch (dtype) {
    case DataType.DT_FLOAT:
      if (hasContent) {
        contentSize(4)
        return new ContentTensor(dtype, shape, content!, n)
      }
      return { dtype, shape, data: expand(f32(), t.floatVal ?? [], ident, file, node) }
    case DataType.DT_DOUBLE:
      if (hasContent) {
        contentSize(8)
        return { dtype, shape, data: viewOrCopy(Float64Array, content!, n) }
      }
      return { dtype, shape, data: expand(f64(), t.doubleVal ?? [], ident, file, node) }
    case DataType.DT_HALF:
    case DataType.DT_BFLOAT16: {
      const conv = dtype === DataType.DT_HALF ? halfToFloat : bfloat16ToFloat
      if (hasContent) {
        contentSize(2)
        const bits = viewOrCopy(Uint16Array, content!, n)
        const out = f32()
        for (let i = 0; i < n; i++) out[i] = conv(bits[i])
        return { dtype, shape, data: out }
      }
      return { dtype, shape, data: expand(f32(), t.halfVal ?? [], (v) => conv(v & 0xffff), file, node) }
    }
    case DataType.DT_INT32:
    case DataType.DT_INT16:
    case DataType.DT_INT8:
    case DataType.DT_UINT8:
    case DataType.DT_UINT16:
    // Quantized types (weights before a Dequantize): their integers, as TF stores them.
    case DataType.DT_QINT8:
    case DataType.DT_QUINT8:
    case DataType.DT_QINT16:
    case DataType.DT_QUINT16:
    case DataType.DT_QINT32: {
      if (hasContent) {
        const [width, signed] = INTEGER_LAYOUT[dtype]
        contentSize(width)
        const dv = new DataView(content!.buffer, content!.byteOffset, content!.byteLength)
        const out = f64()
        for (let i = 0; i < n; i++) {
          out[i] =
            width === 4 ? dv.getInt32(i * 4, true)
            : width === 2 ? (signed ? dv.getInt16(i * 2, true) : dv.getUint16(i * 2, true))
            : signed ? dv.getInt8(i)
            : dv.getUint8(i)
        }
        return { dtype, shape, data: out }
      }
      return { dtype, shape, data: expand(f64(), t.intVal ?? [], ident, file, node) }
    }
    case DataType.DT_INT64: {
      if (hasContent) {
        contentSize(8)
        const dv = new DataView(content!.buffer, content!.byteOffset, content!.byteLength)
        const out = f64()
        for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(i * 8, true))
        return { dtype, shape, data: out }
      }
      return { dtype, shape, data: expand(f64(), (t.int64Val ?? []).map(int64ToNumber), ident, file, node) }
    }
    default:
      throw new MpscnnError('UNSUPPORTED_DTYPE', file, `constant has dtype ${dataTypeName[dtype] ?? dtype}, which cannot hold weights`, {
        node,
        hint: 'Weights and batch-norm parameters must be float32, float16, bfloat16 or float64',
      })
  }
}

export function isFloatDtype(dtype: number): boolean {
  return dtype === DataType.DT_FLOAT || dtype === DataType.DT_DOUBLE || dtype === DataType.DT_HALF || dtype === DataType.DT_BFLOAT16
}
