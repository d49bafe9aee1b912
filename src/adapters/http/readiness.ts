import type { Knex } from 'knex';
import type { EventStore } from '../../event-store/index.js';
import type { Logger } from '../../logger.js';
import type { Redis } from '../redis/redis.js';
import { horizonStatus, horizonWarning } from '../event-store/postgres/horizon.js';

export interface ReadinessCheck {
  name: string;
  probe: () => Promise<unknown>;
}

export type CheckResult = 'ok' | 'failed' | 'timed out';

/** A dependency slower than this is as good as down for a load balancer. */
const PROBE_TIMEOUT_MS = 2_000;

/** What the API needs in order to serve: Postgres, the event store, Redis. */
export function dependencyChecks(deps: { knex: Knex; store: EventStore; redis: Redis }): ReadinessCheck[] {
  return [
    { name: 'postgres', probe: () => deps.knex.raw('select 1') },
    { name: 'event_store', probe: () => deps.store.headPosition() },
    { name: 'redis', probe: () => deps.redis.ping() },
  ];
}

/**
 * What an operator should know though the API can serve: on the Postgres
 * event store, a transaction that has held back $all delivery for a while
 * (the views lag until it ends).
 */
export function readinessWarnings(deps: { knex: Knex; store: EventStore }): () => Promise<string[]> {
  if (deps.store.kind !== 'postgres') return async () => [];
  return async () => {
    const warning = horizonWarning(await horizonStatus(deps.knex));
    return warning ? [warning] : [];
  };
}

/**
 * Runs the probes in parallel. Callers get only the verdicts: error messages
 * (addresses, users) go to the log, not to whoever asks /readyz.
 */
export async function runChecks(checks: readonly ReadinessCheck[], logger: Logger): Promise<Record<string, CheckResult>> {
  const results = await Promise.all(
    checks.map(async ({ name, probe }): Promise<[string, CheckResult]> => {
      try {
        return [name, await withTimeout(probe(), PROBE_TIMEOUT_MS)];
      } catch (error) {
        logger.warn({ err: error, check: name }, 'readiness check failed');
        return [name, error instanceof TimeoutError ? 'timed out' : 'failed'];
      }
    }),
  );
  return Object.fromEntries(results);
}

class TimeoutError extends Error {}

async function withTimeout(promise: Promise<unknown>, ms: number): Promise<'ok'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([promise, timeout]);
    return 'ok';
  } finally {
    clearTimeout(timer);
  }
}
