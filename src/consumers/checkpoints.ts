import type { Knex } from 'knex';
import type { EventFilter, EventStore } from '../event-store/port.js';
import { comparePositions, START, type Position } from '../event-store/position.js';

interface CheckpointRow {
  commit_position: string;
  prepare_position: string;
  epoch: string;
  retired_by?: string | null;
}

const toPosition = (row: CheckpointRow): Position => ({ commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) });

export async function readCheckpoint(db: Knex | Knex.Transaction, consumer: string): Promise<Position> {
  const { rows } = await db.raw<{ rows: CheckpointRow[] }>(
    'SELECT commit_position::text, prepare_position::text, epoch::text FROM consumer_checkpoints WHERE consumer = ?',
    [consumer],
  );
  return rows[0] ? toPosition(rows[0]) : START;
}

/**
 * Takes the consumer over: a new epoch, which fences any earlier instance
 * still writing. `retiredBy` names the newer version that replaced it (a
 * retired consumer must not run).
 */
export async function claimCheckpoint(db: Knex, consumer: string): Promise<{ position: Position; epoch: bigint; retiredBy: string | null }> {
  const { rows } = await db.raw<{ rows: CheckpointRow[] }>(
    `INSERT INTO consumer_checkpoints (consumer, epoch) VALUES (?, 1)
     ON CONFLICT (consumer) DO UPDATE SET epoch = consumer_checkpoints.epoch + 1
     RETURNING commit_position::text, prepare_position::text, epoch::text, retired_by`,
    [consumer],
  );
  const row = rows[0]!;
  return { position: toPosition(row), epoch: BigInt(row.epoch), retiredBy: row.retired_by ?? null };
}

/** Retires a consumer in favour of `by` (a new epoch fences a running instance; it then sees it is retired and stops). */
export async function retireCheckpoint(db: Knex | Knex.Transaction, consumer: string, by: string): Promise<void> {
  await db('consumer_checkpoints')
    .update({ retired_by: by, epoch: db.raw('epoch + 1'), updated_at: db.fn.now() })
    .where({ consumer });
}

/** The consumers named `<base>-v<N>` that have a checkpoint and are not retired. */
export async function activeVersions(db: Knex | Knex.Transaction, base: string): Promise<{ consumer: string; version: number }[]> {
  const rows = (await db('consumer_checkpoints')
    .select('consumer')
    .whereNull('retired_by')
    .andWhere('consumer', 'like', `${base.replace(/[\\%_]/g, (c) => `\\${c}`)}-v%`)) as { consumer: string }[];
  return rows
    .map((r) => ({ consumer: r.consumer, m: /-v(\d+)$/.exec(r.consumer) }))
    .filter((r) => r.m && r.consumer === `${base}-v${r.m[1]}`)
    .map((r) => ({ consumer: r.consumer, version: Number(r.m![1]) }));
}

export class LostOwnershipError extends Error {
  override readonly name = 'LostOwnershipError';
  constructor(consumer: string) {
    super(`consumer ${consumer}: another instance took over the checkpoint`);
  }
}

export async function storeCheckpoint(tx: Knex.Transaction, consumer: string, epoch: bigint, position: Position): Promise<void> {
  const updated = await tx('consumer_checkpoints')
    .update({ commit_position: position.commit.toString(), prepare_position: position.prepare.toString(), updated_at: tx.fn.now() })
    .where({ consumer, epoch: epoch.toString() });
  if (updated !== 1) throw new LostOwnershipError(consumer);
}

/** Sets a consumer back to a position (a reset or a replay); the running instance, if any, is fenced off. */
export async function resetCheckpoint(db: Knex, consumer: string, position: Position = START): Promise<void> {
  await db.raw(
    `INSERT INTO consumer_checkpoints (consumer, commit_position, prepare_position) VALUES (?, ?, ?)
     ON CONFLICT (consumer) DO UPDATE SET commit_position = excluded.commit_position,
       prepare_position = excluded.prepare_position, epoch = consumer_checkpoints.epoch + 1, updated_at = now()`,
    [consumer, position.commit.toString(), position.prepare.toString()],
  );
}

/**
 * Waits (bounded) until a consumer has passed `position` — read-your-own-writes
 * for a query that follows a command. A consumer retired by a newer version
 * (a rebuilt projection swapped in) stands for the version that serves its
 * tables now: the wait follows `retired_by`. Resolves true when reached,
 * false on timeout.
 */
export async function waitForCheckpoint(
  db: Knex,
  consumer: string,
  position: Position,
  timeoutMs: number,
  /**
   * the consumer's events (its filter, in the store): a checkpoint short of
   * `position` counts as there when none of them lies between the two. A
   * consumer writes its checkpoint at once only when it handles an event;
   * past events it does not want, only every idle-checkpoint interval.
   */
  wanted?: { store: Pick<EventStore, 'countEvents'>; filter: EventFilter },
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  for (;;) {
    const at = await servingCheckpoint(db, consumer);
    if (comparePositions(at, position) >= 0) return true;
    if (wanted && (await wanted.store.countEvents(at, position, wanted.filter)).count === 0) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, Math.max(1, deadline - Date.now()))));
    delay = Math.min(delay * 2, 100);
  }
}

/** The checkpoint of the version serving in `consumer`'s place: itself, or the newest that retired it. */
async function servingCheckpoint(db: Knex, consumer: string): Promise<Position> {
  const { rows } = await db.raw<{ rows: CheckpointRow[] }>(
    `WITH RECURSIVE chain AS (
       SELECT consumer, retired_by, commit_position, prepare_position, epoch, 0 AS depth FROM consumer_checkpoints WHERE consumer = ?
       UNION ALL
       SELECT c.consumer, c.retired_by, c.commit_position, c.prepare_position, c.epoch, chain.depth + 1
         FROM consumer_checkpoints c JOIN chain ON c.consumer = chain.retired_by WHERE chain.depth < 16)
     SELECT commit_position::text, prepare_position::text, epoch::text FROM chain ORDER BY depth DESC LIMIT 1`,
    [consumer],
  );
  return rows[0] ? toPosition(rows[0]) : START;
}
