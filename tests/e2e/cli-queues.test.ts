import { expect } from 'chai';
import { cliInProcess } from '../support/cli-in-process.js';
import { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import type { Container } from 'inversify';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/port.js';
import { prepareDatabase } from '../../src/main/boot.js';
import { TOKENS } from '../../src/tokens.js';
import { testConfig, testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';

const today = () => new Date().toISOString().slice(0, 10).replaceAll('-', '');

/**
 * `queues stats | pause | resume | retry-failed | retry | promote | remove`
 * through the CLI's own entry (runCli, in-process) against real BullMQ
 * queues (a prefix of their own) and the test database's event store: the
 * output an operator reads, the exit codes, and the interventions recorded
 * with the operator.
 */
describe('cli: queues (e2e)', function () {
  this.timeout(60_000);
  const env = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: testDatabaseUrl,
    REDIS_URL: testRedisUrl,
    QUEUE_PREFIX: `test-cli-queues-${randomUUID().slice(0, 8)}`,
  };
  let container: Container;
  let store: EventStore;
  let mail: Queue;
  let from = 0;

  const cli = (...args: string[]) => cliInProcess(args, env);
  const recorded = async () => (await store.readStream(`queue_intervention-mail_${today()}`).catch(() => [])).slice(from);

  before(async () => {
    const config = testConfig(env);
    container = await buildContainer(config);
    store = container.get(TOKENS.EventStore);
    await prepareDatabase(config, container.get(TOKENS.Knex), container.get(TOKENS.Logger));
    // the day stream may hold earlier runs' interventions: only this run's count
    from = (await store.readStream(`queue_intervention-mail_${today()}`).catch(() => [])).length;
    mail = new Queue('mail', { connection: { url: testRedisUrl }, prefix: env.QUEUE_PREFIX });
    await mail.add('m', {}, { jobId: 'w1' });
    await mail.add('m', {}, { jobId: 'w2' });
    await mail.add('m', {}, { jobId: 'd1', delay: 600_000 });
  });
  after(async () => {
    await mail?.obliterate({ force: true }).catch(() => undefined);
    await mail?.close();
    if (container) await disposeContainer(container);
  });

  it('prints every queue’s numbers', async () => {
    const r = await cli('queues', 'stats', '--seconds', '0.5');
    expect(r.code, r.stderr).to.equal(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith('mail '));
    expect(line).to.match(/running\s+waiting\s+2\s+active\s+0\s+delayed\s+1\s+failed\s+0/);
    expect(r.stdout).to.contain('maintenance').and.contain('no blockage detector has reported');
    const json = JSON.parse((await cli('queues', 'stats', '--seconds', '0.2', '--json')).stdout);
    expect(json.queues.find((q: any) => q.name === 'mail')).to.include({ waiting: 2, delayed: 1, paused: false });
  });

  it('pauses, resumes, promotes and removes, each recorded with the operator; a repeat records nothing', async () => {
    let r = await cli('queues', 'pause', 'mail', '--operator', 'cli:ops-anna');
    expect(r).to.include({ code: 0, stdout: 'queue mail: paused; recorded QueuePaused' });
    expect(await mail.isPaused()).to.equal(true);
    r = await cli('queues', 'pause', 'mail');
    expect(r).to.include({ code: 0, stdout: 'queue mail is already paused: nothing recorded' });
    r = await cli('queues', 'resume', 'mail', '--operator', 'cli:ops-anna');
    expect(r).to.include({ code: 0, stdout: 'queue mail: resumed; recorded QueueResumed' });
    r = await cli('queues', 'promote', 'mail', 'd1', '--operator', 'cli:ops-anna');
    expect(r).to.include({ code: 0, stdout: 'job d1 in mail: promoted (runs now); recorded JobPromoted' });
    r = await cli('queues', 'remove', 'mail', 'w1', '--operator', 'cli:ops-anna');
    expect(r).to.include({ code: 0, stdout: 'job w1 in mail: removed (was waiting); recorded JobRemoved' });
    r = await cli('queues', 'retry-failed', 'mail');
    expect(r).to.include({ code: 0, stdout: 'queue mail has no failed jobs: nothing recorded' });
    const events = await recorded();
    expect(events.map((e) => e.type)).to.deep.equal(['QueuePaused', 'QueueResumed', 'JobPromoted', 'JobRemoved']);
    expect(events.map((e) => (e.data as { operator: string }).operator)).to.deep.equal(['cli:ops-anna', 'cli:ops-anna', 'cli:ops-anna', 'cli:ops-anna']);
  });

  it('says why and exits 1 for an unknown queue or job, or a job in the wrong state', async () => {
    let r = await cli('queues', 'pause', 'nope');
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('no queue nope').and.contain('queues: scrape, workflow-tick');
    r = await cli('queues', 'retry', 'mail', 'missing');
    expect(r).to.include({ code: 1, stderr: 'error: no job missing in queue mail' });
    r = await cli('queues', 'retry', 'mail', 'w2');
    expect(r).to.include({ code: 1, stderr: 'error: only a failed job can be retried (job w2 is waiting)' });
    expect((await recorded()).length).to.equal(4);
  });
});
