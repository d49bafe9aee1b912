import fc from 'fast-check';
import { proxyHealthAggregate, type CarriedCounters, type ObservationSource, type ProxyHealthCommand } from '../../../src/write-model/proxy-health/index.js';
import { historySource, sequence } from './harness.js';

const DAY = '20260101';
const DAY_START = Date.UTC(2026, 0, 1);

/**
 * The harness's increasing times, squeezed into the stream's day: a minute
 * after the start becomes a second after midnight (at most ten hours in).
 */
const onTheDay = (now: string) => DAY_START + (Date.parse(now) - DAY_START) / 60;
const iso = (ms: number) => new Date(ms).toISOString();

/** What the latest earlier day ended with (one counter is always 0), none, or — rarely — a time on this day already. */
const carried = fc.oneof(
  { arbitrary: fc.constant(null), weight: 3 },
  {
    arbitrary: fc.record({ failed: fc.boolean(), streak: fc.integer({ min: 1, max: 8 }) }).map(
      ({ failed, streak }): CarriedCounters => ({
        consecutiveFailures: failed ? streak : 0,
        consecutiveSuccesses: failed ? 0 : streak,
        checkedAt: '2025-12-31T23:57:30.000Z',
      }),
    ),
    weight: 6,
  },
  { arbitrary: fc.constant<CarriedCounters>({ consecutiveFailures: 2, consecutiveSuccesses: 0, checkedAt: '2026-01-01T00:30:00.000Z' }), weight: 1 },
);

/**
 * One proxy's day (`proxy_health-p1_20260101`): probes that pass (with their
 * latency) or time out, failed jobs (with their platform and job) and
 * explicit failed checks, the first going on from the carried counters;
 * repeats and late arrivals (no-ops), and now and then one the decider
 * refuses (a successful job, a passing probe without latency, a job without
 * its error, a time on another day, a platform that is not a code).
 */
export const proxyHealthHistories = historySource(
  proxyHealthAggregate,
  (() => {
    let last = DAY_START;
    return sequence(
      fc.record({
        source: fc.constantFrom<ObservationSource>('probe', 'probe', 'probe', 'probe', 'job', 'explicit'),
        ok: fc.constantFrom(true, true, false),
        timing: fc.oneof(
          { arbitrary: fc.constant('next' as const), weight: 16 },
          { arbitrary: fc.constantFrom('repeat' as const, 'late' as const, 'otherDay' as const), weight: 1 },
        ),
        latencyMs: fc.oneof({ arbitrary: fc.constantFrom(12, 85, 240, 1900), weight: 20 }, { arbitrary: fc.constant(null), weight: 1 }),
        error: fc.oneof(
          { arbitrary: fc.constantFrom('connect ETIMEDOUT', 'HTTP 403', 'socket hang up'), weight: 12 },
          { arbitrary: fc.constantFrom(null, undefined), weight: 1 },
        ),
        platform: fc.oneof({ arbitrary: fc.constantFrom('xiaohongshu', 'qidian', null), weight: 15 }, { arbitrary: fc.constant('Xiao Hong Shu'), weight: 1 }),
        jobId: fc.option(fc.constantFrom('job-1', 'job-2'), { nil: null }),
        wrongOk: fc.oneof({ arbitrary: fc.constant(false), weight: 20 }, { arbitrary: fc.constant(true), weight: 1 }),
        carried,
      }),
      (c, now, index): ProxyHealthCommand => {
        if (index === 0) last = DAY_START;
        const next = onTheDay(now);
        const at =
          c.timing === 'repeat' && index > 0 ? last : c.timing === 'late' && index > 0 ? last - 90_000 : c.timing === 'otherDay' ? next + 86_400_000 : next;
        if (c.timing === 'next') last = next;
        const ok = c.source === 'probe' ? c.ok : c.wrongOk;
        const base = { type: 'RecordProxyObservation' as const, proxyId: 'p1', day: DAY, source: c.source, ok, carried: c.carried, now: iso(at) };
        switch (c.source) {
          case 'probe':
            return ok
              ? { ...base, latencyMs: c.latencyMs }
              : { ...base, latencyMs: c.latencyMs === 1900 ? 1900 : null, ...(c.error !== undefined ? { error: c.error } : {}) };
          case 'job':
            return { ...base, latencyMs: null, ...(c.error !== undefined ? { error: c.error } : {}), platform: c.platform, jobId: c.jobId };
          case 'explicit':
            return { ...base, latencyMs: null, ...(c.error !== undefined ? { error: c.error } : {}) };
        }
      },
    );
  })(),
);
