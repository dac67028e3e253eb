/**
 * Mutation testing (`npm run mutation`): StrykerJS changes one operator, condition or literal at a
 * time in the modules below and runs the unit tests that cover it; a mutant no test notices
 * "survives". The modules run as separate parts (MUTATION_PART=emit|cache|graphdef|fold), each
 * with its own incremental file and report, so that a run re-tests only the parts whose code or
 * tests changed and a part's results survive an interrupted run of another.
 * scripts/mutation-report.mjs merges the parts' JSON reports into docs/mutation.md.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
const PARTS = {
  emit: ['src/emit/**/*.ts'],
  cache: ['src/io/cache.ts'],
  graphdef: ['src/graphdef/**/*.ts'],
  fold: ['src/fold/**/*.ts', '!src/fold/wasm/*-wasm.ts'],
}
const part = process.env.MUTATION_PART ?? 'all'
if (part !== 'all' && !(part in PARTS)) throw new Error(`MUTATION_PART=${part}: expected one of ${Object.keys(PARTS).join(', ')}`)

export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  // Only the fast unit tests that import src/ (see that file for why).
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: part === 'all' ? Object.values(PARTS).flat() : PARTS[part],
  // String literals are not mutated: in these modules they are mostly error messages and hints
  // (errors.test.ts pins each error's code and key words), a third of all mutants, each one a run.
  mutator: { excludedMutations: ['StringLiteral'] },
  coverageAnalysis: 'perTest',
  // A static mutant is code run when its module loads: the protobuf schema tables, the constant
  // folder's op tables, module constants. A switch flipped before each test cannot reach it, so
  // Stryker runs it with every unit test, each module loaded afresh (test/helpers/mutation-setup.ts). Ignoring static mutants
  // (ignoreStatic) is faster, but it also sends "hybrid" ones (load-time code some test also
  // covers, such as an arrow function in an op table) down the runtime switch, where they always
  // survive: a wrong Rsqrt in the table that every batch-norm test would catch was listed undetected.
  ignoreStatic: false,
  // Re-tests only mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: `reports/stryker-incremental-${part}.json`,
  concurrency: 2,
  // An infinite loop's mutant is a timeout (detected) after its covering tests' time x 1.5 plus this:
  // generous, because on a busy machine a tight margin turns slow runs into false timeouts.
  timeoutMS: 5000,
  // The project's target is 85%; below it the report says so (break: null lets the report be written).
  thresholds: { high: 90, low: 85, break: null },
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${part}.html` },
  jsonReporter: { fileName: `reports/mutation/${part}.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: false },
  tempDirName: '.stryker-tmp',
  // vitest strips types without checking them, and simd.test.ts compares the generated wasm module byte for byte.
  disableTypeChecks: false,
  ignorePatterns: ['dist', 'bench', 'playground', 'docs', 'reports', 'coverage', '.cache', 'test/.tmp', 'test/artifacts'],
}
