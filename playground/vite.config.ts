import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
// The package itself, through its own `exports` (self-reference): what an app installs.
// It resolves to dist/, so run `npm run build` first (`npm run demo` does).
import mpscnn from 'unplugin-mpscnn/vite'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [
    mpscnn({
      cacheDir: fileURLToPath(new URL('../node_modules/.cache/unplugin-mpscnn-playground', import.meta.url)),
    }),
  ],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Float32 weights are not worth inlining as base64, whatever their size.
    assetsInlineLimit: 0,
  },
})
