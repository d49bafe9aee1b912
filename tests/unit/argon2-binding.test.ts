import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { argon2BindingProblem } from '../../src/adapters/crypto/argon2-binding.js';

describe('argon2 binding check', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'argon2-check-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A directory whose node_modules/argon2 is `source`: what a broken install looks like to the probe. */
  function fakeInstall(name: string, source: string): string {
    const root = path.join(dir, name);
    mkdirSync(path.join(root, 'node_modules', 'argon2'), { recursive: true });
    writeFileSync(path.join(root, 'node_modules', 'argon2', 'package.json'), JSON.stringify({ name: 'argon2', main: 'index.js' }));
    writeFileSync(path.join(root, 'node_modules', 'argon2', 'index.js'), source);
    return root;
  }

  it('finds nothing wrong with the installed binding', () => {
    expect(argon2BindingProblem()).to.equal(null);
  });

  it('a binding that segfaults on load is one line naming the crash and the fix, and this process lives on', () => {
    const root = fakeInstall('segfault', "process.kill(process.pid, 'SIGSEGV');");
    const problem = argon2BindingProblem(root);
    expect(problem).to.equal(
      "argon2's native binding crashed with SIGSEGV when loaded: run `npm rebuild argon2` (it compiles the addon for this machine), then start again",
    );
  });

  it('a binding that throws on load, or is missing, is one line with the error and the fix', () => {
    const root = fakeInstall('throws', "throw new Error('invalid ELF header');");
    expect(argon2BindingProblem(root)).to.match(/^argon2's native binding failed \(exit 1: .*invalid ELF header.*\) when loaded: run `npm rebuild argon2`/);
    const empty = path.join(dir, 'none');
    mkdirSync(empty);
    expect(argon2BindingProblem(empty)).to.match(/Cannot find module 'argon2'.*npm rebuild argon2/);
  });
});
