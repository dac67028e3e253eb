/** Hashes a model held in a SharedArrayBuffer, off the main thread, while it converts. */
import { createHash } from 'node:crypto'
import { parentPort, workerData } from 'node:worker_threads'

const data = new Uint8Array(workerData as SharedArrayBuffer)
parentPort!.postMessage(createHash('sha256').update(data).digest('hex'))
