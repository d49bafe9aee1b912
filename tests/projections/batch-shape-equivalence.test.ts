import { expect } from 'chai';
import fc from 'fast-check';
import knexFactory, { type Knex } from 'knex';
import type { Consumer } from '../../src/consumers/consumer.js';
import type { Json, RecordedEvent } from '../../src/event-store/port.js';
import { projectionDefinitions } from '../../src/operations/projections.js';
import { ident } from '../../src/projections/sql-batch.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { decideTimed, type HistorySource } from '../support/histories/harness.js';
import { HISTORY_SOURCES } from '../support/histories/index.js';
import { asRebuildReads, handleAll, inRolledBack, recorded } from '../support/projection-spec.js';

/**
 * A projection's tables do not depend on how its events were cut into
 * batches: a rebuild reads 5,000 at a time (the data trimmed by the
 * consumer's rebuildData), live delivery a few, the runner splits a failing
 * batch into parts. For every projection the projector runs, over generated
 * histories of the aggregates it reads (tests/support/histories: several
 * streams of each, their events in about the order of their times, each
 * stream in its order), the tables after one batch, after one event at a
 * time and after random splits are the same, and handling everything again
 * changes nothing.
 */

const TIME_ZONE = 'Asia/Shanghai';
/** Histories per projection; BATCH_SHAPE_RUNS=500 searches longer, BATCH_SHAPE_SEED=<seed> replays a failure's. */
const RUNS = Number(process.env.BATCH_SHAPE_RUNS ?? 25);
const SEED = process.env.BATCH_SHAPE_SEED === undefined ? {} : { seed: Number(process.env.BATCH_SHAPE_SEED) };
/** Streams per aggregate in one history, and the instances a reference to another aggregate's id may name. */
const INSTANCES = 3;
/** How late, at most, an event may be appended after another stream's later one (clocks, slow commits). */
const LATENESS_MINUTES = 10;
/** Commands per stream: enough for every kind of event, few enough that one event at a time stays quick. */
const MAX_COMMANDS = 25;

/**
 * The ids the histories name (tests/support/histories), per aggregate: `own`
 * are the stream's own entity (the first names the stream), made distinct
 * per stream; `refs` name other aggregates' entities, each drawn from the
 * INSTANCES there may be (so two runs may share a workflow, two sessions a
 * user). Ids left out are shared by every stream of a history (a note id,
 * a novel on a board). `after`: the aggregate whose stream of that id
 * (when the history has one) was begun before this stream could be — the
 * command that writes this one reads it (a quota use its subscription, a
 * proxy's health check the proxy, a key's use the key): no store delivers
 * them the other way round.
 */
const IDS: Readonly<Record<string, { own: readonly string[]; refs?: readonly string[]; after?: Readonly<Record<string, string>> }>> = {
  user: { own: ['u1', 'ann@example.com', 'bob@example.com'] },
  session: { own: ['s1'], refs: ['u1'], after: { u1: 'user' } },
  subscription: { own: ['s1'], refs: ['u1'] },
  subscription_usage: { own: ['s1'], refs: ['u1'], after: { s1: 'subscription' } },
  ledger: { own: ['o1'] },
  ledger_account: { own: ['o1'] },
  payment_order: { own: ['o1'], refs: ['u1', 'org1'] },
  platform_account: { own: ['a1'], refs: ['u1'] },
  proxy: { own: ['p1'] },
  proxy_health: { own: ['p1'], after: { p1: 'proxy' } },
  workflow: { own: ['w1'], refs: ['u1', 'a1', 'a2'], after: { a1: 'platform_account' } },
  workflow_execution: { own: ['e1'], refs: ['w1', 'u1', 'a1', 'p1', 'p2'], after: { w1: 'workflow', p1: 'proxy' } },
  // one user tracks a novel once (qidian_trackings is unique on both)
  novel_tracking: { own: ['t1', '1010'], refs: ['u1'] },
  novel_alert: { own: ['a1'], refs: ['u1'] },
  qidian_keyword: { own: ['w1'], refs: ['u1'] },
  notification: { own: ['n1'], refs: ['u1'] },
  xiaohongshu_content: { own: ['c1'], refs: ['u1'] },
  api_key: { own: ['a1b2c3d4e5f60718293a4b5c'], refs: ['u1'] },
  api_key_usage: { own: ['a1b2c3d4e5f60718293a4b5c'], refs: ['u1'], after: { a1b2c3d4e5f60718293a4b5c: 'api_key' } },
  outgoing_message: { own: ['m1'], refs: ['u1', 'a1'], after: { a1: 'platform_account' } },
  publication: { own: ['p1'], refs: ['u1', 'a1', 'acc1', 'r1', 'm1', 'm2'], after: { a1: 'article' } },
  review_rule_set: { own: ['platform'] },
  review: { own: ['rv1'], refs: ['p1', 'a1', 'author'], after: { p1: 'publication' } },
  report: { own: ['r1'], refs: ['u1'] },
  report_run: { own: ['run1'], refs: ['r1', 'u1'], after: { r1: 'report' } },
  article: { own: ['a1'], refs: ['u1', 'm1', 'm2'] },
  media: { own: ['m1'], refs: ['u1'] },
  sms_message: { own: ['m1'], refs: ['u1'] },
  sms_inbound: { own: ['in-1'], refs: ['u1', 'm1'], after: { m1: 'sms_message' } },
  sms_batch: { own: ['b1'], refs: ['u1', 'o1', 'SHOP', 'r1'], after: { SHOP: 'sms_keyword' } },
  sms_keyword: { own: ['SHOP'], refs: ['u1', 'o1'] },
  statistics_export: { own: ['e1'], refs: ['u1', 'u2'] },
  organization: { own: ['org-1'], refs: ['owner', 'ann', 'bob', 'cy'] },
  organization_invitation: { own: ['inv-1'], refs: ['org-1', 'ann', 'eve', 'owner'], after: { 'org-1': 'organization' } },
};

/** Whether the consumer reads any of the aggregate's events (its filter: prefixes and types). */
function reads(consumer: Consumer, source: HistorySource): boolean {
  const { streamPrefixes, eventTypes } = consumer.filter ?? {};
  const stream = source.aggregate.streamName('x');
  if (streamPrefixes && !streamPrefixes.some((p) => stream.startsWith(p))) return false;
  return !eventTypes || source.aggregate.events.types.some((t) => eventTypes.includes(t));
}

/** One generated stream: its name and events (as JSON, as the store keeps them) with the time each was appended. */
interface Stream {
  source: HistorySource;
  name: string;
  events: { type: string; data: Json; now: string | undefined }[];
  /** the streams (by name) begun before this one could be, where the history has them */
  after: string[];
}

/** The `n`th of an id (an email keeps its shape). */
function nth(id: string, n: number): string {
  return id.includes('@') ? id.replace('@', `+${n}@`) : `${id}_${n}`;
}

/** The value with its ids renamed: strings and keys that are one; a long id (an API key's) also inside a string (its prefix). */
function renamed(value: Json, names: ReadonlyMap<string, string>): Json {
  if (typeof value === 'string') {
    const exact = names.get(value);
    if (exact !== undefined) return exact;
    let text = value;
    for (const [from, to] of names) if (from.length >= 16 && text.includes(from)) text = text.replaceAll(from, to);
    return text;
  }
  if (Array.isArray(value)) return value.map((v) => renamed(v, names));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [names.get(k) ?? k, renamed(v, names)]));
  return value;
}

/** One stream as decided, before its ids are named: the `k`th of its aggregate, with its draws for each reference. */
interface Decided {
  source: HistorySource;
  k: number;
  picks: number[];
  events: { event: { type: string; data: unknown }; now: string | undefined }[];
}

/** Up to INSTANCES streams of the source (those the decider wrote any event to). */
function decidedOf(source: HistorySource): fc.Arbitrary<Decided[]> {
  const refs = idsOf(source.aggregate.name).refs ?? [];
  const instance = fc.record({
    commands: source.commands.map((commands) => commands.slice(0, MAX_COMMANDS)),
    picks: fc.array(fc.nat(), { minLength: refs.length, maxLength: refs.length }),
  });
  return fc
    .array(instance, { minLength: 1, maxLength: INSTANCES })
    .map((instances) =>
      instances.map(({ commands, picks }, k) => ({ source, k, picks, events: decideTimed(source.aggregate, commands) })).filter((d) => d.events.length > 0),
    );
}

function idsOf(aggregate: string): (typeof IDS)[string] {
  const ids = IDS[aggregate];
  if (!ids) throw new Error(`${aggregate}: say in IDS which ids its histories name`);
  return ids;
}

/**
 * The decided streams with their ids: own ids distinct per stream; a
 * reference drawn among the INSTANCES, or, when the history has streams of
 * the aggregate it comes after, among those. A stream whose `after` stream
 * is missing where the history could have it is left out.
 */
function named(sources: readonly HistorySource[], decided: readonly Decided[]): Stream[] {
  const present = new Set(sources.map((s) => s.aggregate.name));
  const ks = (aggregate: string) => decided.filter((d) => d.source.aggregate.name === aggregate).map((d) => d.k);
  const streams: Stream[] = [];
  for (const { source, k, picks, events } of decided) {
    const ids = idsOf(source.aggregate.name);
    const names = new Map<string, string>(ids.own.map((id) => [id, nth(id, k)]));
    (ids.refs ?? []).forEach((id, i) => {
      const parent = ids.after?.[id];
      const candidates = parent && present.has(parent) ? ks(parent) : Array.from({ length: INSTANCES }, (_, n) => n);
      if (candidates.length > 0) names.set(id, nth(id, candidates[picks[i]! % candidates.length]!));
    });
    const after = Object.entries(ids.after ?? {}).map(([id, aggregate]) => ({ aggregate, id: names.get(id) }));
    const has = (aggregate: string, id: string | undefined) => ks(aggregate).some((n) => nth(idsOf(aggregate).own[0]!, n) === id);
    // a stream the history could have but lacks, that this one comes after: this one could not have been written
    if (after.some(({ aggregate, id }) => present.has(aggregate) && !has(aggregate, id))) continue;
    streams.push({
      source,
      name: source.aggregate.streamName(nth(ids.own[0]!, k)),
      events: events.map(({ event, now }) => {
        const data = renamed(JSON.parse(JSON.stringify(event.data)) as Json, names);
        // the renamed data is still the aggregate's (the projection decodes it)
        source.aggregate.events.decode({ type: event.type, data, metadata: { schemaVersion: source.aggregate.events.version(event.type) } });
        return { type: event.type, data, now };
      }),
      after: after.flatMap(({ aggregate, id }) => (present.has(aggregate) && id !== undefined ? [streamNameOf(aggregate, id)] : [])),
    });
  }
  return streams;
}

/** A history: the streams' events interleaved (each stream in order), and the sizes of the random splits. */
interface History {
  events: RecordedEvent[];
  splits: number[];
}

function historyOf(sources: readonly HistorySource[]): fc.Arbitrary<History> {
  return fc
    .tuple(...sources.map(decidedOf))
    .map((perSource) => named(sources, perSource.flat()))
    .chain((streams) => {
      const count = streams.reduce((n, s) => n + s.events.length, 0);
      return fc
        .record({
          lateness: fc.array(fc.nat({ max: LATENESS_MINUTES }), { minLength: count, maxLength: count }),
          ties: fc.array(fc.nat(), { minLength: streams.length, maxLength: streams.length }),
          splits: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 16 }),
        })
        .map(({ lateness, ties, splits }) => ({ events: interleave(streams, causal(streams, merged(streams, lateness, ties))), splits }));
    })
    .map((history) => Object.assign(history, { [fc.toStringMethod]: () => summary(history) }));
}

/** The stream of that aggregate whose own id is `id`. */
function streamNameOf(aggregate: string, id: string): string {
  const source = HISTORY_SOURCES.find((s) => s.aggregate.name === aggregate);
  if (!source) throw new Error(`IDS: no history source for ${aggregate}`);
  return source.aggregate.streamName(id);
}

/**
 * The order the store appends the streams' events in (stream indexes, one
 * per event): each stream in its order, the streams' events in the order of
 * their commands' times, each up to LATENESS_MINUTES late (clocks of several
 * processes, slow commits), ties in an order drawn per stream. Commands ran
 * when they say: no store holds a command of 08:00 before one of 00:03.
 */
function merged(streams: readonly Stream[], lateness: readonly number[], ties: readonly number[]): number[] {
  const next = streams.map(() => 0);
  const at = streams.map(() => Date.UTC(2026, 0, 1));
  // where each stream's draws of lateness begin
  const offsets = streams.map((_, i) => streams.slice(0, i).reduce((n, s) => n + s.events.length, 0));
  const order: number[] = [];
  for (let n = 0; n < lateness.length; n++) {
    // the key of each stream's next event: its time (a command without one: its stream's last), plus its lateness
    let best = -1;
    let bestKey = Number.POSITIVE_INFINITY;
    streams.forEach((stream, i) => {
      const event = stream.events[next[i]!];
      if (!event) return;
      const key = (event.now === undefined ? at[i]! : Date.parse(event.now)) + lateness[offsets[i]! + next[i]!]! * 60_000;
      if (key < bestKey || (key === bestKey && ties[i]! < ties[best]!)) [best, bestKey] = [i, key];
    });
    const event = streams[best]!.events[next[best]!++]!;
    if (event.now !== undefined) at[best] = Date.parse(event.now);
    order.push(best);
  }
  return order;
}

/**
 * The order (stream indexes, one per event) with each stream's events held
 * back until the streams it comes after have begun: then they follow at once.
 */
function causal(streams: readonly Stream[], order: readonly number[]): number[] {
  const index = new Map(streams.map((s, i) => [s.name, i]));
  const parents = streams.map((s) => s.after.flatMap((name) => (index.has(name) ? [index.get(name)!] : [])));
  const begun = new Set<number>();
  const ready = (i: number) => parents[i]!.every((p) => begun.has(p));
  const out: number[] = [];
  const held: number[] = [];
  const emit = (i: number) => {
    out.push(i);
    begun.add(i);
  };
  for (const i of order) {
    if (!ready(i)) {
      held.push(i);
      continue;
    }
    emit(i);
    for (let k = held.findIndex(ready); k >= 0; k = held.findIndex(ready)) emit(held.splice(k, 1)[0]!);
  }
  return [...out, ...held];
}

/** The streams' events as the store would deliver them in this order: revisions per stream, rising positions and append times. */
function interleave(streams: readonly Stream[], order: readonly number[]): RecordedEvent[] {
  const next = streams.map(() => 0);
  let appended = Date.UTC(2026, 0, 1);
  return order.map((i) => {
    const stream = streams[i]!;
    const revision = next[i]!++;
    const { type, data, now } = stream.events[revision]!;
    // the store's time only moves on, whatever the command said
    if (now !== undefined) appended = Math.max(appended, Date.parse(now));
    const metadata = { schemaVersion: stream.source.aggregate.events.version(type) };
    return recorded(stream.name, type, data as Record<string, unknown>, { revision: BigInt(revision), metadata, created: new Date(appended) });
  });
}

/** What a counterexample prints: the events in order (their data is in the seed). */
function summary(history: History): string {
  const lines = history.events.map((e) => `${e.streamName}@${e.revision} ${e.type} ${JSON.stringify(e.data)}`);
  return `{ splits: [${history.splits.join(', ')}], events:\n${lines.join('\n')}\n}`;
}

type Dump = Record<string, string[]>;

/**
 * Every row of the tables, as JSON text, in one order. No column is left
 * out: a default of now() is the same time in each savepoint of one
 * transaction, and a projection that reads the clock itself is writing
 * what no rebuild gives again.
 */
async function dump(tx: Knex.Transaction, tables: readonly string[]): Promise<Dump> {
  const rows: Dump = {};
  for (const table of tables) {
    const { rows: found } = (await tx.raw(`SELECT to_jsonb(t)::text AS row FROM ${ident(table)} t ORDER BY 1`)) as { rows: { row: string }[] };
    rows[table] = found.map((r) => r.row);
  }
  return rows;
}

/**
 * The rows one dump has and the other lacks (as multisets), per table: empty
 * when they are the same. Linear: the test database also holds the rows other
 * tests committed (thousands in some tables), which every dump carries.
 */
function differences(expected: Dump, actual: Dump): string {
  const lines: string[] = [];
  for (const table of Object.keys(expected)) {
    const a = expected[table]!;
    const b = actual[table]!;
    const counts = new Map<string, number>();
    for (const row of a) counts.set(row, (counts.get(row) ?? 0) + 1);
    const extra: string[] = [];
    for (const row of b) {
      const n = counts.get(row) ?? 0;
      if (n === 0) extra.push(row);
      else counts.set(row, n - 1);
    }
    const missing = [...counts].flatMap(([row, n]) => Array<string>(n).fill(row));
    if (missing.length === 0 && extra.length === 0) continue;
    lines.push(`${table} (${a.length} rows vs ${b.length}):`, ...missing.map((r) => `  - ${r}`), ...extra.map((r) => `  + ${r}`));
  }
  return lines.join('\n');
}

describe('projections: the same tables whatever the batches (fast-check, generated histories)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  /**
   * The tables after each way of feeding the events, each from the same
   * snapshot: one transaction (rows other tests commit meanwhile are not
   * seen; now() is one time) that first empties the tables (the rows other
   * tests left, which every dump would carry), a savepoint per way,
   * everything rolled back.
   */
  const tablesAfterEach = async (tables: readonly string[], feeds: readonly ((tx: Knex.Transaction) => Promise<void>)[]): Promise<Dump[]> => {
    const dumps: Dump[] = [];
    await inRolledBack(knex, async (tx) => {
      await tx.raw('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      // one statement: a table's foreign keys to another of the set are checked at its end, when both are empty
      const [first, ...rest] = tables.map((table) => `DELETE FROM ${ident(table)}`);
      await tx.raw(`${rest.length > 0 ? `WITH ${rest.map((del, i) => `d${i} AS (${del})`).join(', ')} ` : ''}${first}`);
      for (const feed of feeds)
        await inRolledBack(tx, async (savepoint) => {
          await feed(savepoint);
          dumps.push(await dump(savepoint, tables));
        });
    });
    return dumps;
  };

  for (const { name, consumer, tables } of projectionDefinitions(TIME_ZONE)) {
    const sources = HISTORY_SOURCES.filter((source) => reads(consumer, source));

    it(`${name}: one batch (as a rebuild reads it) = one event at a time = random splits; and again changes nothing`, async function () {
      this.timeout(120_000);
      expect(sources, `${name} reads no aggregate that has a history source`).to.not.be.empty;
      await fc.assert(
        fc.asyncProperty(historyOf(sources), async ({ events, splits }) => {
          const rebuild = await asRebuildReads(knex, consumer, events);
          const inSplits = async (tx: Knex.Transaction) => {
            for (let i = 0, s = 0; i < events.length; s++) {
              const size = splits[s % splits.length]!;
              await handleAll(consumer, events.slice(i, i + size), tx, size);
              i += size;
            }
          };
          const [whole, single, split, again] = await tablesAfterEach(tables, [
            (tx) => handleAll(consumer, rebuild, tx, 5_000),
            (tx) => handleAll(consumer, events, tx, 1),
            inSplits,
            // and then everything again (a redelivery: the runner's retry after a lost commit, a replay)
            async (tx) => {
              await inSplits(tx);
              await handleAll(consumer, events, tx, 5_000);
            },
          ]);
          const problems = (
            [
              ['one event at a time', single!],
              ['random splits', split!],
              ['random splits, then everything again', again!],
            ] as const
          )
            .map(([label, rows]) => [label, differences(whole!, rows)] as const)
            .filter(([, diff]) => diff !== '')
            .map(([label, diff]) => `${label} vs one batch:\n${diff}`);
          if (problems.length > 0) throw new Error(`${name}:\n${problems.join('\n')}`);
        }),
        { numRuns: RUNS, ...SEED },
      );
    });
  }
});
