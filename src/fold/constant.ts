/**
 * Constant folding: the value of any node computed only from constants, evaluated
 * lazily and memoised. This is what turns `Rsqrt(Add(variance, eps)) * gamma` and the
 * like into plain per-channel vectors, so that the layer folder only ever sees
 * "conv, then multiply or add a constant".
 */
import { MpscnnError } from '../base/errors.js'
import { DataType, dataTypeName, type NodeDef } from '../graphdef/schema.js'
import { attrBool, attrFloat, attrString } from './attrs.js'
import { elementCount, MAX_TENSOR_ELEMENTS, tensorFromProto, type Tensor } from '../graphdef/tensor.js'
import { MaterializeBudget } from './budget.js'
import { PASS_THROUGH, type Graph, type InputRef } from './graph.js'

const UNARY: Record<string, (x: number) => number> = {
  Rsqrt: (x) => 1 / Math.sqrt(x),
  Sqrt: Math.sqrt,
  Reciprocal: (x) => 1 / x,
  Inv: (x) => 1 / x,
  Neg: (x) => -x,
  Square: (x) => x * x,
  Exp: Math.exp,
  Log: Math.log,
  Abs: Math.abs,
}

const BINARY: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  AddV2: (a, b) => a + b,
  BiasAdd: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  RealDiv: (a, b) => a / b,
  Div: (a, b) => a / b,
  Maximum: (a, b) => Math.max(a, b),
  Minimum: (a, b) => Math.min(a, b),
  SquaredDifference: (a, b) => (a - b) * (a - b),
}

/** Ops whose inputs are variables: a graph that has them was not frozen. */
export const VARIABLE_OPS = new Set(['Variable', 'VariableV2', 'VarHandleOp', 'ReadVariableOp', 'Placeholder', 'PlaceholderWithDefault', 'PlaceholderV2'])

/** numpy-style broadcasting of two shapes, or null when they do not broadcast. */
function broadcastShape(a: number[], b: number[]): number[] | null {
  const r = Math.max(a.length, b.length)
  const out: number[] = []
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1
    const db = b[b.length - r + i] ?? 1
    if (da !== db && da !== 1 && db !== 1) return null
    out.push(da === 1 ? db : da)
  }
  return out
}

function strides(shape: number[], r: number): number[] {
  // Strides of `shape` right-aligned into rank r, 0 where the dimension broadcasts.
  const s = new Array<number>(r).fill(0)
  let acc = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    const j = r - shape.length + i
    s[j] = shape[i] === 1 ? 0 : acc
    acc *= shape[i]
  }
  return s
}

function binary(fn: (a: number, b: number) => number, x: Tensor, y: Tensor, node: NodeDef, budget: MaterializeBudget): Tensor | null {
  const shape = broadcastShape(x.shape, y.shape)
  if (!shape) {
    // TF itself cannot run this op: the graph is inconsistent, not merely unfoldable.
    throw new MpscnnError('SHAPE_MISMATCH', budget.file, `${node.op} of constants of shapes [${x.shape.join(', ')}] and [${y.shape.join(', ')}], which do not broadcast`, { node: node.name, hint: 'The graph is inconsistent; export it again' })
  }
  const n = elementCount(shape)
  // Folding never needs to grow a tensor (per-channel vectors, weights times vectors):
  // an outer product of two constants is left unfolded rather than allocated.
  if (n > MAX_TENSOR_ELEMENTS || n > Math.max(x.data.length, y.data.length)) return null
  budget.charge(n * 8, node.name, `folding ${node.op}`)
  const out = new Float64Array(n)
  if (x.data.length === n && y.data.length === n) {
    for (let i = 0; i < n; i++) out[i] = fn(x.data[i], y.data[i])
  } else if (y.data.length === 1 && x.data.length === n) {
    const v = y.data[0]
    for (let i = 0; i < n; i++) out[i] = fn(x.data[i], v)
  } else if (x.data.length === 1 && y.data.length === n) {
    const v = x.data[0]
    for (let i = 0; i < n; i++) out[i] = fn(v, y.data[i])
  } else {
    const r = shape.length
    const sx = strides(x.shape, r)
    const sy = strides(y.shape, r)
    const idx = new Array<number>(r).fill(0)
    for (let i = 0; i < n; i++) {
      let ox = 0
      let oy = 0
      for (let d = 0; d < r; d++) {
        ox += idx[d] * sx[d]
        oy += idx[d] * sy[d]
      }
      out[i] = fn(x.data[ox], y.data[oy])
      for (let d = r - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) break
        idx[d] = 0
      }
    }
  }
  return { dtype: x.dtype, shape, data: out }
}

/** numeric_limits<T>::min(), max() and the bits of each quantized type. */
const QUANTIZED: Record<number, [number, number, number]> = {
  [DataType.DT_QUINT8]: [0, 255, 8],
  [DataType.DT_QINT8]: [-128, 127, 8],
  [DataType.DT_QUINT16]: [0, 65535, 16],
  [DataType.DT_QINT16]: [-32768, 32767, 16],
  [DataType.DT_QINT32]: [-2147483648, 2147483647, 32],
}

const f32 = Math.fround

/**
 * `Dequantize(input, min_range, max_range)` as TensorFlow's kernel computes it
 * (dequantize_op.cc, in float32), per tensor (axis -1) or per slice along `axis`:
 * - MIN_COMBINED: `(x + half_range) * ((max - min) / (max(T) - min(T))) + min`, half_range
 *   being (max(T) - min(T) + 1) / 2 for a signed T, else 0;
 * - MIN_FIRST (quantization_utils.h, `QuantizedToFloat`): steps = 2^bits,
 *   range_scale = float((max - min) * (steps / (steps - 1)) / steps),
 *   `(x - lowest(T)) * range_scale + min` (`min` when min == max);
 * - SCALED: `x * s`, s = max / max(T) for an unsigned T, else
 *   max(min / (min(T) + narrow_range), max / max(T)).
 */
function dequantize(node: NodeDef, x: Tensor, mins: Tensor, maxs: Tensor, file: string, budget: MaterializeBudget): Tensor {
  const q = QUANTIZED[x.dtype]
  if (!q) throw new MpscnnError('UNSUPPORTED_DTYPE', file, `Dequantize of a ${dataTypeName[x.dtype] ?? x.dtype} constant; it takes quint8, qint8, quint16, qint16 or qint32`, { node: node.name, hint: 'The graph is inconsistent; export it again' })
  const [lo, hi, bits] = q
  const mode = attrString(node, 'mode', 'MIN_COMBINED')
  const axis = Number(node.attr.axis?.i ?? -1)
  const slices = axis === -1 ? 1 : x.shape[axis]
  if (slices === undefined || mins.data.length !== slices || maxs.data.length !== slices) {
    throw new MpscnnError('SHAPE_MISMATCH', file, `Dequantize has ${mins.data.length} min and ${maxs.data.length} max values for ${axis === -1 ? 'the whole tensor (axis -1)' : `axis ${axis} of shape [${x.shape.join(', ')}]`}`, { node: node.name, hint: 'The graph is inconsistent; export it again' })
  }
  if (mode === 'MIN_FIRST' && slices !== 1 && axis !== -1) throw new MpscnnError('UNSUPPORTED', file, 'Dequantize in MIN_FIRST mode with an axis, which TensorFlow does not implement', { node: node.name })
  const narrow = attrBool(node, 'narrow_range', false)!
  // One float32 map per slice, y = (x + pre) * scale + post, in the kernel's order.
  const map = (min: number, max: number): ((v: number) => number) => {
    if (mode === 'MIN_COMBINED') {
      const half = lo < 0 ? (hi - lo + 1) / 2 : 0
      const scale = f32(f32(max - min) / (hi - lo))
      return (v) => f32(f32(f32(v + half) * scale) + min)
    }
    if (mode === 'MIN_FIRST') {
      if (min === max) return () => min
      const steps = 2 ** bits
      const rangeScale = f32(((max - min) * (steps / (steps - 1))) / steps)
      return (v) => f32(f32((v - lo) * rangeScale) + min)
    }
    if (mode === 'SCALED') {
      const scale = lo === 0 ? f32(max / hi) : Math.max(f32(min / (lo + (narrow ? 1 : 0))), f32(max / hi))
      return (v) => f32(v * scale)
    }
    throw new MpscnnError('UNSUPPORTED', file, `Dequantize mode ${JSON.stringify(mode)} is not one of MIN_COMBINED, MIN_FIRST, SCALED`, { node: node.name, hint: 'The graph is damaged; export it again' })
  }
  const maps = Array.from({ length: slices }, (_, i) => map(f32(mins.data[i]), f32(maxs.data[i])))
  const n = x.data.length
  budget.charge(n * 4, node.name, 'folding Dequantize')
  const out = new Float32Array(n)
  // Element i is in slice floor(i / inner) % slices, inner being the size below the axis.
  const inner = axis === -1 ? n : elementCount(x.shape.slice(axis + 1))
  for (let i = 0; i < n; i++) out[i] = maps[axis === -1 ? 0 : Math.floor(i / inner) % slices](x.data[i])
  return { dtype: DataType.DT_FLOAT, shape: x.shape, data: out }
}

/**
 * `FakeQuantWithMinMaxArgs`/`Vars` as fake_quant_ops_functor.h computes them (float32): the
 * range nudged so that 0 is exactly representable (`Nudge`), then
 * `floor((clamp(x, nudged_min, nudged_max) - nudged_min) * (1 / scale) + 0.5) * scale + nudged_min`.
 */
function fakeQuant(node: NodeDef, x: Tensor, min: number, max: number, file: string, budget: MaterializeBudget): Tensor {
  const bits = Number(node.attr.num_bits?.i ?? 8)
  const narrow = attrBool(node, 'narrow_range', false)!
  if (!(bits >= 2 && bits <= 16)) throw new MpscnnError('BAD_GRAPH', file, `${node.op} has num_bits ${bits}; TensorFlow takes 2 to 16`, { node: node.name, hint: 'The graph is damaged; export it again' })
  if (!(min <= max)) throw new MpscnnError('BAD_GRAPH', file, `${node.op} has min ${min} larger than max ${max}`, { node: node.name, hint: 'Fix the quantization range' })
  const quantMin = narrow ? 1 : 0
  const quantMax = 2 ** bits - 1
  const scale = f32(f32(max - min) / (quantMax - quantMin))
  const zeroFromMin = f32(quantMin - f32(min / scale))
  const zero = zeroFromMin < quantMin ? quantMin : zeroFromMin > quantMax ? quantMax : Math.floor(zeroFromMin + 0.5)
  const nMin = f32(f32(quantMin - zero) * scale)
  const nMax = f32(f32(quantMax - zero) * scale)
  const inv = f32(1 / scale)
  budget.charge(x.data.length * 4, node.name, `folding ${node.op}`)
  const out = new Float32Array(x.data.length)
  for (let i = 0; i < out.length; i++) {
    const c = Math.min(Math.max(f32(x.data[i]), nMin), nMax)
    out[i] = f32(f32(Math.floor(f32(f32(f32(c - nMin) * inv) + 0.5)) * scale) + nMin)
  }
  return { dtype: DataType.DT_FLOAT, shape: x.shape, data: out }
}

export class ConstantFolder {
  private readonly memo = new Map<string, Tensor | null>()
  private readonly busy = new Set<string>()

  constructor(
    private readonly graph: Graph,
    private readonly budget = new MaterializeBudget(graph.file),
    /** Counts the operands resolved, for the planner's statistics. */
    private readonly stats = { steps: 0 },
  ) {}

  /** The constant value of an input, or null when it depends on a non-constant. */
  value(ref: InputRef): Tensor | null {
    // Pass-through ops and Cast forward input 0: followed in a loop, so that a long
    // Identity chain does not recurse; everything else is evaluated with an explicit stack.
    const chain: string[] = []
    const inChain = new Set<string>()
    let cur = ref
    let v: Tensor | null
    for (;;) {
      if (cur.output !== 0) { v = null; break }
      if (this.memo.has(cur.name)) { v = this.memo.get(cur.name)!; break }
      if (this.busy.has(cur.name) || inChain.has(cur.name)) { v = null; break } // a cycle: not constant
      const node = this.graph.node(cur.name)
      if (!node) { v = null; break }
      if (node.op !== 'Cast' && !PASS_THROUGH.has(node.op)) { v = this.evaluateNested(node); break }
      chain.push(cur.name)
      inChain.add(cur.name)
      cur = this.graph.input(node, 0)
    }
    for (const name of chain) this.memo.set(name, v)
    return v
  }

  /** How many inputs `evaluate` reads for an op (it reads them in order, stopping at the first non-constant). */
  private static operands(op: string): number {
    if (op === 'Const') return 0
    if (op === 'Dequantize' || op === 'FakeQuantWithMinMaxVars') return 3
    if (BINARY[op] || op === 'Reshape' || op === 'ExpandDims') return 2
    if (UNARY[op] || op === 'Squeeze' || op === 'FakeQuantWithMinMaxArgs' || op === 'Cast' || PASS_THROUGH.has(op)) return 1
    return 0
  }

  /**
   * The node that must be evaluated before `ref` has a value (through pass-through ops and
   * Cast), or null when `ref` is resolved already (memoised, in progress, or not a value).
   */
  private pending(ref: InputRef): NodeDef | null {
    let cur = ref
    const seen = new Set<string>()
    for (;;) {
      if (cur.output !== 0 || this.memo.has(cur.name) || this.busy.has(cur.name) || seen.has(cur.name)) return null
      const node = this.graph.node(cur.name)
      if (!node) return null
      if (node.op !== 'Cast' && !PASS_THROUGH.has(node.op)) return node
      seen.add(cur.name)
      cur = this.graph.input(node, 0)
    }
  }

  /**
   * Evaluates `root` with an explicit stack, inputs first, so that a constant expression of
   * any depth neither overflows the stack nor is visited more than once.
   */
  private evaluateNested(root: NodeDef): Tensor | null {
    const stack: { node: NodeDef; next: number }[] = [{ node: root, next: 0 }]
    this.busy.add(root.name)
    try {
      while (stack.length) {
        const f = stack[stack.length - 1]
        if (f.next < ConstantFolder.operands(f.node.op)) {
          this.stats.steps++
          const ref = this.graph.input(f.node, f.next)
          const dep = this.pending(ref)
          if (dep) {
            this.busy.add(dep.name)
            stack.push({ node: dep, next: 0 })
            continue
          }
          // Resolved: evaluate() reads no input after one that is not a constant.
          f.next = this.value(ref) ? f.next + 1 : Infinity
          continue
        }
        const v = this.evaluate(f.node) // its inputs are memoised: no recursion
        this.memo.set(f.node.name, v)
        this.busy.delete(f.node.name)
        stack.pop()
      }
    } finally {
      for (const f of stack) this.busy.delete(f.node.name)
    }
    return this.memo.get(root.name)!
  }

  /** Is this node's value a constant (without raising errors about its contents)? */
  isConstant(name: string): boolean {
    try {
      return this.value({ name, output: 0 }) !== null
    } catch {
      return true
    }
  }

  private arg(node: NodeDef, i: number): Tensor | null {
    return this.value(this.graph.input(node, i))
  }

  private evaluate(node: NodeDef): Tensor | null {
    const file = this.graph.file
    if (node.op === 'Const') {
      const t = node.attr.value?.tensor
      if (!t) throw new MpscnnError('BAD_GRAPH', file, 'Const has no value', { node: node.name, hint: 'The graph is damaged; export it again' })
      return tensorFromProto(t, file, node.name, (bytes) => this.budget.charge(bytes, node.name, 'expanding this constant'))
    }
    if (PASS_THROUGH.has(node.op) || node.op === 'Cast') return this.arg(node, 0)
    const unary = UNARY[node.op]
    if (unary) {
      const x = this.arg(node, 0)
      if (!x) return null
      this.budget.charge(x.data.length * 8, node.name, `folding ${node.op}`)
      const out = new Float64Array(x.data.length)
      for (let i = 0; i < out.length; i++) out[i] = unary(x.data[i])
      return { dtype: x.dtype, shape: x.shape, data: out }
    }
    const bin = BINARY[node.op]
    if (bin) {
      const x = this.arg(node, 0)
      if (!x) return null
      const y = this.arg(node, 1)
      if (!y) return null
      if (node.op === 'BiasAdd' && y.shape.length !== 1) return null
      return binary(bin, x, y, node, this.budget)
    }
    if (node.op === 'Reshape') {
      const x = this.arg(node, 0)
      const s = this.arg(node, 1)
      if (!x || !s) return null
      const shape = Array.from(s.data)
      if (!shape.every((d) => Number.isInteger(d) && d >= -1)) return null
      const known = shape.reduce((a, d) => (d >= 0 ? a * d : a), 1)
      const fixed = shape.map((d) => (d < 0 ? x.data.length / known : d))
      // A -1 that does not divide the element count evenly is no shape (TensorFlow refuses it).
      if (!fixed.every(Number.isInteger) || elementCount(fixed) !== x.data.length) return null
      return { dtype: x.dtype, shape: fixed, data: x.data }
    }
    if (node.op === 'ExpandDims') {
      const x = this.arg(node, 0)
      const d = this.arg(node, 1)
      if (!x || !d) return null
      let axis = d.data[0]
      if (axis < 0) axis += x.shape.length + 1
      const shape = [...x.shape]
      shape.splice(axis, 0, 1)
      return { dtype: x.dtype, shape, data: x.data }
    }
    if (node.op === 'Dequantize' || node.op === 'FakeQuantWithMinMaxVars') {
      const x = this.arg(node, 0)
      const min = x && this.arg(node, 1)
      const max = min && this.arg(node, 2)
      if (!x || !min || !max) return null
      if (node.op === 'Dequantize') return dequantize(node, x, min, max, file, this.budget)
      return fakeQuant(node, x, f32(min.data[0]), f32(max.data[0]), file, this.budget)
    }
    if (node.op === 'FakeQuantWithMinMaxArgs') {
      const x = this.arg(node, 0)
      return x && fakeQuant(node, x, f32(attrFloat(node, 'min', -6)!), f32(attrFloat(node, 'max', 6)!), file, this.budget)
    }
    if (node.op === 'Squeeze') {
      const x = this.arg(node, 0)
      if (!x) return null
      return { dtype: x.dtype, shape: x.shape.filter((d) => d !== 1), data: x.data }
    }
    return null
  }
}

