/**
 * One `vite build` of a bench fixture app, in its own process (so that every timed build
 * starts from a cold JIT, as a user's does). Run by `bench/run.mjs`:
 *
 *   node bench/vite-build.mjs plugin <root> <outDir> <cacheDir>   with unplugin-mpscnn (dist/plugin/vite.js)
 *   node bench/vite-build.mjs plain  <root> <outDir>              without it (the app imports `model.pb?url`)
 */
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const [mode, root, outDir, cacheDir] = process.argv.slice(2)
if ((mode !== 'plugin' && mode !== 'plain') || !root || !outDir || (mode === 'plugin' && !cacheDir)) {
  process.stderr.write('usage: node bench/vite-build.mjs plugin|plain <root> <outDir> [cacheDir]\n')
  process.exit(2)
}
const repo = fileURLToPath(new URL('..', import.meta.url))
const vite = await import('vite') // node_modules/vite
const plugins = []
if (mode === 'plugin') {
  const { default: mpscnn } = await import(pathToFileURL(path.join(repo, 'dist/plugin/vite.js')).href)
  plugins.push(mpscnn({ cacheDir: path.resolve(cacheDir), quiet: true }))
}
await vite.build({
  root: path.resolve(root),
  configFile: false,
  logLevel: 'silent',
  plugins,
  build: {
    outDir: path.resolve(outDir),
    emptyOutDir: true,
    // The preload polyfill touches `document`: without it the entry chunk can be imported
    // in Node, which is how run.mjs checks the URLs of the manifest.
    modulePreload: { polyfill: false },
  },
})
