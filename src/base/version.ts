import fs from 'node:fs'

/** Bump when the converter's output changes for the same input and options. */
const CONVERTER_REVISION = 2

/** The package's version, from its package.json. */
export function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return '0.0.0'
  }
}

const VERSION = packageVersion()
/** Part of every cache key. */
export const CONVERTER_VERSION = `${VERSION}+r${CONVERTER_REVISION}`
