import { expect } from 'chai';
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { rebuildsAtLowPriority } from '../../src/cli/priority.js';

const run = promisify(execFile);

describe('cli: a rebuild at low CPU priority', () => {
  it('reads from the arguments whether the rebuild runs at low priority, before commander does', () => {
    const argv = (line: string) => ['node', 'src/main/cli.ts', ...line.split(' ').filter(Boolean)];
    expect(rebuildsAtLowPriority(argv('projections rebuild users-v1'))).to.equal(true);
    expect(rebuildsAtLowPriority(argv('projections rebuild --all --priority low'))).to.equal(true);
    expect(rebuildsAtLowPriority(argv('projections rebuild users-v1 --priority normal'))).to.equal(false);
    expect(rebuildsAtLowPriority(argv('projections rebuild users-v1 --priority=normal'))).to.equal(false);
    expect(rebuildsAtLowPriority(argv('projections rebuild users-v1 --priority=high'))).to.equal(true);
    expect(rebuildsAtLowPriority(argv('projections status'))).to.equal(false);
    expect(rebuildsAtLowPriority(argv('streams list'))).to.equal(false);
  });

  it('lowers every thread of the process (V8 helpers and workers started before), not the calling one alone', async function () {
    // Linux keeps a nice value per thread; a test run already at nice 10 has nothing to show
    if (process.platform !== 'linux' || os.getPriority() >= 10) this.skip();
    // a child process of its own: this one keeps its priority
    const script = `
      import { readdirSync, readFileSync } from 'node:fs';
      import { Worker } from 'node:worker_threads';
      import { lowerPriority } from './src/cli/priority.ts';
      const worker = new Worker('setInterval(() => {}, 1000)', { eval: true });
      await new Promise((resolve) => worker.once('online', resolve));
      const nices = () => readdirSync('/proc/self/task').map((t) => {
        const stat = readFileSync('/proc/self/task/' + t + '/stat', 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      });
      const before = nices();
      lowerPriority(10);
      console.log(JSON.stringify({ before, after: nices() }));
      await worker.terminate();
    `;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd() });
    const { before, after } = JSON.parse(stdout) as { before: number[]; after: number[] };
    expect(
      before.filter((nice) => nice < 10),
      'threads at the usual priority before',
    ).to.have.length.above(2);
    expect(after.length).to.be.above(2);
    expect(
      after.every((nice) => nice >= 10),
      `every thread at nice 10 or more: ${after.join(', ')}`,
    ).to.equal(true);
  });
});
