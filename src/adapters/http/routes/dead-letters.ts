import type { Router } from '@koa/router';
import { z } from 'zod';
import {
  DEAD_LETTER_STATUSES,
  DeadLetterNotFoundError,
  DeadLetterStateError,
  getDeadLetter,
  listDeadLetters,
  retryDeadLetter,
  skipDeadLetter,
  type DeadLetter,
} from '../../../operations/dead-letters.js';
import { requireKnownConsumer, UnknownConsumerError } from '../../../operations/consumers.js';
import type { OpsDeps } from '../../../operations/types.js';
import type { Consumer } from '../../../consumers/consumer.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { validationError } from '../error-mapping.js';
import { HttpError } from '../http-error.js';
import type { AppState } from '../state.js';
import { decimalInteger } from '../query.js';

/** Builds the consumers with their real adapters for one retry (the projector's catalogue). */
export type WithConsumers = <T>(run: (find: (name: string) => Consumer | undefined) => Promise<T>) => Promise<T>;

const deadLetterSchema = z.object({
  id: z.string(),
  consumer: z.string(),
  event_id: z.string(),
  stream: z.string(),
  revision: z.string().describe("the event's revision in its stream, decimal"),
  type: z.string(),
  position: z.string().describe('<commit>-<prepare>'),
  error: z.string().describe('the last error, with its stack'),
  attempts: z.number().int(),
  first_failed_at: z.string(),
  last_failed_at: z.string(),
  status: z.enum(['parked', 'retried', 'skipped']),
  resolved_at: z.string().nullable(),
});

const letterView = (l: DeadLetter): z.input<typeof deadLetterSchema> => ({
  id: l.id,
  consumer: l.consumer,
  event_id: l.eventId,
  stream: l.stream,
  revision: l.revision,
  type: l.type,
  position: l.position,
  error: l.error,
  attempts: l.attempts,
  first_failed_at: l.firstFailedAt,
  last_failed_at: l.lastFailedAt,
  status: l.status,
  resolved_at: l.resolvedAt,
});

const ID = z.string().regex(/^\d{1,18}$/, 'a dead letter id');

/** A consumer filter naming no consumer this code or the database knows: the query's mistake, as the CLI's `--consumer` refuses it. */
function unknownConsumerIssue(error: unknown): never {
  if (error instanceof UnknownConsumerError) throw validationError([{ in: 'query', path: ['consumer'], message: error.message, code: 'unknown_consumer' }]);
  throw error;
}

function mapErrors(error: unknown): never {
  if (error instanceof DeadLetterNotFoundError) throw new HttpError(404, 'NOT_FOUND', 'no such dead letter');
  if (error instanceof DeadLetterStateError) throw new HttpError(409, 'CONFLICT', error.message);
  throw error;
}

/**
 * `/api/v1/admin/dead-letters`: events a consumer parked after failing on
 * them repeatedly (src/operations/dead-letters.ts). List, retry one through
 * its consumer's own handler, skip one.
 */
export function registerDeadLetterRoutes(router: Router<AppState>, admin: HttpApi, deps: { ops: OpsDeps; withConsumers?: WithConsumers }): void {
  const tags = ['admin'];
  const { ops } = deps;

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/dead-letters',
      summary: 'Parked events (admin)',
      description:
        'Events a projection or process manager failed on CONSUMER_MAX_ATTEMPTS times (transient errors not counted) and parked in ' +
        'consumer_dead_letters to go on without them; by consumer, oldest event first. Default: status parked. ' +
        'No pages and no total: the first `limit` rows (narrow by consumer and status to see the rest). ' +
        'A `consumer` neither in this version of the code nor in consumer_checkpoints or consumer_dead_letters is 422 naming the known ones, ' +
        "so a typo does not read as nothing parked (an old version's letters stay reachable by its name).",
      tags,
      auth: true,
      permission: 'platform.operations.view',
      request: {
        query: z.object({
          consumer: z.string().min(1).max(200).optional(),
          status: z.enum([...DEAD_LETTER_STATUSES, 'all']).default('parked'),
          limit: decimalInteger({ min: 1, max: 1000 }).default(100),
        }),
      },
      responses: { 200: { description: 'the dead letters', schema: z.array(deadLetterSchema) } },
      errors: [403],
    },
    async ({ query }) => {
      if (query.consumer) await requireKnownConsumer(ops, query.consumer).catch(unknownConsumerIssue);
      return (await listDeadLetters(ops.knex, { ...(query.consumer ? { consumer: query.consumer } : {}), status: query.status, limit: query.limit })).map(
        letterView,
      );
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/dead-letters/:id',
      summary: 'One parked event (admin)',
      tags,
      auth: true,
      permission: 'platform.operations.view',
      request: { params: z.object({ id: ID }) },
      responses: { 200: { description: 'the dead letter', schema: deadLetterSchema } },
      errors: [403, 404],
    },
    async ({ params }) => {
      const letter = await getDeadLetter(ops.knex, params.id);
      if (!letter) throw new HttpError(404, 'NOT_FOUND', 'no such dead letter');
      return letterView(letter);
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'post',
      path: '/dead-letters/:id/retry',
      summary: 'Retry a parked event (admin)',
      description:
        "Handles the event once more through its consumer's own handler, in one transaction with the status change (safe while the projector " +
        'runs the consumer). `ok: true`: handled, status retried. `ok: false`: it failed again and stays parked with the new error. ' +
        "409 CONFLICT, the message saying which, when: it is not parked (retried or skipped already); it is a rebuild's (`<name>#rebuild`) " +
        'and that rebuild is still running (retry once it has swapped in); its consumer is not in this version of the code (skip it); ' +
        'or its event can no longer be read at its stream and revision (deleted, truncated or scavenged: skip it).',
      tags,
      auth: true,
      permission: 'platform.operations.run',
      idempotent: false,
      request: { params: z.object({ id: ID }) },
      responses: {
        200: { description: 'the outcome', schema: z.object({ ok: z.boolean(), error: z.string().nullable(), dead_letter: deadLetterSchema }) },
      },
      errors: [403, 404, 409],
    },
    async ({ params }, ctx) => {
      if (!deps.withConsumers) throw new HttpError(409, 'CONFLICT', 'this process cannot run consumers: use `npm run cli -- consumers dead-letters retry`');
      const outcome = await deps
        .withConsumers((find) => retryDeadLetter({ knex: ops.knex, store: ops.store, consumers: find, logger: ctx.state.logger }, params.id))
        .catch(mapErrors);
      ctx.state.logger.info({ deadLetterId: params.id, consumer: outcome.letter.consumer, ok: outcome.ok }, 'parked event retried from the console');
      return { ok: outcome.ok, error: outcome.error, dead_letter: letterView(outcome.letter) };
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'post',
      path: '/dead-letters/:id/skip',
      summary: 'Skip a parked event (admin)',
      description: 'Gives up on it: status skipped (the consumer went on without it already). 409 when it is not parked.',
      tags,
      auth: true,
      permission: 'platform.operations.run',
      idempotent: false,
      request: { params: z.object({ id: ID }) },
      responses: { 200: { description: 'the dead letter', schema: deadLetterSchema } },
      errors: [403, 404, 409],
    },
    async ({ params }, ctx) => {
      const letter = await skipDeadLetter(ops.knex, params.id).catch(mapErrors);
      ctx.state.logger.info({ deadLetterId: params.id, consumer: letter.consumer }, 'parked event skipped from the console');
      return letterView(letter);
    },
  );
}
