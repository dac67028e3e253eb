/**
 * Dequantize and FakeQuant at the edges of their ranges (src/fold/constant.ts): the 16- and 32-bit
 * quantized types, MIN_FIRST over an empty range, SCALED with an unsigned type from 0 and with
 * narrow_range left to its default, per-slice ranges along a middle axis, the min and max
 * counts checked one by one, and FakeQuant ranges that do not include 0 (nudged to include it).
 * Expected values are TensorFlow's formulas in float64 (test/helpers/tf64.ts).
 */
import { describe, expect, it } from 'vitest'
import { attr } from './helpers/graph-builder.js'
import { fold } from './helpers/folding.js'
import { quantConst } from './helpers/graphs.js'
import { dequantize64, fakeQuant64, type QuantizedType } from './helpers/tf64.js'

type Mode = 'MIN_COMBINED' | 'MIN_FIRST' | 'SCALED'

/** Dequantize(values of `type` and `shape`, mins, maxs) folded; `attrs` beyond T and mode. */
function dequantized(type: QuantizedType, mode: Mode, shape: number[], values: number[], mins: number[], maxs: number[], attrs = {}) {
  return fold((b) => {
    quantConst(b, 'q', type, shape, values)
    b.constF32('mins', mins.length === 1 ? [] : [mins.length], mins)
    b.constF32('maxs', maxs.length === 1 ? [] : [maxs.length], maxs)
    b.op('out', 'Dequantize', ['q', 'mins', 'maxs'], { T: attr.type(type), mode: attr.s(mode), ...attrs })
  })
}

const closeTo = (got: number[] | undefined, want: number[]) => {
  expect(got).toHaveLength(want.length)
  want.forEach((w, i) => expect(got![i]).toBeCloseTo(w, 5))
}

describe('Dequantize', () => {
  it.each([
    ['DT_QUINT16', [0, 1, 30000, 65535]],
    ['DT_QINT16', [-32768, -1, 0, 32767]],
    ['DT_QINT32', [-2147483648, -1, 0, 2147483647]],
  ] as const)('%s in each mode', (type, v) => {
    for (const mode of ['MIN_COMBINED', 'MIN_FIRST', 'SCALED'] as const) {
      const got = dequantized(type, mode, [4], [...v], [-1.5], [2.25])
      closeTo(got?.data, v.map(dequantize64(type, mode, Math.fround(-1.5), Math.fround(2.25))))
    }
  })

  it('MIN_FIRST over an empty range (min == max) is min everywhere', () => {
    expect(dequantized('DT_QUINT8', 'MIN_FIRST', [3], [0, 7, 255], [0.5], [0.5])?.data).toEqual([0.5, 0.5, 0.5])
  })

  it('SCALED with an unsigned type and min 0: max / 255', () => {
    closeTo(dequantized('DT_QUINT8', 'SCALED', [3], [0, 7, 255], [0], [2.55])?.data, [0, 0.07, 2.55])
  })

  it('SCALED with narrow_range left out takes it as false: min / -128 when that is larger', () => {
    // scale = max(-2 / -128, 1.5 / 127) = 1 / 64
    expect(dequantized('DT_QINT8', 'SCALED', [3], [-128, -1, 127], [-2], [1.5])?.data).toEqual([-2, -1 / 64, 127 / 64])
  })

  it('per-slice ranges along a middle axis: element [a][s][c] of [2, 3, 2] takes slice s', () => {
    const values = Array.from({ length: 12 }, (_, i) => i * 20)
    const mins = [-1, 0, 2]
    const maxs = [1, 4, 3]
    const got = dequantized('DT_QUINT8', 'MIN_COMBINED', [2, 3, 2], values, mins, maxs, { axis: attr.i(1) })
    expect(got?.shape).toEqual([2, 3, 2])
    const want: number[] = []
    for (let a = 0; a < 2; a++) for (let s = 0; s < 3; s++) for (let c = 0; c < 2; c++) want.push(dequantize64('DT_QUINT8', 'MIN_COMBINED', mins[s], maxs[s])(values[a * 6 + s * 2 + c]))
    closeTo(got?.data, want)
  })

  it('MIN_FIRST with an axis of size 1 is one slice, which TensorFlow folds', () => {
    const got = dequantized('DT_QUINT8', 'MIN_FIRST', [1, 3], [0, 100, 255], [-0.75], [3], { axis: attr.i(0) })
    closeTo(got?.data, [0, 100, 255].map(dequantize64('DT_QUINT8', 'MIN_FIRST', -0.75, 3)))
  })

  const refused = (code: string, text: string) => expect.objectContaining({ code, node: 'out', file: 'f.pb', message: expect.stringContaining(text) })

  it('MIN_FIRST with several slices along axis 1 is refused, as TensorFlow does', () => {
    expect(() => dequantized('DT_QUINT8', 'MIN_FIRST', [2, 3], [0, 1, 2, 3, 4, 5], [0, 0, 0], [1, 1, 1], { axis: attr.i(1) })).toThrow(refused('UNSUPPORTED', 'MIN_FIRST mode with an axis'))
  })

  it('needs as many mins and as many maxs as slices, each checked', () => {
    expect(() => dequantized('DT_QUINT8', 'MIN_COMBINED', [2], [0, 1], [0, 0], [1])).toThrow(refused('SHAPE_MISMATCH', 'Dequantize has 2 min and 1 max values for the whole tensor'))
    expect(() => dequantized('DT_QUINT8', 'MIN_COMBINED', [2], [0, 1], [0], [1, 1])).toThrow(refused('SHAPE_MISMATCH', 'Dequantize has 1 min and 2 max values for the whole tensor'))
  })

  it('of a float constant names its type', () => {
    expect(() =>
      fold((b) => {
        b.constF32('f', [2], [0, 1])
        b.constF32('min', [], [0])
        b.constF32('max', [], [1])
        b.op('out', 'Dequantize', ['f', 'min', 'max'], { T: attr.type('DT_QUINT8') })
      }),
    ).toThrow(refused('UNSUPPORTED_DTYPE', 'Dequantize of a DT_FLOAT constant'))
  })
})

describe('FakeQuantWithMinMaxArgs nudges a range without 0 to include it', () => {
  const fakeQuant = (x: number[], min: number, max: number) =>
    fold((b) => {
      b.constF32('x', [x.length], x)
      b.op('out', 'FakeQuantWithMinMaxArgs', ['x'], { min: attr.f(min), max: attr.f(max), num_bits: attr.i(8) })
    })?.data

  it('all positive, [0.5, 2]: to [0, 1.5]', () => {
    const x = [0, 0.2, 0.71, 1.3, 1.8]
    const got = fakeQuant(x, 0.5, 2)
    closeTo(got, x.map((v) => fakeQuant64(v, 0.5, 2, 8, false)))
    expect(got?.at(-1)).toBeCloseTo(1.5, 6)
  })

  it('all negative, [-2, -0.5]: to [-1.5, 0]', () => {
    const x = [-2, -1.8, -0.71, -0.2, 0.3]
    const got = fakeQuant(x, -2, -0.5)
    closeTo(got, x.map((v) => fakeQuant64(v, -2, -0.5, 8, false)))
    expect(got?.[0]).toBeCloseTo(-1.5, 6)
    expect(got?.at(-1)).toBe(0)
  })
})

