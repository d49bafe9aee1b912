import { expect } from 'chai';
import { articleStream } from '../../src/write-model/article/decider.js';
import { mediaStream } from '../../src/write-model/media/decider.js';
import { queueAlertStream } from '../../src/write-model/queue-alert/decider.js';
import { queueInterventionStream } from '../../src/write-model/queue-intervention/decider.js';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { fastAppendStatement } from '../../src/adapters/event-store/postgres/append.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { StreamNotFoundError } from '../../src/event-store/errors.js';
import { formatPosition } from '../../src/event-store/position.js';
import { registerUser } from '../../src/application/register-user.js';
import { AGGREGATES, aggregateFor, categoryOf } from '../../src/operations/aggregates.js';
import { auditExport } from '../../src/operations/audit.js';
import { knownConsumers, replayConsumer, ReplayError } from '../../src/operations/replay.js';
import { correlationTimeline, listCategories, listStreams, searchEvents, streamEvents, streamStateAt, tailEvents } from '../../src/operations/streams.js';
import type { EventView, OpsDeps } from '../../src/operations/types.js';
import { createFreePlansOnRegistration, FREE_PLANS_ON_REGISTRATION } from '../../src/process-managers/index.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { EventDecodeError } from '../../src/write-model/core/event-codec.js';
import { apiKeyStream } from '../../src/write-model/api-key/decider.js';
import { apiKeyUsageStream } from '../../src/write-model/api-key/usage.js';
import { notificationStream } from '../../src/write-model/notification/decider.js';
import { novelAlertStream } from '../../src/write-model/novel-alert/decider.js';
import { novelAlertRuleStream } from '../../src/write-model/novel-alert/rule-reservation.js';
import { reportStream } from '../../src/write-model/report/decider.js';
import { reportRunStream } from '../../src/write-model/report-run/decider.js';
import { novelTrackingStream } from '../../src/write-model/novel-tracking/decider.js';
import { outgoingMessageStream } from '../../src/write-model/outgoing-message/decider.js';
import { publicationStream } from '../../src/write-model/publication/decider.js';
import { reviewRuleSetStream } from '../../src/write-model/review-rules/decider.js';
import { reviewStream } from '../../src/write-model/review/decider.js';
import { keywordWatchStream } from '../../src/write-model/qidian-keyword/decider.js';
import { usernameReservationStream } from '../../src/write-model/user/username-reservation.js';
import { xiaohongshuContentStream } from '../../src/write-model/xiaohongshu-content/decider.js';
import { paymentStream } from '../../src/write-model/payment-order/decider.js';
import { platformAccountStream } from '../../src/write-model/platform-account/decider.js';
import { proxyHealthStream } from '../../src/write-model/proxy-health/decider.js';
import { proxyStream } from '../../src/write-model/proxy/decider.js';
import { subscriptionStream } from '../../src/write-model/subscription/decider.js';
import { subscriptionUsageStream } from '../../src/write-model/subscription-usage/decider.js';
import { userAggregate, userStream } from '../../src/write-model/user/decider.js';
import { emailReservationStream } from '../../src/write-model/user/email-reservation.js';
import { sessionStream } from '../../src/write-model/session/decider.js';
import { workflowExecutionStream } from '../../src/write-model/workflow-execution/decider.js';
import { workflowAggregate, workflowStream } from '../../src/write-model/workflow/decider.js';
import { smsInboundStream, smsMessageStream } from '../../src/write-model/sms-message/index.js';
import { invitationStream, membershipClaimStream, organizationStream } from '../../src/write-model/organization/index.js';
import { ledgerStream } from '../../src/write-model/ledger/decider.js';
import { ledgerAccountStream } from '../../src/write-model/ledger-account/decider.js';
import { smsBatchStream } from '../../src/write-model/sms-batch/decider.js';
import { smsKeywordStream } from '../../src/write-model/sms-keyword/decider.js';
import { statisticsExportStream } from '../../src/write-model/statistics-export/decider.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

const FAKE_HASH = '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
const passwordHasher = { hash: async () => FAKE_HASH, verify: async () => true } as never;

describe('operations: streams, state at a revision, search, tail, replay, audit (Postgres store)', function () {
  this.timeout(60_000);
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let store: PostgresEventStore;
  let knex: Knex;
  let deps: OpsDeps;
  const pm = `pm-free-plans-ops-test-${randomUUID().slice(0, 8)}`;
  let userId: string;
  const requestId = randomUUID();
  const HOSTILE_ID = '=HYPERLINK("http://evil.example","x")';

  before(async () => {
    // the store's tables in a schema of their own (only this test's events); consumer_checkpoints from public
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, searchPath: [iso.schema, 'public'], pool: { min: 0, max: 5 } });
    deps = { store, knex, databaseUrl: testDatabaseUrl, timeZone: 'Asia/Shanghai' };
    // seeded by the real code: a sign-up as the HTTP route sends it, then the free-plans process manager
    const registered = await registerUser(
      { store, passwordHasher },
      {
        email: `ops-${randomUUID()}@example.test`,
        password: 'a good password',
        displayName: 'Ops',
        role: 'user',
        context: { correlationId: requestId, causationId: requestId, requestId },
      },
    );
    userId = registered.userId;
    await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, createFreePlansOnRegistration({ store }, pm));
    await handle(
      store,
      userAggregate,
      userId,
      { type: 'UpdateProfile', userId, displayName: 'Ops 2', now: new Date().toISOString() },
      {
        // a client-chosen request id that a spreadsheet would run as a formula
        context: { correlationId: HOSTILE_ID, causationId: HOSTILE_ID, actor: userId, requestId: HOSTILE_ID },
      },
    );
  });
  after(async () => {
    await knex?.('consumer_checkpoints').where({ consumer: pm }).delete();
    await store?.close();
    await knex?.destroy();
    await iso?.drop();
  });

  it('knows the decider of every aggregate category, named as its stream function names streams', () => {
    const streams = [
      userStream('x'),
      emailReservationStream('x'),
      usernameReservationStream('x'),
      sessionStream('x'),
      subscriptionStream('x', 'qidian'),
      paymentStream('x'),
      platformAccountStream('x'),
      proxyStream('x'),
      workflowStream('x'),
      workflowExecutionStream('x'),
      novelTrackingStream('x'),
      novelAlertStream('x'),
      novelAlertRuleStream('x'),
      keywordWatchStream('x'),
      notificationStream('x'),
      subscriptionUsageStream('x'),
      proxyHealthStream('x'),
      xiaohongshuContentStream('x'),
      apiKeyStream('x'),
      apiKeyUsageStream('x'),
      outgoingMessageStream('x'),
      publicationStream('x'),
      reviewRuleSetStream('x'),
      reviewStream('x'),
      reportStream('x'),
      reportRunStream('x'),
      articleStream('x'),
      mediaStream('x'),
      queueAlertStream('x'),
      queueInterventionStream('x'),
      smsMessageStream('x'),
      smsInboundStream('x'),
      ledgerStream('x'),
      ledgerAccountStream('x'),
      smsBatchStream('x'),
      smsKeywordStream('X'),
      statisticsExportStream('x'),
      organizationStream('x'),
      membershipClaimStream('x'),
      invitationStream('x'),
    ];
    expect(streams.map((s) => aggregateFor(s)?.category)).to.deep.equal(streams.map(categoryOf));
    expect(AGGREGATES).to.have.length(streams.length); // one stream function above per aggregate
    expect(aggregateFor('unknown-1')).to.equal(undefined);
  });

  it('lists categories and streams, shows a stream with its metadata; secrets redacted', async () => {
    const categories = await listCategories(deps);
    expect(categories.map((c) => c.category)).to.deep.equal(['subscription', 'user', 'user_email']);
    expect(categories.find((c) => c.category === 'subscription')).to.include({ streams: 2, events: 2 });
    const listed = await listStreams(deps, { category: 'subscription', page: 1, perPage: 1 });
    expect(listed.total).to.equal(2);
    expect(listed.items).to.have.length(1);
    const users = await listStreams(deps, { prefix: `user-${userId}`, page: 1, perPage: 10 });
    expect(users.items.map(({ lastEventAt, ...rest }) => rest)).to.deep.equal([{ stream: userStream(userId), revision: '1', events: 2 }]);
    expect(await listStreams(deps, { category: 'user', page: 2, perPage: 10 })).to.deep.equal({ items: [], total: 1 });

    const events = await streamEvents(deps, userStream(userId));
    expect(events.map((e) => [e.revision, e.type])).to.deep.equal([
      ['0', 'UserRegistered'],
      ['1', 'ProfileUpdated'],
    ]);
    expect(events[0]!.metadata).to.deep.equal({ $correlationId: requestId, $causationId: requestId, requestId, userId, schemaVersion: 1 });
    expect((events[0]!.data as Record<string, unknown>).passwordHash).to.equal('[redacted]');
    expect(events[0]!.position).to.match(/^\d+-\d+$/);
    expect((await streamEvents(deps, userStream(userId), { fromRevision: 1n })).map((e) => e.type)).to.deep.equal(['ProfileUpdated']);
    let missing: unknown;
    await streamEvents(deps, 'user-nobody').catch((error: unknown) => (missing = error));
    expect(missing).to.be.instanceOf(StreamNotFoundError);
  });

  it('folds the aggregate to a revision, with the event at it', async () => {
    const at0 = await streamStateAt(deps, userStream(userId), 0n);
    expect(at0).to.include({ aggregate: 'user', revision: '0', events: 1 });
    expect(at0.event!.type).to.equal('UserRegistered');
    expect((at0.state as any).account.profile.displayName).to.equal('Ops');
    expect((at0.state as any).account.passwordHash).to.equal('[redacted]');
    const latest = await streamStateAt(deps, userStream(userId));
    expect(latest).to.include({ revision: '1', events: 2 });
    expect((latest.state as any).account.profile.displayName).to.equal('Ops 2');
    let error: unknown;
    await streamStateAt(deps, userStream(userId), 5n).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(RangeError);
  });

  it('follows a correlation across aggregates, and searches by user, type, prefix and time', async () => {
    const timeline = await correlationTimeline(deps, requestId);
    expect(timeline.map((e) => e.type)).to.deep.equal(['EmailReserved', 'UserRegistered', 'SubscriptionStarted', 'SubscriptionStarted']);
    for (const e of timeline.slice(2))
      expect(e.metadata).to.include({ userId: `pm:${pm}`, requestId, $correlationId: requestId, $causationId: timeline[1]!.id });

    const byUser = await searchEvents(deps, { userId });
    expect(byUser.map((e) => e.type)).to.deep.equal(['EmailReserved', 'UserRegistered', 'SubscriptionStarted', 'SubscriptionStarted', 'ProfileUpdated']);
    expect((await searchEvents(deps, { userId: `pm:${pm}` })).map((e) => e.type)).to.deep.equal(['SubscriptionStarted', 'SubscriptionStarted']);
    expect((await searchEvents(deps, { types: ['ProfileUpdated', 'EmailReserved'] })).map((e) => e.type)).to.deep.equal(['EmailReserved', 'ProfileUpdated']);
    expect(await searchEvents(deps, { streamPrefix: 'subscription-', limit: 1 })).to.have.length(1);
    const all = await searchEvents(deps, {});
    const second = all[1]!.created;
    expect((await searchEvents(deps, { from: second })).length)
      .to.be.at.least(all.length - 1)
      .and.below(all.length + 1);
    expect(await searchEvents(deps, { to: '2000-01-01' })).to.deep.equal([]);
    let bad: unknown;
    await searchEvents(deps, { from: 'yesterday-ish' }).catch((e: unknown) => (bad = e));
    expect(bad).to.be.instanceOf(RangeError);
  });

  it('tails new events, filtered', async () => {
    const seen: EventView[] = [];
    const tail = (async () => {
      for await (const event of tailEvents(deps, { types: ['ProfileUpdated'], streamPrefix: 'user-' })) {
        seen.push(event);
        if (seen.length === 1) break;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await handle(
      store,
      userAggregate,
      userId,
      { type: 'UpdateProfile', userId, displayName: 'Ops 3', now: new Date().toISOString() },
      {
        context: { correlationId: 'req-3', causationId: 'req-3', actor: userId, requestId: 'req-3' },
      },
    );
    await tail;
    expect(seen.map((e) => [e.type, e.metadata.requestId])).to.deep.equal([['ProfileUpdated', 'req-3']]);
  });

  it('replay: knows every consumer, lists what a dry run would re-deliver, refuses unknown names and bad positions', async () => {
    const names = knownConsumers(deps).map((c) => c.name);
    expect(names).to.include(FREE_PLANS_ON_REGISTRATION).and.include('users-v1');
    // a real consumer's checkpoint lives in the shared public table: only dry runs here (the e2e test rewinds one in a database of its own)
    const before = await knex('consumer_checkpoints').where({ consumer: FREE_PLANS_ON_REGISTRATION }).first();
    const dry = await replayConsumer(deps, { consumer: FREE_PLANS_ON_REGISTRATION, from: 'start', dryRun: true, sample: 5 });
    expect(dry).to.include({ dryRun: true, kind: 'process-manager', count: 1 });
    expect(dry.events.map((e) => e.type)).to.deep.equal(['UserRegistered']);
    expect(dry.head).to.equal(formatPosition(await store.headPosition()));
    const after = await knex('consumer_checkpoints').where({ consumer: FREE_PLANS_ON_REGISTRATION }).first();
    expect(after?.epoch, 'a dry run changes nothing').to.equal(before?.epoch);

    let unknown: unknown;
    await replayConsumer(deps, { consumer: 'nope', from: 'start', dryRun: true }).catch((e: unknown) => (unknown = e));
    expect(unknown).to.be.instanceOf(ReplayError);
    expect((unknown as Error).message).to.include('users-v1');
    let badPosition: unknown;
    await replayConsumer(deps, { consumer: 'users-v1', from: 'twelve', dryRun: true }).catch((e: unknown) => (badPosition = e));
    expect(badPosition).to.be.instanceOf(ReplayError);
  });

  it("exports a user's audit trail as CSV and JSON with who, why, request and when", async () => {
    const read = async (format: 'csv' | 'json') => {
      let text = '';
      for await (const chunk of auditExport(deps, { userId, format, from: '2000-01-01', to: '2999-01-01' })) text += chunk.toString();
      return text;
    };
    const json = JSON.parse(await read('json')) as Record<string, unknown>[];
    expect(json.map((r) => r.type)).to.deep.equal([
      'EmailReserved',
      'UserRegistered',
      'SubscriptionStarted',
      'SubscriptionStarted',
      'ProfileUpdated',
      'ProfileUpdated',
    ]);
    expect(json[1]).to.include({ who: userId, relation: 'both', why: requestId, request_id: requestId, correlation_id: requestId });
    expect(json[2]).to.include({ who: `pm:${pm}`, relation: 'subject', request_id: requestId });
    expect(JSON.stringify(json)).to.not.include('argon2id');
    const csv = (await read('csv')).trim().split('\n');
    expect(csv[0]).to.equal('when,position,stream,revision,type,event_id,who,relation,why,correlation_id,request_id,data');
    expect(csv).to.have.length(7);
    expect(csv[2]).to.include(',UserRegistered,').and.include(requestId);
    // the hostile request id is there, inert (a leading apostrophe), and nowhere as a live formula
    const hostile = csv.find((line) => line.includes('HYPERLINK'));
    expect(hostile).to.include(',ProfileUpdated,').and.include(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(
      csv.some((line) => /(^|,)"?=/.test(line)),
      'a cell starting with =',
    ).to.equal(false);
    let empty = '';
    for await (const chunk of auditExport(deps, { userId, format: 'json', to: '2000-01-01' })) empty += chunk.toString();
    expect(JSON.parse(empty)).to.deep.equal([]);
  });

  // last: it adds streams of another category the listings above do not expect
  it("folds decoded events: a workflow's state at each revision, and a stored event that does not fit is refused", async () => {
    const workflowId = randomUUID();
    const ownerId = randomUUID();
    const at = new Date().toISOString();
    await handle(
      store,
      workflowAggregate,
      workflowId,
      {
        type: 'CreateWorkflow',
        workflowId,
        ownerId,
        platform: 'qidian',
        workflowType: 'qidian.rankings',
        name: 'ranks',
        config: { rankings: ['热销榜'] },
        platformAccountId: null,
        schedule: { kind: 'interval', every: 'daily' },
        now: at,
      },
      { context: { correlationId: workflowId, causationId: workflowId, actor: 'test' } },
    );
    const created = await streamStateAt(deps, workflowStream(workflowId), 0n);
    expect(created).to.include({ aggregate: 'workflow', revision: '0', events: 1 });
    expect(created.state).to.deep.include({ status: 'active', schedule: null });
    expect((await streamStateAt(deps, workflowStream(workflowId))).state).to.deep.include({ schedule: { kind: 'interval', every: 'daily' } });

    const broken = `workflow-${randomUUID()}`;
    await store.append(broken, [{ id: randomUUID(), type: 'WorkflowCreated', data: { workflowId: 'w', ownerId: 7 }, metadata: {} }], 'no_stream');
    let error: unknown;
    await streamStateAt(deps, broken).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(EventDecodeError);
  });

  it('exports and searches no event positioned after an append still in flight: no hole where it commits later', async () => {
    const noted = (n: number) => ({ id: randomUUID(), type: 'AuditProbeNoted', data: { userId, n }, metadata: {} });
    const exported = async () => {
      let text = '';
      for await (const chunk of auditExport(deps, { userId, format: 'json' })) text += chunk.toString();
      return (JSON.parse(text) as { type: string; event_id: string }[]).filter((r) => r.type === 'AuditProbeNoted').map((r) => r.event_id);
    };
    const slow = noted(1);
    const fast = noted(2);
    // the slow append takes its transaction id first and commits last; the fast one commits at once behind it
    const open = new pg.Client({ connectionString: iso.connectionString, application_name: 'audit-export-open-append' });
    await open.connect();
    let committed = false;
    try {
      await open.query('BEGIN');
      await open.query(fastAppendStatement(`audit_probe-${randomUUID()}`, [slow], 'no_stream'));
      await store.append(`audit_probe-${randomUUID()}`, [fast], 'no_stream');
      expect(await exported(), 'the export stops before the append in flight').to.deep.equal([]);
      expect((await searchEvents(deps, { userId, types: ['AuditProbeNoted'] })).map((e) => e.id)).to.deep.equal([]);
      await open.query('COMMIT');
      committed = true;
    } finally {
      if (!committed) await open.query('ROLLBACK').catch(() => undefined);
      await open.end();
    }
    expect(await exported(), 'both, the slow one first (its position is the lower)').to.deep.equal([slow.id, fast.id]);
    expect((await searchEvents(deps, { userId, types: ['AuditProbeNoted'] })).map((e) => e.id)).to.deep.equal([slow.id, fast.id]);
  });
});
