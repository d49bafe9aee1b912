import type { EventStore } from '../event-store/port.js';
import { StreamNotFoundError } from '../event-store/errors.js';
import { maxPosition, type Position } from '../event-store/position.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { proxyAggregate } from '../write-model/proxy/decider.js';
import type { ProxyState } from '../write-model/proxy/state.js';
import type { CarriedCounters, RecordProxyObservation } from '../write-model/proxy-health/commands.js';
import { proxyHealthAggregate, proxyHealthDayId, proxyHealthStream, utcDay } from '../write-model/proxy-health/decider.js';
import { proxyHealthEvents, type ObservationSource } from '../write-model/proxy-health/events.js';
import type { ProxyHealthDayState } from '../write-model/proxy-health/state.js';

/**
 * Recording a health observation of a proxy: two streams, in this order.
 *
 * 1. The observation goes to the day stream `proxy_health-{proxyId}_{YYYYMMDD}`
 *    (UTC) with the consecutive counters after it. The first observation of
 *    a day goes on from the last one of the latest earlier day within
 *    CARRY_DAYS (read backwards, one event), so a run of failures across
 *    midnight counts whole; a proxy unobserved for longer starts again.
 * 2. The counters are judged on `proxy-{proxyId}` (JudgeProxyHealth): a
 *    healthy proxy fails at PROXY_FAILURE_THRESHOLD failures in a row (1
 *    for an explicit check), a failed one recovers at
 *    PROXY_RECOVERY_THRESHOLD successes.
 *
 * The two appends are not one transaction. The judgement is a function of
 * the day's latest counters and changes nothing when repeated, so it runs
 * on a repeated observation too: a retry after a crash between the two
 * appends makes the verdict good, and otherwise the next observation does.
 *
 * Known tolerance: an observation timed before midnight that arrives after
 * the next day's first one goes into its own day's stream, not the newer
 * one (a single stream would have dropped it as late). Observations are
 * timed on arrival by the recording process, so this takes a report in
 * flight across midnight; the read model still skips it (not after its
 * last_checked_at).
 */

/** How far back the counters of an earlier day are looked for (days without observations in between). */
export const CARRY_DAYS = 7;

const DAY_MS = 86_400_000;

export interface Observation {
  proxyId: string;
  source: ObservationSource;
  ok: boolean;
  /** required when a probe is ok */
  latencyMs?: number | null;
  error?: string | null;
  /** the platform of a failed job */
  platform?: string | null;
  jobId?: string | null;
}

export interface ObservationDeps {
  store: EventStore;
  context: CommandContext;
  thresholds: { failure: number; recovery: number };
  /** the time of the observation */
  at: Date;
  /**
   * Probe results are timed on arrival: one arriving within the same
   * millisecond as the day's last would look like a repeat, so its time is
   * moved just after it (never past midnight). Job reports keep their time.
   */
  timedOnArrival?: boolean;
}

export interface ObservationOutcome {
  /** false: dropped as a repeat (not after the latest observation) */
  recorded: boolean;
  failed: boolean;
  recovered: boolean;
  /** the proxy after the judgement */
  state: ProxyState;
  /** the day stream's revision */
  revision: bigint;
  /** the latest position written; undefined when nothing was */
  position: Position | undefined;
}

/** The proxy exists and is not retired (as the aggregate would say it). */
function requireLive(state: ProxyState, proxyId: string): void {
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `proxy ${proxyId} does not exist`, { proxyId });
  if (state.status === 'retired') {
    throw new DomainError('CONFLICT', `proxy ${proxyId} is retired`, { proxyId, status: state.status, retiredAt: state.retiredAt });
  }
}

/** What the latest earlier day within CARRY_DAYS ended with; null when none. */
export async function carriedCounters(store: EventStore, proxyId: string, at: Date): Promise<CarriedCounters | null> {
  for (let back = 1; back <= CARRY_DAYS; back++) {
    const stream = proxyHealthStream(proxyHealthDayId(proxyId, utcDay(new Date(at.getTime() - back * DAY_MS))));
    let last;
    try {
      [last] = await store.readStream(stream, { direction: 'backwards', maxCount: 1 });
    } catch (error) {
      if (error instanceof StreamNotFoundError) continue;
      throw error;
    }
    if (!last) continue;
    const d = proxyHealthEvents.decode(last).data;
    return { consecutiveFailures: d.consecutiveFailures, consecutiveSuccesses: d.consecutiveSuccesses, checkedAt: d.checkedAt };
  }
  return null;
}

export async function recordObservation(deps: ObservationDeps, o: Observation): Promise<ObservationOutcome> {
  const { store, context } = deps;
  const { state: proxy } = await load(store, proxyAggregate, o.proxyId);
  requireLive(proxy, o.proxyId);

  const day = utcDay(deps.at);
  const dayId = proxyHealthDayId(o.proxyId, day);
  // read only when the day turns out to be empty (its first observation)
  let carried: CarriedCounters | null | undefined;
  let needsCarried = false;
  const observe = (s: ProxyHealthDayState): RecordProxyObservation | [] => {
    if (s.lastCheckedAt === null && carried === undefined) {
      needsCarried = true;
      return [];
    }
    let at = deps.at.getTime();
    if (deps.timedOnArrival && s.lastCheckedAt !== null) {
      const after = Math.max(at, Date.parse(s.lastCheckedAt) + 1);
      if (utcDay(new Date(after)) === day) at = after;
    }
    return {
      type: 'RecordProxyObservation',
      proxyId: o.proxyId,
      day,
      source: o.source,
      ok: o.ok,
      latencyMs: o.latencyMs ?? null,
      error: o.error ?? null,
      platform: o.platform ?? null,
      jobId: o.jobId ?? null,
      carried: carried ?? null,
      now: new Date(at).toISOString(),
    };
  };
  let observed = await handle(store, proxyHealthAggregate, dayId, observe, { context });
  if (needsCarried) {
    carried = await carriedCounters(store, o.proxyId, deps.at);
    observed = await handle(store, proxyHealthAggregate, dayId, observe, { context });
  }

  const latest = observed.state;
  if (latest.lastCheckedAt === null || latest.lastSource === null) {
    // nothing recorded today (cannot happen after a decision): nothing to judge
    return { recorded: false, failed: false, recovered: false, state: proxy, revision: observed.revision, position: undefined };
  }
  const judged = await handle(
    store,
    proxyAggregate,
    o.proxyId,
    {
      type: 'JudgeProxyHealth',
      proxyId: o.proxyId,
      source: latest.lastSource,
      ok: latest.consecutiveSuccesses > 0,
      error: latest.lastError,
      consecutiveFailures: latest.consecutiveFailures,
      consecutiveSuccesses: latest.consecutiveSuccesses,
      failureThreshold: deps.thresholds.failure,
      recoveryThreshold: deps.thresholds.recovery,
      now: latest.lastCheckedAt,
    },
    { context },
  );
  const types = new Set(judged.events.map((e) => e.type));
  const positions = [observed.position, judged.position].filter((p): p is Position => p !== undefined);
  return {
    recorded: observed.events.length > 0,
    failed: types.has('ProxyFailed'),
    recovered: types.has('ProxyRecovered'),
    state: judged.state,
    revision: observed.revision,
    position: positions.length === 0 ? undefined : positions.reduce(maxPosition),
  };
}
