/**
 * Recognises what a file is before it is decoded, so that the common mistakes get
 * an error that says what the file is rather than "invalid wire type".
 */
import { MpscnnError } from '../base/errors.js'

const LFS_PREFIX = 'version https://git-lfs.github.com/spec/'

type Sniffed = 'binary' | 'text'

function startsWith(bytes: Uint8Array, prefix: string): boolean {
  if (bytes.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix.charCodeAt(i)) return false
  return true
}

/** Is the whole (leading part of the) buffer printable ASCII/UTF-8 text? */
function looksLikeText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 4096)
  for (let i = 0; i < n; i++) {
    const b = bytes[i]
    if (b === 9 || b === 10 || b === 13) continue
    if (b < 32 || b === 127) return false
  }
  return true
}

/**
 * Refuses files that are not GraphDefs with one clear error, and tells binary from
 * text format. `file` is only used in messages.
 */
export function sniffModel(bytes: Uint8Array, file: string): Sniffed {
  if (bytes.length === 0) {
    throw new MpscnnError('EMPTY', file, 'the file is empty', { hint: 'Export the frozen GraphDef again' })
  }
  if (startsWith(bytes, LFS_PREFIX)) {
    throw new MpscnnError('LFS_POINTER', file, 'this is a Git LFS pointer file, not the model', {
      hint: 'Run `git lfs pull` to fetch the real file',
    })
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    throw new MpscnnError('NOT_GRAPHDEF', file, 'this is a JPEG image, not a TensorFlow GraphDef', {
      hint: 'Point the import at the frozen .pb model',
    })
  }
  if (startsWith(bytes, '\x89PNG')) {
    throw new MpscnnError('NOT_GRAPHDEF', file, 'this is a PNG image, not a TensorFlow GraphDef', {
      hint: 'Point the import at the frozen .pb model',
    })
  }
  if (startsWith(bytes, 'PK\x03\x04') || (bytes[0] === 0x1f && bytes[1] === 0x8b)) {
    throw new MpscnnError('NOT_GRAPHDEF', file, 'this is a compressed archive, not a TensorFlow GraphDef', {
      hint: 'Extract the frozen .pb model from it first',
    })
  }
  if (bytes[0] === 0x7b /* { */ || bytes[0] === 0x5b /* [ */) {
    if (looksLikeText(bytes)) {
      throw new MpscnnError('NOT_GRAPHDEF', file, 'this is a JSON file, not a TensorFlow GraphDef', {
        hint: 'Convert a frozen GraphDef (.pb or .pbtxt); tfjs model.json files are not supported',
      })
    }
  }
  if (isHtml(bytes)) {
    throw new MpscnnError('NOT_GRAPHDEF', file, 'this is an HTML page, not a TensorFlow GraphDef', {
      hint: 'It was saved from a web page (a download page, an error page or a Git host\'s file view): download the raw .pb file',
    })
  }
  if (!looksLikeText(bytes)) return 'binary'
  // Printable through and through: a binary GraphDef would have a tag byte below 32 within
  // its first bytes, its first byte being a tag, 0x0a for a node ("\n": a cut one stays binary).
  const plainText = !startsLikeTextFormat(bytes) && bytes.length >= 4 && bytes[0] !== 0x0a
  const first = firstWord(bytes)
  if (plainText || (first !== undefined && !GRAPHDEF_TEXT_FIELDS.has(first))) {
    throw new MpscnnError('NOT_GRAPHDEF', file, `this is a text file, not a GraphDef (it starts with ${JSON.stringify(firstLine(bytes))})`, {
      hint: 'Point it at a frozen GraphDef: a binary .pb, or a .pbtxt written by tf.io.write_graph(..., as_text=True)',
    })
  }
  return startsLikeTextFormat(bytes) ? 'text' : 'binary'
}

/** Where the text starts: after a UTF-8 byte order mark and whitespace. */
function textStart(bytes: Uint8Array): number {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  while (i < bytes.length && (bytes[i] === 32 || bytes[i] === 9 || bytes[i] === 10 || bytes[i] === 13)) i++
  return i
}

/** `<!DOCTYPE html`, `<html` (any case), after a byte order mark and whitespace. */
function isHtml(bytes: Uint8Array): boolean {
  const i = textStart(bytes)
  const head = new TextDecoder().decode(bytes.subarray(i, i + 14)).toLowerCase()
  return head.startsWith('<!doctype html') || /^<html[\s>]/.test(head) || head === '<html'
}

/** The fields a text-format GraphDef can start with. */
const GRAPHDEF_TEXT_FIELDS = new Set(['node', 'versions', 'library', 'version', 'debug_info'])

/** The identifier text format starts with, or undefined when it starts with a comment or `[extension]`. */
function firstWord(bytes: Uint8Array): string | undefined {
  const i = textStart(bytes)
  const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(new TextDecoder().decode(bytes.subarray(i, i + 64)))
  return m?.[0]
}

/** The first line of text, cut at 30 characters, for a message. */
function firstLine(bytes: Uint8Array): string {
  const i = textStart(bytes)
  const line = new TextDecoder().decode(bytes.subarray(i, i + 120)).split(/\r?\n/)[0].trimEnd()
  return line.length > 30 ? `${line.slice(0, 30)} ...` : line
}

/** The error for bytes that cannot be a binary GraphDef's protobuf encoding. */
export function notProtobuf(file: string, at: number, why: string): MpscnnError {
  return new MpscnnError('NOT_PROTOBUF', file, `not a TensorFlow GraphDef: ${why} at byte ${at}`, {
    hint: 'Point the import at a frozen GraphDef (.pb or .pbtxt)',
  })
}

/** How many leading bytes `sniffHead` looks at. */
export const HEAD_BYTES = 4096

/**
 * `sniffModel` on the first bytes of a file (`HEAD_BYTES` or fewer) before the rest is read:
 * also refuses a binary file whose first field cannot begin a protobuf (a file of zeros),
 * so that a 1 GB file of garbage is refused without being read. `path` tells `.pbtxt`.
 */
export function sniffHead(head: Uint8Array, file: string, path = file): void {
  if (sniffModel(head, file) === 'text' || /\.pbtxt$/i.test(path)) return
  let key = 0
  let mul = 1
  for (let i = 0; ; i++) {
    if (i >= head.length || i >= 10) return // the full decode tells truncated from too long
    key += (head[i] & 0x7f) * mul
    if (head[i] < 0x80) break
    mul *= 128
  }
  const wire = key % 8
  if (key < 8) throw notProtobuf(file, 0, 'field number 0')
  if (wire !== 0 && wire !== 1 && wire !== 2 && wire !== 5) throw notProtobuf(file, 0, `wire type ${wire}`)
}

/**
 * Text format begins, after whitespace, with a field name, a comment or an extension
 * name; a binary GraphDef begins with 0x0a and a length, which may be printable for a
 * couple of bytes ("\n2\n" is a binary file cut after 3 bytes, not text).
 */
function startsLikeTextFormat(bytes: Uint8Array): boolean {
  const i = textStart(bytes)
  if (i === bytes.length) return false
  const c = bytes[i]
  return c === 0x23 || c === 0x5b || c === 0x5f || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
}
