import { defineConfig } from 'vitest/config'

/**
 * The tests `npm run mutation` runs against each mutant (stryker.config.mjs): the unit tests that
 * import src/ directly. Tests that spawn the built CLI, import dist/ or drive a bundler cannot see a
 * mutant in src/ and would only cost time, so they stay in vitest.config.ts alone.
 */
export default defineConfig({
  test: {
    include: [
      'test/affine-folding.test.ts',
      'test/binary-decode.test.ts',
      'test/cache-corrupt.test.ts',
      'test/cache-store.test.ts',
      'test/constant-fold-shapes.test.ts',
      'test/constant-fold-walk.test.ts',
      'test/constant-fold.test.ts',
      'test/convert-model-outputs.test.ts',
      'test/convolution-transpose.test.ts',
      'test/emit.test.ts',
      'test/errors.test.ts',
      'test/fold-names-budget.test.ts',
      'test/fold.test.ts',
      'test/graph-edges.test.ts',
      'test/graphdef-nested-fields.test.ts',
      'test/graphdef-top-level.test.ts',
      'test/layer-names-sharing.test.ts',
      'test/layer-planning.test.ts',
      'test/materialize-charges.test.ts',
      'test/mobilenet.test.ts',
      'test/network.test.ts',
      'test/no-silent-drops.test.ts',
      'test/pbtxt-maps-and-names.test.ts',
      'test/pbtxt-numbers.test.ts',
      'test/pbtxt-string-escapes.test.ts',
      'test/pbtxt-syntax-errors.test.ts',
      'test/pbtxt.test.ts',
      'test/preprocessing-chains.test.ts',
      'test/preprocessing-warning.test.ts',
      'test/quantized-ranges.test.ts',
      'test/quantized.test.ts',
      'test/schema-reflection.test.ts',
      'test/simd.test.ts',
      'test/sniff-file-kinds.test.ts',
      'test/tensor-proto-values.test.ts',
      'test/verify-image.test.ts',
      'test/weight-layout.test.ts',
    ],
    // Leaves out the few stress tests that instrumented code makes slow (see that file).
    setupFiles: ['test/helpers/mutation-setup.ts'],
    // Stryker runs the covering tests once per mutant: reusing the loaded modules between test
    // files saves re-importing them each time (mutants are switched on at run time, not loaded).
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
