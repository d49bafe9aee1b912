import { spawnSync } from 'node:child_process';

/**
 * argon2 is a native addon. A prebuilt binary that does not fit the machine
 * (seen when install scripts were skipped) does not throw: it kills the
 * process with SIGSEGV when it loads, at the first login. So the binding is
 * tried once in a child process, where a crash can be seen and told, before
 * this process loads it (password-hasher.ts imports it lazily).
 */
const PROBE = `
const argon2 = require('argon2');
argon2.hash('probe', { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 })
  .then((hash) => argon2.verify(hash, 'probe'))
  .then((ok) => process.exit(ok ? 0 : 3), (error) => { console.error(String(error)); process.exit(4); });
`;

export const ARGON2_FIX = 'run `npm rebuild argon2` (it compiles the addon for this machine), then start again';

/** null when argon2 loads, hashes and verifies in a child process; otherwise one line saying what happened and what to do. */
export function argon2BindingProblem(cwd: string = process.cwd()): string | null {
  const child = spawnSync(process.execPath, ['-e', PROBE], { cwd, encoding: 'utf8', timeout: 30_000 });
  if (child.status === 0) return null;
  const how = child.signal
    ? `crashed with ${child.signal}`
    : child.error
      ? `could not be tried (${child.error.message})`
      : `failed (exit ${String(child.status)}${errorLine(child.stderr)})`;
  return `argon2's native binding ${how} when loaded: ${ARGON2_FIX}`;
}

/** The error's own line of a child's stderr (Node prints the failing source line first). */
function errorLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const line = lines.find((l) => /^(\w*Error|Error)\b/.test(l)) ?? lines[0];
  return line ? `: ${line}` : '';
}
