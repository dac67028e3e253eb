/**
 * Leftovers of killed processes. Temporary files and folders carry their writer's PID
 * in their name, so that a later run can tell those of a process that has exited (to
 * remove or recover) from those of one still running (left alone).
 */

/** The PID in a leftover's name (decimal digits), or undefined when it is no PID. */
export function pidOf(text: string): number | undefined {
  if (!/^[1-9]\d{0,9}$/.test(text)) return undefined
  const pid = Number(text)
  return pid <= 0x7fffffff ? pid : undefined
}

/** Is process `pid` running (also when it belongs to another user)? */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}
