import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../event-store/port.js';
import type { Position } from '../../event-store/position.js';
import type { CommandContext } from '../../write-model/core/command-context.js';
import { handle, load } from '../../write-model/core/command-handler.js';
import { DomainError } from '../../write-model/core/domain-error.js';
import { smsBatchAggregate } from '../../write-model/sms-batch/decider.js';
import { MAX_BATCH_RECIPIENTS } from '../../write-model/sms-batch/events.js';
import type { MembershipDirectory } from '../ports/membership.js';
import { organizationOf } from './org-key.js';
import { parseRecipients } from './recipients.js';

/**
 * SMS batches (docs/sms.md): created through POST /api/v1/sms/batches and
 * submitted to the content review at once; pm-sms-batches runs the review
 * and, once approved and due, requests one SMS per recipient.
 */

/** Invalid numbers listed in a 422, at most. */
export const MAX_LISTED_INVALID = 100;

export interface SmsBatchDeps {
  store: EventStore;
  now: () => Date;
  /** SMS_DEFAULT_REGION */
  defaultRegion: string;
  /** the organizations' directory; absent: nobody is in one */
  membership?: MembershipDirectory | null;
}

export interface CreateSmsBatchInput {
  text: string;
  senderId: string;
  recipients: readonly string[];
  /** leave invalid numbers out instead of refusing the batch */
  skipInvalid: boolean;
  scheduledAt: string | null;
}

export interface CreatedSmsBatch {
  batchId: string;
  recipientCount: number;
  invalidSkipped: number;
  duplicatesRemoved: number;
  revision: bigint;
  position: Position | undefined;
}

/**
 * Numbers normalised to E.164 and de-duplicated; invalid ones refused
 * (422, each under body.recipients.{index}, the first MAX_LISTED_INVALID)
 * unless skipInvalid; then the batch on a fresh stream.
 */
export async function createSmsBatch(
  deps: SmsBatchDeps,
  caller: { userId: string; context: CommandContext },
  input: CreateSmsBatchInput,
): Promise<CreatedSmsBatch> {
  if (input.recipients.length > MAX_BATCH_RECIPIENTS)
    throw new DomainError('VALIDATION_ERROR', `recipients: at most ${MAX_BATCH_RECIPIENTS} numbers`, {
      issues: [{ in: 'body', path: ['recipients'], message: `at most ${MAX_BATCH_RECIPIENTS} numbers`, code: 'too_big' }],
    });
  const parsed = parseRecipients(input.recipients, deps.defaultRegion);
  if (parsed.invalid.length > 0 && !input.skipInvalid) {
    const listed = parsed.invalid.slice(0, MAX_LISTED_INVALID);
    throw new DomainError(
      'VALIDATION_ERROR',
      `recipients: ${parsed.invalid.length} of ${input.recipients.length} numbers are not valid (send skip_invalid: true to leave them out)`,
      {
        issues: listed.map((i) => ({
          in: 'body',
          path: ['recipients', i.index],
          message: `${JSON.stringify(i.input)}: ${i.problem}`,
          code: 'invalid_phone_number',
        })),
        invalid_count: parsed.invalid.length,
        listed: listed.length,
      },
    );
  }
  if (parsed.numbers.length === 0)
    throw new DomainError('VALIDATION_ERROR', 'recipients: no valid number', {
      issues: [{ in: 'body', path: ['recipients'], message: 'no valid number left', code: 'invalid_phone_number' }],
      invalid_count: parsed.invalid.length,
    });
  const batchId = randomUUID();
  const organizationId = await organizationOf(deps.membership, caller.userId);
  const result = await handle(
    deps.store,
    smsBatchAggregate,
    batchId,
    {
      type: 'CreateSmsBatch',
      batchId,
      ownerId: caller.userId,
      organizationId,
      text: input.text,
      senderId: input.senderId,
      recipients: parsed.numbers,
      invalidSkipped: parsed.invalid.length,
      duplicatesRemoved: parsed.duplicatesRemoved,
      scheduledAt: input.scheduledAt,
      now: deps.now().toISOString(),
    },
    { context: caller.context, expectedRevision: 'no_stream' },
  );
  return {
    batchId,
    recipientCount: parsed.numbers.length,
    invalidSkipped: parsed.invalid.length,
    duplicatesRemoved: parsed.duplicatesRemoved,
    revision: result.revision,
    position: result.position,
  };
}

/** Cancels a batch the caller may see (its owner among `ownerIds`, else NOT_FOUND) before it is sending. */
export async function cancelSmsBatch(
  deps: Pick<SmsBatchDeps, 'store' | 'now'>,
  caller: { userId: string; ownerIds: readonly string[]; context: CommandContext },
  batchId: string,
) {
  const loaded = await load(deps.store, smsBatchAggregate, batchId);
  if (loaded.state.status === 'none' || !caller.ownerIds.includes(loaded.state.ownerId)) throw new DomainError('NOT_FOUND', 'sms batch not found', { batchId });
  return handle(
    deps.store,
    smsBatchAggregate,
    batchId,
    { type: 'CancelSmsBatch', batchId, by: caller.userId, now: deps.now().toISOString() },
    { context: caller.context, loaded },
  );
}
