/**
 * A place in the global ($all) order. The shape is EventStoreDB's: events are
 * ordered by `commit`, then by `prepare`. On Postgres `commit` is the writing
 * transaction's id (xid8) and `prepare` the global sequence number, which is
 * what makes the order safe against transactions that commit late.
 * Both are bigints end to end: never squeezed through a JS number.
 */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export const START: Position = Object.freeze({ commit: 0n, prepare: 0n });

export function comparePositions(a: Position, b: Position): -1 | 0 | 1 {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

export function isAfter(a: Position, b: Position): boolean {
  return comparePositions(a, b) > 0;
}

export function maxPosition(a: Position, b: Position): Position {
  return comparePositions(a, b) >= 0 ? a : b;
}

/** Text form used in HTTP answers, query strings and the CLI: `<commit>-<prepare>`. */
export function formatPosition(p: Position): string {
  return `${p.commit}-${p.prepare}`;
}

const POSITION_TEXT = /^(\d{1,20})-(\d{1,20})$/;

export function parsePosition(text: string): Position {
  const m = POSITION_TEXT.exec(text.trim());
  if (!m) throw new RangeError(`not a position: "${text}" (expected <commit>-<prepare>, e.g. 812-40)`);
  return { commit: BigInt(m[1]!), prepare: BigInt(m[2]!) };
}

/** The largest commit (a transaction id, xid8: unsigned 64-bit) and prepare (a sequence number, bigint) a stored event can have. */
export const MAX_COMMIT = (1n << 64n) - 1n;
export const MAX_PREPARE = (1n << 63n) - 1n;

/**
 * A position given from outside (a query string, a CLI option): undefined for
 * text that is no position, or one no stored event can have, so the caller
 * refuses it as bad input instead of the database failing on it.
 */
export function storablePosition(text: string): Position | undefined {
  try {
    const parsed = parsePosition(text);
    return parsed.commit <= MAX_COMMIT && parsed.prepare <= MAX_PREPARE ? parsed : undefined;
  } catch {
    return undefined;
  }
}
