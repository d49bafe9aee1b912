/**
 * Run after `npm install` / `npm ci` (postinstall): tries the argon2 binding
 * in a child process and, when it crashes or fails to load (a prebuilt
 * binary that does not fit this machine, or install scripts that were
 * skipped), rebuilds it from source once and tries again. Exits 1 with one
 * line if it still does not work: better a failed install than a segfault at
 * the first login.
 */
import { spawnSync } from 'node:child_process';
import { argon2BindingProblem } from '../src/adapters/crypto/argon2-binding.js';

const first = argon2BindingProblem();
if (first === null) {
  console.log('argon2: the native binding loads and hashes');
} else {
  console.error(`${first}\nargon2: rebuilding it now (npm rebuild argon2)`);
  const rebuild = spawnSync('npm', ['rebuild', 'argon2'], { stdio: 'inherit' });
  const second = rebuild.status === 0 ? argon2BindingProblem() : `npm rebuild argon2 exited with ${String(rebuild.status ?? rebuild.signal)}`;
  if (second !== null) {
    console.error(`argon2: still broken after a rebuild: ${second}`);
    process.exit(1);
  }
  console.log('argon2: rebuilt; the native binding loads and hashes');
}
