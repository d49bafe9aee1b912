import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * A proxy's health observations of one UTC day, stream
 * `proxy_health-{proxyId}_{YYYYMMDD}`: the measurement log. It lives one
 * day; the proxy's lifecycle (failed, recovered, bans, retired) stays on
 * `proxy-{proxyId}`. Every event names its proxy and day, so projections
 * read them from `$all`. Times are ISO-8601 strings.
 */

/**
 * Where an observation came from: `probe` the scheduled health check,
 * `job` a scrape job that failed through the proxy, `explicit` an explicit
 * check that failed (fails the proxy at once).
 */
export const OBSERVATION_SOURCES = ['probe', 'job', 'explicit'] as const;
export type ObservationSource = (typeof OBSERVATION_SOURCES)[number];

/**
 * One observation. Carries the consecutive counters as they stand after it
 * (the first of a day goes on from the latest earlier day's), so the
 * lifecycle decision and a read model need no arithmetic of their own.
 */
export interface ProxyHealthCheckedData {
  proxyId: string;
  /** YYYYMMDD (UTC): the day stream it is in */
  day: string;
  source: ObservationSource;
  ok: boolean;
  /** null when the check timed out or the observation is a job failure */
  latencyMs: number | null;
  /** null when ok */
  error: string | null;
  /** the platform a failed job was for (source `job`); otherwise null */
  platform: string | null;
  /** the failed job (source `job`); otherwise null */
  jobId: string | null;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  checkedAt: string;
}

export type ProxyHealthEvent = DomainEvent<'ProxyHealthChecked', ProxyHealthCheckedData>;

// ---------------------------------------------------------------- decoding

const count = z.number().int().nonnegative();

/**
 * Version 1 of ProxyHealthChecked was written to the proxy's own stream and
 * had no `day`: the day stream it belongs to is its check time's UTC day.
 */
function dayOfCheck(v1: Record<string, unknown>): Record<string, unknown> {
  const checkedAt = typeof v1.checkedAt === 'string' ? Date.parse(v1.checkedAt) : Number.NaN;
  return { ...v1, day: Number.isNaN(checkedAt) ? v1.day : new Date(checkedAt).toISOString().slice(0, 10).replaceAll('-', '') };
}

/** The decode boundary of the daily health streams (see core/event-codec.ts). */
export const proxyHealthEvents = eventCodec<ProxyHealthEvent>({
  ProxyHealthChecked: {
    version: 2,
    upcasters: { 1: dayOfCheck },
    schema: z.object({
      proxyId: z.string(),
      day: z.string(),
      source: z.enum(OBSERVATION_SOURCES),
      ok: z.boolean(),
      latencyMs: count.nullable(),
      error: z.string().nullable(),
      platform: z.string().nullable(),
      jobId: z.string().nullable(),
      consecutiveFailures: count,
      consecutiveSuccesses: count,
      checkedAt: z.string(),
    }),
  },
});
