import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle, load, readEvents } from '../../src/write-model/core/command-handler.js';
import { fold } from '../../src/write-model/core/decider.js';
import { workflowAggregate, workflowDecider, type WorkflowCommand } from '../../src/write-model/workflow/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';

/**
 * A workflow's stream stays long (years of edits, pauses and resumes), so
 * its binding snapshots it: against the real store, the snapshot is written
 * as the stream grows, a load starts from it, and its state is the whole fold.
 */
describe('workflow-{id}: snapshots of a long-lived workflow stream', function () {
  this.timeout(60_000);
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let store: PostgresEventStore;

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 2 });
  });
  after(async () => {
    await store?.close();
    await iso?.drop();
  });

  it('snapshots every 50 events; a load from the snapshot equals the fold of the whole stream, and decides alike', async () => {
    const workflowId = randomUUID();
    const ownerId = randomUUID();
    let minute = 0;
    const at = () => new Date(Date.UTC(2026, 0, 1) + ++minute * 60_000).toISOString();
    const send = (command: WorkflowCommand) => handle(store, workflowAggregate, workflowId, command, { context });
    await send({
      type: 'CreateWorkflow',
      workflowId,
      ownerId,
      platform: 'xiaohongshu',
      workflowType: 'xiaohongshu.notes',
      name: 'tea',
      config: { mode: 'keyword', keyword: 'tea', maxItems: 20 },
      platformAccountId: null,
      schedule: { kind: 'interval', every: 'daily' },
      now: at(),
    });
    // a quota pause and its resume a day, for five weeks, and the owner's edits now and then
    for (let day = 0; day < 35; day++) {
      await send({ type: 'PauseWorkflow', workflowId, reason: 'quota_exceeded', requestedBy: null, until: at(), now: at() });
      await send({ type: 'ResumeWorkflow', workflowId, requestedBy: null, reason: 'quota_exceeded', now: at() });
      if (day % 10 === 0) await send({ type: 'UpdateWorkflow', workflowId, requestedBy: ownerId, name: `tea ${day}`, now: at() });
    }
    await send({ type: 'PauseWorkflow', workflowId, reason: 'user', requestedBy: ownerId, now: at() });

    const stream = workflowAggregate.streamName(workflowId);
    const history = await readEvents(store, workflowAggregate, workflowId);
    expect(history).to.have.length(2 + 70 + 4 + 1);
    const snapshot = await store.snapshots.read(stream, workflowAggregate.snapshot!.version);
    expect(snapshot, 'a snapshot was written').to.not.equal(undefined);
    expect(Number(snapshot!.revision), 'after 50 events (revision 49) or later').to.be.at.least(49);

    const loaded = await load(store, workflowAggregate, workflowId);
    expect(loaded.revision).to.equal(BigInt(history.length - 1));
    expect(loaded.state).to.deep.equal(fold(workflowDecider, history));
    expect(loaded.state).to.deep.include({ status: 'paused' });
    expect(loaded.state.pauses.map((p) => p.reason)).to.deep.equal(['user']);
    expect(loaded.state.workflow).to.include({ name: 'tea 30' });

    // decisions stand on the snapshot's state: the owner's resume lifts the pause
    const resumed = await send({ type: 'ResumeWorkflow', workflowId, requestedBy: ownerId, now: at() });
    expect(resumed.events.map((e) => e.type)).to.deep.equal(['WorkflowResumed']);
    expect(resumed.state.status).to.equal('active');
  });
});
