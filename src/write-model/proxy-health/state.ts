import type { ObservationSource } from './events.js';

/**
 * What deciding the next observation of the day needs (the counters after
 * the last one, and its time), and what the lifecycle judgement of the
 * latest one needs (its source and error), so a repeat can be judged again.
 */
export interface ProxyHealthDayState {
  /** null while the day has no observation */
  lastCheckedAt: string | null;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastSource: ObservationSource | null;
  lastError: string | null;
}

export function initialState(): ProxyHealthDayState {
  return { lastCheckedAt: null, consecutiveFailures: 0, consecutiveSuccesses: 0, lastSource: null, lastError: null };
}
