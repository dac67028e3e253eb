/**
 * Mutation testing (`npm run mutation`): StrykerJS changes one operator, condition or literal at a
 * time in the modules below and runs the unit tests that cover it; a mutant no test notices
 * "survives". scripts/mutation-report.mjs turns the JSON report into docs/mutation.md.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  // Only the fast unit tests that import src/ (see that file for why).
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: ['src/fold/**/*.ts', '!src/fold/wasm/transpose-wasm.ts', 'src/graphdef/**/*.ts', 'src/emit/**/*.ts', 'src/io/cache.ts'],
  coverageAnalysis: 'perTest',
  // Re-tests only mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  concurrency: 2,
  // The project's target is 85%; below it the report says so (break: null lets the report be written).
  thresholds: { high: 90, low: 85, break: null },
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: false },
  tempDirName: '.stryker-tmp',
  // vitest strips types without checking them, and simd.test.ts compares the generated wasm module byte for byte.
  disableTypeChecks: false,
  ignorePatterns: ['dist', 'bench', 'playground', 'docs', 'reports', 'coverage', '.cache', 'test/.tmp', 'test/artifacts'],
}
