import type { EventStore } from '../../event-store/port.js';
import type { CommandContext } from '../../write-model/core/command-context.js';
import { handle, load } from '../../write-model/core/command-handler.js';
import { DomainError } from '../../write-model/core/domain-error.js';
import { normalizeSmsKeyword, smsKeywordAggregate, type SmsKeywordCommand } from '../../write-model/sms-keyword/decider.js';

/**
 * Inbound keywords (POST/DELETE /api/v1/sms/keywords): reserved
 * platform-wide for the caller's organization (or the caller outside one).
 * An inbound SMS whose first word is one goes to its owner.
 */

function keywordOrProblem(keyword: string): string {
  const k = normalizeSmsKeyword(keyword);
  if (!k)
    throw new DomainError('VALIDATION_ERROR', 'keyword: 2-20 letters or digits', {
      issues: [{ in: 'body', path: ['keyword'], message: '2-20 letters or digits, no spaces', code: 'invalid_keyword' }],
    });
  return k;
}

export async function reserveSmsKeyword(
  deps: { store: EventStore; now: () => Date },
  caller: { userId: string; organizationId: string | null; context: CommandContext },
  keyword: string,
) {
  const k = keywordOrProblem(keyword);
  const result = await handle(
    deps.store,
    smsKeywordAggregate,
    k,
    { type: 'ReserveSmsKeyword', keyword: k, ownerId: caller.userId, organizationId: caller.organizationId, now: deps.now().toISOString() },
    { context: caller.context },
  );
  return { keyword: k, created: result.events.length > 0, revision: result.revision, position: result.position };
}

/** expectedRevision: the caller's If-Match (the reservation answered it), checked once the keyword is found to be ours. */
export async function releaseSmsKeyword(
  deps: { store: EventStore; now: () => Date },
  caller: { userId: string; organizationId: string | null; context: CommandContext },
  keyword: string,
  expectedRevision?: bigint,
) {
  const k = normalizeSmsKeyword(keyword);
  if (!k) throw new DomainError('NOT_FOUND', 'no such keyword of yours', { keyword });
  const command: SmsKeywordCommand = {
    type: 'ReleaseSmsKeyword',
    keyword: k,
    by: caller.userId,
    organizationId: caller.organizationId,
    now: deps.now().toISOString(),
  };
  const loaded = await load(deps.store, smsKeywordAggregate, k);
  // not ours: NOT_FOUND before a stale If-Match could tell that someone holds it
  smsKeywordAggregate.decider.decide(command, loaded.state);
  return handle(deps.store, smsKeywordAggregate, k, command, { context: caller.context, loaded, expectedRevision });
}
