/** Hashes a model that lives in shared memory, off the thread that converts it. */
import { createHash } from 'node:crypto'
import { parentPort, workerData } from 'node:worker_threads'

parentPort!.postMessage(createHash('sha256').update(workerData as Uint8Array).digest('hex'))
