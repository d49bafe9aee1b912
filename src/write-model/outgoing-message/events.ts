import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * One private message a user sends through a connected platform account:
 * stream `outgoing_message-{messageId}`, at most two events (requested,
 * then sent or failed). One stream per message, so nothing grows with how
 * many messages a user sends; the list is the read model's business.
 * Every event names the owner, so consumers need no stream names. Times are
 * ISO-8601 strings.
 */

export const OUTGOING_MESSAGE_PLATFORMS = ['xiaohongshu'] as const;
export type OutgoingMessagePlatform = (typeof OUTGOING_MESSAGE_PLATFORMS)[number];

/** The longest message text (characters, as JavaScript counts them). */
export const MAX_MESSAGE_TEXT = 1000;

/**
 * Why a send failed for good:
 * - `account_invalid`: the platform showed a login wall (the account was invalidated);
 * - `account_unavailable`: the account was disconnected, invalid or not the owner's when the worker took the job;
 * - `conversation_not_found`, `peer_not_found`: the platform knows no such conversation / user;
 * - `rejected`: the platform refused the message itself (content, privacy, blocked by the peer);
 * - `attempts_exhausted`: transient failures (proxies, captchas, network) until the job's last attempt.
 */
export const SEND_FAILURE_CODES = [
  'account_invalid',
  'account_unavailable',
  'conversation_not_found',
  'peer_not_found',
  'rejected',
  'attempts_exhausted',
] as const;
export type SendFailureCode = (typeof SEND_FAILURE_CODES)[number];

export interface MessageSendRequestedData {
  messageId: string;
  ownerId: string;
  platform: OutgoingMessagePlatform;
  platformAccountId: string;
  /** the platform's conversation id; null: the conversation with `peerId` (started when there is none) */
  conversationId: string | null;
  /** the peer's platform user id; null: the peer of `conversationId` */
  peerId: string | null;
  text: string;
  /**
   * Sent to the platform with the message and echoed back in the
   * conversation's messages: how a retry finds a message an earlier attempt
   * sent before it could record it.
   */
  clientMessageId: string;
  requestedAt: string;
}

export interface MessageSentData {
  messageId: string;
  ownerId: string;
  platformAccountId: string;
  /** the platform's id of the message */
  platformMessageId: string;
  conversationId: string;
  /** the peer, when the platform told it */
  peerId: string | null;
  /** when the platform says it was sent */
  sentAt: string;
  /** true when a retry found it already on the platform (an earlier attempt sent it) */
  recovered: boolean;
  recordedAt: string;
}

export interface MessageSendFailedData {
  messageId: string;
  ownerId: string;
  platformAccountId: string;
  code: SendFailureCode;
  /** short, never a credential */
  reason: string;
  failedAt: string;
}

export type OutgoingMessageEvent =
  | DomainEvent<'MessageSendRequested', MessageSendRequestedData>
  | DomainEvent<'MessageSent', MessageSentData>
  | DomainEvent<'MessageSendFailed', MessageSendFailedData>;

export type OutgoingMessageEventType = OutgoingMessageEvent['type'];

// ---------------------------------------------------------------- decoding

const ref = { messageId: z.string(), ownerId: z.string(), platformAccountId: z.string() };

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const outgoingMessageEvents = eventCodec<OutgoingMessageEvent>({
  MessageSendRequested: {
    schema: z.object({
      ...ref,
      platform: z.enum(OUTGOING_MESSAGE_PLATFORMS),
      conversationId: z.string().nullable(),
      peerId: z.string().nullable(),
      text: z.string(),
      clientMessageId: z.string(),
      requestedAt: z.string(),
    }),
  },
  MessageSent: {
    schema: z.object({
      ...ref,
      platformMessageId: z.string(),
      conversationId: z.string(),
      peerId: z.string().nullable(),
      sentAt: z.string(),
      recovered: z.boolean(),
      recordedAt: z.string(),
    }),
  },
  MessageSendFailed: { schema: z.object({ ...ref, code: z.enum(SEND_FAILURE_CODES), reason: z.string(), failedAt: z.string() }) },
});
