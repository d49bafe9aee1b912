import type { Knex } from 'knex';
import { comparePositions, formatPosition, maxPosition, START, type Position } from '../event-store/position.js';
import { createProjections } from '../projections/index.js';
import { AdvisoryLock } from '../subscriptions/advisory-lock.js';
import { activeVersions, readCheckpoint, resetCheckpoint, retireCheckpoint } from '../subscriptions/checkpoints.js';
import { ConsumerRunner } from '../subscriptions/consumer-runner.js';
import type { Consumer } from '../subscriptions/consumer.js';
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
 * 2. in one transaction: schema `rebuild_users_v1` with a copy of every table
 *    (`LIKE … INCLUDING ALL EXCLUDING INDEXES`, then the live primary /
 *    unique keys, indexes and foreign keys under their live names) and the
 *    checkpoint `users-v1#rebuild` at the start — or, when both exist (a
 *    rebuild interrupted earlier), nothing: it resumes;
 * 3. the projection's own code runs under the consumer name `users-v1#rebuild`
 *    (ConsumerRunner: its own checkpoint, advisory lock and epoch) with every
 *    batch's transaction `SET LOCAL search_path TO rebuild_users_v1, <usual>`,
 *    while the live projection keeps serving and following new events;
 * 4. once the rebuild has passed both the live checkpoint and the head at its
 *    start, its runner stops and one transaction swaps: lock the live tables
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
  'xiaohongshu-content-v1': ['xiaohongshu_processed_batches', 'xiaohongshu_content_history', 'xiaohongshu_contents', 'xiaohongshu_messages'],
  'workflows-v1': ['workflow_executions', 'workflows'],
  'qidian-data-v1': ['qidian_trackings', 'qidian_novel_snapshots', 'qidian_novels', 'qidian_rankings'],
  'notifications-v1': ['notification_inboxes', 'notifications'],
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

function definition(deps: OpsDeps, name: string): ProjectionDefinition {
  const all = projectionDefinitions(deps.timeZone);
  const found = all.find((d) => d.name === name);
  if (!found) throw new UnknownProjectionError(name, all.map((d) => d.name));
  return found;
}

/** `users-v1` → `users-v1#rebuild`: the rebuild's checkpoint and consumer lock. */
export const rebuildConsumerName = (name: string): string => `${name}#rebuild`;

/** `users-v1` → `rebuild_users_v1`: the schema the rebuild writes. */
export const shadowSchemaName = (def: Pick<ProjectionDefinition, 'base' | 'version'>): string =>
  `rebuild_${def.base.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}_v${def.version}`;

const rebuildLockKey = (name: string) => `rebuild:${name}`;

const qi = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

const META_TABLE = '_rebuild_meta';

// ---------------------------------------------------------------------------
// counting events

/** Events in $all after `after` up to and including `upTo` (all types). */
async function countEvents(deps: OpsDeps, after: Position, upTo: Position): Promise<number> {
  if (comparePositions(after, upTo) >= 0) return 0;
  if (deps.store.kind === 'postgres' && (await hasEventsTable(deps.knex))) {
    const { rows } = await deps.knex.raw<{ rows: { n: string }[] }>(
      `SELECT count(*)::text AS n FROM es_events
        WHERE (transaction_id, global_position) > (?::text::xid8, ?::bigint) AND (transaction_id, global_position) <= (?::text::xid8, ?::bigint)`,
      [after.commit.toString(), after.prepare.toString(), upTo.commit.toString(), upTo.prepare.toString()],
    );
    return Number(rows[0]!.n);
  }
  // another store: page through $all (bounded)
  let n = 0;
  let from: Position = after;
  for (let pages = 0; pages < 100; pages++) {
    const events = await deps.store.readAll({ fromPosition: from, maxCount: 1000 });
    for (const e of events) {
      if (comparePositions(e.position, upTo) > 0) return n;
      n++;
    }
    if (events.length < 1000) return n;
    from = events[events.length - 1]!.position;
  }
  return n;
}

let eventsTable: boolean | undefined;
async function hasEventsTable(knex: Knex): Promise<boolean> {
  if (eventsTable === undefined) {
    const { rows } = await knex.raw<{ rows: { t: string | null }[] }>(`SELECT to_regclass('es_events')::text AS t`);
    eventsTable = rows[0]?.t != null;
  }
  return eventsTable;
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

export async function projectionStatuses(deps: OpsDeps, names?: string[]): Promise<ProjectionStatus[]> {
  const all = projectionDefinitions(deps.timeZone);
  const wanted = names && names.length > 0 ? names.map((n) => all.find((d) => d.name === n) ?? raise(new UnknownProjectionError(n, all.map((d) => d.name)))) : all;
  const head = await deps.store.headPosition();
  const statuses: ProjectionStatus[] = [];
  for (const def of wanted) {
    const checkpoint = await liveCheckpoint(deps.knex, def.name);
    const lagEvents = await countEvents(deps, checkpoint ?? START, head);
    let lagSeconds: number | null = null;
    if (checkpoint && lagEvents > 0) {
      const [next] = await deps.store.readAll({ fromPosition: checkpoint, maxCount: 1 });
      if (next) lagSeconds = Math.max(0, Math.round((Date.now() - next.created.getTime()) / 100) / 10);
    }
    const rebuild = await rebuildProgressOf(deps, def, head);
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
async function rebuildProgressOf(deps: OpsDeps, def: ProjectionDefinition, head: Position): Promise<RebuildProgress | null> {
  const schema = shadowSchemaName(def);
  const { rows } = await deps.knex.raw<{ rows: { t: string | null }[] }>('SELECT to_regclass(?)::text AS t', [`${qi(schema)}.${qi(META_TABLE)}`]);
  if (!rows[0]?.t) return null;
  const meta = (await deps.knex.withSchema(schema).table(META_TABLE).first('started_at', 'total_events')) as { started_at: Date; total_events: string } | undefined;
  if (!meta) return null;
  const at = await readCheckpoint(deps.knex, rebuildConsumerName(def.name));
  const processed = await countEvents(deps, START, at);
  const total = Math.max(Number(meta.total_events), processed);
  const elapsed = (Date.now() - meta.started_at.getTime()) / 1000;
  const rate = elapsed > 0 ? processed / elapsed : 0;
  const remaining = Math.max(0, (await countEvents(deps, START, head)) - processed);
  return {
    name: def.name,
    phase: 'replaying',
    processedEvents: processed,
    totalEvents: total,
    eventsPerSecond: Math.round(rate * 10) / 10,
    etaSeconds: rate > 0 ? Math.round(remaining / rate) : null,
    startedAt: meta.started_at.toISOString(),
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

/**
 * Creates the shadow schema, its tables and the rebuild checkpoint, in one
 * transaction — unless a rebuild interrupted earlier left both, which it then
 * resumes. Answers whether it resumed.
 */
async function prepareShadow(deps: OpsDeps, def: ProjectionDefinition, schemas: Map<string, string>): Promise<{ resumed: boolean }> {
  const schema = shadowSchemaName(def);
  const rebuildName = rebuildConsumerName(def.name);
  const { rows } = await deps.knex.raw<{ rows: { t: string | null }[] }>('SELECT to_regclass(?)::text AS t', [`${qi(schema)}.${qi(META_TABLE)}`]);
  const hasCheckpoint = (await liveCheckpoint(deps.knex, rebuildName)) !== null;
  if (rows[0]?.t && hasCheckpoint) return { resumed: true };

  const totalEvents = await countEvents(deps, START, await deps.store.headPosition());
  await deps.knex.transaction(async (tx) => {
    const usual = await currentSearchPath(tx);
    await tx.raw(`DROP SCHEMA IF EXISTS ${qi(schema)} CASCADE`);
    await tx.raw(`CREATE SCHEMA ${qi(schema)}`);
    // definitions come out fully qualified under an empty search_path
    await tx.raw(`SELECT set_config('search_path', '', true)`);
    // the names as Postgres prints them in definitions (quoted only where needed)
    const printed = async (qualified: string) => (await tx.raw<{ rows: { t: string }[] }>('SELECT ?::regclass::text AS t', [qualified])).rows[0]!.t;
    const liveText = new Map<string, string>();
    for (const table of def.tables) liveText.set(table, await printed(`${qi(schemas.get(table)!)}.${qi(table)}`));
    const live = (t: string) => liveText.get(t)!;
    const shadow = (t: string) => `${qi(schema)}.${qi(t)}`;
    const shadowText = async (t: string) => printed(shadow(t));
    const foreignKeys: { table: string; name: string; def: string }[] = [];
    for (const table of def.tables) {
      // a serial's sequence belongs to the live table and would be dropped with it
      const serial = await tx.raw<{ rows: unknown[] }>(
        `SELECT 1 FROM pg_attrdef d WHERE d.adrelid = ?::regclass AND pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%'`,
        [live(table)],
      );
      if (serial.rows.length > 0) throw new Error(`${table}: serial columns cannot be rebuilt (use an identity column)`);
      await tx.raw(`CREATE TABLE ${shadow(table)} (LIKE ${live(table)} INCLUDING ALL EXCLUDING INDEXES)`);
      const constraints = await tx.raw<{ rows: { name: string; type: string; def: string }[] }>(
        `SELECT conname AS name, contype AS type, pg_get_constraintdef(oid) AS def FROM pg_constraint
          WHERE conrelid = ?::regclass AND contype IN ('p', 'u', 'x', 'f') ORDER BY contype DESC, conname`,
        [live(table)],
      );
      for (const c of constraints.rows) {
        let sql = c.def;
        if (c.type === 'f') {
          foreignKeys.push({ table, name: c.name, def: sql });
        } else {
          await tx.raw(`ALTER TABLE ${shadow(table)} ADD CONSTRAINT ${qi(c.name)} ${sql}`);
        }
      }
      const indexes = await tx.raw<{ rows: { def: string }[] }>(
        `SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
          WHERE i.indrelid = ?::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)`,
        [live(table)],
      );
      for (const { def: indexDef } of indexes.rows) {
        const target = await shadowText(table);
        const sql = indexDef.replace(` ON ${live(table)} USING `, ` ON ${target} USING `).replace(` ON ONLY ${live(table)} USING `, ` ON ONLY ${target} USING `);
        if (sql === indexDef) throw new Error(`cannot copy index of ${table}: ${indexDef}`);
        await tx.raw(sql);
      }
    }
    for (const fk of foreignKeys) {
      // a key to another table of the projection points at its shadow
      let sql = fk.def;
      for (const other of def.tables) sql = sql.replace(`REFERENCES ${live(other)}(`, `REFERENCES ${await shadowText(other)}(`);
      await tx.raw(`ALTER TABLE ${shadow(fk.table)} ADD CONSTRAINT ${qi(fk.name)} ${sql}`);
    }
    await tx.raw(`CREATE TABLE ${qi(schema)}.${qi(META_TABLE)} (started_at timestamptz NOT NULL DEFAULT now(), total_events bigint NOT NULL)`);
    await tx.raw(`INSERT INTO ${qi(schema)}.${qi(META_TABLE)} (total_events) VALUES (?)`, [totalEvents]);
    await tx.raw(`SELECT set_config('search_path', ?, true)`, [usual]);
    await resetCheckpoint(tx, rebuildName, START);
  });
  deps.logger?.info({ projection: def.name, schema, totalEvents }, 'projection rebuild: shadow tables created');
  return { resumed: false };
}

/** The projection's own code, under the rebuild's name, writing the shadow schema. */
function shadowConsumer(def: ProjectionDefinition, schema: string): Consumer {
  return {
    name: rebuildConsumerName(def.name),
    ...(def.consumer.filter ? { filter: def.consumer.filter } : {}),
    ...(def.consumer.batchSize ? { batchSize: def.consumer.batchSize } : {}),
    async handle(events, context) {
      await useShadow(context.tx, schema);
      await def.consumer.handle(events, context);
    },
  };
}

/** SET LOCAL search_path TO <shadow>, <the connection's own>: unqualified names reach the shadow first. */
async function useShadow(tx: Knex.Transaction, schema: string): Promise<void> {
  await tx.raw(`SELECT set_config('search_path', ? || ', ' || current_setting('search_path'), true)`, [qi(schema)]);
}

// ---------------------------------------------------------------------------
// rebuild

const SWAP_LOCK_TIMEOUT_MS = 2_000;
const POLL_MS = 200;

export async function rebuildProjection(
  deps: OpsDeps,
  name: string,
  options: { onProgress?: (p: RebuildProgress) => void; signal?: AbortSignal; definition?: ProjectionDefinition } = {},
): Promise<RebuildProgress> {
  const def = options.definition ?? definition(deps, name);
  const schema = shadowSchemaName(def);
  const rebuildName = rebuildConsumerName(name);
  const lock = new AdvisoryLock(deps.databaseUrl, rebuildLockKey(name));
  let lockLost = false;
  if (!(await lock.tryAcquire(() => (lockLost = true)))) throw new RebuildInProgressError(name);

  let runner: ConsumerRunner | undefined;
  const startRunner = () => {
    runner = new ConsumerRunner(deps, shadowConsumer(def, schema), { idleCheckpointMs: 100, lockRetryMs: 200, minBackoffMs: 100, maxBackoffMs: 5_000 });
    runner.start();
  };
  try {
    const schemas = await liveSchemas(deps.knex, def.tables);
    const { resumed } = await prepareShadow(deps, def, schemas);
    const startedAt = new Date();
    const headAtStart = await deps.store.headPosition();
    const totalEvents = await countEvents(deps, START, headAtStart);
    const processedAtStart = await countEvents(deps, START, await readCheckpoint(deps.knex, rebuildName));
    deps.logger?.info({ projection: name, schema, resumed, totalEvents, processedAtStart }, resumed ? 'projection rebuild resumed' : 'projection rebuild started');

    const progress = (processed: number, phase: RebuildProgress['phase']): RebuildProgress => {
      const elapsed = (Date.now() - startedAt.getTime()) / 1000;
      const rate = elapsed > 0 ? (processed - processedAtStart) / elapsed : 0;
      const total = Math.max(totalEvents, processed);
      return {
        name,
        phase,
        processedEvents: processed,
        totalEvents: total,
        eventsPerSecond: Math.round(rate * 10) / 10,
        etaSeconds: phase === 'done' ? 0 : rate > 0 ? Math.round((total - processed) / rate) : null,
        startedAt: startedAt.toISOString(),
      };
    };

    startRunner();
    for (;;) {
      if (options.signal?.aborted) throw new RebuildAbortedError(name);
      if (lockLost) throw new Error(`rebuild of ${name}: lost its advisory lock`);
      const at = await readCheckpoint(deps.knex, rebuildName);
      const live = (await liveCheckpoint(deps.knex, await liveVersionOf(deps.knex, def))) ?? START;
      const processed = await countEvents(deps, START, at);
      options.onProgress?.(progress(processed, 'replaying'));
      if (comparePositions(at, maxPosition(live, headAtStart)) >= 0) {
        await runner!.stop();
        runner = undefined;
        options.onProgress?.(progress(processed, 'swapping'));
        const swappedAt = await trySwap(deps, def, schemas);
        if (swappedAt) {
          const done = progress(await countEvents(deps, START, swappedAt), 'done');
          options.onProgress?.(done);
          deps.logger?.info({ projection: name, at: formatPosition(swappedAt) }, 'projection rebuild swapped in');
          return done;
        }
        startRunner();
      }
      await sleep(POLL_MS, options.signal);
    }
  } finally {
    await runner?.stop();
    await lock.release();
  }
}

const RETRYABLE = new Set(['40P01' /* deadlock */, '55P03' /* lock_timeout */]);

/**
 * The swap, in one transaction; answers the position the projection is at
 * afterwards, or null when a lock could not be had in time (rolled back).
 */
async function trySwap(deps: OpsDeps, def: ProjectionDefinition, schemas: Map<string, string>): Promise<Position | null> {
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
      if (comparePositions(position, livePosition) < 0) {
        // the live projection got further meanwhile; it is held still now: apply the rest here
        const usual = await currentSearchPath(tx);
        await useShadow(tx, schema);
        await catchUp(deps, def.consumer, tx, position, livePosition);
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
      return position;
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

/** Applies the projection's events after `from` up to and including `to`, in this transaction. */
async function catchUp(deps: OpsDeps, consumer: Consumer, tx: Knex.Transaction, from: Position, to: Position): Promise<void> {
  let at = from;
  for (;;) {
    const page = await deps.store.readAll({ fromPosition: at, maxCount: 500, ...(consumer.filter ? { filter: consumer.filter } : {}) });
    const events = page.filter((e) => comparePositions(e.position, to) <= 0);
    if (events.length > 0) await consumer.handle(events, { tx });
    if (events.length < page.length || page.length < 500) return;
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
