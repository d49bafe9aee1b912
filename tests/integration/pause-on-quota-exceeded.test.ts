import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { up as createDeadlinesTable } from '../../migrations/20261123000500_deadlines.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { claimMembership, createOrganization } from '../../src/application/organizations.js';
import { quotaDay } from '../../src/application/quota-day.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { START } from '../../src/event-store/position.js';
import { DeadlineSweeper, expiryActions } from '../../src/process-managers/index.js';
import { createPauseOnQuotaExceeded } from '../../src/process-managers/pause-on-quota-exceeded.js';
import { subscriptionIdFor } from '../../src/process-managers/shared.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { organizationAggregate } from '../../src/write-model/organization/decider.js';
import { quotaTermsOf, subscriptionAggregate, subscriptionKey, subscriptionStream } from '../../src/write-model/subscription/index.js';
import { dailyUsageId, subscriptionUsageAggregate, subscriptionUsageStream } from '../../src/write-model/subscription-usage/index.js';
import { workflowAggregate, workflowStream, type WorkflowCommand, type WorkflowSchedule } from '../../src/write-model/workflow/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

/** Omit over each member of a union (a command without the fields the helper fills in). */
type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const silent = { info() {}, warn() {}, error() {} };
const HOURLY: WorkflowSchedule = { kind: 'interval', every: 'hourly' };

describe('pm-pause-on-quota-exceeded: pause scheduled workflows until the quota resets or the plan is upgraded', function () {
  this.timeout(40_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  const name = `pm-pause-on-quota-exceeded-test-${randomUUID().slice(0, 8)}`;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  // the clock read when the tests start, not when mocha loads every file: the quota day may have ended meanwhile
  let now = new Date();
  let { day, resetsAt } = quotaDay(now, 'Asia/Shanghai');

  before(async () => {
    now = new Date();
    ({ day, resetsAt } = quotaDay(now, 'Asia/Shanghai'));
    // event store and deadlines in a schema of their own: only this test's events and deadlines
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, searchPath: [iso.schema, 'public'], pool: { min: 0, max: 5 } });
    await createDeadlinesTable(knex);
  });
  after(async () => {
    await knex('consumer_checkpoints').where({ consumer: name }).delete();
    await knex('pm_workflow_index').where({ consumer: name }).delete();
    await store.close();
    await knex.destroy();
    await iso.drop();
  });

  const pm = () => createPauseOnQuotaExceeded({ store, logger: silent }, name);
  /** twice: the second pass reads the manager's own WorkflowPaused / Resumed (its deadlines) */
  async function settle(): Promise<void> {
    await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, pm());
    await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, pm());
  }
  const sweeper = () => new DeadlineSweeper({ knex, actions: expiryActions(store), logger: silent, intervalMs: 1_000 });

  const wf = (id: string, command: Without<WorkflowCommand, 'workflowId' | 'now'> & { now?: string }) =>
    handle(store, workflowAggregate, id, { workflowId: id, now: now.toISOString(), ...command } as WorkflowCommand, { context });

  async function createWorkflow(ownerId: string, platform: 'xiaohongshu' | 'qidian', schedule: WorkflowSchedule | null): Promise<string> {
    const id = randomUUID();
    await wf(id, {
      type: 'CreateWorkflow',
      ownerId,
      platform,
      workflowType: `${platform}.notes`,
      name: 'w',
      config: { keyword: 'x' },
      platformAccountId: null,
      schedule,
    });
    return id;
  }

  async function startFree(userId: string): Promise<void> {
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(userId, 'xiaohongshu'),
      {
        type: 'StartSubscription',
        subscriptionId: subscriptionIdFor(userId, 'xiaohongshu'),
        userId,
        service: 'xiaohongshu',
        plan: 'free',
        periodEnd: null,
        now: now.toISOString(),
      },
      { context },
    );
  }

  /** the free plan allows 50 calls a day: the 51st records QuotaExceeded */
  async function exceed(userId: string, when = { day, resetsAt, now: now.toISOString() }): Promise<RecordedEvent> {
    // the day's usage stream, with the terms read from the subscription
    const subscription = quotaTermsOf((await load(store, subscriptionAggregate, subscriptionKey(userId, 'xiaohongshu'))).state);
    const id = dailyUsageId(userId, 'xiaohongshu', when.day);
    await handle(store, subscriptionUsageAggregate, id, { type: 'ConsumeQuota', subscription, feature: 'daily_api_calls', amount: 50, ...when }, { context });
    await handle(store, subscriptionUsageAggregate, id, { type: 'ConsumeQuota', subscription, feature: 'daily_api_calls', amount: 1, ...when }, { context });
    const exceeded = (await store.readStream(subscriptionUsageStream(id))).find((e) => e.type === 'QuotaExceeded');
    expect(exceeded, 'QuotaExceeded recorded').to.not.equal(undefined);
    return exceeded!;
  }

  /** the holder's xiaohongshu plan paid up to pro (SubscriptionUpgraded) */
  async function upgrade(holderId: string): Promise<void> {
    const periodEnd = new Date(now.getTime() + 30 * 86_400_000).toISOString();
    const command = { type: 'ChangePlan', plan: 'pro', orderId: randomUUID(), periodEnd, now: now.toISOString() } as const;
    await handle(store, subscriptionAggregate, subscriptionKey(holderId, 'xiaohongshu'), command, { context });
  }

  const events = (id: string) => store.readStream(workflowStream(id));
  const state = async (id: string) => (await load(store, workflowAggregate, id)).state;
  const deadline = (id: string) =>
    knex('deadlines')
      .where({ key: `workflows.resume_after_quota:${workflowStream(id)}` })
      .first();

  it("pauses the owner's scheduled workflows of the service until the reset, then the sweeper resumes them; replays change nothing", async () => {
    const user = randomUUID();
    const stranger = randomUUID();
    await startFree(user);
    await startFree(stranger);
    const scheduled = await createWorkflow(user, 'xiaohongshu', HOURLY);
    const manual = await createWorkflow(user, 'xiaohongshu', null);
    const otherService = await createWorkflow(user, 'qidian', { kind: 'interval', every: 'daily' });
    const userPaused = await createWorkflow(user, 'xiaohongshu', HOURLY);
    await wf(userPaused, { type: 'PauseWorkflow', reason: 'user', requestedBy: user, until: null });
    const deleted = await createWorkflow(user, 'xiaohongshu', HOURLY);
    await wf(deleted, { type: 'DeleteWorkflow', requestedBy: user });
    const strangers = await createWorkflow(stranger, 'xiaohongshu', HOURLY);
    const exceeded = await exceed(user);

    await settle();

    const paused = (await events(scheduled)).at(-1)!;
    expect(paused.type).to.equal('WorkflowPaused');
    expect(paused.data).to.include({ reason: 'quota_exceeded', until: resetsAt, by: null });
    // the command carried the triggering event as causation, its correlation continued
    expect(paused.metadata).to.include({ $causationId: exceeded.id, $correlationId: context.correlationId, userId: `pm:${name}` });
    expect((await state(userPaused)).pauses.map((p) => p.reason)).to.deep.equal(['user', 'quota_exceeded']);
    for (const untouched of [manual, otherService, deleted, strangers]) {
      expect(
        (await events(untouched)).map((e) => e.type),
        untouched,
      ).to.not.include('WorkflowPaused');
    }
    // the deadline follows the workflow's own pause event
    const row = await deadline(scheduled);
    expect(row.due_at.toISOString()).to.equal(resetsAt);
    expect(row.cause_event_id).to.equal(paused.id);
    expect(await deadline(userPaused)).to.not.equal(undefined);
    expect(await deadline(manual)).to.equal(undefined);

    // a redelivery of everything (checkpoint and index reset) appends nothing
    const before = (await events(scheduled)).length + (await events(userPaused)).length;
    await resetCheckpoint(knex, name, START);
    await knex('pm_workflow_index').where({ consumer: name }).delete();
    await settle();
    expect((await events(scheduled)).length + (await events(userPaused)).length).to.equal(before);

    // not yet reset: nothing; at the reset: resumed, only the quota reason lifted
    expect(await sweeper().sweepOnce(new Date(Date.parse(resetsAt) - 1_000))).to.equal(0);
    expect(await sweeper().sweepOnce(new Date(Date.parse(resetsAt) + 1_000))).to.equal(2);
    const resumed = (await events(scheduled)).at(-1)!;
    expect(resumed.type).to.equal('WorkflowResumed');
    expect(resumed.data).to.deep.include({ lifted: ['quota_exceeded'], status: 'active', by: null });
    expect(resumed.metadata).to.include({ $causationId: paused.id, userId: 'pm:deadlines' });
    expect(await state(userPaused)).to.deep.include({ status: 'paused' });
    expect((await state(userPaused)).pauses.map((p) => p.reason)).to.deep.equal(['user']);

    await settle();
    expect(await deadline(scheduled)).to.equal(undefined);
    expect(await deadline(userPaused)).to.equal(undefined);
  });

  it('an upgrade resumes at once and cancels the deadline; the sweep at the reset then does nothing', async () => {
    const user = randomUUID();
    await startFree(user);
    const scheduled = await createWorkflow(user, 'xiaohongshu', HOURLY);
    await exceed(user);
    await settle();
    expect((await state(scheduled)).status).to.equal('paused');
    expect(await deadline(scheduled)).to.not.equal(undefined);

    await upgrade(user);
    const upgraded = (await store.readStream(subscriptionStream(user, 'xiaohongshu'))).at(-1)!;
    expect(upgraded.type).to.equal('SubscriptionUpgraded');
    await settle();

    const resumed = (await events(scheduled)).at(-1)!;
    expect(resumed.type).to.equal('WorkflowResumed');
    expect(resumed.data).to.deep.include({ lifted: ['quota_exceeded'], status: 'active', by: null });
    expect(resumed.metadata).to.include({ $causationId: upgraded.id });
    expect(await deadline(scheduled)).to.equal(undefined);

    const count = (await events(scheduled)).length;
    expect(await sweeper().sweepOnce(new Date(Date.parse(resetsAt) + 1_000))).to.equal(0);
    expect((await events(scheduled)).length).to.equal(count);
  });

  it('a QuotaExceeded whose day is over (read late) pauses nothing', async () => {
    const user = randomUUID();
    await startFree(user);
    const scheduled = await createWorkflow(user, 'xiaohongshu', HOURLY);
    await exceed(user, { day: '2020-01-01', resetsAt: '2020-01-01T16:00:00.000Z', now: '2020-01-01T10:00:00.000Z' });
    await settle();
    expect((await events(scheduled)).map((e) => e.type)).to.deep.equal(['WorkflowCreated', 'WorkflowScheduled']);
    expect(await deadline(scheduled)).to.equal(undefined);
  });
  it("the organization's quota running out pauses every member's scheduled workflows; its upgrade resumes them", async () => {
    const founder = randomUUID();
    const member = randomUUID();
    const outsider = randomUUID();
    const { organizationId } = await createOrganization({ store }, { userId: founder, name: 'Acme', context });
    const claim = await claimMembership(store, member, organizationId, context);
    await handle(
      store,
      organizationAggregate,
      organizationId,
      { type: 'AddMember', userId: member, roles: ['operator'], team: null, invitationId: null, now: now.toISOString() },
      { context, conditions: [{ streamName: `organization_member-${member}`, revision: claim }] },
    );
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(organizationId, 'xiaohongshu'),
      {
        type: 'StartSubscription',
        subscriptionId: subscriptionIdFor(organizationId, 'xiaohongshu'),
        userId: organizationId,
        holderKind: 'organization',
        service: 'xiaohongshu',
        plan: 'free',
        now: now.toISOString(),
      },
      { context },
    );
    const [ofFounder, ofMember, ofOutsider] = await Promise.all([
      createWorkflow(founder, 'xiaohongshu', HOURLY),
      createWorkflow(member, 'xiaohongshu', HOURLY),
      createWorkflow(outsider, 'xiaohongshu', HOURLY),
    ]);
    await exceed(organizationId);
    await settle();
    expect((await state(ofFounder)).status).to.equal('paused');
    expect((await state(ofMember)).status).to.equal('paused');
    expect((await state(ofOutsider)).status).to.equal('active');

    await upgrade(organizationId);
    await settle();
    expect((await state(ofFounder)).status).to.equal('active');
    expect((await state(ofMember)).status).to.equal('active');
    expect(await deadline(ofMember)).to.equal(undefined);
  });

  it('resumes the workflows of a plan upgraded before the manager reached the exhausted quota (its pauses land after the upgrade)', async () => {
    const user = randomUUID();
    await startFree(user);
    const scheduled = await createWorkflow(user, 'xiaohongshu', HOURLY);
    await settle();
    // the user pays up at once: the exhausted quota and the upgrade are both in the log before the manager reads either
    await exceed(user);
    await upgrade(user);
    await settle();
    expect((await events(scheduled)).map((e) => e.type)).to.deep.equal(['WorkflowCreated', 'WorkflowScheduled', 'WorkflowPaused', 'WorkflowResumed']);
    expect(await state(scheduled)).to.deep.include({ status: 'active', pauses: [] });
    expect(await deadline(scheduled)).to.equal(undefined);
  });
});
