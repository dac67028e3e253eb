import { describe, expect, it, vi } from 'vitest'
import { MpscnnError } from '../src/base/errors.js'
import { DataType, reflection, type GraphDef } from '../src/graphdef/schema.js'
import { TextLexer } from '../src/graphdef/text-lexer.js'
import { parseGraphDefText } from '../src/graphdef/text.js'
import { pbtxtError, type PbtxtSyntaxError } from './helpers/pbtxt-parse.js'
import { cEscape, formatGraphDefText } from './helpers/pbtxt-writer.js'

const { GraphDefType } = reflection()

/** Plain, comparable form: own enumerable fields only, bytes as plain Uint8Array, Long as number. */
function normalize(x: unknown): unknown {
  if (x === null || typeof x !== 'object') return x
  if (x instanceof Uint8Array) return Uint8Array.from(x)
  if (Array.isArray(x)) return x.map(normalize)
  const o = x as Record<string, unknown>
  if (typeof o.low === 'number' && typeof o.high === 'number' && typeof o.toNumber === 'function') {
    return (o.toNumber as () => number)()
  }
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(o)) out[k] = normalize(o[k])
  return out
}

function binaryRoundTrip(obj: unknown): GraphDef {
  const bytes = GraphDefType.encode(obj as Record<string, unknown>).finish()
  return GraphDefType.decode(bytes) as unknown as GraphDef
}

function parse(text: string): GraphDef {
  return parseGraphDefText(text, 'test.pbtxt')
}

const enc = (s: string) => new TextEncoder().encode(s)

/** All 256 byte values, several times over, in a scrambled order. */
function allBytes(n = 1024): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8) * 13) & 255)
}

function sampleGraph(): Record<string, unknown> {
  const content = allBytes()
  return {
    node: [
      {
        name: 'input',
        op: 'Placeholder',
        attr: {
          dtype: { type: DataType.DT_FLOAT },
          shape: { shape: { dim: [{ size: -1 }, { size: 224 }, { size: 224 }, { size: 3 }] } },
        },
      },
      {
        name: 'conv/weights_ü_🙂',
        op: 'Const',
        device: '/device:CPU:0',
        attr: {
          dtype: { type: DataType.DT_FLOAT },
          value: {
            tensor: {
              dtype: DataType.DT_FLOAT,
              tensorShape: { dim: [{ size: 4 }, { size: 4 }, { size: 4 }, { size: 4, name: 'out' }] },
              tensorContent: content,
            },
          },
        },
      },
      {
        name: 'vals',
        op: 'Const',
        attr: {
          value: {
            tensor: {
              dtype: DataType.DT_HALF,
              tensorShape: { unknownRank: true },
              versionNumber: 2,
              halfVal: [0x3c00, 0, 0xfbff],
              floatVal: [0.1, -0, 1, 3.4028234663852886e38, 1.401298464324817e-45, NaN, Infinity, -Infinity, -2.5e-7],
              doubleVal: [0.1, -0, 1e300, 5e-324, NaN, -Infinity],
              intVal: [0, -1, 2147483647, -2147483648],
              int64Val: [0, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 4294967296],
              boolVal: [true, false, true],
              stringVal: [enc('hello'), new Uint8Array(0), content.subarray(0, 300), enc('quote"\'\\')],
            },
          },
        },
      },
      {
        name: 'conv',
        op: 'Conv2D',
        input: ['input', 'conv/weights_ü_🙂', '^vals'],
        attr: {
          T: { type: DataType.DT_FLOAT },
          strides: { list: { i: [1, 2, 2, 1] } },
          padding: { s: enc('SAME') },
          data_format: { s: enc('NHWC') },
          use_cudnn_on_gpu: { b: true },
          epsilon: { f: 0.001 },
          big: { i: -(2 ** 40) },
          raw: { s: content.subarray(500, 800) },
          ph: { placeholder: 'T' },
          lists: {
            list: {
              s: [enc('a'), content.subarray(0, 256)],
              f: [0.5, -1.25],
              b: [false, true],
              type: [DataType.DT_INT32, DataType.DT_HALF, 99],
              shape: [{ dim: [{ size: 1 }] }, { unknownRank: true }],
              tensor: [{ dtype: DataType.DT_INT32, intVal: [7] }],
            },
          },
          empty: {},
        },
      },
      { name: 'bare', op: 'NoOp' },
    ],
    versions: { producer: 1395, minConsumer: 12, badConsumers: [3, 5] },
    version: 7,
  }
}

function expectSyntaxError(text: string, line: number, contains?: string | RegExp, file = 'broken.pbtxt'): PbtxtSyntaxError {
  const e = pbtxtError(text, file)
  expect(e.line).toBe(line)
  if (contains !== undefined) expect(e.message).toMatch(contains)
  return e
}

describe('parseGraphDefText: round trips against the binary decoder', () => {
  it('gives the same objects as GraphDefType.decode', () => {
    const obj = sampleGraph()
    const bin = binaryRoundTrip(obj)
    const text = formatGraphDefText(obj as unknown as GraphDef)
    const txt = parseGraphDefText(text, 'rt.pbtxt')
    expect(normalize(txt)).toStrictEqual(normalize(bin))
    // Same message classes, so defaults read the same way.
    expect(Object.getPrototypeOf(txt)).toBe(Object.getPrototypeOf(bin))
    expect(Object.getPrototypeOf(txt.node[0])).toBe(Object.getPrototypeOf(bin.node[0]))
    expect(txt.node[0].device).toBe('')
    expect(txt.node[4].input).toEqual([])
    expect(txt.node[4].attr).toEqual({})
    expect(txt.node[3].attr.strides.list?.i).toEqual([1, 2, 2, 1])
    // Types: bytes are Uint8Array, int64 plain numbers, enums numbers.
    const tensor = txt.node[1].attr.value.tensor!
    expect(tensor.tensorContent).toBeInstanceOf(Uint8Array)
    expect(tensor.tensorContent).toEqual(allBytes())
    expect(new Set(tensor.tensorContent).size).toBe(256)
    expect(tensor.dtype).toBe(DataType.DT_FLOAT)
    expect(typeof tensor.tensorShape!.dim![0].size).toBe('number')
    expect(txt.node[2].attr.value.tensor!.int64Val).toEqual([0, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 4294967296])
    expect(txt.node[3].attr.big.i).toBe(-(2 ** 40))
    expect(txt.node[1].name).toBe('conv/weights_ü_🙂')
  })

  it('round trips the text of an already decoded message', () => {
    const bin = binaryRoundTrip(sampleGraph())
    const txt = parse(formatGraphDefText(bin))
    expect(normalize(txt)).toStrictEqual(normalize(bin))
  })

  it('round trips every byte value escaped alone and between printable characters', () => {
    for (let b = 0; b < 256; b++) {
      const content = Uint8Array.from([b, 65, b, b, 48, 49, 50, b])
      const obj = { node: [{ name: 'c', op: 'Const', attr: { value: { tensor: { dtype: 4, tensorContent: content } } } }] }
      const txt = parse(formatGraphDefText(obj as unknown as GraphDef))
      expect(txt.node[0].attr.value.tensor!.tensorContent).toEqual(content)
    }
  })

  it('writes text the way TensorFlow does', () => {
    const obj = {
      node: [
        {
          name: 'x',
          op: 'Const',
          attr: {
            value: { tensor: { dtype: 1, tensorShape: { dim: [{ size: 1 }] }, tensorContent: Uint8Array.from([0, 0, 128, 63]) } },
          },
        },
      ],
    }
    expect(formatGraphDefText(obj as unknown as GraphDef)).toBe(
      [
        'node {',
        '  name: "x"',
        '  op: "Const"',
        '  attr {',
        '    key: "value"',
        '    value {',
        '      tensor {',
        '        dtype: DT_FLOAT',
        '        tensor_shape {',
        '          dim {',
        '            size: 1',
        '          }',
        '        }',
        '        tensor_content: "\\000\\000\\200?"',
        '      }',
        '    }',
        '  }',
        '}',
        '',
      ].join('\n'),
    )
    expect(cEscape(Uint8Array.from([7, 9, 10, 13, 34, 39, 92, 127, 255, 32, 126]))).toBe('\\007\\t\\n\\r\\"\\\'\\\\\\177\\377 ~')
  })
})

describe('parseGraphDefText: text format features', () => {
  it('reads a TensorFlow-style graph with comments, separators and both message forms', () => {
    const g = parse(`# A graph written by hand
node {
  name: "a"   # trailing comment
  op: "Placeholder"
  attr {
    key: "dtype"
    value {
      type: DT_FLOAT
    }
  }
}
node: { name: 'b', op: "Relu"; input: "a" input: "^c" }
node < name: "c" op: "NoOp" >
versions { producer: 27 min_consumer: 12 bad_consumers: 1 bad_consumers: 2 }
`)
    expect(g.node.map((n) => n.name)).toEqual(['a', 'b', 'c'])
    expect(g.node[0].attr.dtype.type).toBe(DataType.DT_FLOAT)
    expect(g.node[1].input).toEqual(['a', '^c'])
    expect(g.node[2].input).toEqual([])
    expect(g.node[2].attr).toEqual({})
    expect(normalize(g.versions)).toEqual({ producer: 27, minConsumer: 12, badConsumers: [1, 2] })
  })

  it('accepts map entries with colons, <> and list syntax', () => {
    const g = parse(`node {
  name: "n"
  attr: { key: "T" value: { type: DT_HALF } }
  attr < key: 'N' value < i: 3 > >
  attr [ { key: "x" value { s: "1" } }, < key: "y" value: { b: true } > ]
  attr { key: "empty" }
  attr { value { i: 4 } }
}`)
    const a = g.node[0].attr
    expect(a.T.type).toBe(DataType.DT_HALF)
    expect(a.N.i).toBe(3)
    expect(a.x.s).toEqual(enc('1'))
    expect(a.y.b).toBe(true)
    expect(normalize(a.empty)).toEqual({})
    expect(a[''].i).toBe(4)
  })

  it('reads list syntax for repeated scalars and messages', () => {
    const g = parse(`node { name: "n" op: "X"
  input: ["a", 'b'] input: "c" input: []
  attr { key: "l" value { list {
    i: [1, -2, 0x1F, -0x10, 010]
    f: [1, 2.5]
    f: 3
    type: [DT_FLOAT, 3, DT_INT64]
    b: [true, f, 1, False, t, 0, True, false]
    s: ["x", "y" "z"]
    shape: [ { dim { size: 2 } }, < unknown_rank: true >, {} ]
    tensor [ { dtype: DT_INT32 int_val: [1, 2] } ]
  } } }
}`)
    const n = g.node[0]
    expect(n.input).toEqual(['a', 'b', 'c'])
    const l = n.attr.l.list!
    expect(l.i).toEqual([1, -2, 31, -16, 8])
    expect(l.f).toEqual([1, 2.5, 3])
    expect(l.type).toEqual([1, 3, 9])
    expect(l.b).toEqual([true, false, true, false, true, false, true, false])
    expect(l.s).toEqual([enc('x'), enc('yz')])
    expect(normalize(l.shape)).toEqual([{ dim: [{ size: 2 }] }, { dim: [], unknownRank: true }, { dim: [] }])
    expect(l.tensor![0].intVal).toEqual([1, 2])
  })

  it('reads numbers: negative, hex, exponents, f suffix, inf, nan', () => {
    const g = parse(`node { name: "n" attr { key: "l" value { list {
  f: [1.0f, 2F, -2.5E-1, .5, 1e3, 1., 1.e2, 0.1, 5, -0.0]
  f: inf f: -inf f: nan f: Infinity f: -INF f: -nan f: infinity
} } }
attr { key: "t" value { tensor {
  double_val: [0.1, 1e-300, -1.5e+300, inf, 0x10, 017, 1e400]
  int64_val: [-9007199254740991, 9007199254740991, 0x7fffffffffff, 9223372036854775807, -9223372036854775808, 00000000000000000000000000000017]
  half_val: 15360
  tensor_shape { dim { size: -1 } dim { size: 0x20 } }
} } }
attr { key: "i" value { i: - 5 } }
}`)
    const f = g.node[0].attr.l.list!.f!
    expect(f.slice(0, 10)).toEqual([1, 2, -0.25, 0.5, 1000, 1, 100, Math.fround(0.1), 5, -0])
    expect(Object.is(f[9], -0)).toBe(true)
    expect(f.slice(10, 13)).toEqual([Infinity, -Infinity, NaN])
    expect(f.slice(13)).toEqual([Infinity, -Infinity, NaN, Infinity])
    const t = g.node[0].attr.t.tensor!
    expect(t.doubleVal).toEqual([0.1, 1e-300, -1.5e300, Infinity, 16, 15, Infinity])
    expect(t.int64Val).toEqual([-9007199254740991, 9007199254740991, 0x7fffffffffff, 2 ** 63, -(2 ** 63), 15])
    expect(t.halfVal).toEqual([15360])
    expect(t.tensorShape!.dim!.map((d) => d.size)).toEqual([-1, 32])
    expect(g.node[0].attr.i.i).toBe(-5)
  })

  it('decodes string escapes into raw bytes', () => {
    const g = parse(String.raw`node { name: "n" attr { key: "s" value { list {
  s: "\a\b\f\n\r\t\v\\\"\'\?"
  s: '\'single\' "double"'
  s: "\0\12\101\1234\377\400"
  s: "\x4\x41\x414\XfF\x00"
  s: "ab" 'cd' # comment between parts
     "ef"
  s: "ü🙂\u00fc\U0001F642"
  s: ""
  s: "# not a comment"
} } } }`)
    const s = g.node[0].attr.s.list!.s!
    expect(s[0]).toEqual(Uint8Array.from([7, 8, 12, 10, 13, 9, 11, 92, 34, 39, 63]))
    expect(new TextDecoder().decode(s[1])).toBe(`'single' "double"`)
    expect(s[2]).toEqual(Uint8Array.from([0, 10, 65, 83, 52, 255, 0]))
    expect(s[3]).toEqual(Uint8Array.from([4, 0x41, 0x41, 52, 255, 0]))
    expect(new TextDecoder().decode(s[4])).toBe('abcdef')
    expect(new TextDecoder().decode(s[5])).toBe('ü🙂ü🙂')
    expect(s[6]).toEqual(new Uint8Array(0))
    expect(new TextDecoder().decode(s[7])).toBe('# not a comment')
  })

  it('decodes string fields as UTF-8 and bytes fields as bytes', () => {
    const g = parse(`node { name: "caf\\303\\251" op: 'R\\x65lu' input: "a" "b" attr { key: "\\141" value { s: "\\303" } } }`)
    expect(g.node[0].name).toBe('café')
    expect(g.node[0].op).toBe('Relu')
    expect(g.node[0].input).toEqual(['ab'])
    expect(g.node[0].attr.a.s).toEqual(Uint8Array.from([0xc3]))
    expect(g.node[0].attr.a.s).toBeInstanceOf(Uint8Array)
  })

  it('reads enum names and numbers, and accepts camelCase field names', () => {
    const g = parse(`node { name: "n" attr { key: "v" value { tensor {
  dtype: 19 tensorShape { dim { size: 1 } unknownRank: false } floatVal: 1
} } } attr { key: "t" value { type: DT_BFLOAT16 } } }
versions { minConsumer: 3 }`)
    const t = g.node[0].attr.v.tensor!
    expect(t.dtype).toBe(DataType.DT_HALF)
    expect(t.tensorShape!.unknownRank).toBe(false)
    expect(t.floatVal).toEqual([1])
    expect(g.node[0].attr.t.type).toBe(DataType.DT_BFLOAT16)
    expect(g.versions!.minConsumer).toBe(3)
  })

  it('skips unknown fields, however nested', () => {
    const g = parse(`node {
  name: "a"
  op: "Const"
  experimental_type { type_id: TFT_PRODUCT args { type_id: TFT_TENSOR args { type_id: TFT_FLOAT } } }
  experimental_debug_info { original_node_names: "x" original_func_names: ["y", 'z'] }
  unknown_scalar: -5
  unknown_float: -inf
  unknown_bytes: "\\000}{" 'x'
  unknown_list: [1, -2.5e3, FOO, "s", { a: 1 }, < b { c: 2 } >]
  unknown_empty_list: []
  [some.extension] { x: 1 }
  [type.googleapis.com/tensorflow.Foo] < y: "}" >
  attr { key: "k" value { i: 1 unknown_in_attr { q: 1 } } }
}
library {
  function {
    signature { name: "f" input_arg { name: "x" type: DT_FLOAT } }
    node_def { name: "n" op: "Add" attr { key: "T" value { type: DT_FLOAT } } }
    ret { key: "out" value: "n:z:0" }
  }
  gradient { function_name: "f" gradient_func: "g" }
}
experimental_debug_info: { files: "a.py" traces { key: "n" value { file_line_cols { line: 1 } } } }
node { name: "b" op: "NoOp" }
`)
    expect(g.node.map((n) => n.name)).toEqual(['a', 'b'])
    expect(g.node[0].attr.k.i).toBe(1)
    expect(normalize(g.node[0].attr.k)).toEqual({ i: 1 })
    expect(Object.keys(g)).toEqual(['node'])
  })

  it('accepts an empty file, a BOM, Windows line endings and a file of comments', () => {
    expect(normalize(parse(''))).toEqual({ node: [] })
    expect(normalize(parse('# nothing\n  # here\n'))).toEqual({ node: [] })
    expect(parse('\ufeffnode {\r\n  name: "a"\r\n}\r\n').node[0].name).toBe('a')
  })

  it('merges a singular message given twice, and keeps the last scalar', () => {
    const g = parse(`versions { producer: 1 } versions { min_consumer: 2 } version: 1 version: 3`)
    expect(normalize(g)).toEqual({ node: [], versions: { producer: 1, minConsumer: 2, badConsumers: [] }, version: 3 })
  })
})

describe('parseGraphDefText: errors', () => {
  it('reports an unterminated string at the line it starts', () => {
    expectSyntaxError('node {\n  name: "x\n  op: "Const"\n}\n', 2, /unterminated string/)
    expectSyntaxError('node {\n  name: \'x', 2, /unterminated string/)
    expectSyntaxError('node { name: "abc\\', 1, /unterminated string/)
    expectSyntaxError('node { name: "' + 'a'.repeat(1_000_000), 1, /unterminated string/)
  })

  it('reports unbalanced braces', () => {
    const e = expectSyntaxError('node {\n  name: "x"\n  attr {\n    key: "a"\n', 5, /expected "}" to close "attr" opened at line 3/)
    expect(e.message).toContain('end of file')
    expectSyntaxError('node {\n  name: "x"\n}\n}\n', 4, /no matching/)
    expectSyntaxError('node <\n name: "x"\n}', 3, /expected a field name or ">"/)
    expectSyntaxError('node { attr { key: "a" value { list { i: [1, 2 } } } }', 1, /expected "," or "]"/)
    expectSyntaxError('node { input: [\n"a",\n', 3, /expected a string/)
  })

  it('reports unknown enum names', () => {
    const e = expectSyntaxError('node {\n  attr {\n    value { type: DT_FLOAT }\n  }\n  attr { value { type: DT_FLAOT } }\n}', 5)
    expect(e.message).toContain('unknown DataType value "DT_FLAOT"')
    expectSyntaxError('node { attr { value { tensor {\n dtype: "DT_FLOAT" } } } }', 2, /expected a DataType name or number/)
  })

  it('reports garbage and wrongly typed values', () => {
    expectSyntaxError('@@@', 1, /expected a field name, found "@"/)
    expectSyntaxError('\n\n  node { name: "a" } %', 3, /column 22/)
    expectSyntaxError('node { name "x" }', 1, /expected ":" after the field name "name"/)
    expectSyntaxError('node { name: x }', 1, /expected a string for "name"/)
    expectSyntaxError('node { attr { value { i: 1.5 } } }', 1, /expected an integer for "i"/)
    expectSyntaxError('node { attr { value { i: abc } } }', 1, /expected an integer/)
    expectSyntaxError('node { attr { value { b: yes } } }', 1, /expected true or false/)
    expectSyntaxError('node { attr { value { b: 2 } } }', 1, /expected true or false/)
    expectSyntaxError('node { attr { value { f: fast } } }', 1, /expected a number/)
    expectSyntaxError('node { attr { value { tensor { tensor_shape { dim { size: 3abc } } } } } }', 1, /invalid number "3abc"/)
    expectSyntaxError('node { attr { value { i: 09 } } }', 1, /octal/)
    expectSyntaxError('node { attr { value { f: 1e } } }', 1, /exponent/)
    expectSyntaxError('node { attr { value { i: 0x } } }', 1, /hex digits/)
    expectSyntaxError('version: 3000000000', 1, /out of range/)
    expectSyntaxError('version: -2147483649', 1, /out of range/)
    expectSyntaxError('node { attr { value { i: 9223372036854775808 } } }', 1, /out of range/)
    expectSyntaxError('node { attr { value { i: -0x8000000000000001 } } }', 1, /out of range/)
    expectSyntaxError('node { attr { value { i: 1' + '0'.repeat(1_000_000) + ' } } }', 1, /out of range/)
    expectSyntaxError('node { name: ["a"] }', 1, /not a repeated field/)
    expectSyntaxError('node { attr { value { shape: [{}] } } }', 1, /not a repeated field/)
    expectSyntaxError('node { name: "\\q" }', 1, /invalid escape sequence "\\q"/)
    expectSyntaxError('node { name: "\\xZ" }', 1, /hex digits after "\\x"/)
    expectSyntaxError('node { name: "\\u12" }', 1, /hex digits/)
    expectSyntaxError('node { op: }', 1, /expected a string for "op", found "}"/)
    expectSyntaxError('node { attr { value { shape: 1 } } }', 1, /expected "{" to start the "shape" message/)
    expectSyntaxError('versions: 1', 1, /expected "{" to start the "versions" message/)
    expectSyntaxError('node', 1, /expected ":" or "{"|expected "{"/)
    expectSyntaxError('unknown: ', 1, /expected a value for "unknown"/)
    expectSyntaxError('unknown 5', 1, /expected ":" or "{" after the field name "unknown"/)
    expectSyntaxError('[a.b { }', 1, /expected "]"/)
    expectSyntaxError('node { name: "a" }\nnode { name: "b" ] }', 2, /expected a field name or "}"/)
  })

  it('limits nesting depth instead of overflowing the stack', () => {
    expectSyntaxError('deep {'.repeat(200_000), 1, /nested more than 100 levels/)
    expectSyntaxError('a: [' + '{ b: ['.repeat(200_000), 1, /nested more than 100 levels/)
    expectSyntaxError('x {\n' + 'y <'.repeat(150), 2, /nested more than 100 levels/)
    // 100 levels is fine.
    expect(parse('x {'.repeat(99) + '}'.repeat(99)).node).toEqual([])
  })

  it('throws only PBTXT_SYNTAX errors on mangled input', () => {
    const base = `node {
  name: "a"  # c
  op: 'Const'
  attr { key: "value" value: < tensor { dtype: DT_FLOAT tensor_shape { dim { size: -3 } } tensor_content: "\\000\\x41\\n" float_val: [1.0f, -inf, nan] } > }
  attr [ { key: "l" value { list { i: [1, 0x2] b: [t, 0] type: [DT_HALF, 3] s: "a" 'b' } } } ]
  library { x: [1, {y: "z"}] [a.b/c] { q: -1e5 } }
}
versions { producer: 1 min_consumer: 2 }
`
    expect(parse(base).node[0].attr.value.tensor!.tensorContent).toEqual(Uint8Array.from([0, 0x41, 10]))
    let seed = 1
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const alphabet = '{}<>[]:;,"\'\\#\n -.0123456789xefinatDT_FLOAT'
    let failures = 0
    for (let k = 0; k < 5000; k++) {
      let s = base
      for (let m = 1 + rnd(4); m > 0; m--) {
        const p = rnd(s.length)
        const op = rnd(3)
        if (op === 0) s = s.slice(0, p) + s.slice(p + 1 + rnd(5))
        else if (op === 1) s = s.slice(0, p) + alphabet[rnd(alphabet.length)] + s.slice(p)
        else s = s.slice(0, p) + alphabet[rnd(alphabet.length)] + s.slice(p + 1)
      }
      try {
        parseGraphDefText(s, 'fuzz.pbtxt')
      } catch (e) {
        failures++
        expect(e).toBeInstanceOf(MpscnnError)
        expect((e as MpscnnError).code).toBe('PBTXT_SYNTAX')
        expect((e as Error).message).toMatch(/^fuzz\.pbtxt: line \d+, column \d+: /)
      }
    }
    expect(failures).toBeGreaterThan(1000)
  })

  it('uses the file name given', () => {
    const e = expectSyntaxError('node {', 1, undefined, 'models/inception.pbtxt')
    expect(e.message.startsWith('models/inception.pbtxt: line 1, column 7: ')).toBe(true)
  })
})

describe('parseGraphDefText: a large input', () => {
  // Counted, not timed: the decoded bytes of a string go to one scratch buffer, which must
  // grow by doubling (a fixed step would copy it once per step: quadratic in the literal).
  it('parses 20 MB of escaped tensor_content and 20,000 nodes intact, growing its string buffer a logarithmic number of times', () => {
    const content = allBytes(2 * 1024 * 1024)
    const nodes = []
    for (let i = 0; i < 4; i++) {
      nodes.push({
        name: `w${i}`,
        op: 'Const',
        attr: { value: { tensor: { dtype: 1, tensorShape: { dim: [{ size: content.length / 4 }] }, tensorContent: content } } },
      })
    }
    for (let i = 0; i < 20_000; i++) {
      nodes.push({ name: `n${i}`, op: 'Relu', input: [`n${i - 1}`], attr: { T: { type: 1 } } })
    }
    const text = formatGraphDefText({ node: nodes } as unknown as GraphDef)
    expect(text.length).toBeGreaterThan(20_000_000)
    const grow = vi.spyOn(TextLexer.prototype as unknown as { grow(need: number, len: number): Uint8Array }, 'grow')
    let g: GraphDef
    let grown: number
    try {
      g = parseGraphDefText(text, 'big.pbtxt')
      grown = grow.mock.calls.length
    } finally {
      grow.mockRestore()
    }
    expect(grown).toBeGreaterThan(0)
    expect(grown).toBeLessThanOrEqual(Math.log2(content.length))
    expect(g.node.length).toBe(20_004)
    // (vitest's deep equality is slow on megabytes of typed array)
    expect(Buffer.from(g.node[3].attr.value.tensor!.tensorContent!).equals(content)).toBe(true)
    expect(g.node[20_003].input).toEqual(['n19998'])
  })
})
