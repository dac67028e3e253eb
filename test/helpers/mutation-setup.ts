/**
 * Set up for `npm run mutation` only (vitest.mutation.config.ts). Stryker runs every test that
 * covers a mutant for each surviving one, with the code instrumented, where these stress tests
 * take 5 to 20 times longer than in `npm test`: they are left out of mutation runs (npm test runs
 * them), and the behaviour they cover at size is covered by small tests in the same files.
 */
import { beforeEach } from 'vitest'

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
