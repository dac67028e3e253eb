/**
 * The reference: the original TensorFlow graph, run by TensorFlow.js's graph executor
 * (tfjs-converter), fed at the network input. What `mpscnn verify` compares the converted
 * network with, tensor by tensor (docs/reference.md).
 *
 *   const ref = await createReference(parseModel(bytes, file), { input: 'Mul', outputs: ['softmax'], backend: 'wasm' })
 *   const out = await ref.run(imageNHWC, [1, 299, 299, 3])   // Map: 'softmax' -> { data, shape }
 *   const all = await ref.runAll(imageNHWC, [1, 299, 299, 3]) // every TF node's output 0
 *
 * The graph is pruned to what the outputs need from the input, completed with TensorFlow's
 * attribute defaults (op-defaults.ts) and rewritten where tfjs differs from TensorFlow
 * (rewrite.ts, custom-ops.ts). Constants become weights; the rest goes to
 * `loadGraphModel(tf.io.fromMemory({ modelTopology, weightSpecs, weightData }))` in the JSON
 * form of the GraphDef. TensorFlow.js is an optional peer dependency, loaded here on first use.
 */
import type * as Tfc from '@tensorflow/tfjs-core'
import type * as Converter from '@tensorflow/tfjs-converter'
import { MpscnnError } from '../base/errors.js'
import { int64ToNumber, type AttrValue, type GraphDef, type NodeDef, type TensorShapeProto } from '../graphdef/schema.js'
import { registerCustomOps } from './custom-ops.js'
import { rewriteGraph, type RewrittenGraph } from './rewrite.js'
import { useBackend, type Backend } from './backend.js'

export type ReferenceBackend = Backend

interface ReferenceOptions {
  /** The node whose output 0 is the network input (e.g. `Mul` in the 2015 Inception graph); what is upstream of it is pruned. */
  input: string
  /** The output node names. */
  outputs: readonly string[]
  /** tfjs backend. @default 'cpu' */
  backend?: ReferenceBackend
  /** The model's file name, for error messages. @default 'model' */
  file?: string
}

export interface ReferenceTensor {
  data: Float32Array
  shape: number[]
}

export interface Reference {
  readonly backend: ReferenceBackend
  /** TF node names {@link Reference.runAll} returns, in graph order (the input first among them). */
  readonly nodes: readonly string[]
  /** Runs the graph on one NHWC float input; the outputs by the names asked for. */
  run(input: Float32Array, shape: readonly number[]): Promise<Map<string, ReferenceTensor>>
  /** Runs the graph; output 0 of every TF node it computes, by TF node name. */
  runAll(input: Float32Array, shape: readonly number[]): Promise<Map<string, ReferenceTensor>>
  /** Frees the weights. */
  dispose(): void
}

interface Tfjs {
  tf: typeof Tfc
  converter: typeof Converter
  supported: Set<string>
}

let loaded: Promise<Tfjs> | undefined

/** tfjs-converter's own op tables (data only, a module per category): the ops it maps. */
const opLists = (): Promise<{ json: { tfOpName: string }[] }[]> =>
  Promise.all([
    import('@tensorflow/tfjs-converter/dist/operations/op_list/arithmetic.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/basic_math.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/control.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/convolution.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/creation.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/dynamic.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/evaluation.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/graph.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/hash_table.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/image.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/logical.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/matrices.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/normalization.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/reduction.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/slice_join.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/sparse.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/spectral.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/string.js'),
    import('@tensorflow/tfjs-converter/dist/operations/op_list/transformation.js'),
  ])

function loadTfjs(file: string): Promise<Tfjs> {
  loaded ??= (async () => {
    try {
      const tf = await import('@tensorflow/tfjs-core')
      await import('@tensorflow/tfjs-backend-cpu')
      const converter = await import('@tensorflow/tfjs-converter')
      const supported = new Set<string>()
      for (const list of await opLists()) for (const op of list.json) supported.add(op.tfOpName)
      // The cpu backend tells Node users to install tfjs-node on first use: not ours to print.
      tf.env().set('PROD', true)
      registerCustomOps(tf, converter.registerOp)
      return { tf, converter, supported }
    } catch (e) {
      loaded = undefined
      if (e instanceof MpscnnError) throw e
      throw new MpscnnError('MISSING_DEPENDENCY', file, `the reference needs TensorFlow.js (${(e as Error).message})`, {
        hint: 'npm i -D @tensorflow/tfjs-core @tensorflow/tfjs-backend-cpu @tensorflow/tfjs-backend-wasm @tensorflow/tfjs-converter',
      })
    }
  })()
  return loaded
}

/** An AttrValue in the JSON form tfjs-converter reads (strings as byte arrays, int64 as numbers). */
function attrJson(a: AttrValue): Record<string, unknown> {
  const shape = (s: TensorShapeProto) => ({ dim: (s.dim ?? []).map((d) => ({ size: int64ToNumber(d.size) })), unknownRank: s.unknownRank ?? false })
  const has = (k: keyof AttrValue) => Object.prototype.hasOwnProperty.call(a, k) && a[k] !== undefined
  if (has('list')) {
    const l = a.list!
    return {
      list: {
        ...(l.s && { s: l.s.map((x) => Array.from(x)) }),
        ...(l.i && { i: l.i.map(int64ToNumber) }),
        ...(l.f && { f: [...l.f] }),
        ...(l.b && { b: [...l.b] }),
        ...(l.type && { type: [...l.type] }),
        ...(l.shape && { shape: l.shape.map(shape) }),
      },
    }
  }
  if (has('s')) return { s: Array.from(a.s!) }
  if (has('i')) return { i: int64ToNumber(a.i) }
  if (has('f')) return { f: a.f }
  if (has('b')) return { b: a.b }
  if (has('type')) return { type: a.type }
  if (has('shape')) return { shape: shape(a.shape!) }
  return {}
}

function nodeJson(n: NodeDef): Record<string, unknown> {
  const attr: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(n.attr)) if (k !== 'value') attr[k] = attrJson(v)
  return { name: n.name, op: n.op, input: n.input, attr }
}

function weightData(g: RewrittenGraph): { specs: Tfc.io.WeightsManifestEntry[]; data: ArrayBuffer } {
  let size = 0
  for (const w of g.weights) size += w.data.byteLength
  const data = new Uint8Array(size)
  let at = 0
  const specs = g.weights.map((w) => {
    data.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), at)
    at += w.data.byteLength
    return { name: w.name, shape: w.shape, dtype: w.dtype }
  })
  return { specs, data: data.buffer }
}

export async function createReference(graphDef: GraphDef, options: ReferenceOptions): Promise<Reference> {
  const file = options.file ?? 'model'
  const backend = options.backend ?? 'cpu'
  if (backend !== 'cpu' && backend !== 'wasm') throw new TypeError(`unplugin-mpscnn: option backend must be 'cpu' or 'wasm', got ${JSON.stringify(backend)}`)
  if (typeof options.input !== 'string' || options.input === '') throw new TypeError(`unplugin-mpscnn: option input must be a node name, got ${JSON.stringify(options.input)}`)
  if (!Array.isArray(options.outputs) || options.outputs.length === 0 || !options.outputs.every((o) => typeof o === 'string' && o !== '')) {
    throw new TypeError(`unplugin-mpscnn: option outputs must be a non-empty array of node names, got ${JSON.stringify(options.outputs)}`)
  }
  const { tf, converter, supported } = await loadTfjs(file)
  const graph = rewriteGraph(graphDef, { input: options.input, outputs: options.outputs, supported, file })
  await useBackend(tf, backend, file)
  const { specs, data } = weightData(graph)
  const modelTopology = { node: graph.nodes.map(nodeJson), versions: graphDef.versions ?? {} }
  const model = await converter.loadGraphModel(tf.io.fromMemory({ modelTopology, weightSpecs: specs, weightData: data }))
  const outputs = [...options.outputs]

  /**
   * The first TF node, in graph order, whose run fails (tfjs's errors do not say): the shortest
   * prefix of the node list that fails, by bisection, since a prefix fails iff any node in it does.
   */
  const failingNode = (x: Tfc.Tensor): string | undefined => {
    const fails = (k: number): boolean => {
      try {
        const r = model.execute({ [options.input]: x }, graph.tensors.slice(0, k + 1))
        for (const t of Array.isArray(r) ? r : [r]) if (t !== x) t.dispose()
        return false
      } catch {
        return true
      }
    }
    let [lo, hi] = [0, graph.tensors.length - 1]
    if (!fails(hi)) return undefined
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (fails(mid)) hi = mid
      else lo = mid + 1
    }
    return graph.tensors[lo]
  }

  const execute = async (input: Float32Array, shape: readonly number[], names: string[]): Promise<Map<string, ReferenceTensor>> => {
    const size = shape.reduce((a, b) => a * b, 1)
    if (input.length !== size) throw new MpscnnError('SHAPE_MISMATCH', file, `the input has ${input.length} values but shape [${shape.join(', ')}] holds ${size}`, { node: options.input })
    await useBackend(tf, backend, file)
    const x = tf.tensor(input, [...shape], 'float32')
    const all = [...new Set([...names, ...graph.control])]
    const out = new Map<string, ReferenceTensor>()
    let results: Tfc.Tensor[] = []
    try {
      const r = model.execute({ [options.input]: x }, all)
      results = Array.isArray(r) ? r : [r]
      names.forEach((name, k) => out.set(name, { data: Float32Array.from(results[k].dataSync()), shape: results[k].shape.slice() }))
    } catch (e) {
      if (e instanceof MpscnnError) throw e
      throw new MpscnnError('REFERENCE_FAILED', file, `TensorFlow.js could not run the graph: ${(e as Error).message}`, {
        node: failingNode(x),
        hint: 'Check the input shape; docs/reference.md lists what the reference supports',
      })
    } finally {
      for (const t of new Set([x, ...results])) t.dispose()
    }
    return out
  }

  return {
    backend,
    nodes: graph.tensors,
    run: (input, shape) => execute(input, shape, outputs),
    runAll: (input, shape) => execute(input, shape, graph.tensors),
    dispose: () => model.dispose(),
  }
}
