// Bundles the CLI into one file (dist/cli/bundle.js), so that `mpscnn` starts without
// resolving and loading some sixty modules: ~25 ms of a ~350 ms conversion. The worker
// threads it starts load dist/*/*-worker.js as compiled by tsc.
import { build } from 'esbuild'

await build({
  entryPoints: ['dist/cli/main.js'],
  outfile: 'dist/cli/bundle.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  // TensorFlow.js (mpscnn verify) is an optional peer dependency, loaded from node_modules when present.
  // The picture decoders of `mpscnn verify --image` (dependencies) load from node_modules, and only then.
  external: ['@tensorflow/*', 'jpeg-js', 'pngjs'],
  // protobufjs is CommonJS and requires optional modules at run time.
  // protobufjs hands int64 values back as long.js Longs when `long` can be loaded, and as
  // numbers otherwise; binary.ts turns them into numbers either way, so the CLI leaves
  // long.js (32 kB of code to load at every start) out.
  plugins: [
    {
      name: 'without-long',
      setup(b) {
        b.onResolve({ filter: /^long$/ }, () => ({ path: 'long', namespace: 'without-long' }))
        b.onLoad({ filter: /.*/, namespace: 'without-long' }, () => ({ contents: 'module.exports = null', loader: 'js' }))
      },
    },
  ],
  banner: { js: "import { createRequire as __mpscnnRequire } from 'node:module'; const require = __mpscnnRequire(import.meta.url);" },
})
