/**
 * One error type for every way a model can be refused. The message is one line:
 * `<file>: node "<node>": <problem>. <what to do>`, so that bundlers and the CLI can
 * show it as it is, with no stack trace.
 */
export class MpscnnError extends Error {
  override readonly name = 'MpscnnError'
  /** Path of the model file the error is about. */
  readonly file: string
  /** TensorFlow node name, when the problem belongs to one node. */
  readonly node?: string
  /** A stable machine-readable code, listed in the README. */
  readonly code: string

  constructor(code: string, file: string, problem: string, options: { node?: string; hint?: string } = {}) {
    const where = options.node !== undefined ? `${file}: node ${JSON.stringify(options.node)}: ` : `${file}: `
    super(where + problem + (options.hint ? `. ${options.hint}` : ''))
    this.code = code
    this.file = file
    this.node = options.node
  }
}

/** An MpscnnError as plain data, to cross from a worker thread. */
export interface SerializedMpscnnError {
  code: string
  file: string
  node?: string
  message: string
}

export function serializeError(e: MpscnnError): SerializedMpscnnError {
  return { code: e.code, file: e.file, node: e.node, message: e.message }
}

/** The same error again on this side, with the same one-line message. */
export function deserializeError(s: SerializedMpscnnError): MpscnnError {
  const e = new MpscnnError(s.code, s.file, '', { node: s.node })
  e.message = s.message
  return e
}

export function isMpscnnError(e: unknown): e is MpscnnError {
  return e instanceof MpscnnError
}
