#!/usr/bin/env node
import { Worker } from 'node:worker_threads'

// A conversion may use a second thread. Booting one takes some 40 ms, which the CLI spends
// loading its code: start it first (see startLayoutWorker in src/parallel/layout-helper.ts).
const worker = process.argv[2] === 'convert' ? new Worker(new URL('../dist/parallel/layout-worker.js', import.meta.url)) : undefined
const { main } = await import('../dist/cli/bundle.js')

// A reader that stops early (`mpscnn ... | head`) is not an error of ours.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw e
})

process.exitCode = await main(process.argv.slice(2), worker)
