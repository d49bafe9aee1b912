import type { ObservationSource } from './events.js';

/** The counters an earlier day ended with (its last observation). */
export interface CarriedCounters {
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  checkedAt: string;
}

/**
 * One observation of a proxy, for the day stream of `day`. The caller
 * checked the proxy is live (proxy-{id}) and, for the first observation of
 * a day, gives what the latest earlier day ended with (`carried`; null when
 * there is none within reach: the counts start again).
 */
export interface RecordProxyObservation {
  type: 'RecordProxyObservation';
  proxyId: string;
  /** YYYYMMDD (UTC) */
  day: string;
  source: ObservationSource;
  ok: boolean;
  /** required when a probe is ok; null when it timed out */
  latencyMs: number | null;
  error?: string | null;
  /** the platform of a failed job (source `job`) */
  platform?: string | null;
  jobId?: string | null;
  /** used only while the day stream is empty */
  carried: CarriedCounters | null;
  /** the time of the observation */
  now: string;
}

export type ProxyHealthCommand = RecordProxyObservation;
