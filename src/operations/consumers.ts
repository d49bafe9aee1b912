import { lockHolders } from '../consumers/lock-keeper.js';
import { consumerLockKey } from '../consumers/consumer-runner.js';
import { parkedCounts } from './dead-letters.js';
import { knownConsumers } from './replay.js';
import type { OpsDeps } from './types.js';

export interface ConsumerOverview {
  name: string;
  /** a consumer with a checkpoint that this code does not run (a rebuild's, an old version's): other */
  kind: 'projection' | 'process-manager' | 'other';
  /** formatPosition of the checkpoint; null: never ran */
  checkpoint: string | null;
  /** when the checkpoint last moved (ISO-8601) */
  updatedAt: string | null;
  retiredBy: string | null;
  /** who runs it now: the connection holding its advisory lock (a projector's application_name names its host and pid); null: nobody */
  heldBy: { pid: number; applicationName: string; clientAddress: string | null; since: string | null } | null;
  /** events parked in consumer_dead_letters */
  parked: number;
}

/**
 * Every consumer: where it is, which process runs it (from pg_locks: the
 * holder of its advisory lock), and how many of its events are parked.
 */
export async function consumerOverview(deps: Pick<OpsDeps, 'knex' | 'store' | 'timeZone'>): Promise<ConsumerOverview[]> {
  const known = knownConsumers(deps);
  const rows = (await deps
    .knex('consumer_checkpoints')
    .select('consumer', deps.knex.raw(`commit_position::text || '-' || prepare_position::text AS checkpoint`), 'updated_at', 'retired_by')) as {
    consumer: string;
    checkpoint: string;
    updated_at: Date;
    retired_by: string | null;
  }[];
  const checkpoints = new Map(rows.map((r) => [r.consumer, r]));
  const parked = await parkedCounts(deps.knex);
  // an old version's or a rebuild's parked events outlive its checkpoint: they are still to be retried or skipped
  const others = new Set([...rows.map((r) => r.consumer), ...parked.keys()].filter((n) => !known.some((k) => k.name === n)));
  const names = [...known.map((k) => k.name), ...[...others].sort()];
  const holders = await lockHolders(deps.knex, names.map(consumerLockKey));
  return names.map((name) => {
    const row = checkpoints.get(name);
    const holder = holders.get(consumerLockKey(name));
    return {
      name,
      kind: known.find((k) => k.name === name)?.kind ?? 'other',
      checkpoint: row ? row.checkpoint : null,
      updatedAt: row ? row.updated_at.toISOString() : null,
      retiredBy: row?.retired_by ?? null,
      heldBy: holder
        ? {
            pid: holder.pid,
            applicationName: holder.applicationName,
            clientAddress: holder.clientAddress,
            since: holder.since ? holder.since.toISOString() : null,
          }
        : null,
      parked: parked.get(name) ?? 0,
    };
  });
}

export class UnknownConsumerError extends Error {
  override readonly name = 'UnknownConsumerError';
}

/**
 * Refuses a consumer name that is neither one this code runs nor one the
 * database remembers (a checkpoint, or dead letters: an old version's stay
 * reachable), so a typo is not taken for "nothing parked".
 */
export async function requireKnownConsumer(deps: Pick<OpsDeps, 'knex' | 'store' | 'timeZone'>, name: string): Promise<void> {
  const known = knownConsumers(deps).map((k) => k.name);
  if (known.includes(name)) return;
  const { rows: found } = await deps.knex.raw<{ rows: { found: boolean }[] }>(
    `SELECT EXISTS (SELECT 1 FROM consumer_checkpoints WHERE consumer = :name) OR EXISTS (SELECT 1 FROM consumer_dead_letters WHERE consumer = :name) AS found`,
    { name },
  );
  if (found[0]?.found) return;
  const { rows } = await deps.knex.raw<{ rows: { consumer: string }[] }>(
    'SELECT consumer FROM consumer_checkpoints UNION SELECT consumer FROM consumer_dead_letters ORDER BY consumer',
  );
  const stored = rows.map((r) => r.consumer);
  const all = [...known, ...stored.filter((n) => !known.includes(n))];
  throw new UnknownConsumerError(`unknown consumer "${name}"; known: ${all.join(', ')}`);
}
