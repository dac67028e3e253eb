/**
 * What `sniffModel` and `sniffHead` (src/graphdef/sniff.ts) make of a file's first bytes: the
 * exact signatures of the files people import by mistake (JPEG FF D8 FF, gzip 1F 8B, zip, PNG,
 * JSON), which bytes count as text, where text starts (a UTF-8 byte order mark EF BB BF, then
 * whitespace), and the first protobuf key of a binary file (varint, field number >= 1, wire types
 * 0, 1, 2 and 5: the protobuf encoding spec).
 */
import { describe, expect, it } from 'vitest'
import { sniffHead, sniffModel } from '../src/graphdef/sniff.js'
import { bytes, concatBytes } from './helpers/graph-builder.js'
import { expectRefusal } from './helpers/refusal.js'

const sniff = (b: Uint8Array | string) => sniffModel(typeof b === 'string' ? bytes(b) : b, 'm.pb')
const refused = (b: Uint8Array | string, says: RegExp[], code = 'NOT_GRAPHDEF') => expectRefusal(() => sniff(b), code, 'm.pb', says)

describe('file signatures', () => {
  it('JPEG is FF D8 FF: two of those three bytes are not a JPEG', () => {
    refused(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0), [/JPEG image/])
    for (const b of [[0xff, 0xd8, 0x00], [0xff, 0x00, 0xff], [0x00, 0xd8, 0xff], [0x00, 0x00, 0xff]]) {
      expect(sniff(Uint8Array.from(b)), b.join(' ')).toBe('binary')
    }
  })

  it('gzip is 1F 8B', () => {
    refused(Uint8Array.of(0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0), [/compressed archive/, /Extract the frozen \.pb model/])
    expect(sniff(Uint8Array.of(0x1f, 0x00, 0x08))).toBe('binary')
    // A GraphDef whose first node takes 139 bytes starts 0A 8B 01: its second byte is gzip's.
    expect(sniff(Uint8Array.of(0x0a, 0x8b, 0x01, 0x0a, 0x03))).toBe('binary')
  })

  it('a file that is the signature and nothing more is still recognised', () => {
    refused('PK\x03\x04', [/compressed archive/])
    refused(Uint8Array.of(0x89, 0x50, 0x4e, 0x47), [/PNG image/])
  })

  it('JSON (a tfjs model.json) is named as such, but only when it is text', () => {
    const hint = /tfjs model\.json files are not supported/
    refused('{"format": "graph-model", "modelTopology": {}}', [/this is a JSON file, not a TensorFlow GraphDef/, hint])
    refused('[{"paths": ["group1-shard1of1.bin"]}]', [/JSON file/, hint])
    // "{" (0x7b) is also field 15, wire type 3 in binary: a control byte makes it binary.
    expect(sniff(Uint8Array.of(0x7b, 0x00, 0x01))).toBe('binary')
  })
})

describe('what counts as text', () => {
  it('tab and carriage return are text, DEL (127) is not', () => {
    refused('{\t"a": 1}', [/JSON file/])
    refused('{"a": 1}\r\n', [/JSON file/])
    expect(sniff('{"a"\x7f: 1}')).toBe('binary')
  })

  it('only the first 4096 bytes are looked at, the same as sniffHead sees', () => {
    for (const at of [4096, 4500]) {
      const file = bytes(`{"weights": "${'a'.repeat(5000)}"}`)
      file[at] = 0
      refused(file, [/JSON file/])
    }
    const file = bytes(`{"weights": "${'a'.repeat(5000)}"}`)
    file[4095] = 0
    expect(sniff(file)).toBe('binary')
  })

  it('fewer than 4 printable bytes are left to the decoder, 4 that cannot start text format are refused', () => {
    expect(sniff('123')).toBe('binary')
    refused('1234', [/text file, not a GraphDef \(it starts with "1234"\)/])
  })

  it('a binary GraphDef cut where its first bytes happen to be printable stays binary', () => {
    // 0A 31: node, 49 bytes; 0A 28: its name, 40 bytes.
    expect(sniff(concatBytes([Uint8Array.of(0x0a, 0x31, 0x0a, 0x28), bytes('x'.repeat(20))]))).toBe('binary')
    expect(sniff(Uint8Array.of(0x0a, 0x31, 0x0a, 0x28))).toBe('binary')
  })
})

describe('where text starts', () => {
  it('a leading tab is whitespace: an HTML page after one is named', () => {
    refused('\t<!DOCTYPE html>\n<html></html>', [/HTML page/])
    refused('\t\r\n<html>\n</html>', [/HTML page/])
    // A page cut after its first five bytes.
    refused('<html', [/HTML page/])
    refused(' <HTML', [/HTML page/])
  })

  it('only the whole byte order mark EF BB BF is skipped', () => {
    refused(concatBytes([Uint8Array.of(0xef, 0xbb, 0xbf), bytes('<html>')]), [/HTML page/])
    for (const head of [[0xef, 0xbb, 0x0a], [0xef, 0x41, 0xbf], [0x41, 0x41, 0xbf]]) {
      refused(concatBytes([Uint8Array.from(head), bytes('<html>\n</html>\n')]), [/this is a text file/])
    }
  })

  it('<html counts only at the start: a comment mentioning it is text format', () => {
    expect(sniff('# <html> page\nnode { name: "a" op: "NoOp" }\n')).toBe('text')
  })

  it('an [extension] name after whitespace starts text format', () => {
    expect(sniff(' [tensorflow.ext] { }\nnode { name: "a" }\n')).toBe('text')
  })

  it('text whose first character is no letter, "_", "#" or "[" is not text format', () => {
    refused('~~~~ notes', [/text file.*"~~~~ notes"/])
    refused('\u00e9t\u00e9 2016: le mod\u00e8le', [/text file/])
    refused('{{ template }}', [/JSON file/])
  })
})

describe('the quoted first line', () => {
  it('drops trailing spaces, keeps 30 characters whole and cuts longer lines', () => {
    refused('hello world   \nmore', [/\(it starts with "hello world"\)/])
    const thirty = 'Model card: Inception v3 (2015'
    expect(thirty).toHaveLength(30)
    refused(`${thirty}\n`, [new RegExp(`\\(it starts with "${thirty.replace(/[()]/g, '\\$&')}"\\)`)])
    refused(`${thirty})\n`, [/\(it starts with "Model card: Inception v3 \(2015 \.\.\."\)/])
  })
})

describe('sniffHead: the first key of a binary file', () => {
  const head = (...b: number[]) => Uint8Array.from([...b, 0x00, 0x00])
  const noProtobuf = (h: Uint8Array, why: RegExp, path = 'm.pb') =>
    expectRefusal(() => sniffHead(h, 'm.pb', path), 'NOT_PROTOBUF', 'm.pb', [why, /at byte 0/])

  it('accepts wire types 0, 1, 2 and 5 and refuses 3, 4, 6 and 7', () => {
    for (const wire of [0, 1, 2, 5]) expect(() => sniffHead(head(0x08 | wire), 'm.pb')).not.toThrow()
    for (const wire of [3, 4, 6, 7]) noProtobuf(head(0x08 | wire), new RegExp(`wire type ${wire}`))
  })

  it('refuses field number 0 and accepts field 1', () => {
    noProtobuf(new Uint8Array(4096), /field number 0/)
    noProtobuf(head(0x02), /field number 0/)
    expect(() => sniffHead(head(0x08, 0x01), 'm.pb')).not.toThrow()
  })

  it('reads a key of several varint bytes, low group first', () => {
    // 80 01 = 128: field 16, wire type 0. 82 01 = 130: field 16, wire type 2. 83 01: wire type 3.
    expect(() => sniffHead(head(0x80, 0x01), 'm.pb')).not.toThrow()
    expect(() => sniffHead(head(0x82, 0x01), 'm.pb')).not.toThrow()
    expect(() => sniffHead(head(0xd2, 0x85, 0x01), 'm.pb')).not.toThrow() // 17106: field 2138, wire 2
    noProtobuf(head(0x83, 0x01), /wire type 3/)
    noProtobuf(head(0x80, 0x00), /field number 0/)
  })

  it('leaves a key still running at the end of the head, or past 10 bytes, to the full decode', () => {
    expect(() => sniffHead(Uint8Array.of(0x80, 0x80), 'm.pb')).not.toThrow()
    expect(() => sniffHead(Uint8Array.from([...new Uint8Array(12).fill(0x80), 0x00]), 'm.pb')).not.toThrow()
  })

  it('a text-format head is not read as a key, whatever the file is called', () => {
    // "n" (0x6e) as a key would be field 13, wire type 6.
    expect(() => sniffHead(bytes('node { name: "a" }\n'), 'm.pb')).not.toThrow()
  })

  it('a .pbtxt path (any case) is left to the text parser; only a name ending in .pbtxt', () => {
    const zeros = new Uint8Array(64)
    expect(() => sniffHead(zeros, 'm.pbtxt', 'models/m.pbtxt')).not.toThrow()
    expect(() => sniffHead(zeros, 'M.PBTXT', 'models/M.PBTXT')).not.toThrow()
    noProtobuf(zeros, /field number 0/, 'models/m.pbtxt.pb')
  })
})
