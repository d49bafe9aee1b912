import pg from 'pg';
import { survivePoolErrors } from '../../db/pool-errors.js';
import { StreamNotFoundError } from '../../../event-store/errors.js';
import type {
  AllSubscription,
  AppendOptions,
  AppendResult,
  EventCount,
  EventData,
  EventFilter,
  EventStore,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamFromSnapshot,
  StreamMetadata,
  Json,
  SubscribeToAllOptions,
} from '../../../event-store/port.js';
import { START, type Position } from '../../../event-store/position.js';
import { PostgresAllSubscription, readWindow, type PollingOptions } from './all-subscription.js';
import { DEFAULT_SHARED_TAIL, SharedTail, TailFilter, type SharedTailOptions } from './shared-tail.js';
import { AppendCombiner, type CombinerOptions } from './append-combiner.js';
import { expectation, WRONG_EXPECTED_VERSION, wrongExpectedVersion, type PgError } from './append.js';
import { EVENT_COLUMNS, likePrefix, toRecordedEvent, type EventRow } from './rows.js';
import { validateAppend } from '../../../event-store/validate-append.js';
import { WakeSignal } from './wake-signal.js';
import { sessionSettings, type SessionLimits } from '../../db/knex.js';
import { PostgresSnapshotStore } from './snapshot-store.js';

export interface PostgresEventStoreOptions {
  connectionString: string;
  /** connections for appends and reads (default 10) */
  poolSize?: number;
  polling?: Partial<PollingOptions>;
  /** group commit of concurrent appends (see append-combiner.ts) */
  combining?: Partial<CombinerOptions>;
  /**
   * Live subscriptions share one read of the newest events (shared-tail.ts);
   * false: each reads its own windows (default on)
   */
  sharedTail?: Partial<SharedTailOptions> | false;
  /** statement and idle-in-transaction limits of its sessions */
  sessionLimits?: SessionLimits;
  /** where background errors (lost LISTEN connection, failed NOTIFY) go */
  onBackgroundError?: (error: unknown) => void;
}

/**
 * One round trip: the stream's state (existence, retention) with its events
 * joined on. The requested revision is folded into the one range bound the
 * index can use (`$2 IS NULL OR …` would let a cached generic plan scan the
 * stream from its start: a read of a snapshot's tail would cost the whole
 * stream).
 */
function readStreamQuery(backwards: boolean): string {
  const retained = 'greatest(coalesce(s.truncate_before, 0), s.last_revision - coalesce(s.max_count, s.last_revision + 1) + 1)';
  const range = backwards
    ? `ev.stream_revision >= ${retained} AND ev.stream_revision <= coalesce($2::bigint, s.last_revision)`
    : `ev.stream_revision >= greatest(${retained}, coalesce($2::bigint, 0))`;
  return `
    WITH s AS (
      SELECT coalesce(m.deleted, false) AS deleted, m.truncate_before, m.max_age, m.max_count,
             (SELECT max(stream_revision) FROM es_events WHERE stream_name = $1) AS last_revision
        FROM (SELECT 1) one LEFT JOIN es_streams m ON m.stream_name = $1)
    SELECT s.last_revision IS NOT NULL AND NOT s.deleted AS exists, e.*
      FROM s
      LEFT JOIN LATERAL (
        SELECT ${EVENT_COLUMNS} FROM es_events ev
         WHERE ev.stream_name = $1
           AND ${range}
           AND (s.max_age IS NULL OR ev.created_at >= now() - make_interval(secs => s.max_age))
         ORDER BY ev.stream_revision ${backwards ? 'DESC' : 'ASC'}
         LIMIT $3
      ) e ON s.last_revision IS NOT NULL AND NOT s.deleted`;
}
const READ_STREAM_FORWARDS = readStreamQuery(false);

/**
 * readStream's forwards query with the snapshot looked up in the same round
 * trip: the tail starts after the snapshot's revision, and the snapshot rides
 * on the first row only (not parsed again for every event).
 */
const READ_STREAM_FROM_SNAPSHOT = `
  WITH snap AS (SELECT revision, state FROM es_snapshots WHERE stream_name = $1 AND version = $2),
  s AS (
    SELECT coalesce(m.deleted, false) AS deleted, m.truncate_before, m.max_age, m.max_count,
           (SELECT max(stream_revision) FROM es_events WHERE stream_name = $1) AS last_revision,
           (SELECT revision FROM snap) AS snap_revision
      FROM (SELECT 1) one LEFT JOIN es_streams m ON m.stream_name = $1)
  SELECT s.last_revision IS NOT NULL AND NOT s.deleted AS exists, s.snap_revision::text AS snap_revision,
         CASE WHEN e.row_number IS NULL OR e.row_number = 1 THEN (SELECT state FROM snap) END AS snap_state,
         e.*
    FROM s
    LEFT JOIN LATERAL (
      SELECT ${EVENT_COLUMNS}, row_number() OVER (ORDER BY ev.stream_revision) AS row_number FROM es_events ev
       WHERE ev.stream_name = $1
         AND ev.stream_revision >= greatest(coalesce(s.truncate_before, 0), s.last_revision - coalesce(s.max_count, s.last_revision + 1) + 1, coalesce(s.snap_revision + 1, 0))
         AND (s.max_age IS NULL OR ev.created_at >= now() - make_interval(secs => s.max_age))
       ORDER BY ev.stream_revision ASC
    ) e ON s.last_revision IS NOT NULL AND NOT s.deleted`;
const READ_STREAM_BACKWARDS = readStreamQuery(true);

export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres';
  readonly snapshots: PostgresSnapshotStore;
  private readonly pool: pg.Pool;
  private readonly signal: WakeSignal;
  private readonly polling: PollingOptions;
  private readonly combiner: AppendCombiner;
  private readonly tailOptions: SharedTailOptions | false;
  private tail: SharedTail | undefined;

  constructor(options: PostgresEventStoreOptions) {
    const onError = options.onBackgroundError ?? (() => undefined);
    this.pool = survivePoolErrors(new pg.Pool({ ...sessionSettings(options.connectionString, options.sessionLimits), max: options.poolSize ?? 10 }), onError);
    // a snapshot is a cache: its writes need not wait for a WAL flush (a lost one is folded again)
    this.snapshots = PostgresSnapshotStore.open(options.connectionString, 2, { asynchronousCommit: true });
    this.signal = new WakeSignal(this.pool, options.connectionString, onError);
    this.polling = { minPollIntervalMs: 5, maxPollIntervalMs: 500, minReadGapMs: 10, blockedPollIntervalMs: 5, ...options.polling };
    this.combiner = new AppendCombiner(this.pool, { maxInFlight: 2, maxGroup: 64, maxFallbackConcurrency: 2, ...options.combining });
    this.tailOptions = options.sharedTail === false ? false : { ...DEFAULT_SHARED_TAIL, ...options.sharedTail };
  }

  /** Made with the first subscription: a process that never subscribes (the API) keeps no tail. */
  private sharedTail(): SharedTail | undefined {
    if (this.tailOptions === false) return undefined;
    this.tail ??= new SharedTail(
      this.signal,
      (after, limit) => readWindow(this.pool, after, limit, [], []),
      () => this.horizonPosition(),
      this.tailOptions,
    );
    return this.tail;
  }

  async append(
    streamName: string,
    events: readonly EventData[],
    expectedRevision: ExpectedRevision = 'any',
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    validateAppend(streamName, events);
    const result = await this.combiner.append(streamName, events, expectedRevision, options.conditions);
    this.signal.appended(events.map((event) => event.type));
    return result;
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const from = options.fromRevision ?? (backwards ? 'end' : 'start');
    if (from === 'end' && !backwards) {
      await this.readStream(streamName, { direction: 'backwards', maxCount: 1 }); // still says whether it exists
      return [];
    }
    const fromRevision = from === 'start' ? (backwards ? '0' : null) : from === 'end' ? null : from.toString();
    const { rows } = await this.pool.query<EventRow & { exists: boolean }>({
      name: backwards ? 'es_read_stream_b' : 'es_read_stream_f',
      text: backwards ? READ_STREAM_BACKWARDS : READ_STREAM_FORWARDS,
      values: [streamName, fromRevision, options.maxCount ?? null],
    });
    if (!rows[0]?.exists) throw new StreamNotFoundError(streamName);
    return rows.filter((r) => r.event_id !== null).map(toRecordedEvent);
  }

  async readStreamFromSnapshot(streamName: string, snapshotVersion: number): Promise<StreamFromSnapshot> {
    const { rows } = await this.pool.query<EventRow & { exists: boolean; snap_revision: string | null; snap_state: Json | null }>({
      name: 'es_read_stream_from_snapshot',
      text: READ_STREAM_FROM_SNAPSHOT,
      values: [streamName, snapshotVersion],
    });
    const first = rows[0];
    if (!first?.exists) throw new StreamNotFoundError(streamName);
    const snapshot =
      first.snap_revision === null
        ? undefined
        : { streamName, revision: BigInt(first.snap_revision), version: snapshotVersion, state: first.snap_state as Json };
    return { snapshot, events: rows.filter((r) => r.event_id !== null).map(toRecordedEvent) };
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const from = options.fromPosition ?? (backwards ? 'end' : 'start');
    if ((from === 'end' && !backwards) || (from === 'start' && backwards)) return [];
    const values: unknown[] = [];
    const conditions: string[] = [];
    if (typeof from === 'object') {
      values.push(from.commit.toString(), from.prepare.toString());
      conditions.push(`(transaction_id, global_position) ${backwards ? '<' : '>'} ($1::text::xid8, $2::bigint)`);
    }
    if (options.toPosition) {
      values.push(options.toPosition.commit.toString(), options.toPosition.prepare.toString());
      conditions.push(`(transaction_id, global_position) ${backwards ? '>=' : '<='} ($${values.length - 1}::text::xid8, $${values.length}::bigint)`);
    }
    // Forwards reads are pages of a stable history: only what can no longer gain an earlier event.
    if (!backwards) conditions.push('transaction_id < (SELECT es_horizon())');
    if (options.filter?.eventTypes?.length) {
      values.push(options.filter.eventTypes);
      conditions.push(`event_type = ANY($${values.length}::text[])`);
    }
    if (options.filter?.streamPrefixes?.length) {
      values.push(options.filter.streamPrefixes.map(likePrefix));
      conditions.push(`stream_name LIKE ANY($${values.length}::text[])`);
    }
    values.push(options.maxCount ?? null);
    const order = backwards ? 'DESC' : 'ASC';
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM es_events
        ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
        ORDER BY transaction_id ${order}, global_position ${order}
        LIMIT $${values.length}`,
      values,
    );
    return rows.map(toRecordedEvent);
  }

  subscribeToAll(options: SubscribeToAllOptions = {}): AllSubscription {
    const from = options.fromPosition ?? 'start';
    const batchSize = options.batchSize ?? 500;
    const tail = this.sharedTail();
    const shared = tail ? { tail, filter: new TailFilter(options.filter) } : undefined;
    const open = (position: Position) => new PostgresAllSubscription(this.pool, this.signal, position, options.filter, batchSize, this.polling, shared);
    if (from !== 'end') return open(from === 'start' ? START : from);
    // 'end' is known only after a read; defer it to the first pull. It is the
    // guarded horizon, not the newest event: a transaction still in flight may
    // commit an event before the newest one, and starting after the newest
    // would skip it.
    let inner: PostgresAllSubscription | undefined;
    let closed = false;
    const start = async () => {
      inner = open(await this.horizonPosition());
      if (closed) await inner.close();
      return inner;
    };
    return {
      async close() {
        closed = true;
        await inner?.close();
      },
      async *[Symbol.asyncIterator]() {
        yield* await start();
      },
    };
  }

  async countEvents(after: Position, upTo: Position, filter?: EventFilter): Promise<EventCount> {
    const values: unknown[] = [after.commit.toString(), after.prepare.toString(), upTo.commit.toString(), upTo.prepare.toString()];
    const conditions = [
      '(transaction_id, global_position) > ($1::text::xid8, $2::bigint)',
      '(transaction_id, global_position) <= ($3::text::xid8, $4::bigint)',
    ];
    if (filter?.eventTypes?.length) conditions.push(`event_type = ANY($${values.push(filter.eventTypes)}::text[])`);
    if (filter?.streamPrefixes?.length) conditions.push(`stream_name LIKE ANY($${values.push(filter.streamPrefixes.map(likePrefix))}::text[])`);
    const { rows } = await this.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM es_events WHERE ${conditions.join(' AND ')}`, values);
    return { count: Number(rows[0]!.n), exact: true };
  }

  async headPosition(): Promise<Position> {
    const { rows } = await this.pool.query<{ commit_position: string; prepare_position: string }>(
      `SELECT transaction_id::text AS commit_position, global_position::text AS prepare_position
         FROM es_events ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    );
    const row = rows[0];
    return row ? { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) } : START;
  }

  /** The newest event below the oldest appending transaction in flight: nothing can ever be appended before it. */
  private async horizonPosition(): Promise<Position> {
    const { rows } = await this.pool.query<{ commit_position: string; prepare_position: string }>({
      name: 'es_horizon_position',
      text: `SELECT transaction_id::text AS commit_position, global_position::text AS prepare_position
               FROM es_events WHERE transaction_id < (SELECT es_horizon())
              ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    });
    const row = rows[0];
    return row ? { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) } : START;
  }

  async setStreamMetadata(streamName: string, metadata: StreamMetadata): Promise<void> {
    await this.pool.query(
      `INSERT INTO es_streams (stream_name, truncate_before, max_age, max_count, custom_metadata)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (stream_name) DO UPDATE SET
         -- never moves back: it is also what hides a deleted (or recreated) stream's old events
         truncate_before = greatest(es_streams.truncate_before, excluded.truncate_before),
         max_age = excluded.max_age, max_count = excluded.max_count, custom_metadata = excluded.custom_metadata`,
      [
        streamName,
        metadata.truncateBefore?.toString() ?? null,
        metadata.maxAge ?? null,
        metadata.maxCount ?? null,
        metadata.custom ? JSON.stringify(metadata.custom) : null,
      ],
    );
  }

  async getStreamMetadata(streamName: string): Promise<StreamMetadata> {
    const { rows } = await this.pool.query<{
      truncate_before: string | null;
      max_age: number | null;
      max_count: number | null;
      custom_metadata: StreamMetadata['custom'] | null;
    }>('SELECT truncate_before::text, max_age, max_count, custom_metadata FROM es_streams WHERE stream_name = $1', [streamName]);
    const row = rows[0];
    const metadata: StreamMetadata = {};
    if (!row) return metadata;
    if (row.truncate_before !== null) metadata.truncateBefore = BigInt(row.truncate_before);
    if (row.max_age !== null) metadata.maxAge = row.max_age;
    if (row.max_count !== null) metadata.maxCount = row.max_count;
    if (row.custom_metadata !== null) metadata.custom = row.custom_metadata;
    return metadata;
  }

  async deleteStream(streamName: string, expectedRevision: ExpectedRevision = 'any'): Promise<void> {
    const { kind, revision } = expectation(expectedRevision);
    try {
      await this.pool.query('SELECT es_delete_stream($1, $2, $3)', [streamName, kind, revision]);
    } catch (error) {
      if ((error as PgError).code === WRONG_EXPECTED_VERSION) throw wrongExpectedVersion(error as PgError, streamName, expectedRevision);
      throw error;
    }
    // revisions continue when the stream is recreated: its old snapshot must not stand for the new life
    await this.snapshots.delete(streamName);
  }

  async close(): Promise<void> {
    this.tail?.close();
    await this.signal.close();
    await this.snapshots.close();
    await this.pool.end();
  }
}
