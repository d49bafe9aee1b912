import { randomBytes } from 'node:crypto';
import type { TurnOptions, Turns } from '../../application/ports/turns.js';
import type { Redis } from './redis.js';

/**
 * One holder at a time per key, across processes, without a database
 * transaction: the key is set NX to a random token with an expiry (the
 * longest a holder may keep its turn, so a crashed holder frees it), and
 * only the holder's token deletes it. Waiters poll with jittered backoff and
 * hold nothing while they wait.
 */

/** Deletes KEYS[1] only while it still holds ARGV[1] (the holder's token): an expired turn taken by another stays theirs. */
export const RELEASE_IF_HELD = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Waited longer than `waitMs` for the turn. */
export class TurnTimeoutError extends Error {
  constructor(readonly key: string) {
    super(`waited too long for the turn at ${key}`);
    this.name = 'TurnTimeoutError';
  }
}

/** The Turns port on Redis: keys under `prefix` (the deployment's QUEUE_PREFIX). */
export function redisTurns(redis: Redis, prefix: string): Turns {
  return { run: (key, options, work) => inTurn(redis, `${prefix}:turn:${key}`, options, work) };
}

/** Runs `work` in the key's turn and frees the turn after it, thrown or not. */
export async function inTurn<T>(redis: Redis, key: string, options: TurnOptions, work: () => Promise<T>): Promise<T> {
  const token = randomBytes(12).toString('base64url');
  const deadline = Date.now() + options.waitMs;
  for (let pause = 20; (await redis.set(key, token, 'PX', Math.max(1, Math.ceil(options.holdMs)), 'NX')) !== 'OK'; pause = Math.min(pause * 2, 200)) {
    if (Date.now() >= deadline) throw new TurnTimeoutError(key);
    await new Promise((resolve) => setTimeout(resolve, pause / 2 + Math.random() * pause));
  }
  try {
    return await work();
  } finally {
    // an unreachable Redis lets the turn expire on its own
    await redis.eval(RELEASE_IF_HELD, 1, key, token).catch(() => undefined);
  }
}
