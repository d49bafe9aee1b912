import { readdirSync } from 'node:fs';
import os from 'node:os';

/** The nice value of a rebuild at `--priority low` (the default): live traffic on the same machine goes first. */
export const LOW_PRIORITY = 10;

/**
 * Raises the nice value of every thread of this process to `nice` (never
 * lowers one). Linux keeps a nice value per thread, and os.setPriority()
 * changes only the calling one: V8's compiler and GC helpers and the module
 * loader's worker, started before, would go on at the usual priority. Where
 * there is no /proc, the process's value is set. Throws what the system
 * refuses.
 */
export function lowerPriority(nice: number = LOW_PRIORITY): void {
  let threads: number[];
  try {
    threads = readdirSync('/proc/self/task').map(Number);
  } catch {
    threads = [0];
  }
  for (const thread of threads) {
    try {
      if (os.getPriority(thread) < nice) os.setPriority(thread, nice);
    } catch (error) {
      // a thread that ended meanwhile
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/**
 * Whether these command-line arguments run `projections rebuild` at low
 * priority (the default; `--priority normal` keeps the usual). The CLI's
 * entry asks before it loads the commands, so the loading too yields to
 * live traffic; commander checks the arguments properly afterwards.
 */
export function rebuildsAtLowPriority(argv: readonly string[]): boolean {
  const at = argv.indexOf('projections');
  if (at < 0 || argv[at + 1] !== 'rebuild') return false;
  const rest = argv.slice(at + 2);
  const flag = rest.findIndex((arg) => arg === '--priority' || arg.startsWith('--priority='));
  if (flag < 0) return true;
  const value = rest[flag]!.includes('=') ? rest[flag]!.slice('--priority='.length) : rest[flag + 1];
  return value !== 'normal';
}
