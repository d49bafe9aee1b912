/**
 * Times compared in memory the way Postgres compares timestamptz: to the
 * microsecond. An event's ISO-8601 time and a column read as
 * `instantSql('t.col')` become microseconds since the epoch (a bigint), so a
 * batch folded in memory orders times exactly as the per-row SQL it replaces.
 */

/** Microseconds since the epoch of an ISO-8601 time (digits past the microsecond are dropped). */
export function micros(iso: string): bigint {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`not a time: ${iso}`);
  const fraction = /T\d{2}:\d{2}:\d{2}\.(\d+)/.exec(iso)?.[1] ?? '';
  const belowMs = Number(`${fraction.slice(3, 6)}000`.slice(0, 3));
  return BigInt(ms) * 1000n + BigInt(belowMs);
}

/** SQL reading a timestamptz column as microseconds since the epoch (text; NULL stays NULL), for micros-aware comparisons. */
export function instantSql(column: string, alias: string): string {
  return `(extract(epoch from ${column}) * 1000000)::bigint::text AS ${alias}`;
}
