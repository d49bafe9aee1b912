/**
 * How a platform account's health score (0..100) follows what happens to it.
 * Pure: the account-health process manager feeds it one signal at a time
 * and records the result with RecordAccountHealth.
 *
 * - A verification that logs in proves the account works: at least 80.
 * - An invalidation (login wall, banned, credentials refused): 0.
 * - A run through the account: +5 when it completes, −10 when it fails.
 * - The platform pushing back mid-run: −20 for a captcha, −10 for rate
 *   limiting (the pause that follows is the worker's; the score remembers).
 *
 * With these steps a run of failures takes a healthy account (≥ 70) to
 * degraded in a few runs and to critical (< 30) in about seven; steady
 * successes climb back 5 a run.
 */

export const HEALTH_SIGNALS = ['verified', 'invalidated', 'run_completed', 'run_failed', 'captcha', 'rate_limited'] as const;
export type HealthSignal = (typeof HEALTH_SIGNALS)[number];

const STEP: Readonly<Record<Exclude<HealthSignal, 'verified' | 'invalidated'>, number>> = {
  run_completed: 5,
  run_failed: -10,
  captcha: -20,
  rate_limited: -10,
};

/** The score after one signal, an integer in 0..100. */
export function healthAfter(score: number, signal: HealthSignal): number {
  switch (signal) {
    case 'verified':
      return Math.max(score, 80);
    case 'invalidated':
      return 0;
    default:
      return Math.min(100, Math.max(0, Math.round(score + STEP[signal])));
  }
}
