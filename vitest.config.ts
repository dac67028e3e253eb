import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Bundler builds and Chromium are heavy; two cores are all CI has.
    fileParallelism: true,
    maxWorkers: 2,
  },
})
