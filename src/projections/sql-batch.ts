import type { Knex } from 'knex';
import { bigintAsString, ident, rowsSelect, type ColumnType } from './sql-rows.js';

export { ident };

/**
 * Set-based writes for projections: a batch folded in memory into rows is
 * written with one statement per table and kind of write, whatever the
 * batch's size. Rows travel as one text array per column (sql-rows.ts),
 * cast to the table's own column types (looked up once per table name,
 * configured search_path and process: a rebuild's shadow copy has the live
 * table's), so a row's values are what JSON would carry: strings for times,
 * dates and bigints (a bigint may also be a bigint), numbers, booleans,
 * arrays for array columns, objects for jsonb columns. A key that is not a
 * column of the table is an error.
 *
 * Tables are named unqualified: a rebuild reaches its shadow copies through
 * search_path. Shadow tables keep their primary and unique keys (so ON
 * CONFLICT works) but may lack secondary indexes and foreign keys.
 *
 * In the SQL fragments a caller passes (`update`, `guard`), `t` is the row in
 * the table, `excluded` (upsert) or `n` (patch) the row being written.
 *
 *   await upsertRows(tx, 'users', rows, { conflict: ['id'] });                       // insert, ignore existing
 *   await upsertRows(tx, 'stats', rows, { conflict: ['k'], update: { n: 't.n + excluded.n' } });
 *   await patchRows(tx, 'users', [{ id, role, revision }], { key: ['id'], guard: 't.revision < n.revision' });
 *   await deleteRows(tx, 'bans', [{ proxy_id, platform }], { key: ['proxy_id', 'platform'] });
 *   const current = await selectRows(tx, 'users', [{ id }], { key: ['id'], columns: ['id', 'revision'], forUpdate: true });
 */

export type Row = Record<string, unknown>;

export interface UpsertOptions {
  /** the conflict target: a primary key or unique index's columns */
  conflict: readonly string[];
  /**
   * On conflict: absent = DO NOTHING (the existing row stays); a list of
   * columns = set each from `excluded`; an object = column → SQL expression
   * over `t` and `excluded` (e.g. `'GREATEST(t.used, excluded.used)'`).
   */
  update?: readonly string[] | Readonly<Record<string, string>>;
  /** SQL condition over `t` and `excluded`: the update happens only where it holds (e.g. `'t.revision < excluded.revision'`) */
  guard?: string;
}

/**
 * INSERT … SELECT FROM the rows ON CONFLICT (…) DO NOTHING / DO UPDATE … WHERE
 * guard. Rows that leave out different columns go in one statement per set
 * of columns (a column one row of a statement lacked would get NULL there,
 * not its default); rows built alike go in one. With `update`, no two rows
 * may share a conflict key (Postgres refuses to update a row twice in one
 * statement): fold them first. Returns the number of rows inserted or updated.
 */
export async function upsertRows(tx: Knex.Transaction | Knex, table: string, rows: readonly Row[], options: UpsertOptions): Promise<number> {
  let written = 0;
  for (const group of alike(rows)) written += await upsertAlike(tx, table, group, options);
  return written;
}

async function upsertAlike(tx: Knex.Transaction | Knex, table: string, rows: readonly Row[], options: UpsertOptions): Promise<number> {
  const columns = columnsOf(rows);
  const source = rowsSelect(await typed(tx, table, columns), rows);
  let sql = `INSERT INTO ${ident(table)} AS t (${columns.map(ident).join(', ')}) ${source.sql}`;
  sql += ` ON CONFLICT (${options.conflict.map(ident).join(', ')})`;
  const update = options.update;
  const sets =
    update === undefined
      ? []
      : Array.isArray(update)
        ? update.map((c) => `${ident(c)} = excluded.${ident(c)}`)
        : Object.entries(update).map(([c, expr]) => `${ident(c)} = ${expr}`);
  if (sets.length === 0) {
    sql += ' DO NOTHING';
  } else {
    assertUniqueKeys(table, rows, options.conflict);
    sql += ` DO UPDATE SET ${sets.join(', ')}`;
    if (options.guard) sql += ` WHERE ${options.guard}`;
  }
  return rowCount(await tx.raw(sql, source.bindings));
}

/**
 * INSERT … ON CONFLICT (…) DO NOTHING RETURNING `returning`: the given
 * columns of the rows that were new. A row whose key was there already, or
 * came earlier in `rows`, is not returned. Same row rules as upsertRows.
 */
export async function insertNewRows<T extends Row = Row>(
  tx: Knex.Transaction | Knex,
  table: string,
  rows: readonly Row[],
  options: { conflict: readonly string[]; returning: readonly string[] },
): Promise<T[]> {
  const inserted: T[] = [];
  for (const group of alike(rows)) inserted.push(...(await insertNewAlike<T>(tx, table, group, options)));
  return inserted;
}

async function insertNewAlike<T extends Row>(
  tx: Knex.Transaction | Knex,
  table: string,
  rows: readonly Row[],
  options: { conflict: readonly string[]; returning: readonly string[] },
): Promise<T[]> {
  const columns = columnsOf(rows);
  const source = rowsSelect(await typed(tx, table, columns), rows);
  const sql =
    `INSERT INTO ${ident(table)} AS t (${columns.map(ident).join(', ')}) ${source.sql}` +
    ` ON CONFLICT (${options.conflict.map(ident).join(', ')}) DO NOTHING RETURNING ${options.returning.map((c) => `t.${ident(c)}`).join(', ')}`;
  return ((await tx.raw(sql, source.bindings)) as { rows: T[] }).rows;
}

/**
 * INSERT … ON CONFLICT (…) DO NOTHING, answering the other way round from
 * insertNewRows: the `key` columns of the rows that were NOT inserted (there
 * already, or a repeat of an earlier row in `rows`). When nearly every row is
 * new, as in a rebuild or a first delivery, almost nothing comes back, where
 * insertNewRows would send back every row. Same row rules as upsertRows.
 */
export async function insertSkipped<T extends Row = Row>(
  tx: Knex.Transaction | Knex,
  table: string,
  rows: readonly Row[],
  options: { conflict: readonly string[]; key: readonly string[] },
): Promise<T[]> {
  const skipped: T[] = [];
  for (const group of alike(rows)) skipped.push(...(await insertSkippedAlike<T>(tx, table, group, options)));
  return skipped;
}

async function insertSkippedAlike<T extends Row>(
  tx: Knex.Transaction | Knex,
  table: string,
  rows: readonly Row[],
  options: { conflict: readonly string[]; key: readonly string[] },
): Promise<T[]> {
  const columns = columnsOf(rows);
  const list = columns.map(ident).join(', ');
  const key = options.key.map(ident).join(', ');
  const source = rowsSelect(await typed(tx, table, columns), rows);
  const sql =
    `WITH r AS MATERIALIZED (${source.sql}),` +
    ` inserted AS (INSERT INTO ${ident(table)} AS t (${list}) SELECT ${list} FROM r` +
    ` ON CONFLICT (${options.conflict.map(ident).join(', ')}) DO NOTHING RETURNING ${options.key.map((c) => `t.${ident(c)}`).join(', ')})` +
    ` SELECT ${key} FROM r EXCEPT ALL SELECT ${key} FROM inserted`;
  return ((await tx.raw(sql, source.bindings)) as { rows: T[] }).rows;
}

export interface PatchOptions {
  /** the columns that find the row (a primary or unique key) */
  key: readonly string[];
  /** columns whose value is added to the row's (`t.c + n.c`) rather than set */
  add?: readonly string[];
  /** SQL condition over `t` (the row as it is) and `n` (the patch; NULL where it leaves a column out) */
  guard?: string;
}

/**
 * UPDATE of existing rows, each by its own patch: a patch sets the columns it
 * has (besides the key) and leaves the others as they are, so patches may
 * differ in their columns. A row that does not exist is not created. No two
 * patches may share a key. Returns the number of rows updated.
 */
export async function patchRows(tx: Knex.Transaction | Knex, table: string, rows: readonly Row[], options: PatchOptions): Promise<number> {
  if (rows.length === 0) return 0;
  assertUniqueKeys(table, rows, options.key);
  const adds = new Set(options.add ?? []);
  const keys = new Set(options.key);
  const columns = columnsOf(rows);
  // when every patch has every column, each is set outright; otherwise a column a patch leaves out keeps the row's value
  const uniform = rows.every((row) => Object.values(row).filter((v) => v !== undefined).length === columns.length);
  const sets: string[] = [];
  for (const c of columns) {
    if (keys.has(c) || adds.has(c)) continue;
    const value = uniform ? `n.${ident(c)}` : `CASE WHEN (e.value -> ${literal(c)}) IS NULL THEN t.${ident(c)} ELSE n.${ident(c)} END`;
    sets.push(`${ident(c)} = ${value}`);
  }
  for (const c of adds) if (columns.includes(c)) sets.push(`${ident(c)} = t.${ident(c)} + COALESCE(n.${ident(c)}, 0)`);
  if (sets.length === 0) return 0;
  // the guard may name columns no patch has: NULL for them
  const types = await columnTypes(tx, table);
  const named = [...(options.guard ?? '').matchAll(/\bn\.(?:"([^"]+)"|([a-z_][a-z0-9_]*))/g)].map((m) => (m[1] ?? m[2])!);
  const read = [...columns, ...new Set(named.filter((c) => types.has(c) && !columns.includes(c)))];
  let sql = `UPDATE ${ident(table)} AS t SET ${sets.join(', ')}`;
  let bindings: string[];
  if (uniform) {
    const source = rowsSelect(await typed(tx, table, read), rows);
    sql += ` FROM (${source.sql}) AS n`;
    bindings = source.bindings;
  } else {
    // a patch's absent key (keep the row's value) differs from its null (set NULL): JSON tells them apart
    sql += ` FROM (SELECT value FROM jsonb_array_elements(?::jsonb) LIMIT ${rows.length}) AS e, jsonb_to_record(e.value) AS n(${await definitions(tx, table, read)})`;
    bindings = [toJson(rows)];
  }
  sql += ` WHERE ${options.key.map((c) => `t.${ident(c)} = n.${ident(c)}`).join(' AND ')}`;
  if (options.guard) sql += ` AND (${options.guard})`;
  return rowCount(await tx.raw(sql, bindings));
}

/** DELETE of the rows whose key columns match one of `keys`. Returns the number deleted. */
export async function deleteRows(tx: Knex.Transaction | Knex, table: string, keys: readonly Row[], options: { key: readonly string[] }): Promise<number> {
  if (keys.length === 0) return 0;
  const match = options.key.map((c) => `t.${ident(c)} = k.${ident(c)}`).join(' AND ');
  const source = rowsSelect(await typed(tx, table, options.key), keys);
  const sql = `DELETE FROM ${ident(table)} AS t USING (${source.sql}) AS k WHERE ${match}`;
  return rowCount(await tx.raw(sql, source.bindings));
}

/**
 * The rows whose key columns match one of `keys` (duplicates are fine), with
 * `columns` (plain column names or SQL expressions over `t` with an alias,
 * e.g. `'t.revision::text AS revision'`); `forUpdate` locks them for the rest
 * of the transaction. One statement, however many keys.
 */
export async function selectRows<T extends Row = Row>(
  tx: Knex.Transaction | Knex,
  table: string,
  keys: readonly Row[],
  options: { key: readonly string[]; columns: readonly string[]; forUpdate?: boolean },
): Promise<T[]> {
  if (keys.length === 0) return [];
  const key = options.key.map(ident);
  const columns = options.columns.map((c) => (/^[a-z_][a-z0-9_]*$/.test(c) ? `t.${ident(c)}` : c)).join(', ');
  let sql = `SELECT ${columns} FROM ${ident(table)} AS t WHERE (${key.map((c) => `t.${c}`).join(', ')}) IN`;
  const source = rowsSelect(await typed(tx, table, options.key), keys);
  sql += ` (SELECT ${key.map((c) => `k.${c}`).join(', ')} FROM (${source.sql}) AS k)`;
  if (options.forUpdate) sql += ' FOR UPDATE OF t';
  const result = (await tx.raw(sql, source.bindings)) as { rows: T[] };
  return result.rows;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * Column types by table name and the connection's configured search_path,
 * read from the catalog once per process (the table as search_path finds
 * it). A knex configured with a search_path of its own (a scratch schema in
 * a test, say) may find other tables under the same names; a rebuild's
 * SET LOCAL search_path finds shadow copies of the same shape.
 */
const typesByTable = new Map<string, Promise<Map<string, { type: string; base: string }>>>();

/** Per column: its type (`character varying(255)`) and its type without the modifier (`character varying`). */
function columnTypes(tx: Knex.Transaction | Knex, table: string): Promise<Map<string, { type: string; base: string }>> {
  const searchPath = (tx.client as { config?: { searchPath?: unknown } }).config?.searchPath;
  const key = searchPath === undefined ? table : `${JSON.stringify(searchPath)}\u0000${table}`;
  let types = typesByTable.get(key);
  if (!types) {
    types = (async () => {
      const { rows } = (await tx.raw(
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, format_type(a.atttypid, NULL) AS base FROM pg_attribute a
         WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped`,
        [ident(table)],
      )) as { rows: { name: string; type: string; base: string }[] };
      if (rows.length === 0) throw new Error(`${table}: no such table`);
      return new Map(rows.map((r) => [r.name, { type: r.type, base: r.base }]));
    })();
    typesByTable.set(key, types);
    types.catch(() => typesByTable.delete(key));
  }
  return types;
}

/** `col type, …` for jsonb_to_recordset: the columns in the table's types. */
async function definitions(tx: Knex.Transaction | Knex, table: string, columns: readonly string[]): Promise<string> {
  const types = await columnTypes(tx, table);
  return columns
    .map((c) => {
      const type = types.get(c);
      if (!type) throw new Error(`${table} has no column ${c}`);
      return `${ident(c)} ${type.type}`;
    })
    .join(', ');
}

/** The columns with their types without modifiers, for rowsSelect. */
async function typed(tx: Knex.Transaction | Knex, table: string, columns: readonly string[]): Promise<ColumnType[]> {
  const types = await columnTypes(tx, table);
  return columns.map((c) => {
    const type = types.get(c);
    if (!type) throw new Error(`${table} has no column ${c}`);
    return { name: c, type: type.base };
  });
}

/** The columns the rows have (a key whose value is undefined is left out, as JSON leaves it out). */
function columnsOf(rows: readonly Row[]): string[] {
  const columns = new Set<string>();
  for (const row of rows) for (const c in row) if (row[c] !== undefined) columns.add(c);
  return [...columns];
}

const definedColumns = (row: Row): string[] => Object.keys(row).filter((c) => row[c] !== undefined);

function width(row: Row): number {
  let n = 0;
  for (const c in row) if (row[c] !== undefined) n++;
  return n;
}

/**
 * The rows in groups that each have the same columns, in the order their
 * first rows come: one group (found in one pass) when they are built alike,
 * as they nearly always are.
 */
function alike(rows: readonly Row[]): (readonly Row[])[] {
  if (rows.length === 0) return [];
  const all = columnsOf(rows).length;
  if (rows.every((row) => width(row) === all)) return [rows];
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const signature = definedColumns(row).sort().join('\u0000');
    const group = groups.get(signature);
    if (group) group.push(row);
    else groups.set(signature, [row]);
  }
  return [...groups.values()];
}

function assertUniqueKeys(table: string, rows: readonly Row[], key: readonly string[]): void {
  const seen = new Set<string>();
  for (const row of rows) {
    const k = key.length === 1 ? String(row[key[0]!]) : key.map((c) => String(row[c])).join('\u0000');
    if (seen.has(k)) throw new Error(`${table}: two rows for the same key ${JSON.stringify(k)} in one statement (fold them first)`);
    seen.add(k);
  }
}

/** The rows as one JSON text; a bigint as its decimal string (faster still: pass revisions as strings). */
function toJson(rows: readonly Row[]): string {
  try {
    return JSON.stringify(rows);
  } catch {
    return JSON.stringify(rows, bigintAsString); // JSON.stringify refuses bigints
  }
}

function rowCount(result: unknown): number {
  return (result as { rowCount?: number | null }).rowCount ?? 0;
}
