/**
 * The CLI's output folder. A run writes its output into `<out>.tmp-<pid>`, then renames
 * `<out>` to `<out>.old-<pid>`, its new folder to `<out>`, and removes the old one.
 *
 * - It replaces only a folder it wrote itself (its manifest.json and the files that
 *   names, nothing else) or an empty one. It refuses any other folder, and the current
 *   folder, the model's folder, a folder above either, and the root.
 * - Before it writes, it recovers what killed runs left beside `<out>`: a run killed
 *   between its two renames has its swap finished (when its new folder is whole) or its
 *   old output put back; then their `.tmp-<pid>` and `.old-<pid>` folders are removed.
 *   Those of a run still going are left alone.
 */
import fs from 'node:fs'
import path from 'node:path'
import { modelStem } from '../emit/assets.js'
import { MpscnnError } from '../base/errors.js'
import { formatNames } from '../base/format.js'
import { isRunning, pidOf } from '../base/pid.js'

const MANIFEST = 'manifest.json'

function leftover(outDir: string, kind: 'tmp' | 'old', pid = process.pid): string {
  return `${outDir}.${kind}-${pid}`
}

/** Where this process writes its output before renaming it to `outDir`. */
export function tmpDirFor(outDir: string): string {
  return leftover(outDir, 'tmp')
}

function exists(p: string): boolean {
  try {
    fs.lstatSync(p)
    return true
  } catch {
    return false
  }
}

/** The files `dir/manifest.json` names, each with the size it has at least; undefined when there is no such manifest. */
function namedFiles(dir: string): Map<string, number> | undefined {
  let m: { sha256?: unknown; layers?: unknown }
  try {
    m = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8'))
  } catch {
    return undefined
  }
  if (!m || typeof m.sha256 !== 'string' || !Array.isArray(m.layers)) return undefined
  const files = new Map<string, number>()
  for (const l of m.layers) {
    for (const t of [l?.weights, l?.bias]) {
      const end = t?.offset + t?.byteLength
      if (typeof t?.file !== 'string' || path.basename(t.file) !== t.file || t.file === MANIFEST || !Number.isSafeInteger(end)) return undefined
      files.set(t.file, Math.max(files.get(t.file) ?? 0, end))
    }
  }
  return files
}

/**
 * Why the CLI may not replace `dir`; undefined when it may: `dir` does not exist, is
 * empty, or holds its manifest.json and the files that names, nothing else.
 */
function notOurs(dir: string): string | undefined {
  let entries: fs.Dirent[]
  try {
    const st = fs.lstatSync(dir)
    if (!st.isDirectory()) return `is a ${st.isSymbolicLink() ? 'link' : 'file'}, not a folder`
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
  const named = namedFiles(dir)
  const others = entries.filter((e) => !(named && e.isFile() && (e.name === MANIFEST || named.has(e.name)))).map((e) => e.name)
  return others.length ? `holds ${formatNames(others)}, which mpscnn did not write` : undefined
}

/** Is `dir` a whole output: its manifest, every file that names at its full size, and nothing else? */
function isWhole(dir: string): boolean {
  const named = namedFiles(dir)
  if (!named || notOurs(dir) !== undefined) return false
  for (const [name, size] of named) {
    try {
      if (fs.statSync(path.join(dir, name)).size < size) return false
    } catch {
      return false
    }
  }
  return true
}

function realPath(p: string): string {
  try {
    return fs.realpathSync(p)
  } catch {
    return path.resolve(p)
  }
}

function isWithin(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

/** Why `outDir` can never be an output folder (replacing it would take other files with it), or undefined. */
function unsafe(outDir: string, model: string): string | undefined {
  const out = realPath(outDir)
  if (path.dirname(out) === out) return 'it is the root folder'
  if (isWithin(realPath(process.cwd()), out)) return 'it is the current folder or above it'
  const given = path.resolve(model)
  const modelPaths = [realPath(given), path.join(realPath(path.dirname(given)), path.basename(given))]
  if (modelPaths.some((m) => isWithin(m, out))) return "it is the model's folder or above it"
  return undefined
}

function refuseUnlessOurs(outDir: string, shown: string): void {
  const why = notOurs(outDir)
  if (why) throw new MpscnnError('OUT_DIR_NOT_OURS', shown, `the output folder ${why}; mpscnn replaces only a folder it wrote itself`, { hint: 'Choose a new or empty folder, or move those files out' })
}

/**
 * Recovers what runs killed while writing `outDir` left beside it: their swap finished or
 * their old output put back, then their temporary and old folders removed.
 */
function recover(outDir: string): void {
  const prefix = `${path.basename(outDir)}.`
  let names: string[]
  try {
    names = fs.readdirSync(path.dirname(outDir))
  } catch {
    return
  }
  const pids = new Set<number>()
  for (const name of names) {
    const m = name.startsWith(prefix) ? /^(?:tmp|old)-(\d+)$/.exec(name.slice(prefix.length)) : null
    const pid = m ? pidOf(m[1]) : undefined
    // This process has written nothing yet: leftovers with its PID are from a killed
    // process that had it before (every run in a container may have the same PID).
    if (pid !== undefined && (pid === process.pid || !isRunning(pid))) pids.add(pid)
  }
  for (const pid of pids) {
    const tmp = leftover(outDir, 'tmp', pid)
    const old = leftover(outDir, 'old', pid)
    // Killed between its two renames: its new output goes into place if it is whole
    // (its manifest is written last), else its old output comes back.
    if (exists(old) && !exists(outDir)) fs.renameSync(isWhole(tmp) ? tmp : old, outDir)
    fs.rmSync(tmp, { recursive: true, force: true })
    fs.rmSync(old, { recursive: true, force: true })
  }
}

/**
 * Before a conversion: refuses an output folder the CLI may not replace (`shown` is how
 * the user named it), after recovering what killed runs left beside it.
 */
export function prepareOutDir(outDir: string, shown: string, model: string): void {
  const why = unsafe(outDir, model)
  if (why) throw new MpscnnError('OUT_DIR_UNSAFE', shown, `cannot be the output folder: ${why}, and mpscnn replaces its output folder whole`, { hint: `Choose a folder of its own, such as --out-dir ${modelStem(model)}-mpscnn` })
  recover(outDir)
  refuseUnlessOurs(outDir, shown)
}

/** Replaces `outDir` by the folder `tmp`, keeping the old output until the new one is in place. */
export function swapInto(tmp: string, outDir: string, shown: string): void {
  refuseUnlessOurs(outDir, shown) // again: files may have appeared in it during the conversion
  let old: string | undefined
  if (exists(outDir)) {
    old = leftover(outDir, 'old')
    fs.renameSync(outDir, old)
  }
  try {
    fs.renameSync(tmp, outDir)
  } catch (e) {
    if (old) fs.renameSync(old, outDir)
    throw e
  }
  if (old) fs.rmSync(old, { recursive: true, force: true })
}
