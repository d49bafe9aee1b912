import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { PostgresCatchUpReader } from '../../src/adapters/event-store/postgres/catch-up-reader.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { comparePositions, formatPosition, START, type Position } from '../../src/event-store/position.js';
import {
  projectionDefinitions,
  projectionStatuses,
  RebuildBatchError,
  RebuildInProgressError,
  rebuildConsumerName,
  rebuildProjection,
  shadowSchemaName,
} from '../../src/operations/projections.js';
import type { OpsDeps, RebuildProgress } from '../../src/operations/types.js';
import { createProjections } from '../../src/projections/index.js';
import { SUBSCRIPTIONS_PROJECTION, subscriptionsProjection } from '../../src/projections/subscriptions.js';
import { readCheckpoint } from '../../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import { consumeQuota, releaseResource, reserveResource, type QuotaCall } from '../../src/application/subscription-quotas.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { subscriptionAggregate, subscriptionKey, type SubscriptionCommand } from '../../src/write-model/subscription/index.js';
import { scratchDatabase } from '../support/scratch-database.js';
import { waitFor } from '../support/wait-for.js';

const NAME = SUBSCRIPTIONS_PROJECTION;

/** A node of EXPLAIN (FORMAT JSON). */
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}
const TABLES = ['subscriptions', 'feature_usage_stats', 'subscription_reservations'] as const;
const ORDER: Record<(typeof TABLES)[number], string> = {
  subscriptions: 'id',
  feature_usage_stats: 'subscription_id, feature, day',
  subscription_reservations: 'subscription_id, feature, resource_id',
};
const DAY1 = '2026-03-01';
const DAY2 = '2026-03-02';
const at = (day: string, hhmm: string) => `${day}T${hhmm}:00.000Z`;

/** A use of the daily counter (counted in the day's usage stream through the application) or a subscription command. */
type Step = SubscriptionCommand | { type: 'ConsumeQuota'; feature: 'daily_api_calls'; amount: number; day: string; resetsAt: string; now: string };

/** 13 steps → 13 events on the subscription's stream and its two days' usage streams (usage, refusals, reservations, a plan change, a cancel). */
const scenario = (subscriptionId: string, userId: string): Step[] => [
  { type: 'StartSubscription', subscriptionId, userId, service: 'xiaohongshu', plan: 'free', now: at(DAY1, '01:00') },
  { type: 'ConsumeQuota', feature: 'daily_api_calls', amount: 30, day: DAY1, resetsAt: `${DAY1}T16:00:00.000Z`, now: at(DAY1, '02:00') },
  { type: 'ConsumeQuota', feature: 'daily_api_calls', amount: 15, day: DAY1, resetsAt: `${DAY1}T16:00:00.000Z`, now: at(DAY1, '03:00') },
  { type: 'ConsumeQuota', feature: 'daily_api_calls', amount: 10, day: DAY1, resetsAt: `${DAY1}T16:00:00.000Z`, now: at(DAY1, '04:00') },
  { type: 'ReserveResource', feature: 'account_limit', resourceId: 'acc-1', day: DAY1, resetsAt: `${DAY1}T16:00:00.000Z`, now: at(DAY1, '05:00') },
  { type: 'ReserveResource', feature: 'account_limit', resourceId: 'acc-2', day: DAY1, resetsAt: `${DAY1}T16:00:00.000Z`, now: at(DAY1, '06:00') },
  { type: 'ConsumeQuota', feature: 'daily_api_calls', amount: 7, day: DAY2, resetsAt: `${DAY2}T16:00:00.000Z`, now: at(DAY2, '01:00') },
  { type: 'ChangePlan', plan: 'pro', orderId: `order-${userId}`, periodEnd: '2026-04-02T02:00:00.000Z', now: at(DAY2, '02:00') },
  { type: 'ReserveResource', feature: 'account_limit', resourceId: 'acc-2', day: DAY2, resetsAt: `${DAY2}T16:00:00.000Z`, now: at(DAY2, '03:00') },
  { type: 'ReserveResource', feature: 'automation_workflows', resourceId: 'wf-1', day: DAY2, resetsAt: `${DAY2}T16:00:00.000Z`, now: at(DAY2, '04:00') },
  { type: 'ReleaseResource', feature: 'account_limit', resourceId: 'acc-1', now: at(DAY2, '05:00') },
  { type: 'ConsumeQuota', feature: 'daily_api_calls', amount: 100, day: DAY2, resetsAt: `${DAY2}T16:00:00.000Z`, now: at(DAY2, '06:00') },
  { type: 'CancelSubscription', now: at(DAY2, '07:00') },
];

describe('projection rebuild (subscriptions-v1, fresh database): shadow tables, swap, resume, one at a time', function () {
  this.timeout(180_000);
  let databaseUrl: string;
  let knex: Knex;
  let scratch: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let store: PostgresEventStore;
  let deps: OpsDeps;
  let live: ConsumerRunner;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  const writeSubscription = async () => {
    const userId = randomUUID();
    const subscriptionId = randomUUID();
    const call = (now: string): QuotaCall => ({ store, userId, service: 'xiaohongshu', now: new Date(now), timeZone: 'Asia/Shanghai', context });
    for (const step of scenario(subscriptionId, userId)) {
      try {
        if (step.type === 'ConsumeQuota') await consumeQuota(call(step.now), step.feature, step.amount);
        else if (step.type === 'ReserveResource') await reserveResource(call(step.now), step.feature, step.resourceId);
        else if (step.type === 'ReleaseResource') await releaseResource(call(step.now), step.feature, step.resourceId);
        else await handle(store, subscriptionAggregate, subscriptionKey(userId, 'xiaohongshu'), step, { context });
      } catch (error) {
        // the refusals are recorded (QuotaExceeded) and answered 429
        if (!(error instanceof DomainError && error.code === 'QUOTA_EXCEEDED')) throw error;
      }
    }
  };

  /** Keeps appending real subscription events until stopped. */
  const startWriter = () => {
    let stop = false;
    let written = 0;
    const done = (async () => {
      while (!stop) {
        await writeSubscription();
        written++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    return {
      async stop() {
        stop = true;
        await done;
        return written;
      },
    };
  };

  /**
   * Keeps querying the live tables, one statement per read (one snapshot):
   * every read must succeed, the row counts never drop, and the completed
   * subscriptions (guard last_revision = 12) match their usage and
   * reservation rows — what a half-built table would break.
   */
  const startReader = () => {
    let stop = false;
    const reads: { subscriptions: number; complete: number; usage: number; reservations: number }[] = [];
    const problems: string[] = [];
    const done = (async () => {
      while (!stop) {
        try {
          const { rows } = await knex.raw(`
            SELECT (SELECT count(*) FROM subscriptions)::int AS subscriptions,
                   (SELECT count(*) FROM subscriptions WHERE last_revision = 12)::int AS complete,
                   (SELECT count(*) FROM feature_usage_stats)::int AS usage,
                   (SELECT count(*) FROM subscription_reservations)::int AS reservations,
                   (SELECT count(*) FROM (SELECT DISTINCT
                      (SELECT count(*) FROM feature_usage_stats u WHERE u.subscription_id = s.id) AS usage,
                      (SELECT count(*) FROM subscription_reservations r WHERE r.subscription_id = s.id) AS reservations
                    FROM subscriptions s WHERE s.last_revision = 12) shapes)::int AS shapes`);
          const read = rows[0];
          const previous = reads[reads.length - 1];
          // every completed subscription has the same usage and reservation rows (one shape), or none is complete yet
          if (read.shapes > 1) problems.push(`completed subscriptions differ in their usage/reservation rows: ${JSON.stringify(read)}`);
          if (previous && (read.subscriptions < previous.subscriptions || read.complete < previous.complete)) {
            problems.push(`rows dropped: ${JSON.stringify(previous)} → ${JSON.stringify(read)}`);
          }
          reads.push(read);
        } catch (error) {
          problems.push(`read failed: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    return {
      reads,
      problems,
      async stop() {
        stop = true;
        await done;
      },
    };
  };

  const schemaOf = async () => {
    const indexes = await knex.raw(
      `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(?) ORDER BY indexname`,
      [[...TABLES]],
    );
    const constraints = await knex.raw(
      `SELECT conrelid::regclass::text AS t, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid = ANY(SELECT ('public.' || x)::regclass FROM unnest(?::text[]) x) ORDER BY conname`,
      [[...TABLES]],
    );
    return { indexes: indexes.rows, constraints: constraints.rows };
  };

  const contents = async (schema: string) => {
    const out: Record<string, unknown[]> = {};
    for (const table of TABLES) out[table] = (await knex.raw(`SELECT * FROM "${schema}"."${table}" ORDER BY ${ORDER[table]}`)).rows;
    return out;
  };

  /** The projection replayed from nothing into tables of a new schema (not the code under test's way of making them). */
  const freshReplay = async (): Promise<string> => {
    const schema = `fresh_${randomUUID().replaceAll('-', '').slice(0, 8)}`;
    await knex.raw(`CREATE SCHEMA "${schema}"`);
    for (const table of TABLES) await knex.raw(`CREATE TABLE "${schema}"."${table}" (LIKE public."${table}" INCLUDING ALL)`);
    const consumer: Consumer = {
      name: `fresh-replay-${schema}`,
      filter: subscriptionsProjection.filter!,
      async handle(events, ctx) {
        await ctx.tx.raw(`SET LOCAL search_path TO "${schema}", public`);
        await subscriptionsProjection.handle(events, ctx);
      },
    };
    const runner = new ConsumerRunner({ store, knex, databaseUrl }, consumer, { idleCheckpointMs: 20 });
    runner.start();
    const head = await store.headPosition();
    try {
      await waitFor('fresh replay at the head', async () => comparePositions(await readCheckpoint(knex, consumer.name), head) >= 0, 120_000);
    } finally {
      await runner.stop();
    }
    return schema;
  };

  before(async () => {
    scratch = await scratchDatabase('collector_rebuild');
    databaseUrl = scratch.url;
    knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 12 } });
    store = createPostgresEventStore({ connectionString: databaseUrl, poolSize: 8 });
    deps = { store, knex, databaseUrl, timeZone: 'Asia/Shanghai' };
    // ~1,300 events: 100 subscriptions, written 10 at a time
    for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 10 }, () => writeSubscription()));
    live = new ConsumerRunner({ store, knex, databaseUrl }, subscriptionsProjection, {
      idleCheckpointMs: 100,
      lockRetryMs: 100,
      minBackoffMs: 50,
      maxBackoffMs: 500,
    });
    live.start();
    const head = await store.headPosition();
    await waitFor('live projection at the head', async () => comparePositions(await readCheckpoint(knex, NAME), head) >= 0, 60_000);
  });
  after(async () => {
    await live?.stop();
    await store?.close();
    await knex?.destroy();
    await scratch?.drop();
  });

  it('names every projection of createProjections with its tables (guard tables included), each table owned once', () => {
    const defs = projectionDefinitions('Asia/Shanghai');
    expect(defs.map((d) => d.name)).to.deep.equal(createProjections({ timeZone: 'Asia/Shanghai' }).map((c) => c.name));
    const tables = defs.flatMap((d) => d.tables);
    expect(new Set(tables).size).to.equal(tables.length);
    expect(defs.find((d) => d.name === NAME)).to.include({ base: 'subscriptions', version: 1 });
    expect(defs.find((d) => d.name === 'notifications-v1')!.tables).to.include('notification_inboxes');
    expect(defs.find((d) => d.name === 'xiaohongshu-content-v1')!.tables).to.include('xiaohongshu_processed_batches');
  });

  it('a crashed rebuild resumes from its own checkpoint; a second one at the same time is refused; status says rebuilding', async () => {
    const controller = new AbortController();
    let abortedAt: RebuildProgress | undefined;
    const first = rebuildProjection(deps, NAME, {
      signal: controller.signal,
      // small batches: there is something to stop half-way
      batchSize: 50,
      onProgress: (p) => {
        // once the events are counted (beside the load)
        if (!abortedAt && p.phase === 'replaying' && p.processedEvents > 0 && p.counted) abortedAt = p;
      },
    });
    let settled = false;
    void first.finally(() => (settled = true)).catch(() => undefined);
    // while it runs: a second rebuild of the same projection is refused; then the first is stopped (a crash, as far as it knows)
    await waitFor('first rebuild replaying', async () => settled || abortedAt !== undefined, 30_000);
    const concurrent = await rebuildProjection(deps, NAME).catch((e: unknown) => e);
    controller.abort();
    const error = await first.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(concurrent).to.be.instanceOf(RebuildInProgressError);
    expect((error as Error)?.name, String(error)).to.equal('AbortError');
    expect(abortedAt!.processedEvents).to.be.above(0).and.below(abortedAt!.totalEvents);

    // the shadow schema and the rebuild checkpoint stay; the live tables are untouched
    const stoppedAt = await readCheckpoint(knex, rebuildConsumerName(NAME));
    expect(comparePositions(stoppedAt, START)).to.equal(1);
    const shadowRows = Number(
      (await knex.raw(`SELECT count(*) FROM "${shadowSchemaName({ base: 'subscriptions', version: 1 })}".subscriptions`)).rows[0].count,
    );
    expect(shadowRows).to.be.above(0).and.below(100);
    const [status] = await projectionStatuses(deps, [NAME]);
    expect(status).to.include({ name: NAME, state: 'rebuilding' });
    expect(status!.rebuild!.processedEvents).to.be.at.least(abortedAt!.processedEvents);

    // started again, it goes on from there: its first report is not back at zero
    const resumed: RebuildProgress[] = [];
    const done = await rebuildProjection(deps, NAME, { onProgress: (p) => resumed.push(p) });
    expect(resumed[0]!.processedEvents).to.be.at.least(abortedAt!.processedEvents);
    expect(done.phase).to.equal('done');
    expect((await projectionStatuses(deps, [NAME]))[0]).to.include({ state: 'live', rebuild: null });
  });

  /** Starts a rebuild in small batches and stops it once it has handled some events: the shadow as a load leaves it. */
  const stopMidLoad = async (): Promise<RebuildProgress> => {
    const controller = new AbortController();
    let stoppedAt: RebuildProgress | undefined;
    const error = await rebuildProjection(deps, NAME, {
      batchSize: 50,
      signal: controller.signal,
      onProgress: (p) => {
        if (!stoppedAt && p.phase === 'replaying' && p.processedEvents >= 100) {
          stoppedAt = p;
          controller.abort();
        }
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error)?.name, String(error)).to.equal('AbortError');
    return stoppedAt!;
  };
  const SHADOW = shadowSchemaName({ base: 'subscriptions', version: 1 });
  const persistence = async (schema: string) =>
    (
      await knex.raw(`SELECT c.relname AS t, c.relpersistence AS p FROM pg_class c WHERE c.relnamespace = ?::regnamespace AND c.relname = ANY(?) ORDER BY 1`, [
        schema,
        [...TABLES],
      ])
    ).rows;

  it('loads the shadow unlogged with only its keys (no secondary index, no foreign key); after the swap every live index and constraint is back, logged', async () => {
    const before = await schemaOf();
    // the live tables have what the load leaves out: the test can fail
    const live = await knex.raw(
      `SELECT c.relname AS name, x.indisunique AS unique FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relnamespace = 'public'::regnamespace AND t.relname = ANY(?) ORDER BY 1`,
      [[...TABLES]],
    );
    const keys = live.rows.filter((r: { unique: boolean }) => r.unique).map((r: { name: string }) => r.name);
    expect(live.rows.length - keys.length, 'secondary indexes on the live tables').to.be.at.least(3);
    expect(before.constraints.filter((c: { def: string }) => c.def.startsWith('FOREIGN KEY'))).to.have.length(2);

    const stoppedAt = await stopMidLoad();
    const shadowIndexes = await knex.raw(`SELECT indexname FROM pg_indexes WHERE schemaname = ? AND tablename = ANY(?) ORDER BY 1`, [SHADOW, [...TABLES]]);
    expect(
      shadowIndexes.rows.map((r: { indexname: string }) => r.indexname),
      'only the primary keys and unique indexes during the load',
    ).to.deep.equal(keys);
    const shadowForeignKeys = await knex.raw(`SELECT conname FROM pg_constraint WHERE contype = 'f' AND connamespace = ?::regnamespace`, [SHADOW]);
    expect(shadowForeignKeys.rows).to.deep.equal([]);
    expect((await persistence(SHADOW)).map((r: { p: string }) => r.p)).to.deep.equal(['u', 'u', 'u']);

    const done = await rebuildProjection(deps, NAME);
    expect(done.processedEvents).to.be.above(stoppedAt.processedEvents);
    expect(await schemaOf(), 'the same indexes and constraints, by name and definition').to.deep.equal(before);
    expect((await persistence('public')).map((r: { p: string }) => r.p)).to.deep.equal(['p', 'p', 'p']);
  });

  it('a load whose unlogged tables a crash emptied starts over instead of resuming', async () => {
    const expected = await contents('public');
    const stoppedAt = await stopMidLoad();
    expect(stoppedAt.processedEvents).to.be.above(0);
    // what crash recovery does to unlogged tables: they come back empty (the marker row with them)
    await knex.raw(`TRUNCATE ${[...TABLES, '_rebuild_load'].map((t) => `"${SHADOW}"."${t}"`).join(', ')}`);
    const reports: RebuildProgress[] = [];
    const done = await rebuildProjection(deps, NAME, { onProgress: (p) => reports.push(p) });
    expect(reports[0]!.processedEvents, 'started over').to.equal(0);
    expect(done.phase).to.equal('done');
    expect(await contents('public')).to.deep.equal(expected);
  });

  it('rebuilds while writes continue and readers query: no read sees a half-built table; afterwards the tables equal a fresh replay', async () => {
    const schemaBefore = await schemaOf();
    const countBefore = Number((await knex('subscriptions').count({ n: '*' }))[0]!.n);
    const writer = startWriter();
    const reader = startReader();
    const phases: string[] = [];
    let done: RebuildProgress;
    let written = 0;
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      done = await rebuildProjection(deps, NAME, { onProgress: (p) => phases.push(p.phase) });
      // writes go on after the swap: the (fenced) live projection follows them into the new tables
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await reader.stop();
      written = await writer.stop();
    }
    expect(reader.problems, reader.problems.slice(0, 5).join('\n')).to.deep.equal([]);
    expect(reader.reads.length).to.be.above(20);
    expect(written).to.be.above(0);
    expect(phases).to.include.members(['replaying', 'swapping', 'done']);
    expect(done!.phase).to.equal('done');
    expect(done!.processedEvents).to.be.at.least(countBefore * 13);

    // no shadow left; indexes and constraints (foreign keys too) as the migrations made them
    expect((await knex.raw(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rebuild\\_%'`)).rows).to.deep.equal([]);
    expect(await knex('consumer_checkpoints').where({ consumer: rebuildConsumerName(NAME) })).to.deep.equal([]);
    expect(await schemaOf()).to.deep.equal(schemaBefore);

    const head = await store.headPosition();
    await waitFor('live projection at the head after the swap', async () => comparePositions(await readCheckpoint(knex, NAME), head) >= 0, 30_000);
    expect(live.status().state).to.equal('running');
    const fresh = await freshReplay();
    const rebuilt = await contents('public');
    expect(rebuilt.subscriptions!.length).to.equal(countBefore + written);
    expect(rebuilt).to.deep.equal(await contents(fresh));
    await knex.raw(`DROP SCHEMA "${fresh}" CASCADE`);
  });

  it('reads only the events its filter wants, off the index (EXPLAIN), and a rebuild handles exactly those', async () => {
    // events no subscription projection wants, before and among its own
    const noise = async (n: number) => {
      for (let i = 0; i < n; i += 10) {
        await store.append(
          `noise-${randomUUID()}`,
          Array.from({ length: 10 }, (_, k) => ({ id: randomUUID(), type: k % 2 ? 'NoiseHappened' : 'NoiseRepeated', data: { k } })),
          'no_stream',
        );
      }
    };
    await noise(1_000);
    await writeSubscription();
    await noise(1_000);
    const types = subscriptionsProjection.filter!.eventTypes!;
    const count = async (where: string, bindings: readonly Knex.RawBinding[]) =>
      Number((await knex.raw(`SELECT count(*) AS n FROM es_events WHERE ${where}`, bindings)).rows[0].n);
    const wanted = await count('event_type = ANY(?)', [[...types]]);
    const all = await count('true', []);
    expect(all - wanted).to.be.at.least(2_000);

    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    try {
      const reader = new PostgresCatchUpReader(pool, subscriptionsProjection.filter, 200);
      // one batch: every scan of es_events is an index scan, and together they read the batch and not much more
      const plan = (await reader.explain(START)) as { Plan: PlanNode }[];
      const scans: PlanNode[] = [];
      const walk = (node: PlanNode) => {
        if (node['Relation Name'] === 'es_events') scans.push(node);
        for (const child of node.Plans ?? []) walk(child);
      };
      walk(plan[0]!.Plan);
      expect(
        scans.map((s) => s['Node Type']).filter((t) => t !== 'Index Scan' && t !== 'Index Only Scan'),
        'no sequential or bitmap scan',
      ).to.deep.equal([]);
      const read = scans.reduce((n, s) => n + s['Actual Rows'] * s['Actual Loops'] + (s['Rows Removed by Filter'] ?? 0), 0);
      expect(read, 'rows of es_events read for a batch of 200').to.be.at.most(200 + scans.length + 1);

      // the whole log: only wanted events, each once, in order, and all of them
      // (a batch stops at the oldest transaction in flight, the live projection's maybe: then it is read again)
      const head = await store.headPosition();
      let at: Position = START;
      const seen: RecordedEvent[] = [];
      while (comparePositions(at, head) < 0) {
        const batch = await reader.read(at);
        seen.push(...batch.events);
        at = batch.checkpoint;
        if (batch.reachedHorizon) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(seen.every((e) => types.includes(e.type))).to.equal(true);
      expect(seen.length).to.equal(wanted);
      expect(seen.every((e, i) => i === 0 || comparePositions(seen[i - 1]!.position, e.position) < 0)).to.equal(true);
      expect(comparePositions(at, head), 'the checkpoint reaches the head, past the noise').to.equal(0);
      expect(await reader.count(START, at)).to.equal(wanted);

      // a filter by stream prefix alone uses the same index
      const byPrefix = new PostgresCatchUpReader(pool, { streamPrefixes: ['noise-'] }, 5_000);
      const noiseEvents = await byPrefix.read(START);
      expect(noiseEvents.events).to.have.length(2_000);
      expect(noiseEvents.events.every((e) => e.streamName.startsWith('noise-'))).to.equal(true);

      // a filter the log holds nothing for (a projection of events nobody has written yet) reads nothing, and moves on
      const nothing = new PostgresCatchUpReader(pool, { eventTypes: ['NoSuchEventEver'] }, 5_000);
      const empty = await nothing.read(START);
      expect(empty.events).to.deep.equal([]);
      expect(empty.reachedHorizon).to.equal(true);
      expect(comparePositions(empty.checkpoint, START)).to.be.greaterThan(0);
      const nothingHere = new PostgresCatchUpReader(pool, { streamPrefixes: ['no_such_category-'], eventTypes: ['NoSuchEventEver'] }, 5_000);
      expect((await nothingHere.read(START)).events).to.deep.equal([]);

      // a consumer's rebuildData: one type's data read as its expression, the other's whole
      const slim = new PostgresCatchUpReader(pool, { streamPrefixes: ['noise-'] }, 5_000, { NoiseHappened: "jsonb_build_object('odd', data->'k')" });
      const shapes = (await slim.read(START)).events;
      expect(shapes).to.have.length(2_000);
      expect(shapes.filter((e) => e.type === 'NoiseHappened').every((e) => JSON.stringify(Object.keys(e.data as object)) === '["odd"]')).to.equal(true);
      expect(shapes.filter((e) => e.type === 'NoiseRepeated').every((e) => JSON.stringify(Object.keys(e.data as object)) === '["k"]')).to.equal(true);
      expect(shapes.map((e) => e.id)).to.deep.equal(noiseEvents.events.map((e) => e.id));
    } finally {
      await pool.end();
    }

    const done = await rebuildProjection(deps, NAME);
    expect(done).to.include({ processedEvents: wanted, totalEvents: wanted });
  });

  it('a batch the handler fails on stops the rebuild naming the event (or, when no event fails on its own, the batch); running it again resumes', async () => {
    const wanted = await store.readAll({ maxCount: 200, filter: subscriptionsProjection.filter! });
    const poison = wanted[70]!;
    const ref = (e: RecordedEvent) => ({ id: e.id, type: e.type, stream: e.streamName, revision: e.revision.toString(), position: formatPosition(e.position) });
    const real = projectionDefinitions('Asia/Shanghai').find((d) => d.name === NAME)!;
    const failing = (fails: (events: RecordedEvent[]) => boolean) => ({
      ...real,
      consumer: {
        ...subscriptionsProjection,
        async handle(events: RecordedEvent[], ctx: { tx: Knex.Transaction }) {
          if (fails(events)) throw new Error('a bug');
          await subscriptionsProjection.handle(events, ctx);
        },
      },
    });

    // fails whenever the poison is in the batch: found by handling the batch one event at a time
    const alone = await rebuildProjection(deps, NAME, { batchSize: 50, definition: failing((events) => events.some((e) => e.id === poison.id)) }).catch(
      (e: unknown) => e,
    );
    expect(alone).to.be.instanceOf(RebuildBatchError);
    const batch = { first: ref(wanted[50]!), last: ref(wanted[99]!), size: 50 };
    expect(alone).to.deep.include({ projection: NAME, batch, event: ref(poison) });
    expect((alone as Error).message).to.equal(
      `${NAME} rebuild stopped at event ${poison.id} (${poison.type} ${poison.streamName}@${poison.revision}, position ${formatPosition(poison.position)}): ` +
        'a bug; fix it and run the rebuild again to resume',
    );

    // fails only beside other events: no event is to blame alone, so the batch is named; it resumed after the first 50
    const together = await rebuildProjection(deps, NAME, {
      batchSize: 50,
      definition: failing((events) => events.length > 1 && events.some((e) => e.id === poison.id)),
    }).catch((e: unknown) => e);
    expect(together).to.be.instanceOf(RebuildBatchError);
    expect(together).to.deep.include({ batch, event: null });
    expect((together as Error).message).to.equal(
      `${NAME} rebuild stopped in a batch of 50 events from ${wanted[50]!.id} (${wanted[50]!.type} ${wanted[50]!.streamName}@${wanted[50]!.revision}, ` +
        `position ${formatPosition(wanted[50]!.position)}) to ${wanted[99]!.id} (${wanted[99]!.type} ${wanted[99]!.streamName}@${wanted[99]!.revision}, ` +
        `position ${formatPosition(wanted[99]!.position)}): a bug; fix it and run the rebuild again to resume`,
    );
    const [status] = await projectionStatuses(deps, [NAME]);
    expect(status!.rebuild).to.include({ running: false, processedEvents: 50 });

    // the fix deployed: it goes on from its checkpoint
    const progress: RebuildProgress[] = [];
    const done = await rebuildProjection(deps, NAME, { onProgress: (p) => progress.push(p) });
    expect(progress[0]!.processedEvents).to.equal(50);
    expect(done.phase).to.equal('done');
  });
});
