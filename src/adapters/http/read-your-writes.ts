import type { Knex } from 'knex';
import { z } from 'zod';
import { isAfter, parsePosition, type Position } from '../../event-store/position.js';
import { waitForCheckpoint } from '../../consumers/checkpoints.js';
import { validationError } from './error-mapping.js';
import type { AppContext } from './state.js';

/** Longest a query waits for its projection before answering anyway. */
export const DEFAULT_POSITION_WAIT_MS = 5_000;

/** For a route's query schema (OpenAPI), e.g. `listQuery.extend(afterPositionQuery.shape)`. */
export const afterPositionQuery = z.object({
  after_position: z
    .string()
    .regex(/^\d{1,20}-\d{1,20}$/)
    .optional()
    .describe('a position a command answered (`<commit>-<prepare>`): wait until this view includes it (at most 5 s); one past the newest event is 422'),
});

export type PositionWait = 'none' | 'reached' | 'lagging';

/**
 * Read-your-own-writes: with `?after_position=<commit>-<prepare>` the query
 * waits (bounded) until `consumer` — the projection it reads — has passed that
 * position. On timeout it answers anyway, marked `X-Projection-Lag: true`.
 * An unparsable position, or one past the newest event in the store (no
 * command answered it: waiting could only run out the bound), → 422
 * VALIDATION_ERROR at once, as the admin routes refuse a position out of range.
 */
export async function awaitPosition(ctx: AppContext, knex: Knex, consumer: string, options: { timeoutMs?: number } = {}): Promise<PositionWait> {
  const raw = ctx.query.after_position;
  if (raw === undefined || raw === '') return 'none';
  let position: Position;
  try {
    if (typeof raw !== 'string') throw new RangeError('after_position given more than once');
    position = parsePosition(raw);
  } catch (error) {
    throw validationError([
      { in: 'query', path: ['after_position'], message: error instanceof Error ? error.message : 'not a position', code: 'invalid_format' },
    ]);
  }
  // passed already (the common case): the store's head is not asked
  if (await waitForCheckpoint(knex, consumer, position, 0)) return 'reached';
  const head = await ctx.state.headPosition?.();
  if (head && isAfter(position, head)) {
    throw validationError([{ in: 'query', path: ['after_position'], message: 'past the newest event: give a position a command answered', code: 'too_big' }]);
  }
  const reached = await waitForCheckpoint(knex, consumer, position, options.timeoutMs ?? DEFAULT_POSITION_WAIT_MS);
  if (!reached) ctx.set('X-Projection-Lag', 'true');
  return reached ? 'reached' : 'lagging';
}
