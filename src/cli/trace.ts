/** MPSCNN_TRACE=1: when each phase of a conversion ended, on stderr. */

export const tracing = !!process.env.MPSCNN_TRACE
let traceStart = 0

/** Times from here on are reported from now (the start of a conversion). */
export function startTrace(): void {
  traceStart = performance.now()
}

export function trace(what: string): void {
  if (tracing) {
    const now = performance.now()
    process.stderr.write(`mpscnn: trace: ${(now - traceStart).toFixed(1)} ms (${now.toFixed(1)} ms since the process started) ${what}\n`)
  }
}
