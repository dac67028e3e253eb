#!/usr/bin/env node
/**
 * Mutation fuzzer for the converter (the built `dist/`).
 *
 *   node --max-old-space-size=768 test/fuzz/runner.mjs <seed> <iterations> --pb model.pb --pbtxt model.pbtxt
 *        [--text-share 0.2] [--rss-limit-mb 1024] [--slow-ms 5000] [--state FILE] [--only MUTATION]
 *   node test/fuzz/runner.mjs <seed> <iteration> --pb ... --pbtxt ... --repro OUT   (writes that iteration's input)
 *
 * Each iteration mutates the valid binary GraphDef (or, for the last `text-share` of the
 * iterations, the valid text GraphDef) with a PRNG seeded from (seed, iteration), so any
 * iteration can be replayed alone, and runs `convertModel(bytes, { file }).outputs()` to
 * the end. A failure must be an MpscnnError (name 'MpscnnError', a non-empty code, a one-line
 * message starting with the file name); anything else (TypeError, RangeError, stack
 * overflow, ...) is a finding. Peak RSS is sampled after every layer and every iteration.
 *
 * Output: one JSON line per finding on stdout, then a summary JSON line. Exit 0 when no
 * finding, 1 otherwise, 2 on bad usage.
 */
import fs from 'node:fs'
import { performance } from 'node:perf_hooks'

const dist = new URL('../../dist/', import.meta.url)
const { convertModel } = await import(new URL('fold/convert.js', dist).href)
const { MpscnnError } = await import(new URL('base/errors.js', dist).href)
const { root } = (await import(new URL('graphdef/schema.js', dist).href)).reflection()
const NodeDefType = root.lookupType('tensorflow.NodeDef')

// ---------------------------------------------------------------------------------------
// Arguments

function parseArgs(argv) {
  const pos = []
  const opts = { textShare: 0.2, rssLimitMb: 1024, slowMs: 5000 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--pb') opts.pb = v()
    else if (a === '--pbtxt') opts.pbtxt = v()
    else if (a === '--text-share') opts.textShare = Number(v())
    else if (a === '--rss-limit-mb') opts.rssLimitMb = Number(v())
    else if (a === '--slow-ms') opts.slowMs = Number(v())
    else if (a === '--state') opts.state = v()
    else if (a === '--repro') opts.repro = v()
    else if (a === '--only') opts.only = v()
    else if (a.startsWith('--')) usage(`unknown option ${a}`)
    else pos.push(a)
  }
  if (pos.length !== 2 || !opts.pb || !opts.pbtxt) usage('need <seed> <iterations>, --pb and --pbtxt')
  opts.seed = Number(pos[0]) >>> 0
  opts.iterations = Number(pos[1])
  if (!Number.isInteger(opts.iterations) || opts.iterations < 0) usage('bad iteration count')
  return opts
}

function usage(msg) {
  process.stderr.write(`fuzz runner: ${msg}\n`)
  process.exit(2)
}

// ---------------------------------------------------------------------------------------
// PRNG

function mulberry32(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The PRNG of one iteration: independent of every other, so an iteration replays alone. */
function iterationRng(seed, iteration) {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(iteration + 1, 0xc2b2ae35)
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  const r = mulberry32(h >>> 0)
  const rng = {
    next: r,
    int: (n) => Math.floor(r() * n),
    range: (lo, hi) => lo + Math.floor(r() * (hi - lo + 1)),
    pick: (arr) => arr[Math.floor(r() * arr.length)],
    chance: (p) => r() < p,
  }
  return rng
}

// ---------------------------------------------------------------------------------------
// The binary model's structure (field positions), from the GraphDef schema

/** Message types: field number -> nested type (LEN fields holding a message). */
const SCHEMA = {
  GraphDef: { 1: 'NodeDef', 4: 'VersionDef' },
  VersionDef: {},
  NodeDef: { 5: 'AttrEntry' },
  AttrEntry: { 2: 'AttrValue' },
  AttrValue: { 1: 'ListValue', 7: 'Shape', 8: 'Tensor' },
  ListValue: { 7: 'Shape', 8: 'Tensor' },
  Shape: { 2: 'Dim' },
  Dim: {},
  Tensor: { 2: 'Shape' },
}

function readVarint(buf, pos) {
  let v = 0
  let mul = 1
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) return null
    const b = buf[pos++]
    v += (b & 0x7f) * mul
    if (b < 0x80) return { value: v, end: pos }
    mul *= 128
  }
  return null
}

/**
 * Walks the model: every varint (tags, lengths, values) with its role, every record of a
 * node (for duplication), and which bytes are structure rather than payload.
 */
function analyze(buf) {
  const varints = [] // { pos, len, role: 'tag'|'length'|'value', type, field }
  const nodes = [] // [start, end) of each top-level node record
  const payload = [] // [start, end) of large bytes payloads (tensor_content, strings)
  const walk = (start, end, type, depth) => {
    let pos = start
    while (pos < end) {
      const recStart = pos
      const key = readVarint(buf, pos)
      if (!key) return
      varints.push({ pos, len: key.end - pos, role: 'tag', type, field: Math.floor(key.value / 8) })
      pos = key.end
      const field = Math.floor(key.value / 8)
      const wire = key.value & 7
      if (wire === 0) {
        const v = readVarint(buf, pos)
        if (!v) return
        varints.push({ pos, len: v.end - pos, role: 'value', type, field })
        pos = v.end
      } else if (wire === 1) pos += 8
      else if (wire === 5) pos += 4
      else if (wire === 2) {
        const l = readVarint(buf, pos)
        if (!l) return
        varints.push({ pos, len: l.end - pos, role: 'length', type, field })
        const s = l.end
        const e = s + l.value
        const sub = SCHEMA[type]?.[field]
        if (sub) walk(s, e, sub, depth + 1)
        else if (l.value > 16) payload.push([s, e])
        pos = e
        if (depth === 0 && field === 1) nodes.push([recStart, e])
      } else return
    }
  }
  walk(0, buf.length, 'GraphDef', 0)
  // Structural positions: everything outside the big payloads.
  const structural = []
  let p = 0
  for (const [s, e] of payload.sort((a, b) => a[0] - b[0])) {
    for (; p < s; p++) structural.push(p)
    p = Math.max(p, e)
  }
  for (; p < buf.length; p++) structural.push(p)
  return { varints, nodes, structural: Int32Array.from(structural) }
}

// ---------------------------------------------------------------------------------------
// Mutations

const HUGE = [
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 28,
  2 ** 28 + 1,
  2 ** 30,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 63, // as 10 bytes: a negative int64
  2 ** 64 - 1,
  1e15,
  65536,
  1 << 24,
]

function encodeVarint(n) {
  // n may exceed 2^53: go through BigInt, two's complement for the 10-byte forms.
  let x = BigInt.asUintN(64, BigInt(Math.round(n)))
  const out = []
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80)
    x >>= 7n
  }
  out.push(Number(x))
  return Uint8Array.from(out)
}

function concat(...parts) {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function randomBytes(rng, n) {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = rng.int(256)
  return out
}

/** A position: half the time among the structural bytes (tags, lengths, names, attrs). */
function position(rng, buf, info) {
  if (info && info.structural.length && rng.chance(0.5)) return info.structural[rng.int(info.structural.length)]
  return rng.int(buf.length)
}

const BINARY_MUTATIONS = {
  truncate(rng, buf) {
    const len = rng.chance(0.3) ? rng.int(Math.min(buf.length, 256)) : rng.int(buf.length)
    return { bytes: buf.slice(0, len), what: `truncate to ${len}` }
  },
  flip(rng, buf, info) {
    const out = buf.slice()
    const k = rng.range(1, 8)
    const at = []
    for (let i = 0; i < k; i++) {
      const p = position(rng, out, info)
      const mask = rng.chance(0.5) ? 1 << rng.int(8) : rng.range(1, 255)
      out[p] ^= mask
      at.push(`${p}^${mask}`)
    }
    return { bytes: out, what: `flip ${at.join(',')}` }
  },
  insert(rng, buf, info) {
    const p = position(rng, buf, info)
    const n = rng.range(1, 16)
    const ins = rng.chance(0.3) ? new Uint8Array(n).fill(rng.pick([0x00, 0xff, 0x80, 0x0a, 0x12])) : randomBytes(rng, n)
    return { bytes: concat(buf.subarray(0, p), ins, buf.subarray(p)), what: `insert ${n} at ${p}` }
  },
  delete(rng, buf, info) {
    const p = position(rng, buf, info)
    const n = Math.min(rng.range(1, rng.chance(0.2) ? 4096 : 64), buf.length - p)
    return { bytes: concat(buf.subarray(0, p), buf.subarray(p + n)), what: `delete ${n} at ${p}` }
  },
  hugeVarint(rng, buf, info) {
    const candidates = rng.chance(0.6) ? info.varints.filter((v) => v.role !== 'tag') : info.varints
    const v = rng.pick(candidates)
    const huge = rng.pick(HUGE)
    let enc
    let how
    if (rng.chance(0.5)) {
      // Keep the byte count (the rest of the file stays aligned): the largest value that fits.
      enc = new Uint8Array(v.len).fill(0xff)
      enc[v.len - 1] = 0x7f
      how = `max ${v.len}-byte value`
    } else {
      enc = encodeVarint(huge)
      how = String(huge)
    }
    return {
      bytes: concat(buf.subarray(0, v.pos), enc, buf.subarray(v.pos + v.len)),
      what: `varint ${v.role} of ${v.type}.${v.field} at ${v.pos} -> ${how}`,
    }
  },
  smallVarint(rng, buf, info) {
    // A value varint (dtype, dim size, attr int/bool) set to an interesting small value.
    const values = info.varints.filter((x) => x.role === 'value')
    const v = rng.pick(values)
    const val = rng.pick([0, 1, 2, 3, 7, 8, 9, 14, 17, 19, 20, 21, 22, 23, 24, 100, 127])
    return { bytes: concat(buf.subarray(0, v.pos), encodeVarint(val), buf.subarray(v.pos + v.len)), what: `varint value of ${v.type}.${v.field} at ${v.pos} -> ${val}` }
  },
  duplicate(rng, buf, info) {
    if (rng.chance(0.5) && info.nodes.length) {
      const [s, e] = rng.pick(info.nodes)
      const at = rng.pick(info.nodes)[rng.int(2)]
      return { bytes: concat(buf.subarray(0, at), buf.subarray(s, e), buf.subarray(at)), what: `duplicate node record ${s}-${e} at ${at}` }
    }
    const s = position(rng, buf, info)
    const n = Math.min(rng.range(1, 512), buf.length - s)
    const at = position(rng, buf, info)
    return { bytes: concat(buf.subarray(0, at), buf.subarray(s, s + n), buf.subarray(at)), what: `duplicate ${s}+${n} at ${at}` }
  },
  dropNode(rng, buf, info) {
    const [s, e] = rng.pick(info.nodes)
    return { bytes: concat(buf.subarray(0, s), buf.subarray(e)), what: `drop node record ${s}-${e}` }
  },
  swapNodes(rng, buf, info) {
    const a = rng.int(info.nodes.length)
    const b = rng.int(info.nodes.length)
    const [lo, hi] = a < b ? [info.nodes[a], info.nodes[b]] : [info.nodes[b], info.nodes[a]]
    if (lo === hi) return { bytes: buf, what: 'swap a node with itself' }
    return {
      bytes: concat(buf.subarray(0, lo[0]), buf.subarray(hi[0], hi[1]), buf.subarray(lo[1], hi[0]), buf.subarray(lo[0], lo[1]), buf.subarray(hi[1])),
      what: `swap node records ${lo[0]} and ${hi[0]}`,
    }
  },
}


// Semantic mutations: one node record is decoded, changed as a NodeDef, re-encoded and put
// back (the rest of the file is untouched). These reach the planner and the folder.

const OPS = [
  'Conv2D', 'DepthwiseConv2dNative', 'MatMul', 'BiasAdd', 'Add', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Div',
  'BatchNormWithGlobalNormalization', 'FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3',
  'Identity', 'IdentityN', 'CheckNumerics', 'StopGradient', 'Cast', 'Reshape', 'ExpandDims', 'Squeeze',
  'Rsqrt', 'Sqrt', 'Reciprocal', 'Neg', 'Square', 'Exp', 'Log', 'Abs', 'Maximum', 'Minimum', 'SquaredDifference',
  'Const', 'Placeholder', 'PlaceholderWithDefault', 'VariableV2', 'VarHandleOp', 'ReadVariableOp',
  'Relu', 'Relu6', 'Concat', 'ConcatV2', 'MaxPool', 'AvgPool', 'Softmax', 'NoOp', '', 'Conv2D\n', '\u00e9',
]

const ATTR_KEYS = ['data_format', 'padding', 'strides', 'dilations', 'transpose_a', 'transpose_b', 'is_training', 'epsilon', 'variance_epsilon', 'scale_after_normalization', 'value', 'dtype', 'T', 'N', 'Tshape']

const INTERESTING_INTS = [0, 1, 2, 3, -1, -2, 7, 255, 65536, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 53, 1e15]
const INTERESTING_FLOATS = [0, -0, 1, -1, 0.5, 1e-3, -1e-3, 1e30, -1e30, 3.4e38, 1e-45, NaN, Infinity, -Infinity, 65504, 65520, 1e6]

function randomAttr(rng, key, names) {
  switch (key) {
    case 'data_format':
      return { s: enc.encode(rng.pick(['NHWC', 'NCHW', 'NCDHW', '', 'nhwc'])) }
    case 'padding':
      return { s: enc.encode(rng.pick(['SAME', 'VALID', 'EXPLICIT', ''])) }
    case 'strides':
    case 'dilations': {
      const n = rng.pick([0, 1, 2, 4, 4, 4, 5])
      return { list: { i: Array.from({ length: n }, () => rng.pick(INTERESTING_INTS)) } }
    }
    case 'transpose_a':
    case 'transpose_b':
    case 'is_training':
    case 'scale_after_normalization':
      return rng.chance(0.8) ? { b: rng.chance(0.5) } : { i: rng.pick(INTERESTING_INTS) }
    case 'epsilon':
    case 'variance_epsilon':
      return rng.chance(0.8) ? { f: rng.pick(INTERESTING_FLOATS) } : { s: enc.encode('x') }
    case 'value':
      return { tensor: randomTensor(rng) }
    case 'N':
      return { i: rng.pick(INTERESTING_INTS) }
    default:
      return rng.chance(0.7) ? { type: rng.int(25) } : { s: enc.encode(rng.pick(names)) }
  }
}

function randomTensor(rng) {
  const dtype = rng.pick([1, 1, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10, 14, 17, 19, 19, 23, 0, 99])
  const rank = rng.pick([0, 1, 1, 2, 4, 4, 5])
  const dims = Array.from({ length: rank }, () => rng.pick([1, 1, 2, 3, 4, 8, 0, 16, -1, 1 << 14, 1 << 20, 2 ** 31]))
  const t = { dtype, tensorShape: rng.chance(0.1) ? { unknownRank: true } : { dim: dims.map((size) => ({ size })) } }
  const n = dims.reduce((a, d) => a * Math.max(d, 0), 1)
  const count = rng.chance(0.5) && n > 0 && n <= 4096 ? n : rng.pick([0, 1, 2, 3, n + 1])
  const vals = () => Array.from({ length: Math.max(0, Math.min(count, 4096)) }, () => rng.pick(INTERESTING_FLOATS))
  switch (rng.int(6)) {
    case 0: {
      const bytes = rng.chance(0.5) && n > 0 && n <= 4096 ? n * rng.pick([1, 2, 4, 8]) : rng.int(64)
      t.tensorContent = randomBytes(rng, bytes)
      break
    }
    case 1:
      t.floatVal = vals()
      break
    case 2:
      t.halfVal = vals().map((v) => (Number.isFinite(v) ? Math.trunc(v) & 0xffff : 0x7c00))
      break
    case 3:
      t.intVal = vals().map((v) => (Number.isFinite(v) ? Math.trunc(v) | 0 : -1))
      break
    case 4:
      t.doubleVal = vals()
      break
    default:
      t.int64Val = vals().map((v) => (Number.isFinite(v) ? Math.trunc(Math.max(-(2 ** 53), Math.min(2 ** 53, v))) : 0))
  }
  return t
}

/** Changes the values of a Const's tensor in place (keeping its shape), or its shape. */
function mutateTensor(rng, t) {
  const how = rng.int(6)
  if (how === 0) {
    t.dtype = rng.pick([0, 2, 3, 7, 8, 9, 14, 19, 20, 23, 99])
    return `dtype ${t.dtype}`
  }
  if (how === 1) {
    const dims = t.tensorShape?.dim ?? []
    if (dims.length && rng.chance(0.6)) {
      const d = rng.int(dims.length)
      dims[d] = { size: rng.pick([0, 1, 2, -1, 3, 1 << 14, 2 ** 28, 2 ** 31, 2 ** 40]) }
      return `dim ${d} -> ${dims[d].size}`
    }
    if (rng.chance(0.5)) dims.splice(rng.int(dims.length + 1), 0, { size: rng.pick([1, 2]) })
    else dims.splice(rng.int(Math.max(1, dims.length)), 1)
    t.tensorShape = { dim: dims }
    return `rank -> ${dims.length}`
  }
  if (how === 2 && t.tensorContent && t.tensorContent.length >= 4) {
    const c = Uint8Array.from(t.tensorContent)
    const f = new Float32Array(c.buffer, 0, c.length >> 2)
    const k = rng.int(f.length)
    f[k] = rng.pick(INTERESTING_FLOATS)
    t.tensorContent = c
    return `content[${k}] = ${f[k]}`
  }
  if (how === 3) {
    // to the short float_val form
    const n = (t.tensorShape?.dim ?? []).reduce((a, d) => a * Number(d.size ?? 0), 1)
    delete t.tensorContent
    t.tensorContent = new Uint8Array(0)
    t.floatVal = Array.from({ length: rng.pick([0, 1, 2, Math.min(n, 8), n + 1].filter((x) => x >= 0 && x <= 4096)) }, () => rng.pick(INTERESTING_FLOATS))
    return `float_val x${t.floatVal.length}`
  }
  if (how === 4 && t.tensorContent && t.tensorContent.length) {
    t.tensorContent = Uint8Array.from(t.tensorContent).subarray(0, rng.int(t.tensorContent.length + 1))
    return `content cut to ${t.tensorContent.length}`
  }
  const nt = randomTensor(rng)
  Object.assign(t, nt)
  return 'random tensor'
}

function nodeBody(buf, [s, e]) {
  const l = readVarint(buf, s + 1)
  return buf.subarray(l.end, e)
}

function nodeRecord(node) {
  const body = NodeDefType.encode(node).finish()
  return concat(Uint8Array.of(0x0a), encodeVarint(body.length), body)
}

const SEMANTIC = {
  op(rng, n) {
    n.op = rng.pick(OPS)
    return `op -> ${JSON.stringify(n.op)}`
  },
  inputs(rng, n, names) {
    const kind = rng.int(6)
    const target = rng.pick([rng.pick(names), rng.pick(names), n.name, 'nope', '', rng.pick(names) + ':1', '^' + rng.pick(names), rng.pick(names) + ':-1', rng.pick(names) + ':99999999999'])
    if (kind === 0 || !n.input.length) n.input.push(target)
    else if (kind === 1) n.input.splice(rng.int(n.input.length), 1)
    else if (kind === 2) n.input.reverse()
    else n.input[rng.int(n.input.length)] = target
    return `inputs -> ${JSON.stringify(n.input)}`
  },
  attrDelete(rng, n) {
    const keys = Object.keys(n.attr ?? {})
    if (!keys.length) return 'no attr to delete'
    const k = rng.pick(keys)
    delete n.attr[k]
    return `delete attr ${k}`
  },
  attrSet(rng, n, names) {
    const k = rng.pick(ATTR_KEYS)
    n.attr[k] = randomAttr(rng, k, names)
    return `attr ${k} -> ${JSON.stringify(n.attr[k], (key, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)).slice(0, 300)}`
  },
  tensor(rng, n) {
    const t = n.attr?.value?.tensor
    if (!t) return SEMANTIC.attrSet(rng, n, [n.name])
    return `tensor: ${mutateTensor(rng, t)}`
  },
  rename(rng, n, names) {
    n.name = rng.pick([rng.pick(names), n.name.replace(/\//g, '_'), n.name + '/x', n.name.replace(/_/g, '/'), '', 'a\nb', n.name + '\u0000'])
    return `rename -> ${JSON.stringify(n.name)}`
  },
}

const SEMANTIC_WEIGHTS = [
  ['op', 2],
  ['inputs', 3],
  ['attrDelete', 2],
  ['attrSet', 3],
  ['tensor', 4],
  ['rename', 1],
]

/** Applies 1-3 semantic mutations to random nodes (half the time a layer's or a BN's constant). */
function semanticMutation(rng, buf, info) {
  const records = info.nodes
  let out = buf
  const what = []
  const changes = new Map() // record index -> mutated node
  const k = rng.chance(0.7) ? 1 : rng.range(2, 3)
  for (let j = 0; j < k; j++) {
    const idx = rng.chance(0.5) && info.interesting.length ? rng.pick(info.interesting) : rng.int(records.length)
    const node = changes.get(idx) ?? NodeDefType.decode(nodeBody(buf, records[idx]))
    node.input ??= []
    node.attr ??= {}
    const m = weighted(rng, SEMANTIC_WEIGHTS)
    what.push(`${JSON.stringify(node.name)} ${SEMANTIC[m](rng, node, info.names)}`)
    changes.set(idx, node)
  }
  // Now and then, a node added rather than changed (a new constant, a cycle, a bomb).
  if (rng.chance(0.15)) {
    const a = rng.pick(info.names)
    const b = rng.pick(info.names)
    const added = rng.pick([
      { name: 'fuzz/cycle_a', op: 'Identity', input: ['fuzz/cycle_b'], attr: {} },
      { name: 'fuzz/cycle_b', op: 'Identity', input: ['fuzz/cycle_a'], attr: {} },
      { name: 'fuzz/const', op: 'Const', input: [], attr: { value: { tensor: randomTensor(rng) } } },
      { name: 'fuzz/op', op: rng.pick(OPS), input: [a, b], attr: {} },
      { name: 'fuzz/reshape', op: 'Reshape', input: [a, 'fuzz/const'], attr: {} },
      { name: 'fuzz/expand', op: 'ExpandDims', input: [a, 'fuzz/const'], attr: {} },
    ])
    const at = rng.int(records.length + 1)
    changes.set(-1 - at, added)
    what.push(`add ${JSON.stringify(added.name)} (${added.op} ${JSON.stringify(added.input)}) before record ${at}`)
  }
  // Rebuild: records in order, with their replacements and additions.
  const parts = []
  let pos = 0
  for (let r = 0; r <= records.length; r++) {
    const addHere = changes.get(-1 - r)
    const rec = records[r]
    const end = rec ? rec[0] : buf.length
    parts.push(buf.subarray(pos, end))
    pos = end
    if (addHere) parts.push(nodeRecord(addHere))
    if (!rec) break
    const changed = changes.get(r)
    parts.push(changed ? nodeRecord(changed) : buf.subarray(rec[0], rec[1]))
    pos = rec[1]
  }
  parts.push(buf.subarray(pos))
  out = concat(...parts)
  return { bytes: out, what: what.join('; ') }
}

/**
 * Two splat constants of 16384 elements each (a few dozen bytes in the file) whose
 * broadcast sum has 2^28, multiplied into an input of its own: nothing a layer needs,
 * but the folder may evaluate it.
 */
function constantBomb(rng, buf, info) {
  const k = 28
  const h = 2 ** Math.floor(k / 2)
  const w = 2 ** Math.ceil(k / 2)
  const splat = (name, dims, v) => ({ name, op: 'Const', input: [], attr: { value: { tensor: { dtype: 1, tensorShape: { dim: dims.map((size) => ({ size })) }, floatVal: [v] } } } })
  const added = [
    { name: 'bomb/input', op: 'Placeholder', input: [], attr: { dtype: { type: 1 } } },
    splat('bomb/a', [h, 1], rng.next()),
    splat('bomb/b', [1, w], rng.next()),
    { name: 'bomb/sum', op: 'Add', input: ['bomb/a', 'bomb/b'], attr: {} },
    { name: 'bomb/use', op: 'Mul', input: ['bomb/input', 'bomb/sum'], attr: {} },
  ]
  return { bytes: concat(buf, ...added.map(nodeRecord)), what: `constant bomb: Placeholder * ([${h},1] + [1,${w}]), 2^${k} elements` }
}

/**
 * A long chain of pass-through ops (Identity, CheckNumerics, ...) spliced in between a layer's
 * weight constant and the layer, or right after the layer.
 */
function deepChain(rng, buf, info) {
  const layers = info.layerNodes
  const idx = rng.pick(layers)
  const node = NodeDefType.decode(nodeBody(buf, info.nodes[idx]))
  const length = rng.pick([100, 2000, 8000, 30000])
  const op = rng.pick(['Identity', 'Identity', 'CheckNumerics', 'StopGradient', 'Snapshot'])
  const side = rng.chance(0.5) ? 'weights' : 'after'
  const added = []
  if (side === 'weights') {
    let prev = node.input[1]
    for (let k = 0; k < length; k++) {
      const name = `chain/${k}`
      added.push({ name, op, input: [prev], attr: {} })
      prev = name
    }
    node.input[1] = prev
  } else {
    let prev = node.name
    for (let k = 0; k < length; k++) {
      const name = `chain/${k}`
      added.push({ name, op, input: [prev], attr: {} })
      prev = name
    }
  }
  const [s, e] = info.nodes[idx]
  return {
    bytes: concat(buf.subarray(0, s), nodeRecord(node), buf.subarray(e), ...added.map(nodeRecord)),
    what: `chain of ${length} ${op} ${side === 'weights' ? 'between the weights and' : 'after'} ${JSON.stringify(node.name)}`,
  }
}

/**
 * An affine op with a third data input that closes a cycle: A = Add(c, conv, B), B = Add(A, c2).
 * Add only reads two inputs, but the extra one is still an edge of the graph.
 */
function affineCycle(rng, buf) {
  const op = rng.pick(['Add', 'AddV2', 'Mul', 'Sub'])
  const splat = (name, dims, v) => ({ name, op: 'Const', input: [], attr: { value: { tensor: { dtype: 1, tensorShape: { dim: dims.map((size) => ({ size })) }, floatVal: [v] } } } })
  const added = [
    { name: 'cycle/input', op: 'Placeholder', input: [], attr: { dtype: { type: 1 } } },
    splat('cycle/weights', [1, 1, 4, 4], 0.5),
    { name: 'cycle/Conv2D', op: 'Conv2D', input: ['cycle/input', 'cycle/weights'], attr: { padding: { s: enc.encode('SAME') } } },
    splat('cycle/c', [4], 1),
    { name: 'cycle/a', op, input: ['cycle/c', 'cycle/Conv2D', 'cycle/b'], attr: {} },
    { name: 'cycle/b', op, input: ['cycle/a', 'cycle/c'], attr: {} },
  ]
  return { bytes: concat(buf, ...added.map(nodeRecord)), what: `new layer cycle/Conv2D -> a = ${op}(c, conv, b) -> b = ${op}(a, c) -> a` }
}

/**
 * A layer's weights replaced by a splat of up to 2^28 elements (a few bytes in the file, up to
 * 1 GiB as float32), through 0 to 8 Neg ops: the conversion must stay within its bound.
 */
function splatBomb(rng, buf, info) {
  const idx = rng.pick(info.layerNodes)
  const node = NodeDefType.decode(nodeBody(buf, info.nodes[idx]))
  const side = 2 ** rng.pick([10, 12, 14])
  const added = [{ name: 'splat/w', op: 'Const', input: [], attr: { value: { tensor: { dtype: 1, tensorShape: { dim: [1, 1, side, side].map((size) => ({ size })) }, floatVal: [rng.next()] } } } }]
  const negs = rng.pick([0, 1, 8])
  let prev = 'splat/w'
  for (let k = 1; k <= negs; k++) {
    added.push({ name: `splat/neg${k}`, op: 'Neg', input: [prev], attr: {} })
    prev = `splat/neg${k}`
  }
  node.input[1] = prev
  const [s, e] = info.nodes[idx]
  return {
    bytes: concat(buf.subarray(0, s), nodeRecord(node), buf.subarray(e), ...added.map(nodeRecord)),
    what: `the weights of ${JSON.stringify(node.name)} replaced by a [1,1,${side},${side}] splat through ${negs} Neg ops`,
  }
}

BINARY_MUTATIONS.deepChain = deepChain
BINARY_MUTATIONS.splatBomb = splatBomb
BINARY_MUTATIONS.affineCycle = affineCycle
BINARY_MUTATIONS.semantic = semanticMutation
BINARY_MUTATIONS.constantBomb = constantBomb

const BINARY_WEIGHTS = [
  ['truncate', 3],
  ['flip', 5],
  ['insert', 2],
  ['delete', 2],
  ['hugeVarint', 4],
  ['smallVarint', 3],
  ['duplicate', 2],
  ['dropNode', 1],
  ['swapNodes', 1],
  ['semantic', 14],
  ['deepChain', 0.2],
  // Small files that describe huge tensors: folding is bounded (maxExpansion).
  ['splatBomb', 0.5],
  ['constantBomb', 0.2],
  // affineCycle only with --only (test/hostile/fuzz.test.ts has a test of its own).
]

const enc = new TextEncoder()
const TOKENS = [
  '{', '}', '[', ']', '<', '>', ':', ';', ',', '"', "'", '\\', '#', '\n', ' ', '-', '.', 'e', 'x', '0x', '0',
  'nan', 'inf', '-inf', '1e999', '-1e999', '99999999999999999999', '18446744073709551616', '-9223372036854775809',
  '4294967296', '268435457', '0777', '1.5', 'true', 'false', 't', 'DT_STRING', 'DT_HALF', 'DT_COMPLEX64', 'DT_INVALID', '99',
  'node {', 'node { name: "x" op: "Const" }', 'attr { key: "value" value { } }', 'dim { size: 4294967296 }', 'dim { size: -1 }',
  'tensor_content: "\\377\\377\\177\\177"', 'float_val: nan', 'half_val: 65535', 'unknown_field: 3', 'unknown { a { b { } } }',
  '[type.googleapis.com/x.Y] { }', '"\\x"', '"\\u12"', '"\\U0010ffff"', '"\\ud800"', '"\u{1F642}"', '\u00ff', '\uFEFF',
]

function textReplace(buf, s, e, ins) {
  return concat(buf.subarray(0, s), ins, buf.subarray(e))
}

/** Positions of the structural part of a text model: outside long quoted strings. */
function analyzeText(buf) {
  const structural = []
  const numbers = [] // [start, end) of digit runs outside strings
  const lines = [0]
  let i = 0
  while (i < buf.length) {
    const c = buf[i]
    if (c === 0x0a) lines.push(i + 1)
    if (c === 0x22) {
      // a string: skip it (short strings count as structure)
      let j = i + 1
      while (j < buf.length && buf[j] !== 0x22 && buf[j] !== 0x0a) j += buf[j] === 0x5c ? 2 : 1
      if (j - i <= 64) for (let k = i; k <= j && k < buf.length; k++) structural.push(k)
      i = j + 1
      continue
    }
    if (c >= 0x30 && c <= 0x39) {
      let j = i
      while (j < buf.length && ((buf[j] >= 0x30 && buf[j] <= 0x39) || buf[j] === 0x2e || buf[j] === 0x65 || buf[j] === 0x2d)) j++
      numbers.push([i, j])
      for (let k = i; k < j; k++) structural.push(k)
      i = j
      continue
    }
    structural.push(i)
    i++
  }
  return { structural: Int32Array.from(structural), numbers, lines }
}

const TEXT_MUTATIONS = {
  truncate(rng, buf) {
    const len = rng.int(buf.length)
    return { bytes: buf.slice(0, len), what: `truncate to ${len}` }
  },
  flip(rng, buf, info) {
    const out = buf.slice()
    const k = rng.range(1, 6)
    const at = []
    for (let i = 0; i < k; i++) {
      const p = position(rng, out, info)
      const b = rng.chance(0.7) ? rng.pick(enc.encode('{}[]<>:"\'\\#\n -.e0159xz_')) : rng.int(256)
      out[p] = b
      at.push(`${p}=${b}`)
    }
    return { bytes: out, what: `set ${at.join(',')}` }
  },
  insertToken(rng, buf, info) {
    const p = position(rng, buf, info)
    const t = rng.pick(TOKENS)
    const n = rng.chance(0.1) ? rng.range(2, 50) : 1
    return { bytes: textReplace(buf, p, p, enc.encode(t.repeat(n))), what: `insert ${JSON.stringify(t)} x${n} at ${p}` }
  },
  deleteRange(rng, buf, info) {
    const p = position(rng, buf, info)
    const n = Math.min(rng.range(1, rng.chance(0.2) ? 5000 : 40), buf.length - p)
    return { bytes: textReplace(buf, p, p + n, new Uint8Array(0)), what: `delete ${n} at ${p}` }
  },
  duplicateLines(rng, buf, info) {
    const a = rng.int(info.lines.length)
    const b = Math.min(info.lines.length - 1, a + rng.range(1, 200))
    const s = info.lines[a]
    const e = b < info.lines.length - 1 ? info.lines[b] : buf.length
    const at = info.lines[rng.int(info.lines.length)]
    return { bytes: concat(buf.subarray(0, at), buf.subarray(s, e), buf.subarray(at)), what: `duplicate lines ${a + 1}-${b} at byte ${at}` }
  },
  number(rng, buf, info) {
    const [s, e] = rng.pick(info.numbers)
    const t = rng.pick(['4294967296', '2147483648', '268435457', '268435456', '9007199254740993', '18446744073709551615', '99999999999999999999999', '1e400', '-1', '-0', '0', '0.5', '3.4e38', 'nan', '0x7fffffff', '017', '65536'])
    return { bytes: textReplace(buf, s, e, enc.encode(t)), what: `number at ${s} -> ${t}` }
  },
  nest(rng, buf, info) {
    const p = info.lines[rng.int(info.lines.length)]
    const depth = rng.pick([50, 99, 100, 101, 1000, 20000])
    const known = rng.chance(0.5)
    const open = known ? 'node { attr { key: "k" value { list { shape { dim { ' : 'x { '
    const body = known ? open + 'size: 1 '.concat(' } } } } } } ') : open.repeat(depth) + '}'.repeat(depth)
    return { bytes: textReplace(buf, p, p, enc.encode(`${body}\n`)), what: `nest ${known ? 'known' : `unknown x${depth}`} at ${p}` }
  },
}

const TEXT_WEIGHTS = [
  ['truncate', 2],
  ['flip', 4],
  ['insertToken', 4],
  ['deleteRange', 2],
  ['duplicateLines', 2],
  ['number', 3],
  ['nest', 1],
]

function weighted(rng, table) {
  const total = table.reduce((a, [, w]) => a + w, 0)
  let x = rng.next() * total
  for (const [name, w] of table) {
    x -= w
    if (x < 0) return name
  }
  return table[table.length - 1][0]
}

// ---------------------------------------------------------------------------------------
// Main

const opts = parseArgs(process.argv.slice(2))
const pb = new Uint8Array(fs.readFileSync(opts.pb))
const pbtxt = new Uint8Array(fs.readFileSync(opts.pbtxt))
const pbInfo = analyze(pb)
const txtInfo = analyzeText(pbtxt)
if (pbInfo.nodes.length === 0) usage(`${opts.pb} does not look like a GraphDef`)
pbInfo.names = []
pbInfo.interesting = []
pbInfo.layerNodes = []
pbInfo.nodes.forEach((rec, i) => {
  const n = NodeDefType.decode(nodeBody(pb, rec))
  pbInfo.names.push(n.name)
  if (n.op === 'Conv2D' || n.op === 'MatMul') pbInfo.layerNodes.push(i)
  if (n.op !== 'Const' || /(conv2d_params|weights|biases|batchnorm\/)/.test(n.name) || n.op === 'Conv2D' || n.op === 'MatMul' || /BatchNorm|BiasAdd/.test(n.op)) pbInfo.interesting.push(i)
})

if (opts.only && !(opts.only in BINARY_MUTATIONS && opts.textShare === 0) && !(opts.only in TEXT_MUTATIONS && opts.textShare === 1)) {
  usage(`--only ${opts.only}: no such mutation (binary ones need --text-share 0, text ones --text-share 1)`)
}
const textFrom = Math.round(opts.iterations * (1 - opts.textShare))

const STACKABLE = new Set(['truncate', 'flip', 'insert', 'delete', 'duplicate'])

/** The input of one iteration: deterministic in (seed, iteration). */
function makeInput(iteration) {
  const rng = iterationRng(opts.seed, iteration)
  const text = iteration >= textFrom
  const base = text ? pbtxt : pb
  const info = text ? txtInfo : pbInfo
  const mutations = text ? TEXT_MUTATIONS : BINARY_MUTATIONS
  let bytes = base
  const what = []
  // One mutation most of the time, up to three stacked. Stacked ones reuse the base's
  // structure map, which is then only approximately right: fine for a fuzzer.
  const count = opts.only || rng.chance(0.75) ? 1 : rng.range(2, 3)
  for (let k = 0; k < count; k++) {
    let name = opts.only ?? weighted(rng, text ? TEXT_WEIGHTS : BINARY_WEIGHTS)
    // Mutations that need the exact structure map only apply to the unmutated model.
    if (k > 0 && !text && !STACKABLE.has(name)) name = 'flip'
    const m = mutations[name](rng, bytes.length ? bytes : base, info)
    bytes = m.bytes
    what.push(`${name}: ${m.what}`)
  }
  // Now and then the other extension, so binary goes through the text parser and back.
  let file = text ? 'fuzz/model.pbtxt' : 'fuzz/model.pb'
  if (!opts.only && rng.chance(0.05)) file = text ? 'fuzz/model.pb' : 'fuzz/model.pbtxt'
  const precision = rng.chance(0.2) ? 'float16' : 'float32'
  return { bytes, file, precision, text, mutation: what.join(' | ') }
}

if (opts.repro) {
  const input = makeInput(opts.iterations)
  fs.writeFileSync(opts.repro, input.bytes)
  process.stdout.write(`${JSON.stringify({ iteration: opts.iterations, file: input.file, precision: input.precision, mutation: input.mutation, bytes: input.bytes.length, wrote: opts.repro })}\n`)
  process.exit(0)
}

const rssLimit = opts.rssLimitMb * 1024 * 1024
let peakRss = process.memoryUsage.rss()
const sample = () => {
  const r = process.memoryUsage.rss()
  if (r > peakRss) peakRss = r
  return r
}

const findings = []
const codes = {}
let converted = 0
let slowest = { ms: 0, iteration: -1 }
const t0 = performance.now()

function nonFinite(a) {
  if (a instanceof Uint16Array) {
    for (let k = 0; k < a.length; k++) if ((a[k] & 0x7c00) === 0x7c00) return k
    return -1
  }
  for (let k = 0; k < a.length; k++) if (!Number.isFinite(a[k])) return k
  return -1
}

function finding(kind, iteration, input, extra) {
  const f = { kind, seed: opts.seed, iteration, file: input.file, precision: input.precision, mutation: input.mutation, size: input.bytes.length, ...extra }
  findings.push(f)
  process.stdout.write(`${JSON.stringify(f)}\n`)
}

for (let i = 0; i < opts.iterations; i++) {
  let input
  try {
    input = makeInput(i)
  } catch (e) {
    // A bug of this runner, not of the converter.
    process.stderr.write(`fuzz runner: cannot build the input of iteration ${i}: ${e?.stack ?? e}\n`)
    process.exit(3)
  }
  if (opts.state) fs.writeFileSync(opts.state, JSON.stringify({ seed: opts.seed, iteration: i, file: input.file, mutation: input.mutation }))
  const start = performance.now()
  let rssBefore = sample()
  try {
    const model = convertModel(input.bytes, { file: input.file, precision: input.precision })
    for (const out of model.outputs()) {
      const want = out.info.weightShape.reduce((a, b) => a * b, 1)
      if (out.weights.length !== want || out.bias.length !== out.info.outputChannels) {
        finding('bad-output', i, input, { layer: out.info.name, weights: out.weights.length, want, bias: out.bias.length })
      }
      // What is written must be finite: the converter refuses NaN and Infinity (NON_FINITE,
      // HALF_OVERFLOW), so one in an output is a value that slipped through.
      const w = nonFinite(out.weights)
      const b = nonFinite(out.bias)
      if (w >= 0 || b >= 0) {
        finding('non-finite-output', i, input, {
          layer: out.info.name,
          ...(w >= 0 ? { weightIndex: w, weight: String(out.weights instanceof Uint16Array ? `half 0x${out.weights[w].toString(16)}` : out.weights[w]) } : {}),
          ...(b >= 0 ? { biasIndex: b, bias: String(out.bias[b]) } : {}),
        })
      }
      sample()
    }
    converted++
  } catch (e) {
    const isOurs = e !== null && typeof e === 'object' && e.name === 'MpscnnError' && typeof e.code === 'string' && e.code.length > 0
    if (!isOurs) {
      finding('crash', i, input, {
        error: e?.name ?? typeof e,
        message: String(e?.message ?? e).slice(0, 500),
        stack: String(e?.stack ?? '').split('\n').slice(0, 12).join('\n'),
      })
    } else {
      codes[e.code] = (codes[e.code] ?? 0) + 1
      const msg = String(e.message)
      if (!(e instanceof MpscnnError) || msg.includes('\n') || !msg.startsWith(`${input.file}: `)) {
        finding('bad-error', i, input, { code: e.code, message: msg.slice(0, 500) })
      }
    }
  }
  const ms = performance.now() - start
  if (ms > slowest.ms) slowest = { ms: Math.round(ms), iteration: i }
  if (ms > opts.slowMs) finding('slow', i, input, { ms: Math.round(ms) })
  const rss = sample()
  if (rss > rssLimit) {
    finding('rss', i, input, { rssMb: Math.round(rss / 2 ** 20), beforeMb: Math.round(rssBefore / 2 ** 20) })
    break
  }
}

const summary = {
  summary: true,
  seed: opts.seed,
  iterations: opts.iterations,
  textIterations: opts.iterations - textFrom,
  converted,
  codes,
  findings: findings.length,
  peakRssMb: Math.round(peakRss / 2 ** 20),
  slowest,
  seconds: Math.round((performance.now() - t0) / 100) / 10,
}
process.stdout.write(`${JSON.stringify(summary)}\n`)
process.exitCode = findings.length ? 1 : 0
