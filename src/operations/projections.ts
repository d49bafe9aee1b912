import type { Knex } from 'knex';
import type { CatchUpBatch } from '../adapters/event-store/postgres/catch-up-reader.js';
import type { RecordedEvent } from '../event-store/port.js';
import { comparePositions, formatPosition, maxPosition, START, type Position } from '../event-store/position.js';
import { createProjections } from '../projections/index.js';
import { AdvisoryLock } from '../consumers/advisory-lock.js';
import { lockHolders } from '../consumers/lock-keeper.js';
import { activeVersions, claimCheckpoint, readCheckpoint, resetCheckpoint, retireCheckpoint, storeCheckpoint } from '../consumers/checkpoints.js';
import type { Consumer } from '../consumers/consumer.js';
import { addDeferred, createShadowTables, loadSurvived, logShadowTables, qi, type DeferredDdl } from './rebuild-shadow.js';
import { openRebuildSource } from './rebuild-source.js';
import type { OpsDeps, ProjectionStatus, RebuildProgress } from './types.js';

/**
 * Projection operations: status, zero-downtime rebuild, reset.
 *
 * A projection is a Consumer named `<base>-v<version>` (its checkpoint's
 * name) and the read tables it alone writes. Projection code names its
 * tables unqualified, so the same code writes other tables when the
 * transaction's search_path puts another schema first: that is the rebuild.
 *
 * Rebuild of `users-v1`:
 * 1. a Postgres advisory lock `rebuild:users-v1` (one rebuild at a time; a
 *    second is refused with RebuildInProgressError);
 * 2. in one transaction: schema `rebuild_users_v1` with an unlogged copy of
 *    every table holding only its primary key and unique constraints /
 *    indexes (rebuild-shadow.ts), a meta row (the projection's events in
 *    $all, counted once; the count handled so far) and the checkpoint
 *    `users-v1#rebuild` at the start — or, when they exist (a rebuild
 *    interrupted earlier), nothing: it resumes (unless a crash emptied the
 *    unlogged tables: then it starts over);
 * 3. load: the projection's own code handles batches of its own events
 *    (REBUILD_BATCH_SIZE wanted events, read off an index below the in-flight
 *    horizon: rebuild-source.ts), each batch with the `#rebuild` checkpoint
 *    and the handled count in one transaction whose
 *    `SET LOCAL search_path TO rebuild_users_v1, <usual>` points it at the
 *    shadow, until it has passed both the live checkpoint and the head at
 *    its start; the live projection keeps serving and following new events;
 * 4. the tables are made LOGGED, then every other index (concurrently) and
 *    foreign key of the live tables is added under its live name;
 * 5. it catches up again, and one transaction swaps: lock the live tables
 *    (ACCESS EXCLUSIVE, `lock_timeout` bounded) and the live checkpoint row,
 *    apply to the shadow whatever the live projection got further meanwhile,
 *    drop the live tables, move the shadow ones into their schema, set the
 *    live checkpoint to the rebuild's and bump its epoch (the running
 *    projector's instance is fenced off and resubscribes from there), drop
 *    the rebuild checkpoint and schema. A timed-out lock or a deadlock rolls
 *    the swap back and it is tried again after more catching up.
 * Readers see the old tables or the new ones, never a half-built table.
 */

export interface ProjectionDefinition {
  name: string;
  base: string;
  version: number;
  consumer: Consumer;
  tables: readonly string[];
}

/**
 * Every table each projection writes (its guard tables included), in the
 * order its handler usually takes them first: the swap and the reset lock
 * them in this order (fewer deadlocks with the running projector).
 */
const PROJECTION_TABLES: Readonly<Record<string, readonly string[]>> = {
  'users-v1': ['users', 'user_sessions'],
  'subscriptions-v1': ['subscriptions', 'feature_usage_stats', 'subscription_reservations'],
  'platform-accounts-v1': ['platform_accounts'],
  'proxies-v1': ['proxies', 'proxy_bans'],
  'proxy-usage-v1': ['proxy_usage_executions', 'proxy_usage_stats'],
  'xiaohongshu-content-v1': [
    'xiaohongshu_processed_batches',
    'xiaohongshu_deleted_contents',
    'xiaohongshu_content_history',
    'xiaohongshu_contents',
    'xiaohongshu_messages',
  ],
  'workflows-v1': ['workflow_executions', 'workflows'],
  'qidian-data-v1': ['qidian_trackings', 'qidian_novel_snapshots', 'qidian_novels', 'qidian_rankings'],
  'qidian-alerts-v1': ['qidian_alerts', 'qidian_keywords'],
  'notifications-v1': ['notification_inboxes', 'notifications'],
  'payment-orders-v1': ['payment_orders'],
  'api-keys-v1': ['api_keys'],
  'xiaohongshu-outgoing-messages-v1': ['xiaohongshu_outgoing_messages'],
  'publications-v1': ['publications', 'publication_history'],
  'reports-v1': ['reports', 'report_runs'],
  'reviews-v1': ['reviews'],
  'review-rules-v1': ['review_rules'],
  'articles-v1': ['articles', 'article_versions', 'media'],
  'sms-v1': ['sms_messages', 'sms_inbound'],
  'ledger-v1': ['ledger_accounts', 'ledger_periods', 'ledger_postings'],
  'finance-v1': ['finance_records', 'finance_sms'],
  'sms-batches-v1': ['sms_batches', 'sms_keywords'],
  'usage-statistics-v1': ['usage_statistics_subjects', 'usage_statistics_proxies', 'usage_statistics_daily', 'usage_statistics_hourly'],
  'statistics-exports-v1': ['statistics_exports'],
  'organizations-v1': ['organizations', 'organization_members', 'organization_roles', 'organization_invitations'],
};

const NAME = /^(.+)-v(\d+)$/;

export function projectionDefinitions(timeZone: string): ProjectionDefinition[] {
  return createProjections({ timeZone }).map((consumer) => {
    const tables = PROJECTION_TABLES[consumer.name];
    const m = NAME.exec(consumer.name);
    // a new projection must say which tables it owns before it can be rebuilt
    if (!tables || !m) throw new Error(`projection ${consumer.name}: no table list in src/operations/projections.ts (or not named <base>-v<version>)`);
    return { name: consumer.name, base: m[1]!, version: Number(m[2]), consumer, tables };
  });
}

export class UnknownProjectionError extends Error {
  override readonly name = 'UnknownProjectionError';
  constructor(projection: string, known: string[]) {
    super(`unknown projection "${projection}" (known: ${known.join(', ')})`);
  }
}

export class RebuildInProgressError extends Error {
  override readonly name = 'RebuildInProgressError';
  constructor(projection: string) {
    super(`a rebuild of ${projection} is already running (one at a time)`);
  }
}

export class RebuildAbortedError extends Error {
  override readonly name = 'AbortError';
  constructor(projection: string) {
    super(`rebuild of ${projection} stopped; running it again resumes from its checkpoint`);
  }
}

/** An event in a rebuild's error: where it is in its stream and in $all. */
export interface RebuildEventRef {
  id: string;
  type: string;
  stream: string;
  revision: string;
  position: string;
}

const eventRef = (e: RecordedEvent): RebuildEventRef => ({
  id: e.id,
  type: e.type,
  stream: e.streamName,
  revision: e.revision.toString(),
  position: formatPosition(e.position),
});

const describeRef = (e: RebuildEventRef) => `${e.id} (${e.type} ${e.stream}@${e.revision}, position ${e.position})`;

/**
 * The projection's handler failed on a batch of the load: nothing of that
 * batch was written, the rebuild's checkpoint stays before it. `event` is the
 * event it failed on when that one alone fails; otherwise (the failure needs
 * the batch as a whole, or went away) only the batch's range is known.
 */
export class RebuildBatchError extends Error {
  override readonly name = 'RebuildBatchError';
  constructor(
    readonly projection: string,
    readonly batch: { first: RebuildEventRef; last: RebuildEventRef; size: number },
    readonly event: RebuildEventRef | null,
    override readonly cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const where = event
      ? `at event ${describeRef(event)}`
      : batch.size === 1
        ? `at event ${describeRef(batch.first)}`
        : `in a batch of ${batch.size} events from ${describeRef(batch.first)} to ${describeRef(batch.last)}`;
    super(`${projection} rebuild stopped ${where}: ${reason}; fix it and run the rebuild again to resume`);
  }
}

function definition(deps: OpsDeps, name: string): ProjectionDefinition {
  const all = projectionDefinitions(deps.timeZone);
  const found = all.find((d) => d.name === name);
  if (!found)
    throw new UnknownProjectionError(
      name,
      all.map((d) => d.name),
    );
  return found;
}

/** `users-v1` → `users-v1#rebuild`: the rebuild's checkpoint and consumer lock. */
export const rebuildConsumerName = (name: string): string => `${name}#rebuild`;

/** `users-v1` → `rebuild_users_v1`: the schema the rebuild writes. */
export const shadowSchemaName = (def: Pick<ProjectionDefinition, 'base' | 'version'>): string =>
  `rebuild_${def.base.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}_v${def.version}`;

const rebuildLockKey = (name: string) => `rebuild:${name}`;

const META_TABLE = '_rebuild_meta';

// ---------------------------------------------------------------------------
// counting events

/** Events in $all after `after` up to and including `upTo` (all types): the store counts (EventStoreDB: bounded, estimated past what it has read). */
async function countEvents(deps: OpsDeps, after: Position, upTo: Position): Promise<number> {
  if (comparePositions(after, upTo) >= 0) return 0;
  return (await deps.store.countEvents(after, upTo)).count;
}

async function liveCheckpoint(db: Knex | Knex.Transaction, name: string): Promise<Position | null> {
  const { rows } = await db.raw<{ rows: { c: string; p: string }[] }>(
    'SELECT commit_position::text AS c, prepare_position::text AS p FROM consumer_checkpoints WHERE consumer = ?',
    [name],
  );
  return rows[0] ? { commit: BigInt(rows[0].c), prepare: BigInt(rows[0].p) } : null;
}

// ---------------------------------------------------------------------------
// status

/** A rebuild as status sees it: `running` is whether a process holds its lock now (false: it failed or was interrupted; running it again resumes). */
export interface RebuildStatus extends RebuildProgress {
  running: boolean;
}

export interface ProjectionStatusView extends ProjectionStatus {
  rebuild: RebuildStatus | null;
}

export async function projectionStatuses(deps: OpsDeps, names?: string[]): Promise<ProjectionStatusView[]> {
  const all = projectionDefinitions(deps.timeZone);
  const wanted =
    names && names.length > 0
      ? names.map(
          (n) =>
            all.find((d) => d.name === n) ??
            raise(
              new UnknownProjectionError(
                n,
                all.map((d) => d.name),
              ),
            ),
        )
      : all;
  const head = await deps.store.headPosition();
  const statuses: ProjectionStatusView[] = [];
  for (const def of wanted) {
    const checkpoint = await liveCheckpoint(deps.knex, def.name);
    const lagEvents = await countEvents(deps, checkpoint ?? START, head);
    let lagSeconds: number | null = null;
    if (lagEvents > 0) {
      // never ran: it is behind from the first event on
      const [next] = await deps.store.readAll({ fromPosition: checkpoint ?? START, maxCount: 1 });
      if (next) lagSeconds = Math.max(0, Math.round((Date.now() - next.created.getTime()) / 100) / 10);
    }
    const rebuild = await rebuildProgressOf(deps, def);
    statuses.push({
      name: def.name,
      base: def.base,
      version: def.version,
      tables: def.tables,
      checkpoint: checkpoint ? formatPosition(checkpoint) : null,
      head: formatPosition(head),
      lagEvents,
      lagSeconds,
      state: rebuild ? 'rebuilding' : checkpoint ? 'live' : 'never-ran',
      rebuild,
    });
  }
  return statuses;
}

function raise(error: Error): never {
  throw error;
}

/** The progress of a rebuild under way (or interrupted and waiting to be resumed), from any process; null when none. */
async function rebuildProgressOf(deps: OpsDeps, def: ProjectionDefinition): Promise<RebuildStatus | null> {
  const meta = await readMeta(deps.knex, shadowSchemaName(def));
  if (!meta) return null;
  // its shadow schema outlives a failed or interrupted run: it runs only while some process holds its lock
  const running = (await lockHolders(deps.knex, [rebuildLockKey(def.name)])).size > 0;
  // the counts the rebuild keeps: nothing is counted again here
  const processed = meta.handledEvents;
  const total = Math.max(meta.totalEvents ?? 0, processed);
  const elapsed = (Date.now() - meta.startedAt.getTime()) / 1000;
  const rate = running && elapsed > 0 ? processed / elapsed : 0;
  return {
    running,
    name: def.name,
    phase: meta.phase === 'loading' ? 'replaying' : 'swapping',
    processedEvents: processed,
    totalEvents: total,
    counted: meta.totalEvents !== null,
    eventsPerSecond: Math.round(rate * 10) / 10,
    etaSeconds: rate > 0 && meta.totalEvents !== null ? Math.round((total - processed) / rate) : null,
    startedAt: meta.startedAt.toISOString(),
  };
}

// ---------------------------------------------------------------------------
// shadow tables

/** The schema each live table resolves to under the connection's usual search_path. */
async function liveSchemas(knex: Knex, tables: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const table of tables) {
    const { rows } = await knex.raw<{ rows: { s: string }[] }>(
      'SELECT n.nspname AS s FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(?)',
      [qi(table)],
    );
    if (!rows[0]) throw new Error(`table ${table} does not exist (migrations not run?)`);
    out.set(table, rows[0].s);
  }
  return out;
}

/** Where a rebuild is: loading the unlogged tables; tables logged; indexes and keys added (catching up to the swap). */
type ShadowPhase = 'loading' | 'logged' | 'indexed';

interface RebuildMeta {
  startedAt: Date;
  /** the projection's events in $all when the rebuild began (counted once, beside the load); null while being counted */
  totalEvents: number | null;
  /** handled so far, moved with every batch */
  handledEvents: number;
  phase: ShadowPhase;
  deferred: DeferredDdl[];
}

/** The rebuild's own bookkeeping in its shadow schema; undefined when there is none (or one an older version of this code left). */
async function readMeta(db: Knex | Knex.Transaction, schema: string): Promise<RebuildMeta | undefined> {
  const { rows } = await db.raw<{ rows: { t: string | null }[] }>('SELECT to_regclass(?)::text AS t', [`${qi(schema)}.${qi(META_TABLE)}`]);
  if (!rows[0]?.t) return undefined;
  const columns = await db.raw<{ rows: { n: string }[] }>(
    `SELECT count(*)::text AS n FROM pg_attribute WHERE attrelid = ?::regclass AND attname IN ('handled_events', 'phase', 'deferred') AND NOT attisdropped`,
    [`${qi(schema)}.${qi(META_TABLE)}`],
  );
  if (Number(columns.rows[0]!.n) !== 3) return undefined;
  const meta = (await db.withSchema(schema).table(META_TABLE).first('started_at', 'total_events', 'handled_events', 'phase', 'deferred')) as
    | { started_at: Date; total_events: string | null; handled_events: string; phase: ShadowPhase; deferred: DeferredDdl[] }
    | undefined;
  if (!meta) return undefined;
  return {
    startedAt: meta.started_at,
    totalEvents: meta.total_events === null ? null : Number(meta.total_events),
    handledEvents: Number(meta.handled_events),
    phase: meta.phase,
    deferred: meta.deferred,
  };
}

async function setPhase(knex: Knex, schema: string, phase: ShadowPhase): Promise<void> {
  await knex.withSchema(schema).table(META_TABLE).update({ phase });
}

/**
 * Creates the shadow schema, its tables (see rebuild-shadow.ts) and the
 * rebuild checkpoint, in one transaction — unless a rebuild interrupted
 * earlier left them, which it then resumes. A load whose unlogged tables a
 * crash emptied is started over.
 */
async function prepareShadow(deps: OpsDeps, def: ProjectionDefinition, schemas: Map<string, string>): Promise<{ resumed: boolean; meta: RebuildMeta }> {
  const schema = shadowSchemaName(def);
  const rebuildName = rebuildConsumerName(def.name);
  const existing = await readMeta(deps.knex, schema);
  const hasCheckpoint = (await liveCheckpoint(deps.knex, rebuildName)) !== null;
  if (existing && hasCheckpoint) {
    if (existing.phase !== 'loading' || (await loadSurvived(deps.knex, schema))) return { resumed: true, meta: existing };
    deps.logger?.warn({ projection: def.name, schema }, 'projection rebuild: the unlogged shadow tables were emptied (a crash); starting over');
  }

  let deferred: DeferredDdl[] = [];
  await deps.knex.transaction(async (tx) => {
    await tx.raw(`DROP SCHEMA IF EXISTS ${qi(schema)} CASCADE`);
    await tx.raw(`CREATE SCHEMA ${qi(schema)}`);
    deferred = await createShadowTables(tx, schema, def.tables, schemas);
    await tx.raw(
      `CREATE TABLE ${qi(schema)}.${qi(META_TABLE)} (started_at timestamptz NOT NULL DEFAULT now(), total_events bigint,
         handled_events bigint NOT NULL DEFAULT 0, phase text NOT NULL DEFAULT 'loading', deferred jsonb NOT NULL)`,
    );
    await tx.raw(`INSERT INTO ${qi(schema)}.${qi(META_TABLE)} (deferred) VALUES (?::jsonb)`, [JSON.stringify(deferred)]);
    await resetCheckpoint(tx, rebuildName, START);
  });
  deps.logger?.info({ projection: def.name, schema, deferred: deferred.length }, 'projection rebuild: shadow tables created');
  return { resumed: false, meta: (await readMeta(deps.knex, schema))! };
}

/** SET LOCAL search_path TO <shadow>, <the connection's own>: unqualified names reach the shadow first. */
async function useShadow(tx: Knex.Transaction, schema: string): Promise<void> {
  await tx.raw(`SELECT set_config('search_path', ? || ', ' || current_setting('search_path'), true)`, [qi(schema)]);
}

// ---------------------------------------------------------------------------
// rebuild

const SWAP_LOCK_TIMEOUT_MS = 2_000;
const POLL_MS = 200;
/** how long the load waits for its count to come in before it starts without it */
const COUNT_WAIT_MS = 100;
/** wanted events per batch (and per transaction) of a rebuild */
export const REBUILD_BATCH_SIZE = 5_000;

export interface RebuildOptions {
  onProgress?: (p: RebuildProgress) => void;
  signal?: AbortSignal;
  /** the projection's definition when it is not (yet) one of projectionDefinitions (a new version under test) */
  definition?: ProjectionDefinition;
  /** wanted events per batch; default REBUILD_BATCH_SIZE */
  batchSize?: number;
}

export async function rebuildProjection(deps: OpsDeps, name: string, options: RebuildOptions = {}): Promise<RebuildProgress> {
  const def = options.definition ?? definition(deps, name);
  const schema = shadowSchemaName(def);
  const rebuildName = rebuildConsumerName(name);
  const lock = new AdvisoryLock(deps.databaseUrl, rebuildLockKey(name));
  let lockLost = false;
  // both open a connection of their own: side by side (a source opened in vain is closed again)
  const [locked, opened] = await Promise.allSettled([
    lock.tryAcquire(() => (lockLost = true)),
    openRebuildSource(deps.store, deps.databaseUrl, def.consumer.filter, options.batchSize ?? REBUILD_BATCH_SIZE, def.consumer.rebuildData),
  ]);
  if (locked.status !== 'fulfilled' || !locked.value || opened.status !== 'fulfilled') {
    if (opened.status === 'fulfilled') await opened.value.close().catch(() => undefined);
    if (locked.status === 'fulfilled' && locked.value) await lock.release();
    if (locked.status === 'rejected') throw locked.reason;
    if (!locked.value) throw new RebuildInProgressError(name);
    throw (opened as PromiseRejectedResult).reason;
  }
  const source = opened.value;
  let counting: Promise<void> | undefined;
  let swappedIn = false;
  try {
    const schemas = await liveSchemas(deps.knex, def.tables);
    const { resumed, meta } = await prepareShadow(deps, def, schemas);
    // a new epoch: a writer of this checkpoint left over from an earlier run is fenced off
    const { position: resumedAt, epoch } = await claimCheckpoint(deps.knex, rebuildName);
    const startedAt = new Date();
    const headAtStart = await deps.store.headPosition();
    const handledAtStart = meta.handledEvents;
    const seconds = { load: 0, index: 0, swap: 0 };
    let handled = meta.handledEvents;
    let at = resumedAt;
    // counted once, beside the load (a count that must visit the rows of a large projection's events takes a second or more)
    counting =
      meta.totalEvents === null
        ? source
            .count(START, headAtStart)
            .then(async (total) => {
              meta.totalEvents = total;
              // a rebuild that swapped in first has no shadow schema (nor progress) left to update
              if (!swappedIn) await deps.knex.withSchema(schema).table(META_TABLE).update({ total_events: total });
            })
            .catch((error: unknown) => {
              if (!swappedIn) deps.logger?.warn({ projection: name, err: error }, 'projection rebuild: its events could not be counted');
            })
        : undefined;
    deps.logger?.info(
      { projection: name, schema, resumed, phase: meta.phase, totalEvents: meta.totalEvents, handled },
      resumed ? 'projection rebuild resumed' : 'projection rebuild started',
    );

    const progress = (phase: RebuildProgress['phase']): RebuildProgress => {
      const elapsed = (Date.now() - startedAt.getTime()) / 1000;
      const rate = elapsed > 0 ? (handled - handledAtStart) / elapsed : 0;
      const total = Math.max(meta.totalEvents ?? 0, handled);
      return {
        name,
        phase,
        processedEvents: handled,
        totalEvents: total,
        counted: meta.totalEvents !== null || phase === 'done',
        eventsPerSecond: Math.round(rate * 10) / 10,
        etaSeconds: phase === 'done' ? 0 : rate > 0 && meta.totalEvents !== null ? Math.round((total - handled) / rate) : null,
        startedAt: startedAt.toISOString(),
        ...(phase === 'done' ? { seconds: { load: round(seconds.load), index: round(seconds.index), swap: round(seconds.swap) } } : {}),
      };
    };
    const check = () => {
      if (options.signal?.aborted) throw new RebuildAbortedError(name);
      if (lockLost) throw new Error(`rebuild of ${name}: lost its advisory lock`);
    };

    const write = async (events: RecordedEvent[], checkpoint: Position) => {
      let handlerFailed = false;
      try {
        await deps.knex.transaction(async (tx) => {
          // as the live consumers' batches: a crash may lose the last few, which are then read again
          await tx.raw('SET LOCAL synchronous_commit = off');
          if (events.length > 0) {
            await useShadow(tx, schema);
            handlerFailed = true;
            await def.consumer.handle(events, { tx });
            handlerFailed = false;
            await tx.raw(`UPDATE ${qi(schema)}.${qi(META_TABLE)} SET handled_events = handled_events + ?`, [events.length]);
          }
          await storeCheckpoint(tx, rebuildName, epoch, checkpoint);
        });
      } catch (error) {
        if (!handlerFailed) throw error;
        // the operator needs the event, not just the error: find it by handling the batch one event at a time, then roll back
        throw new RebuildBatchError(
          name,
          { first: eventRef(events[0]!), last: eventRef(events.at(-1)!), size: events.length },
          await failingEvent(events).catch(() => null),
          error,
        );
      }
      at = checkpoint;
      handled += events.length;
    };
    /** The first event of a failed batch that fails on its own, after the ones before it; null when none does. */
    const failingEvent = async (events: RecordedEvent[]): Promise<RebuildEventRef | null> => {
      if (events.length === 1) return eventRef(events[0]!);
      let found: RebuildEventRef | null = null;
      const rolledBack = new Error('rolled back');
      await deps.knex
        .transaction(async (tx) => {
          await useShadow(tx, schema);
          for (const event of events) {
            try {
              await def.consumer.handle([event], { tx });
            } catch {
              found = eventRef(event);
              break;
            }
          }
          throw rolledBack;
        })
        .catch((error: unknown) => {
          if (error !== rolledBack) throw error;
        });
      return found;
    };

    /** Replays batches until the rebuild has passed both the head at its start and the live projection. */
    const replay = async (phase: RebuildProgress['phase'], readAhead?: Promise<CatchUpBatch>) => {
      // a batch read ahead is the one after `at`
      let next: Promise<CatchUpBatch> | undefined = readAhead;
      try {
        for (;;) {
          check();
          const live = (await liveCheckpoint(deps.knex, await liveVersionOf(deps.knex, def))) ?? START;
          const target = maxPosition(live, headAtStart);
          if (comparePositions(at, target) >= 0) return;
          const batch = await (next ?? source.read(at));
          next = undefined;
          // catching up: the next batch is read while this one is written
          if (!batch.reachedHorizon) (next = source.read(batch.checkpoint)).catch(() => undefined);
          if (comparePositions(batch.checkpoint, at) > 0 || batch.events.length > 0) await write(batch.events, batch.checkpoint);
          options.onProgress?.(progress(phase));
          // below the target but at the horizon: a transaction before it is still in flight
          if (batch.reachedHorizon && comparePositions(at, target) < 0) await sleep(POLL_MS / 4, options.signal);
        }
      } finally {
        await next?.catch(() => undefined);
      }
    };

    // the first batch is read while the count has a moment to come in: a small projection's count is
    // in before its first report; a large one's goes on beside the load
    let firstBatch: Promise<CatchUpBatch> | undefined;
    if (meta.phase === 'loading') (firstBatch = source.read(at)).catch(() => undefined);
    if (counting) await Promise.race([counting, sleep(COUNT_WAIT_MS)]);
    options.onProgress?.(progress('replaying'));
    let t = performance.now();
    if (meta.phase === 'loading') {
      await replay('replaying', firstBatch);
      seconds.load = (performance.now() - t) / 1000;
      t = performance.now();
      options.onProgress?.(progress('swapping'));
      await logShadowTables(deps.knex, schema, def.tables);
      await setPhase(deps.knex, schema, 'logged');
      meta.phase = 'logged';
    }
    if (meta.phase === 'logged') {
      check();
      options.onProgress?.(progress('swapping'));
      await addDeferred(deps.knex, schema, meta.deferred);
      await setPhase(deps.knex, schema, 'indexed');
      seconds.index = (performance.now() - t) / 1000;
    }
    t = performance.now();
    for (;;) {
      await replay('swapping');
      check();
      options.onProgress?.(progress('swapping'));
      const swapped = await trySwap(deps, def, schemas);
      if (swapped) {
        handled += swapped.handled;
        seconds.swap = (performance.now() - t) / 1000;
        swappedIn = true;
        const done = progress('done');
        options.onProgress?.(done);
        deps.logger?.info({ projection: name, at: formatPosition(swapped.position), seconds: done.seconds }, 'projection rebuild swapped in');
        return done;
      }
      await sleep(POLL_MS, options.signal);
    }
  } finally {
    await counting;
    await Promise.all([source.close().catch(() => undefined), lock.release()]);
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;

const RETRYABLE = new Set(['40P01' /* deadlock */, '55P03' /* lock_timeout */]);

/**
 * The swap, in one transaction; answers the position the projection is at
 * afterwards, or null when a lock could not be had in time (rolled back).
 */
async function trySwap(deps: OpsDeps, def: ProjectionDefinition, schemas: Map<string, string>): Promise<{ position: Position; handled: number } | null> {
  const schema = shadowSchemaName(def);
  const rebuildName = rebuildConsumerName(def.name);
  const live = (t: string) => `${qi(schemas.get(t)!)}.${qi(t)}`;
  try {
    return await deps.knex.transaction(async (tx) => {
      await tx.raw(`SET LOCAL lock_timeout = ${SWAP_LOCK_TIMEOUT_MS}`);
      // the live projection's tables first (the order its handler takes them), then its checkpoint row
      await tx.raw(`LOCK TABLE ${def.tables.map(live).join(', ')} IN ACCESS EXCLUSIVE MODE`);
      // the version serving now: this one, or an older one this rebuild replaces
      const liveName = await liveVersionOf(tx, def);
      await tx.raw('INSERT INTO consumer_checkpoints (consumer) VALUES (?) ON CONFLICT (consumer) DO NOTHING', [liveName]);
      await tx.raw('SELECT 1 FROM consumer_checkpoints WHERE consumer IN (?, ?, ?) ORDER BY consumer FOR UPDATE', [liveName, def.name, rebuildName]);
      const livePosition = (await liveCheckpoint(tx, liveName)) ?? START;
      let position = await readCheckpoint(tx, rebuildName);
      let handled = 0;
      if (comparePositions(position, livePosition) < 0) {
        // the live projection got further meanwhile; it is held still now: apply the rest here
        const usual = await currentSearchPath(tx);
        await useShadow(tx, schema);
        handled = await catchUp(deps, def.consumer, tx, position, livePosition);
        await tx.raw(`SELECT set_config('search_path', ?, true)`, [usual]);
        position = livePosition;
      }
      await tx.raw(`DROP TABLE ${def.tables.map(live).join(', ')}`);
      for (const table of def.tables) await tx.raw(`ALTER TABLE ${qi(schema)}.${qi(table)} SET SCHEMA ${qi(schemas.get(table)!)}`);
      // the live instance's next checkpoint write fails on the epoch: it resubscribes from here
      await resetCheckpoint(tx, def.name, position);
      // an older version is retired: its instance (old code) stops instead of writing into these tables
      if (liveName !== def.name) await retireCheckpoint(tx, liveName, def.name);
      await tx('consumer_checkpoints').where({ consumer: rebuildName }).delete();
      await tx.raw(`DROP SCHEMA ${qi(schema)} CASCADE`);
      return { position, handled };
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code && RETRYABLE.has(code)) {
      deps.logger?.warn({ projection: def.name, code }, 'projection rebuild: swap could not lock in time; catching up and trying again');
      return null;
    }
    throw error;
  }
}

/**
 * The consumer whose tables are live for this projection: its own version
 * when it has a checkpoint, else the newest older version still active (a
 * version bump: the rebuild of the new version replaces it), else itself.
 */
export async function liveVersionOf(db: Knex | Knex.Transaction, def: Pick<ProjectionDefinition, 'name' | 'base' | 'version'>): Promise<string> {
  const active = await activeVersions(db, def.base);
  if (active.some((a) => a.consumer === def.name)) return def.name;
  const older = active.filter((a) => a.version < def.version).sort((a, b) => b.version - a.version)[0];
  return older?.consumer ?? def.name;
}

/**
 * A projection the projector must not run live yet: a new version with no
 * checkpoint while an older version still serves the tables. Answers the
 * older version's name (run `projections rebuild <name>` to build and swap
 * the new one in), or null when it may run.
 */
export async function awaitingRebuild(db: Knex, name: string): Promise<string | null> {
  const m = NAME.exec(name);
  if (!m) return null;
  const live = await liveVersionOf(db, { name, base: m[1]!, version: Number(m[2]) });
  return live === name ? null : live;
}

async function currentSearchPath(tx: Knex.Transaction): Promise<string> {
  const { rows } = await tx.raw<{ rows: { p: string }[] }>(`SELECT current_setting('search_path') AS p`);
  return rows[0]!.p;
}

/** Applies the projection's events after `from` up to and including `to`, in this transaction; answers how many. */
async function catchUp(deps: OpsDeps, consumer: Consumer, tx: Knex.Transaction, from: Position, to: Position): Promise<number> {
  let at = from;
  let handled = 0;
  for (;;) {
    // bounded by `to`: the swap holds its locks while this runs, so it never scans past what it must apply
    const page = await deps.store.readAll({ fromPosition: at, toPosition: to, maxCount: 500, ...(consumer.filter ? { filter: consumer.filter } : {}) });
    const events = page.filter((e) => comparePositions(e.position, to) <= 0);
    if (events.length > 0) await consumer.handle(events, { tx });
    handled += events.length;
    if (events.length < page.length || page.length < 500) return handled;
    at = events[events.length - 1]!.position;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

// ---------------------------------------------------------------------------
// reset

/**
 * Empties the projection's tables and sets its checkpoint back to the start
 * (epoch bumped: the running projector is fenced off and replays from the
 * start). Not zero-downtime: until the replay catches up, queries see the
 * tables filling. Refused while a rebuild of the projection runs.
 */
export async function resetProjection(deps: OpsDeps, name: string): Promise<void> {
  const def = definition(deps, name);
  const lock = new AdvisoryLock(deps.databaseUrl, rebuildLockKey(name));
  if (!(await lock.tryAcquire(() => undefined))) throw new RebuildInProgressError(name);
  try {
    const schemas = await liveSchemas(deps.knex, def.tables);
    const live = (t: string) => `${qi(schemas.get(t)!)}.${qi(t)}`;
    for (let attempt = 1; ; attempt++) {
      try {
        await deps.knex.transaction(async (tx) => {
          await tx.raw(`SET LOCAL lock_timeout = ${SWAP_LOCK_TIMEOUT_MS}`);
          await tx.raw(`LOCK TABLE ${def.tables.map(live).join(', ')} IN ACCESS EXCLUSIVE MODE`);
          await tx.raw(`TRUNCATE ${def.tables.map(live).join(', ')} RESTART IDENTITY`);
          await resetCheckpoint(tx, name, START);
        });
        break;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (!code || !RETRYABLE.has(code) || attempt >= 5) throw error;
        await sleep(100 * attempt);
      }
    }
    deps.logger?.info({ projection: name }, 'projection reset: tables emptied, checkpoint at the start');
  } finally {
    await lock.release();
  }
}
