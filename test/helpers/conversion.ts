/**
 * A model converted as the CLI converts it: every file and `manifest.json` written to a
 * folder, the manifest loaded back with the runtime's `loadManifest` (so that its tensors
 * load from the files, as the executor and `mpscnn verify --assets` read them).
 */
import fs from 'node:fs'
import path from 'node:path'
import type { MpscnnManifest } from '../../src/base/manifest-types.js'
import { manifestJson } from '../../src/emit/manifest.js'
import type { Precision } from '../../src/fold/convert.js'
import { convertToAssets } from '../../src/pipeline/convert-to-assets.js'
import { loadManifest } from '../../src/runtime.js'

export interface FolderOptions {
  /** The model's file name. @default 'case.pb' */
  file?: string
  /** @default 'float32' */
  precision?: Precision
  /** @default false */
  packed?: boolean
}

/** Converts `bytes` into `dir` (created if needed) and loads its manifest back. */
export async function convertToFolder(bytes: Uint8Array, dir: string, o: FolderOptions = {}): Promise<MpscnnManifest> {
  fs.mkdirSync(dir, { recursive: true })
  const assets = convertToAssets({ bytes, sha256: null }, o.file ?? 'case.pb', { packed: o.packed ?? false, align: 256, precision: o.precision ?? 'float32' })
  for (const [name, data] of assets.files) fs.writeFileSync(path.join(dir, name), data)
  fs.writeFileSync(path.join(dir, 'manifest.json'), manifestJson(assets.header, assets.plan, assets.network))
  return loadManifest(path.join(dir, 'manifest.json'))
}
