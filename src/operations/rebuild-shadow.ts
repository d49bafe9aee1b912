import type { Knex } from 'knex';

/**
 * The shadow tables a rebuild loads, and what turns them into copies of the
 * live ones before the swap.
 *
 * During the load a shadow table has only its primary key, unique
 * constraints and unique indexes (what ON CONFLICT needs, and what keeps the
 * rows right), and is UNLOGGED: no WAL, no secondary index or foreign key to
 * maintain per row. After the load (`finishShadow`), each step in a
 * transaction of its own and safe to repeat:
 * 1. ALTER TABLE … SET LOGGED (the table is written to the WAL once, in bulk);
 * 2. every other index of the live table, under its live name, with a plain
 *    CREATE INDEX: nothing else writes a shadow table, so CONCURRENTLY would
 *    only scan it twice and wait for every older transaction of the
 *    database, and the transaction id a plain build holds does not hold
 *    back readers of $all (their horizon counts appending transactions
 *    alone);
 * 3. every foreign key, added NOT VALID and then validated (the validation
 *    scan holds no transaction id either).
 *
 * Why UNLOGGED is safe here: a crash of Postgres empties unlogged tables, and
 * the checkpoint of the rebuild (a logged row) would then be ahead of empty
 * tables. An unlogged marker row, written with the tables, goes with them: a
 * rebuild that finds the marker gone starts over instead of resuming. Once
 * every table is logged the marker is no longer needed.
 *
 * A projection that relied on a foreign key's cascade during the load would
 * leave rows the cascade removes: the validation then fails and the rebuild
 * stops before the swap instead of swapping in a wrong table.
 */

export interface DeferredIndex {
  kind: 'index';
  table: string;
  name: string;
  /** CREATE INDEX … ON <shadow table> … */
  sql: string;
}

export interface DeferredForeignKey {
  kind: 'foreign-key';
  table: string;
  name: string;
  /** pg_get_constraintdef, pointing at the shadow tables of the projection */
  definition: string;
  /** the live key is validated (a NOT VALID one stays so) */
  validated: boolean;
}

export type DeferredDdl = DeferredIndex | DeferredForeignKey;

export const qi = (identifier: string): string => `"${identifier.replaceAll('"', '""')}"`;

/** The unlogged table whose one row says the unlogged shadow tables survived (no crash emptied them). */
export const LOAD_MARKER_TABLE = '_rebuild_load';

/**
 * Creates the shadow tables in `schema` (which exists and is empty), in the
 * caller's transaction, and answers what `finishShadow` must add afterwards.
 * `live` maps each table to its live schema.
 */
export async function createShadowTables(
  tx: Knex.Transaction,
  schema: string,
  tables: readonly string[],
  live: ReadonlyMap<string, string>,
): Promise<DeferredDdl[]> {
  // definitions come out fully qualified under an empty search_path
  const usual = (await tx.raw<{ rows: { p: string }[] }>(`SELECT current_setting('search_path') AS p`)).rows[0]!.p;
  await tx.raw(`SELECT set_config('search_path', '', true)`);
  // the names as Postgres prints them in definitions (quoted only where needed)
  const printed = async (qualified: string) => (await tx.raw<{ rows: { t: string }[] }>('SELECT ?::regclass::text AS t', [qualified])).rows[0]!.t;
  const liveText = new Map<string, string>();
  for (const table of tables) liveText.set(table, await printed(`${qi(live.get(table)!)}.${qi(table)}`));
  const liveOf = (t: string) => liveText.get(t)!;
  const shadow = (t: string) => `${qi(schema)}.${qi(t)}`;
  const shadowText = new Map<string, string>();

  const deferred: DeferredDdl[] = [];
  const foreignKeys: { table: string; name: string; def: string; validated: boolean }[] = [];
  for (const table of tables) {
    // a serial's sequence belongs to the live table and would be dropped with it
    const serial = await tx.raw<{ rows: unknown[] }>(
      `SELECT 1 FROM pg_attrdef d WHERE d.adrelid = ?::regclass AND pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%'`,
      [liveOf(table)],
    );
    if (serial.rows.length > 0) throw new Error(`${table}: serial columns cannot be rebuilt (use an identity column)`);
    await tx.raw(`CREATE UNLOGGED TABLE ${shadow(table)} (LIKE ${liveOf(table)} INCLUDING ALL EXCLUDING INDEXES)`);
    shadowText.set(table, await printed(shadow(table)));

    const constraints = await tx.raw<{ rows: { name: string; type: string; def: string; validated: boolean }[] }>(
      `SELECT conname AS name, contype AS type, pg_get_constraintdef(oid) AS def, convalidated AS validated FROM pg_constraint
        WHERE conrelid = ?::regclass AND contype IN ('p', 'u', 'x', 'f') ORDER BY contype DESC, conname`,
      [liveOf(table)],
    );
    for (const c of constraints.rows) {
      if (c.type === 'f') foreignKeys.push({ table, name: c.name, def: c.def, validated: c.validated });
      else await tx.raw(`ALTER TABLE ${shadow(table)} ADD CONSTRAINT ${qi(c.name)} ${c.def}`);
    }

    const indexes = await tx.raw<{ rows: { name: string; def: string; unique: boolean }[] }>(
      `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def, i.indisunique AS unique
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = ?::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
        ORDER BY c.relname`,
      [liveOf(table)],
    );
    for (const index of indexes.rows) {
      const target = shadowText.get(table)!;
      const onShadow = index.def
        .replace(` ON ${liveOf(table)} USING `, ` ON ${target} USING `)
        .replace(` ON ONLY ${liveOf(table)} USING `, ` ON ONLY ${target} USING `);
      if (onShadow === index.def) throw new Error(`cannot copy index of ${table}: ${index.def}`);
      if (index.unique) {
        // ON CONFLICT may infer it: there from the start
        await tx.raw(onShadow);
      } else {
        deferred.push({ kind: 'index', table, name: index.name, sql: onShadow });
      }
    }
  }
  for (const fk of foreignKeys) {
    // a key to another table of the projection points at its shadow
    let definition = fk.def;
    for (const other of tables) definition = definition.replace(`REFERENCES ${liveOf(other)}(`, `REFERENCES ${shadowText.get(other)!}(`);
    deferred.push({ kind: 'foreign-key', table: fk.table, name: fk.name, definition: definition.replace(/ NOT VALID$/, ''), validated: fk.validated });
  }
  await tx.raw(`CREATE UNLOGGED TABLE ${qi(schema)}.${qi(LOAD_MARKER_TABLE)} (survived boolean NOT NULL)`);
  await tx.raw(`INSERT INTO ${qi(schema)}.${qi(LOAD_MARKER_TABLE)} VALUES (true)`);
  await tx.raw(`SELECT set_config('search_path', ?, true)`, [usual]);
  return deferred;
}

/** Whether the unlogged shadow tables still hold what was loaded (false: a crash emptied them). */
export async function loadSurvived(knex: Knex, schema: string): Promise<boolean> {
  const { rows } = await knex.raw<{ rows: { t: string | null }[] }>('SELECT to_regclass(?)::text AS t', [`${qi(schema)}.${qi(LOAD_MARKER_TABLE)}`]);
  if (!rows[0]?.t) return false;
  const marker = await knex.raw<{ rows: unknown[] }>(`SELECT 1 FROM ${qi(schema)}.${qi(LOAD_MARKER_TABLE)} LIMIT 1`);
  return marker.rows.length > 0;
}

/** Makes every shadow table logged (each in its own transaction; a logged one is left as it is). */
export async function logShadowTables(knex: Knex, schema: string, tables: readonly string[]): Promise<void> {
  await eachAtOnce(tables, async (table) => {
    const { rows } = await knex.raw<{ rows: { p: string }[] }>('SELECT c.relpersistence AS p FROM pg_class c WHERE c.oid = to_regclass(?)', [
      `${qi(schema)}.${qi(table)}`,
    ]);
    if (rows[0]?.p === 'u') await knex.raw(`ALTER TABLE ${qi(schema)}.${qi(table)} SET LOGGED`);
  });
}

/** Adds what the load went without: the indexes, then the foreign keys. Safe to repeat after an interruption. */
export async function addDeferred(knex: Knex, schema: string, deferred: readonly DeferredDdl[]): Promise<void> {
  await eachAtOnce(deferred, async (step) => {
    if (step.kind !== 'index') return;
    const { rows } = await knex.raw<{ rows: { valid: boolean }[] }>(`SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass(?)`, [
      `${qi(schema)}.${qi(step.name)}`,
    ]);
    if (rows[0]?.valid) return;
    // an interrupted concurrent build (as rebuilds made them before) leaves an invalid index behind
    if (rows[0]) await knex.raw(`DROP INDEX ${qi(schema)}.${qi(step.name)}`);
    await knex.raw(step.sql);
  });
  for (const step of deferred) {
    if (step.kind !== 'foreign-key') continue;
    const table = `${qi(schema)}.${qi(step.table)}`;
    const { rows } = await knex.raw<{ rows: { validated: boolean }[] }>(
      'SELECT convalidated AS validated FROM pg_constraint WHERE conrelid = ?::regclass AND conname = ?',
      [table, step.name],
    );
    if (!rows[0]) await knex.raw(`ALTER TABLE ${table} ADD CONSTRAINT ${qi(step.name)} ${step.definition} NOT VALID`);
    if (step.validated && !rows[0]?.validated) await knex.raw(`ALTER TABLE ${table} VALIDATE CONSTRAINT ${qi(step.name)}`);
  }
}

/**
 * Runs `work` for every item, DDL_AT_ONCE at a time, each on a connection of
 * its own. The steps after a load touch one shadow table each (SET LOGGED
 * locks only its table; index builds of one table share its SHARE lock),
 * and while they run nothing else of the rebuild needs the machine: two
 * server processes at a time finish them nearly twice as fast on two cores.
 * The first failure is thrown once the steps under way have ended.
 */
async function eachAtOnce<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (next < items.length && !failure) {
      const item = items[next++]!;
      await work(item).catch((error: unknown) => {
        failure ??= { error };
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(DDL_AT_ONCE, items.length) }, lane));
  if (failure) throw failure.error;
}

/** DDL statements of one rebuild at a time after its load */
const DDL_AT_ONCE = 2;
