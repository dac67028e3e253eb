/**
 * Real processes for the tests of what killed runs leave behind: the PID of one that has
 * exited, one that keeps running, and killing a run at a chosen point of its work.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'

/** The PID of a process that has run and exited (and been reaped). */
export function exitedPid(): number {
  const r = spawnSync(process.execPath, ['-e', ''])
  if (r.status !== 0 || !r.pid) throw new Error(`node -e '' failed: ${r.status} ${r.error}`)
  return r.pid
}

/** A process that runs until it is killed: stop it with `.kill()` when the test is done. */
export function runningProcess(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' })
}

/**
 * Watches `child` (every millisecond, until it exits) and kills it with SIGKILL as soon
 * as `when()` holds. Resolves once it has exited, with whether it was killed.
 */
export async function killWhen(child: ChildProcess, when: () => boolean): Promise<boolean> {
  let exited = false
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  void exit.then(() => (exited = true))
  let killed = false
  while (!exited) {
    if (when()) {
      killed = child.kill('SIGKILL')
      break
    }
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await exit
  return killed
}
