/**
 * The protobufjs reflection of the schema (src/graphdef/schema.ts `reflection`) is built on first
 * use and then kept. The module is imported afresh (a query makes it a new instance), so that
 * "first use" is this test's, not that of whichever test file ran before in the same worker.
 */
import { expect, it } from 'vitest'

it('reflection() builds the GraphDef type on first use and returns the same one after', async () => {
  const fresh = (await import('../src/graphdef/schema.js?first-use' as string)) as typeof import('../src/graphdef/schema.js')
  const r = fresh.reflection()
  expect(r.GraphDefType.fullName).toBe('.tensorflow.GraphDef')
  expect(Object.keys(r.GraphDefType.fields).sort()).toEqual(['node', 'version', 'versions'])
  expect(fresh.reflection()).toBe(r)
})
