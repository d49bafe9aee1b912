import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { Registry } from 'prom-client';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { comparePositions } from '../../src/event-store/position.js';
import { consumerMetrics, deadLetterMetrics } from '../../src/metrics.js';
import { DeadLetterStateError, listDeadLetters, retryDeadLetter, retryDeadLetters, skipDeadLetter } from '../../src/operations/dead-letters.js';
import { readCheckpoint } from '../../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { createProjectionTable } from './fixtures/test-projection.js';

/**
 * Poison events: an event the handler fails on, every time, is parked after
 * its retry budget and the consumer goes on; everything else is applied
 * exactly once (the test table has no unique key: a second application shows
 * up as a second row).
 */
describe('consumer runtime: poison events are parked (dead letters)', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let category: string;
  let table: string;
  let name: string;
  const runners: ConsumerRunner[] = [];

  /** fails (after writing its rows, so the roll-back matters) while any of the batch is in `poisoned` */
  const projection = (poisoned: Set<string>, calls: RecordedEvent[][] = []): Consumer => ({
    name,
    filter: { streamPrefixes: [`${category}-`] },
    batchSize: 20,
    async handle(events, { tx }) {
      calls.push(events);
      await tx(table).insert(events.map((e) => ({ event_id: e.id, stream_name: e.streamName })));
      const bad = events.find((e) => poisoned.has(e.id));
      if (bad) throw new Error(`cannot project ${bad.id}: a bug`);
    },
  });
  const append = async (count: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = randomUUID();
      ids.push(id);
      await store.append(`${category}-${i % 4}`, [{ id, type: 'Happened', data: { i } }]);
    }
    return ids;
  };
  const rows = async () => {
    const [row] = await knex(table).select(knex.raw('count(*)::int AS total'), knex.raw('count(DISTINCT event_id)::int AS distinct'));
    return row as { total: number; distinct: number };
  };
  const rowIds = async () => new Set(((await knex(table).select('event_id')) as { event_id: string }[]).map((r) => r.event_id));
  const run = (consumer: Consumer, metrics?: ReturnType<typeof consumerMetrics>) => {
    const r = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl, ...(metrics ? { metrics } : {}) }, consumer, {
      lockRetryMs: 50,
      minBackoffMs: 20,
      maxBackoffMs: 100,
      maxAttempts: 3,
    });
    runners.push(r);
    r.start();
    return r;
  };
  const atHead = async () => {
    const head = await store.headPosition();
    await waitFor('the checkpoint at the head', async () => comparePositions(await readCheckpoint(knex, name), head) >= 0, 20_000);
  };

  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 6 } });
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 4 });
  });
  after(async () => {
    await store.close();
    await knex.destroy();
  });
  beforeEach(async () => {
    const id = randomUUID().replaceAll('-', '').slice(0, 12);
    category = `dl${id}`;
    table = `dl_rows_${id}`;
    name = `test-dead-letters-${id}`;
    await createProjectionTable(knex, table);
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
    await knex.schema.dropTableIfExists(table);
    await knex('consumer_dead_letters').where({ consumer: name }).delete();
  });

  it('parks only the event that keeps failing; the rest of its batch and later events are applied once, and the checkpoint passes it', async () => {
    const ids = await append(30);
    const bad = ids[13]!;
    const calls: RecordedEvent[][] = [];
    const registry = new Registry();
    const metrics = consumerMetrics(registry);
    const runner = run(projection(new Set([bad]), calls), metrics);
    await atHead();

    expect(await rows()).to.deep.equal({ total: 29, distinct: 29 });
    expect(await rowIds()).to.not.include(bad);
    const letters = await listDeadLetters(knex, { consumer: name });
    expect(letters).to.have.length(1);
    const [letter] = letters;
    expect(letter).to.include({ consumer: name, eventId: bad, type: 'Happened', status: 'parked', attempts: 3, stream: `${category}-1`, revision: '3' });
    expect(letter!.error).to.contain(`cannot project ${bad}: a bug`);
    const [recorded] = await store.readStream(`${category}-1`, { fromRevision: 3n, maxCount: 1 });
    expect(letter!.position).to.equal(`${recorded!.position.commit}-${recorded!.position.prepare}`);
    // the bad event was handled alone exactly maxAttempts times
    expect(calls.filter((batch) => batch.length === 1 && batch[0]!.id === bad)).to.have.length(3);
    expect(runner.status().parked).to.equal(1);
    const text = await registry.metrics();
    expect(text).to.match(new RegExp(`consumer_events_parked_total\\{consumer="${name}"\\} 1`));
    expect(text).to.match(new RegExp(`consumer_handler_failures_total\\{consumer="${name}",kind="event"\\} 3`));

    // later events go through as usual
    await append(10);
    await atHead();
    expect(await rows()).to.deep.equal({ total: 39, distinct: 39 });
    expect(await listDeadLetters(knex, { consumer: name })).to.have.length(1);

    // the api's gauge reads the table
    deadLetterMetrics(registry, knex);
    expect(await registry.metrics()).to.match(new RegExp(`consumer_dead_letters_parked\\{consumer="${name}"\\} 1`));

    // a database that stops answering leaves the last counts, not a gauge that reads as nothing parked
    const gone = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    const apart = new Registry();
    deadLetterMetrics(apart, gone);
    expect(await apart.metrics()).to.match(new RegExp(`consumer_dead_letters_parked\\{consumer="${name}"\\} 1`));
    await gone.destroy();
    expect(await apart.metrics()).to.match(new RegExp(`consumer_dead_letters_parked\\{consumer="${name}"\\} 1`));
  });

  it('goes on after a parked event in a transaction of its own: the parking one holds a transaction id, which must not wait on the rest', async () => {
    const ids = await append(12);
    const bad = ids[5]!;
    /** per event after the bad one: whether its transaction already had an id when it was handled */
    const heldAnId: boolean[] = [];
    const consumer: Consumer = {
      name,
      filter: { streamPrefixes: [`${category}-`] },
      batchSize: 20,
      async handle(events, { tx }) {
        if (events.some((e) => e.id === bad)) throw new Error(`cannot project ${bad}: a bug`);
        const after = events.filter((e) => ids.indexOf(e.id) > 5);
        if (after.length > 0) {
          // before this handler writes anything: does the transaction hold an id already (the dead-letter row's)?
          const { rows } = (await tx.raw('SELECT pg_current_xact_id_if_assigned() IS NOT NULL AS held')) as { rows: { held: boolean }[] };
          heldAnId.push(rows[0]!.held);
        }
        await tx(table).insert(events.map((e) => ({ event_id: e.id, stream_name: e.streamName })));
      },
    };
    run(consumer);
    await atHead();
    expect(await rows()).to.deep.equal({ total: 11, distinct: 11 });
    expect((await listDeadLetters(knex, { consumer: name })).map((l) => l.eventId)).to.deep.equal([bad]);
    expect(heldAnId.at(-1)).to.equal(false, 'the events after the parked one were handled in a fresh transaction');
  });

  it('parks two bad events of one batch and applies every other one once', async () => {
    const ids = await append(20);
    const bad = new Set([ids[2]!, ids[17]!]);
    run(projection(bad));
    await atHead();
    expect(await rows()).to.deep.equal({ total: 18, distinct: 18 });
    const letters = await listDeadLetters(knex, { consumer: name });
    expect(letters.map((l) => l.eventId)).to.deep.equal([ids[2], ids[17]]);
  });

  it('retries a parked event through the handler once it is fixed, while the consumer runs; skips another', async () => {
    const ids = await append(12);
    const poisoned = new Set([ids[4]!, ids[9]!]);
    const consumer = projection(poisoned);
    run(consumer);
    await atHead();
    expect((await rows()).total).to.equal(10);
    const [first, second] = await listDeadLetters(knex, { consumer: name });
    const deps = { knex, store, consumers: (n: string) => (n === name ? consumer : undefined) };

    // not fixed yet: it stays parked, with one more attempt and the new error
    const failed = await retryDeadLetter(deps, first!.id);
    expect(failed.ok).to.equal(false);
    expect(failed.letter).to.include({ status: 'parked', attempts: 4 });
    expect((await rows()).total).to.equal(10);

    // "the fix": the handler no longer fails on it
    poisoned.delete(ids[4]!);
    const retried = await retryDeadLetter(deps, first!.id);
    expect(retried.ok).to.equal(true);
    expect(retried.letter.status).to.equal('retried');
    expect(retried.letter.resolvedAt).to.be.a('string');
    expect(await rows()).to.deep.equal({ total: 11, distinct: 11 });
    expect(await rowIds()).to.include(ids[4]);
    // once only
    let refused: unknown;
    await retryDeadLetter(deps, first!.id).catch((error: unknown) => (refused = error));
    expect(refused).to.be.instanceOf(DeadLetterStateError);
    expect(await rows()).to.deep.equal({ total: 11, distinct: 11 });

    const skipped = await skipDeadLetter(knex, second!.id);
    expect(skipped.status).to.equal('skipped');
    expect(await listDeadLetters(knex, { consumer: name })).to.have.length(0);
    expect((await listDeadLetters(knex, { consumer: name, status: 'all' })).map((l) => l.status)).to.deep.equal(['retried', 'skipped']);
    expect(await retryDeadLetters(deps, name)).to.deep.equal([]);

    // the consumer kept running meanwhile
    await append(3);
    await atHead();
    expect(await rows()).to.deep.equal({ total: 14, distinct: 14 });
  });

  it('never parks for transient errors (serialization failure, statement timeout), however often they repeat', async () => {
    const ids = await append(15);
    const flaky = ids[6]!;
    let transientLeft = 8; // more than maxAttempts
    const consumer: Consumer = {
      name,
      filter: { streamPrefixes: [`${category}-`] },
      batchSize: 20,
      async handle(events, { tx }) {
        await tx(table).insert(events.map((e) => ({ event_id: e.id, stream_name: e.streamName })));
        if (!events.some((e) => e.id === flaky) || transientLeft-- <= 0) return;
        if (transientLeft % 2 === 0) {
          await tx.raw(`DO $$ BEGIN RAISE EXCEPTION 'could not serialize access' USING ERRCODE = 'serialization_failure'; END $$`);
        } else {
          await tx.raw(`SET LOCAL statement_timeout = '20ms'`);
          await tx.raw('SELECT pg_sleep(1)');
        }
      },
    };
    const r = run(consumer);
    await atHead();
    expect(transientLeft).to.be.below(0);
    expect(await rows()).to.deep.equal({ total: 15, distinct: 15 });
    expect(await listDeadLetters(knex, { consumer: name, status: 'all' })).to.have.length(0);
    expect(r.status().parked).to.equal(0);
  });

  it('does not count a failure that goes away before the budget: the event is applied, nothing parked', async () => {
    const ids = await append(10);
    const poisoned = new Set([ids[5]!]);
    let failures = 0;
    const consumer = projection(poisoned);
    const counting: Consumer = {
      ...consumer,
      async handle(events, context) {
        try {
          await consumer.handle(events, context);
        } catch (error) {
          // the bug is fixed after the second failure on its own
          if (events.length === 1 && ++failures === 2) poisoned.clear();
          throw error;
        }
      },
    };
    run(counting);
    await atHead();
    expect(await rows()).to.deep.equal({ total: 10, distinct: 10 });
    expect(await listDeadLetters(knex, { consumer: name, status: 'all' })).to.have.length(0);
  });
});
