import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { requestExecution, type Caller } from '../../src/application/workflows.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { workflowAggregate } from '../../src/write-model/workflow/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';

/**
 * Requesting an execution decides on the workflow this process keeps and
 * depends on it: the execution lands only while the workflow is still at the
 * revision read, so a pause made by another process (a process manager, a
 * second API) is never missed, and a refusal is never taken on a stale copy.
 */
describe('requesting an execution against the workflow a process keeps (two processes)', function () {
  this.timeout(30_000);
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let here: PostgresEventStore;
  let elsewhere: PostgresEventStore;
  const now = () => new Date('2026-03-20T01:00:00.000Z');
  const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    here = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 3 });
    elsewhere = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 3 });
  });
  after(async () => {
    await here.close();
    await elsewhere.close();
    await iso.drop();
  });

  it('sees a pause made elsewhere at once, and a resume made elsewhere too', async () => {
    const ownerId = randomUUID();
    const workflowId = randomUUID();
    const caller: Caller = { userId: ownerId, context };
    const deps = { store: here, timeZone: 'Asia/Shanghai', now };
    const on = (store: PostgresEventStore, command: Parameters<typeof handle>[3]) =>
      handle(store, workflowAggregate, workflowId, command as never, { context });
    await on(elsewhere, {
      type: 'CreateWorkflow',
      workflowId,
      ownerId,
      platform: 'qidian',
      workflowType: 'qidian.rankings',
      name: 'ranks',
      config: { ranking: 'monthly_ticket' },
      platformAccountId: null,
      schedule: null,
      now: now().toISOString(),
    });
    await requestExecution(deps, caller, workflowId); // `here` keeps the workflow, active

    await on(elsewhere, { type: 'PauseWorkflow', workflowId, reason: 'user', requestedBy: ownerId, now: now().toISOString() });
    let refused: unknown;
    await requestExecution(deps, caller, workflowId).catch((error: unknown) => (refused = error));
    expect(refused).to.be.instanceOf(DomainError).with.property('code', 'CONFLICT');

    await on(elsewhere, { type: 'ResumeWorkflow', workflowId, requestedBy: ownerId, now: now().toISOString() });
    const requested = await requestExecution(deps, caller, workflowId); // `here` keeps it paused: that refusal is checked
    expect(requested.executionId).to.be.a('string');
    expect((await here.readStream(`workflow_execution-${requested.executionId}`)).map((e) => e.type)).to.deep.equal(['ExecutionRequested']);
  });
});
