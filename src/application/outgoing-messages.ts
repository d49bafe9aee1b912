import { randomUUID } from 'node:crypto';
import type { EventStore } from '../event-store/port.js';
import type { Position } from '../event-store/position.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { outgoingMessageAggregate } from '../write-model/outgoing-message/decider.js';
import { platformAccountAggregate } from '../write-model/platform-account/decider.js';
import { requireFeature } from './plan-gates.js';
import { currentPlan } from './subscription-quotas.js';

/**
 * Asking for a private message to be sent (POST /api/v1/xiaohongshu/messages):
 * checked, then recorded as MessageSendRequested on a stream of its own
 * (`outgoing_message-{id}`, a fresh id). The process manager
 * `pm-outgoing-messages` queues it and the worker sends it (paced per
 * account); nothing here talks to the platform.
 *
 * Checks, in order: the plan includes private_messaging (PERMISSION_DENIED,
 * details.feature); the account is the caller's (NOT_FOUND, like an unknown
 * one), of Xiaohongshu (VALIDATION_ERROR under body.platform_account_id),
 * and active (CONFLICT, details.reason `account_not_active` and its status).
 */

export interface OutgoingMessageDeps {
  store: EventStore;
  now: () => Date;
}

export interface MessageSendInput {
  platformAccountId: string;
  conversationId: string | null;
  peerId: string | null;
  text: string;
}

export interface RequestedMessageSend {
  messageId: string;
  revision: bigint;
  position: Position | undefined;
}

const PLATFORM = 'xiaohongshu';

export async function requestMessageSend(
  deps: OutgoingMessageDeps,
  caller: { userId: string; context: CommandContext },
  input: MessageSendInput,
): Promise<RequestedMessageSend> {
  const plan = await currentPlan(deps.store, caller.userId, PLATFORM);
  requireFeature(plan, 'private_messaging');
  const { state: account } = await load(deps.store, platformAccountAggregate, input.platformAccountId);
  if (account.status === 'none' || account.ownerId !== caller.userId) throw new DomainError('NOT_FOUND', 'platform account not found');
  if (account.platform !== PLATFORM) {
    throw new DomainError('VALIDATION_ERROR', `platform account ${input.platformAccountId} is a ${account.platform} account, not ${PLATFORM}`, {
      issues: [{ in: 'body', path: ['platform_account_id'], message: `not a ${PLATFORM} account`, code: 'custom' }],
    });
  }
  if (account.status !== 'active') {
    throw new DomainError('CONFLICT', `platform account ${input.platformAccountId} is ${account.status}: only an active account sends messages`, {
      reason: 'account_not_active',
      status: account.status,
      accountId: input.platformAccountId,
    });
  }
  const messageId = randomUUID();
  const result = await handle(
    deps.store,
    outgoingMessageAggregate,
    messageId,
    {
      type: 'RequestMessageSend',
      messageId,
      ownerId: caller.userId,
      platform: PLATFORM,
      platformAccountId: input.platformAccountId,
      conversationId: input.conversationId,
      peerId: input.peerId,
      text: input.text,
      now: deps.now().toISOString(),
    },
    { context: caller.context, expectedRevision: 'no_stream' },
  );
  return { messageId, revision: result.revision, position: result.position };
}
