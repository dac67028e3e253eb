/**
 * A module under src/ exports only what another module uses: src/, test/, bench/, scripts/
 * or playground/ import it, or it is public API (a file package.json "exports" maps to).
 * What only its own module uses stays private to that module.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const REPO = fileURLToPath(new URL('../', import.meta.url))
const SCANNED = ['src', 'test', 'bench', 'scripts', 'playground/src']
const CODE = /\.(?:ts|mts|js|mjs)$/

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : walk(p)
    return CODE.test(e.name) ? [p] : []
  })
}

/** The modules package.json "exports" maps to, as repository paths under src/. */
function publicEntries(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'))
  const targets: string[] = []
  for (const entry of Object.values<unknown>(pkg.exports)) {
    const t = typeof entry === 'string' ? entry : (entry as { default?: string }).default
    if (t?.startsWith('./dist/')) targets.push(t.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'))
  }
  return targets
}

/**
 * Every `<module> : <name>` exported by a module under src/ that no other file imports.
 * `files` maps repository paths (a/b.ts) to their text.
 */
function unusedExports(files: ReadonlyMap<string, string>, entries: readonly string[]): string[] {
  const modules = [...files.keys()].filter((f) => f.startsWith('src/') && !f.endsWith('.d.ts') && /\.ts$/.test(f))
  const byRel = new Map(modules.map((m) => [m.slice('src/'.length).replace(/\.ts$/, ''), m]))

  /** The src module a specifier names: relative to the file, or a path through src/ or dist/, or a bare 'io/read.js'. */
  function target(spec: string, from: string): string | undefined {
    const rel = spec.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)) : spec
    const m = /^(?:.*?\/)?(?:(?:src|dist)\/)?([\w./-]+?)\.(?:js|ts|mjs)$/.exec(rel)
    if (!m) return undefined
    const inside = /(?:^|\/)(?:src|dist)\/(.+)\.(?:js|ts|mjs)$/.exec(rel)
    return byRel.get(inside ? inside[1] : m[1])
  }

  const exported = new Map<string, Set<string>>() // module -> names
  const used = new Map<string, Set<string>>() // module -> names other files use
  const use = (m: string, name: string) => (used.get(m) ?? used.set(m, new Set()).get(m)!).add(name)

  for (const [file, text] of files) {
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
    const identifiers = new Set<string>()
    const precise = new Set<ts.Node>() // string literals already read as a static import or export
    const opaque = new Set<string>() // modules named in a way read here only by the names the file mentions
    const namespaces = new Map<string, string>() // `import * as ns` -> module

    if (modules.includes(file)) exported.set(file, new Set(ownExports(sf)))

    const visit = (node: ts.Node): void => {
      if (ts.isIdentifier(node)) identifiers.add(node.text)
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        precise.add(node.moduleSpecifier)
        const m = target(node.moduleSpecifier.text, file)
        if (m && m !== file) {
          if (ts.isImportDeclaration(node)) {
            const clause = node.importClause
            if (clause?.name) use(m, 'default')
            const b = clause?.namedBindings
            if (b && ts.isNamedImports(b)) for (const e of b.elements) use(m, (e.propertyName ?? e.name).text)
            if (b && ts.isNamespaceImport(b)) namespaces.set(b.name.text, m)
          } else if (node.exportClause && ts.isNamedExports(node.exportClause)) {
            for (const e of node.exportClause.elements) use(m, (e.propertyName ?? e.name).text)
          } else opaque.add(m) // export * from
        }
      }
      if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
        const m = target(node.argument.literal.text, file)
        if (m && m !== file && node.qualifier) {
          precise.add(node.argument.literal)
          let q: ts.EntityName = node.qualifier
          while (ts.isQualifiedName(q)) q = q.left
          use(m, q.text)
        }
      }
      if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && namespaces.has(node.expression.text)) {
        use(namespaces.get(node.expression.text)!, node.name.text)
      }
      if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && !precise.has(node)) {
        const m = target(node.text, file)
        if (m && m !== file) opaque.add(m)
      }
      ts.forEachChild(node, visit)
    }
    visit(sf)
    // A dynamic import, a `typeof import(...)` or a path built at run time: the names the file mentions.
    for (const m of opaque) for (const id of identifiers) use(m, id)
  }

  const out: string[] = []
  for (const [m, names] of exported) {
    if (entries.includes(m)) continue
    for (const name of names) if (!used.get(m)?.has(name)) out.push(`${m.slice('src/'.length)}: ${name}`)
  }
  return out.sort()
}

/** The names a module exports from its own top-level statements. */
function ownExports(sf: ts.SourceFile): string[] {
  const names: string[] = []
  const bound = (n: ts.BindingName): void => {
    if (ts.isIdentifier(n)) names.push(n.text)
    else for (const e of n.elements) if (!ts.isOmittedExpression(e)) bound(e.name)
  }
  for (const s of sf.statements) {
    if (ts.isExportAssignment(s)) names.push('default')
    if (ts.isExportDeclaration(s) && s.exportClause && ts.isNamedExports(s.exportClause)) {
      for (const e of s.exportClause.elements) names.push(e.name.text)
    }
    const mods = ts.canHaveModifiers(s) ? ts.getModifiers(s) : undefined
    if (!mods?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue
    if (mods.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword)) names.push('default')
    else if (ts.isVariableStatement(s)) for (const d of s.declarationList.declarations) bound(d.name)
    else if ('name' in s && s.name && ts.isIdentifier(s.name as ts.Node)) names.push((s.name as ts.Identifier).text)
  }
  return names
}

function repoFiles(): Map<string, string> {
  const files = new Map<string, string>()
  for (const dir of SCANNED) {
    for (const f of walk(path.join(REPO, dir))) files.set(path.relative(REPO, f).split(path.sep).join('/'), fs.readFileSync(f, 'utf8'))
  }
  return files
}

describe('exports', () => {
  it('every export of a src/ module is imported by another module, a test, the bench or a script, or is public API', () => {
    expect(unusedExports(repoFiles(), publicEntries())).toEqual([])
  })

  it('the check names an export only its own module uses, and counts named, namespace, type and dynamic imports as uses', () => {
    const files = new Map([
      ['src/a/lib.ts', 'export function lonely() {}\nexport function named() { lonely() }\nexport const ns = 1, [typed] = [2]\nexport interface Dyn {}\nexport type Unused = 1\n'],
      ['src/a/entry.ts', 'export function api() {}\n'],
      ['src/b/user.ts', "import { named as n } from '../a/lib.js'\nimport * as lib from '../a/lib.js'\nn(); lib.ns\n"],
      ['test/t.test.ts', "type T = import('../src/a/lib.js').typed\nconst m = await import('../src/a/lib.js'); let d: m.Dyn\n"],
    ])
    expect(unusedExports(files, ['src/a/entry.ts'])).toEqual(['a/lib.ts: Unused', 'a/lib.ts: lonely'])
  })
})
