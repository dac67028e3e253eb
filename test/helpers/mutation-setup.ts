/**
 * Set up for `npm run mutation` only (vitest.mutation.config.ts). Stryker runs every test that
 * covers a mutant for each surviving one, with the code instrumented, where these stress tests
 * take 5 to 20 times longer than in `npm test`: they are left out of mutation runs (npm test runs
 * them), and the behaviour they cover at size is covered by small tests in the same files.
 */
import { beforeEach, inject, vi } from 'vitest'

const LEFT_OUT = new Set([
  'parses 20 MB of escaped tensor_content and 20,000 nodes intact, growing its string buffer a logarithmic number of times',
  'throws only PBTXT_SYNTAX errors on mangled input',
  'a whole Inception v3 graph',
  'the shared inception_v3_2015_mini.pb (skipped without ../shared)',
  'hostile input that converts: the same with --max-expansion 1000000: converts',
])

beforeEach((context) => {
  if (LEFT_OUT.has(context.task.name)) context.skip()
})

// A static mutant (code run when its module loads) is switched on before this file runs
// (Stryker's own setup file goes first). The mutation config shares loaded modules between test
// files and runs (isolate: false), so a module loaded by an earlier run would keep its unmutated
// tables: for such a run every module is loaded afresh. Runtime mutants, switched on per test,
// keep the shared modules. `mode` and `mutantActivation` are what Stryker's vitest runner provides.
const stryker = inject as unknown as (key: string) => unknown
if (stryker('mode') === 'mutant' && stryker('mutantActivation') === 'static') vi.resetModules()
