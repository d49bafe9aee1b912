import type { SmsSendLimits } from '../sms.js';

/**
 * The per-organization send limit (SMS_SENDS_PER_ORGANIZATION_PER_MINUTE):
 * minute windows shared by every process (Redis: src/adapters/sms/send-windows.ts),
 * counted by organization (else by user: org-key.ts). A single send takes
 * a place in the current minute or is refused (429 with Retry-After), and
 * gives it back when it is refused after all (the balance cannot pay):
 * only accepted sends count. A batch's messages are never refused: each
 * paid one takes the first minute with room, and its job waits until then.
 */
export interface SmsSendWindows extends SmsSendLimits {
  /** places for `count` sends from the current minute on; the delay (ms from now) of each, in order */
  schedule(key: string, count: number): Promise<number[]>;
}
