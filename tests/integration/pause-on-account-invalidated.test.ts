import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { START } from '../../src/event-store/position.js';
import { createPauseOnAccountInvalidated } from '../../src/process-managers/pause-on-account-invalidated.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { platformAccountAggregate, platformAccountStream, type PlatformAccountCommand } from '../../src/write-model/platform-account/index.js';
import { workflowAggregate, workflowStream, type WorkflowCommand, type WorkflowSchedule } from '../../src/write-model/workflow/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

/** Omit over each member of a union (a command without the fields the helper fills in). */
type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const silent = { info() {}, warn() {}, error() {} };
const HOURLY: WorkflowSchedule = { kind: 'interval', every: 'hourly' };
// a well-formed sealed box; the decider sees only ciphertexts
const SEALED = () => ({ keyId: 'k1', iv: 'aXZpdml2aXZpdml2', tag: 'dGFndGFndGFndGFn', ciphertext: Buffer.from(randomUUID()).toString('base64') });

describe('pm-pause-on-account-invalidated: pause the workflows of an invalidated account, resume when it is verified again', function () {
  this.timeout(40_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  const name = `pm-pause-on-account-invalidated-test-${randomUUID().slice(0, 8)}`;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const now = () => new Date().toISOString();

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
  });
  after(async () => {
    await knex('consumer_checkpoints').where({ consumer: name }).delete();
    await knex('pm_workflow_index').where({ consumer: name }).delete();
    await store.close();
    await knex.destroy();
    await iso.drop();
  });

  const runToHead = () => runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, createPauseOnAccountInvalidated({ store, logger: silent }, name));

  const account = (id: string, command: Without<PlatformAccountCommand, 'accountId' | 'now'>) =>
    handle(store, platformAccountAggregate, id, { accountId: id, now: now(), ...command } as PlatformAccountCommand, { context });
  const wf = (id: string, command: Without<WorkflowCommand, 'workflowId' | 'now'>) =>
    handle(store, workflowAggregate, id, { workflowId: id, now: now(), ...command } as WorkflowCommand, { context });

  async function connectedAccount(ownerId: string): Promise<string> {
    const id = randomUUID();
    await account(id, { type: 'ConnectPlatformAccount', ownerId, platform: 'xiaohongshu', platformUserId: null, displayName: '工作号', credentials: SEALED() });
    await account(id, { type: 'VerifyAccount', requestedBy: null, outcome: { ok: true, platformUserId: 'u1', nickname: 'n' } });
    return id;
  }

  async function createWorkflow(ownerId: string, platformAccountId: string | null, schedule: WorkflowSchedule | null): Promise<string> {
    const id = randomUUID();
    await wf(id, {
      type: 'CreateWorkflow',
      ownerId,
      platform: 'xiaohongshu',
      workflowType: 'xiaohongshu.notes',
      name: 'w',
      config: {},
      platformAccountId,
      schedule,
    });
    return id;
  }

  const types = async (id: string) => (await store.readStream(workflowStream(id))).map((e) => e.type);
  const pauses = async (id: string) => (await load(store, workflowAggregate, id)).state.pauses.map((p) => p.reason);

  it('pauses every live workflow using the account (scheduled or manual), resumes them on AccountVerified, lifting only that reason', async () => {
    const owner = randomUUID();
    const acct = await connectedAccount(owner);
    const other = await connectedAccount(owner);
    const scheduled = await createWorkflow(owner, acct, HOURLY);
    const manual = await createWorkflow(owner, acct, null);
    const userPaused = await createWorkflow(owner, acct, HOURLY);
    await wf(userPaused, { type: 'PauseWorkflow', reason: 'user', requestedBy: owner, until: null });
    const onOther = await createWorkflow(owner, other, HOURLY);
    const movedAway = await createWorkflow(owner, acct, HOURLY);
    await wf(movedAway, { type: 'UpdateWorkflow', requestedBy: owner, platformAccountId: other });
    const deleted = await createWorkflow(owner, acct, HOURLY);
    await wf(deleted, { type: 'DeleteWorkflow', requestedBy: owner });

    await account(acct, { type: 'InvalidateAccount', requestedBy: null, reason: 'login_wall', detail: 'redirected to login' });
    const invalidated = (await store.readStream(platformAccountStream(acct))).at(-1)!;
    expect(invalidated.type).to.equal('AccountInvalidated');
    await runToHead();

    for (const id of [scheduled, manual]) {
      const paused = (await store.readStream(workflowStream(id))).at(-1)!;
      expect(paused.type).to.equal('WorkflowPaused');
      expect(paused.data).to.include({ reason: 'account_invalidated', until: null, by: null });
      expect(paused.metadata).to.include({ $causationId: invalidated.id, $correlationId: context.correlationId, userId: `pm:${name}` });
    }
    expect(await pauses(userPaused)).to.deep.equal(['user', 'account_invalidated']);
    for (const id of [onOther, movedAway, deleted]) expect(await types(id), id).to.not.include('WorkflowPaused');

    // redelivered from the start (checkpoint and index reset): nothing new
    const counts = async () => Promise.all([scheduled, manual, userPaused].map(async (id) => (await types(id)).length));
    const before = await counts();
    await resetCheckpoint(knex, name, START);
    await knex('pm_workflow_index').where({ consumer: name }).delete();
    await runToHead();
    expect(await counts()).to.deep.equal(before);

    // the owner reconnects: new credentials, then a successful verification
    await account(acct, { type: 'RotateAccountCredentials', requestedBy: owner, credentials: SEALED() });
    await account(acct, { type: 'VerifyAccount', requestedBy: owner, outcome: { ok: true, platformUserId: 'u1', nickname: 'n' } });
    const verified = (await store.readStream(platformAccountStream(acct))).at(-1)!;
    expect(verified.type).to.equal('AccountVerified');
    await runToHead();

    for (const id of [scheduled, manual]) {
      const resumed = (await store.readStream(workflowStream(id))).at(-1)!;
      expect(resumed.type).to.equal('WorkflowResumed');
      expect(resumed.data).to.deep.include({ lifted: ['account_invalidated'], status: 'active', by: null });
      expect(resumed.metadata).to.include({ $causationId: verified.id });
    }
    // the user's own pause stays
    expect(await pauses(userPaused)).to.deep.equal(['user']);
    // the other account was verified too (at connect) and never invalidated: its workflows never moved
    expect(await types(onOther)).to.deep.equal(['WorkflowCreated', 'WorkflowScheduled']);
  });

  it('resumes the workflows of an account verified again before the manager reached the invalidation (its pauses land after the verification)', async () => {
    const owner = randomUUID();
    const acct = await connectedAccount(owner);
    const scheduled = await createWorkflow(owner, acct, HOURLY);
    await runToHead();
    // the owner logs in again at once: both verdicts are in the log before the manager reads either
    await account(acct, { type: 'InvalidateAccount', requestedBy: null, reason: 'login_wall', detail: 'redirected to login' });
    await account(acct, { type: 'VerifyAccount', requestedBy: owner, outcome: { ok: true, platformUserId: 'u1', nickname: 'n' } });
    await runToHead();
    expect(await types(scheduled)).to.deep.equal(['WorkflowCreated', 'WorkflowScheduled', 'WorkflowPaused', 'WorkflowResumed']);
    expect(await pauses(scheduled)).to.deep.equal([]);
  });
});
