import type { Knex } from 'knex';
import type { TurnOptions, Turns } from '../../application/ports/turns.js';
import { waitForCheckpoint } from '../../consumers/checkpoints.js';
import type { Position } from '../../event-store/position.js';
import { TurnTimeoutError } from '../redis/turns.js';
import { HttpError } from './http-error.js';

/** How long a creation waits for another creation of the same kind and owner before it gives up (409). */
const TURN_WAIT_MS = 30_000;
/** The longest a turn lasts (a crashed holder's ends then): the count, the append and the projection wait fit well inside. */
const TURN_HOLD_MS = 20_000;
/** How long a creation keeps its turn waiting for the read model to count what it wrote. */
const PROJECTION_WAIT_MS = 5_000;

/**
 * Runs `work` in the key's turn (one request at a time per key, across API
 * instances, no database transaction held); one whose turn does not come
 * within the wait is `refused()` (a 409). Without `turns` (a router built
 * without Redis) it simply runs.
 */
export async function inTurnOrRefused<T>(
  turns: Turns | undefined,
  key: string,
  options: TurnOptions,
  refused: () => HttpError,
  work: () => Promise<T>,
): Promise<T> {
  if (!turns) return work();
  try {
    return await turns.run(key, options, work);
  } catch (error) {
    if (error instanceof TurnTimeoutError) throw refused();
    throw error;
  }
}

/**
 * A creation under a limit counted in a read model (at most 20 API keys, 50
 * keywords, 50 reports, 200 pending invitations): the creations of one owner run one at a time
 * (`key`), and each keeps its turn until `projection` has what it wrote, so
 * the next one counts it. Concurrent requests then cannot all pass the same
 * count. A projection lagging past the wait lets the next creation count
 * without this one. One that waits too long for its turn is 409 CONFLICT,
 * `details.reason` `creation_in_progress`.
 */
export async function countedCreation<T extends { readonly position?: Position | null | undefined }>(
  deps: { turns?: Turns | undefined; knex: Knex },
  key: string,
  projection: string,
  work: () => Promise<T>,
  /** the 409's message, when the turn is not the caller's own (an organization's, say) */
  busy = 'another creation of yours is under way: try again',
): Promise<T> {
  const refused = () => new HttpError(409, 'CONFLICT', busy, { reason: 'creation_in_progress' });
  return inTurnOrRefused(deps.turns, key, { waitMs: TURN_WAIT_MS, holdMs: TURN_HOLD_MS }, refused, async () => {
    const made = await work();
    if (made.position) await waitForCheckpoint(deps.knex, projection, made.position, PROJECTION_WAIT_MS);
    return made;
  });
}
