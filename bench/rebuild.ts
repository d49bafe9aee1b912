/**
 * Rebuild benchmark: every projection rebuilt (shadow tables, swap) from a
 * realistic history of 1,000,000 events (bench/rebuild/history.ts), then
 * checked row by row against the tables the live consumers built.
 * `npm run bench:rebuild [-- --regenerate] [-- --json]`.
 *
 * 1. The history is generated once into its own database and reused while
 *    the user count matches (`--regenerate` writes it again).
 * 2. The live consumers (ConsumerRunner, as the projector runs them) replay
 *    it from the start into the live tables (emptied first: projection code
 *    may have changed since the last run); those tables are copied aside.
 * 3. Each projection is rebuilt with `rebuildProjection` (what
 *    `projections rebuild <name>` runs), one after the other.
 * 4. Each rebuilt table is compared with its live copy both ways (EXCEPT ALL
 *    over whole rows as jsonb); columns whose value is the time the row was
 *    written (a now() default) are left out and named.
 *
 * Printed per projection: its events handled, the events of $all its reader
 * passed ("scanned"), the seconds (load / indexes / catch-up and swap /
 * total), the rates over the total, and the rate at which the same reader
 * reads the same events when nothing handles them (the floor). Targets: ≥ 50,000 handled events/s
 * for every projection, ≥ 100,000 for the fastest.
 *
 * Env: BENCH_REBUILD_USERS (default 10,000), BENCH_REBUILD_PROXIES (100),
 * BENCH_REBUILD_DATABASE (collector_bench_rebuild), BENCH_REBUILD_ONLY (a
 * substring of the projections to rebuild), BENCH_PG (server URL without a
 * database).
 */
import { performance } from 'node:perf_hooks';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { createPostgresEventStore } from '../src/adapters/event-store/postgres/index.js';
import { comparePositions, START } from '../src/event-store/position.js';
import { projectionDefinitions, rebuildProjection, REBUILD_BATCH_SIZE, type ProjectionDefinition } from '../src/operations/projections.js';
import { openRebuildSource } from '../src/operations/rebuild-source.js';
import type { OpsDeps, RebuildProgress } from '../src/operations/types.js';
import { readCheckpoint, resetCheckpoint } from '../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../src/consumers/consumer-runner.js';
import { databaseUrl, migrate, recreateDatabase } from './lib/db.js';
import { envNumber } from './lib/env.js';
import { fmtRate, renderTable } from './lib/table.js';
import { progress } from './lib/timing.js';
import { writeHistory } from './rebuild/history.js';

const USERS = envNumber('BENCH_REBUILD_USERS', 10_000, { integer: true });
const PROXIES = envNumber('BENCH_REBUILD_PROXIES', 100, { integer: true });
const DATABASE = process.env.BENCH_REBUILD_DATABASE ?? 'collector_bench_rebuild';
const ONLY = process.env.BENCH_REBUILD_ONLY ?? '';
const REGENERATE = process.argv.includes('--regenerate');
const AS_JSON = process.argv.includes('--json');
const TIME_ZONE = 'Asia/Shanghai';
const TARGET_EVERY = 50_000;
const TARGET_FASTEST = 100_000;
/** the copies of the live tables, compared with the rebuilt ones */
const LIVE_COPY = 'bench_rebuild_live';
/** what was generated: reused while the parameters match */
const HISTORY_TABLE = 'bench_rebuild_history';

interface Row {
  name: string;
  handled: number;
  /** the projection's events read with the rebuild's own reader and handled by nothing, per second: what no rebuild of it can beat */
  readOnly: number;
  scanned: number;
  seconds: { load: number; index: number; swap: number; total: number };
  rows: number;
  equal: boolean;
  differences: string[];
}

async function databaseExists(name: string): Promise<boolean> {
  const admin = new pg.Client({ connectionString: databaseUrl('postgres') });
  await admin.connect();
  try {
    return (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rows.length > 0;
  } finally {
    await admin.end();
  }
}

async function generatedWith(knex: Knex): Promise<{ users: number; proxies: number; events: number } | undefined> {
  const { rows } = await knex.raw<{ rows: { t: string | null }[] }>(`SELECT to_regclass(?)::text AS t`, [HISTORY_TABLE]);
  if (!rows[0]?.t) return undefined;
  const row = (await knex(HISTORY_TABLE).first('users', 'proxies', 'events')) as { users: number; proxies: number; events: string } | undefined;
  return row ? { users: row.users, proxies: row.proxies, events: Number(row.events) } : undefined;
}

/** The history, generated unless a matching one is there. */
async function ensureHistory(): Promise<string> {
  const url = databaseUrl(DATABASE);
  if (!REGENERATE && (await databaseExists(DATABASE))) {
    await migrate(url);
    const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
    try {
      const found = await generatedWith(knex);
      if (found && found.users === USERS && found.proxies === PROXIES) {
        progress(
          `history: reusing ${found.events.toLocaleString('en-US')} events of ${USERS.toLocaleString('en-US')} users in ${DATABASE} (--regenerate writes it again)`,
        );
        return url;
      }
    } finally {
      await knex.destroy();
    }
  }
  await recreateDatabase(DATABASE);
  await migrate(url);
  const started = performance.now();
  let last = 0;
  progress(`history: writing ${USERS.toLocaleString('en-US')} users and ${PROXIES} proxies into ${DATABASE} (once)`);
  const events = await writeHistory(url, {
    users: USERS,
    proxies: PROXIES,
    concurrency: 3,
    onProgress: (n) => {
      if (performance.now() - last < 5_000) return;
      last = performance.now();
      progress(`  ${n.toLocaleString('en-US')} events, ${Math.round(n / ((performance.now() - started) / 1000)).toLocaleString('en-US')}/s`);
    },
  });
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  try {
    await knex.raw(
      `CREATE TABLE ${HISTORY_TABLE} (users int NOT NULL, proxies int NOT NULL, events bigint NOT NULL, generated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await knex(HISTORY_TABLE).insert({ users: USERS, proxies: PROXIES, events });
    // what a database that has lived with these events would have: statistics and a visibility map
    await knex.raw('VACUUM ANALYZE es_events');
  } finally {
    await knex.destroy();
  }
  progress(`history: ${events.toLocaleString('en-US')} events in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return url;
}

/** Empties every live table and replays the history into them with the live consumers; answers seconds per projection. */
async function runLive(deps: OpsDeps, defs: readonly ProjectionDefinition[]): Promise<Map<string, number>> {
  const { knex } = deps;
  for (const schema of (await knex.raw<{ rows: { n: string }[] }>(`SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'rebuild\\_%'`)).rows) {
    await knex.raw(`DROP SCHEMA "${schema.n}" CASCADE`);
  }
  await knex('consumer_checkpoints').where('consumer', 'like', '%#rebuild').delete();
  for (const def of defs) {
    await knex.raw(`TRUNCATE ${def.tables.map((t) => `"${t}"`).join(', ')}`);
    await resetCheckpoint(knex, def.name, START);
  }
  const head = await deps.store.headPosition();
  const started = performance.now();
  const seconds = new Map<string, number>();
  const runners = defs.map((def) => new ConsumerRunner(deps, def.consumer, { idleCheckpointMs: 200 }));
  for (const runner of runners) runner.start();
  try {
    for (;;) {
      for (const def of defs) {
        if (!seconds.has(def.name) && comparePositions(await readCheckpoint(knex, def.name), head) >= 0)
          seconds.set(def.name, (performance.now() - started) / 1000);
      }
      if (seconds.size === defs.length) break;
      const failing = runners.map((r) => r.status()).filter((s) => s.lastError);
      if (failing.length > 0) progress(`  live: ${failing.map((s) => `${s.name}: ${s.lastError}`).join('; ')}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await Promise.all(runners.map((r) => r.stop()));
  }
  return seconds;
}

/**
 * Reads the projection's events as its rebuild does (same source, same
 * batches) and handles none: a rebuild's floor, measured in the same run.
 * Where it is near or below the target, the events themselves (their size
 * as stored and decoded) bound the rebuild, not the projection's writes.
 */
async function readOnlyRate(deps: OpsDeps, def: ProjectionDefinition): Promise<number> {
  const source = await openRebuildSource(deps.store, deps.databaseUrl, def.consumer.filter, REBUILD_BATCH_SIZE, def.consumer.rebuildData);
  try {
    const started = performance.now();
    let at = START;
    let events = 0;
    for (;;) {
      const batch = await source.read(at);
      events += batch.events.length;
      at = batch.checkpoint;
      if (batch.reachedHorizon) break;
    }
    return events / ((performance.now() - started) / 1000);
  } finally {
    await source.close();
  }
}

/** Columns whose value is when the row was written: they differ between any two builds. */
async function writeTimeColumns(knex: Knex, table: string): Promise<string[]> {
  const { rows } = await knex.raw<{ rows: { c: string }[] }>(
    `SELECT a.attname AS c FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = ?::regclass AND NOT a.attisdropped
        AND pg_get_expr(d.adbin, d.adrelid) ~* '(now\\(\\)|clock_timestamp|current_timestamp|statement_timestamp|transaction_timestamp|random|gen_random_uuid)'`,
    [`public."${table}"`],
  );
  return rows.map((r) => r.c);
}

/** Rows in one table and not the other, both ways (EXCEPT ALL over whole rows). */
async function compare(knex: Knex, table: string, excluded: readonly string[]): Promise<{ rows: number; missing: number; extra: number }> {
  const row = (alias: string) =>
    excluded.length > 0 ? `to_jsonb(${alias}) - ARRAY[${excluded.map((c) => `'${c}'`).join(', ')}]::text[]` : `to_jsonb(${alias})`;
  const rebuilt = `SELECT ${row('r')} AS j FROM public."${table}" r`;
  const live = `SELECT ${row('l')} AS j FROM ${LIVE_COPY}."${table}" l`;
  const { rows } = await knex.raw<{ rows: { rows: string; missing: string; extra: string }[] }>(
    `SELECT (SELECT count(*) FROM public."${table}")::text AS rows,
            (SELECT count(*) FROM (${live} EXCEPT ALL ${rebuilt}) m)::text AS missing,
            (SELECT count(*) FROM (${rebuilt} EXCEPT ALL ${live}) e)::text AS extra`,
  );
  return { rows: Number(rows[0]!.rows), missing: Number(rows[0]!.missing), extra: Number(rows[0]!.extra) };
}

async function main(): Promise<void> {
  const url = await ensureHistory();
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 12 } });
  const store = createPostgresEventStore({ connectionString: url, poolSize: 12 });
  const deps: OpsDeps = { store, knex, databaseUrl: url, timeZone: TIME_ZONE };
  try {
    const all = projectionDefinitions(TIME_ZONE);
    const defs = all.filter((d) => d.name.includes(ONLY));
    if (defs.length === 0) throw new Error(`BENCH_REBUILD_ONLY=${ONLY} matches none of ${all.map((d) => d.name).join(', ')}`);
    const total = Number((await knex.raw<{ rows: { n: string }[] }>('SELECT count(*)::text AS n FROM es_events')).rows[0]!.n);

    progress(`live: the live consumers replay ${total.toLocaleString('en-US')} events into the live tables`);
    const liveSeconds = await runLive(deps, defs);
    for (const def of defs) progress(`  ${def.name}: at the head after ${liveSeconds.get(def.name)!.toFixed(1)} s`);
    await knex.raw(`DROP SCHEMA IF EXISTS ${LIVE_COPY} CASCADE`);
    await knex.raw(`CREATE SCHEMA ${LIVE_COPY}`);
    for (const def of defs) for (const table of def.tables) await knex.raw(`CREATE TABLE ${LIVE_COPY}."${table}" AS TABLE public."${table}"`);

    const results: Row[] = [];
    const excludedColumns: string[] = [];
    for (const def of defs) {
      const readOnly = await readOnlyRate(deps, def);
      progress(`rebuild: ${def.name} (its events alone read at ${fmtRate(readOnly)}/s)`);
      const started = performance.now();
      let last: RebuildProgress | undefined;
      const done = await rebuildProjection(deps, def.name, {
        onProgress: (p) => {
          if (p.phase !== last?.phase)
            progress(`  ${p.phase} (${p.processedEvents.toLocaleString('en-US')}/${p.counted ? p.totalEvents.toLocaleString('en-US') : '?'} events)`);
          last = p;
        },
      });
      const seconds = { ...(done.seconds ?? { load: 0, index: 0, swap: 0 }), total: (performance.now() - started) / 1000 };
      let rows = 0;
      const differences: string[] = [];
      for (const table of def.tables) {
        const excluded = await writeTimeColumns(knex, table);
        excludedColumns.push(...excluded.map((c) => `${table}.${c}`));
        const c = await compare(knex, table, excluded);
        rows += c.rows;
        if (c.missing > 0 || c.extra > 0) differences.push(`${table}: ${c.missing} live rows missing, ${c.extra} rows not in the live table`);
      }
      results.push({ name: def.name, handled: done.processedEvents, readOnly, scanned: total, seconds, rows, equal: differences.length === 0, differences });
    }

    const rate = (n: number, s: number) => (s > 0 ? n / s : Number.POSITIVE_INFINITY);
    // a projection the history gives no event (its rate is 0 by definition) says nothing about speed
    const measured = results.filter((r) => r.handled > 0);
    const rates = measured.map((r) => rate(r.handled, r.seconds.total));
    const fastest = rates.length > 0 ? Math.max(...rates) : 0;
    const slowest = rates.length > 0 ? Math.min(...rates) : 0;
    const everyMet = rates.length > 0 && rates.every((r) => r >= TARGET_EVERY);
    if (AS_JSON) {
      process.stdout.write(
        `${JSON.stringify({ events: total, users: USERS, excludedColumns, results, targets: { every: TARGET_EVERY, fastest: TARGET_FASTEST, everyMet, fastestMet: fastest >= TARGET_FASTEST } }, null, 2)}\n`,
      );
      return;
    }
    const s = (n: number) => n.toFixed(2);
    console.log(
      `\nRebuild of every projection from ${total.toLocaleString('en-US')} events (${USERS.toLocaleString('en-US')} users); rates over the total seconds\n`,
    );
    console.log(
      renderTable(
        ['projection', 'handled', 'scanned', 'load s', 'index s', 'swap s', 'total s', 'handled/s', 'read only/s', 'scanned/s', 'live s', 'rows', 'equal'],
        results.map((r) => [
          r.name,
          r.handled.toLocaleString('en-US'),
          r.scanned.toLocaleString('en-US'),
          s(r.seconds.load),
          s(r.seconds.index),
          s(r.seconds.swap),
          s(r.seconds.total),
          fmtRate(rate(r.handled, r.seconds.total)),
          fmtRate(r.readOnly),
          fmtRate(rate(r.scanned, r.seconds.total)),
          (liveSeconds.get(r.name) ?? 0).toFixed(1),
          r.rows.toLocaleString('en-US'),
          r.equal ? 'yes' : 'NO',
        ]),
      ),
    );
    for (const r of results) for (const d of r.differences) console.log(`  ${r.name}: ${d}`);
    console.log(`\nleft out of the comparison (the time the row was written): ${[...new Set(excludedColumns)].join(', ') || 'nothing'}`);
    console.log(
      'read only/s: the same events read by the same reader and handled by nothing (the floor of a rebuild: below the target, the events alone are too much to read that fast)',
    );
    console.log('live s: seconds until the live consumer, replaying from the start beside the others, reached the head\n');
    console.log(
      renderTable(
        ['target', 'wanted', 'got', 'met'],
        [
          [`every projection with events (${measured.length}), handled/s`, `≥ ${fmtRate(TARGET_EVERY)}`, fmtRate(slowest), everyMet ? 'yes' : 'NO'],
          ['the fastest, handled/s', `≥ ${fmtRate(TARGET_FASTEST)}`, fmtRate(fastest), fastest >= TARGET_FASTEST ? 'yes' : 'NO'],
          [
            'rebuilt tables equal the live ones',
            'all',
            `${results.filter((r) => r.equal).length}/${results.length}`,
            results.every((r) => r.equal) ? 'yes' : 'NO',
          ],
        ],
      ),
    );
  } finally {
    await store.close();
    await knex.destroy();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
