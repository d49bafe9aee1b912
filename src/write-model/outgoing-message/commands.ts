import type { OutgoingMessagePlatform, SendFailureCode } from './events.js';

/** Commands of one outgoing message (stream `outgoing_message-{messageId}`); all carry `now`. */

/** The API: the owner asks for a message to be sent (checked against plan and account before). */
export interface RequestMessageSend {
  type: 'RequestMessageSend';
  messageId: string;
  ownerId: string;
  platform: OutgoingMessagePlatform;
  platformAccountId: string;
  conversationId: string | null;
  peerId: string | null;
  text: string;
  now: string;
}

/** The worker: the platform has the message (sent now, or found sent by an earlier attempt). */
export interface RecordMessageSent {
  type: 'RecordMessageSent';
  messageId: string;
  platformMessageId: string;
  conversationId: string;
  peerId: string | null;
  sentAt: string;
  recovered: boolean;
  now: string;
}

/** The worker: the message cannot be sent (for good). */
export interface RecordMessageSendFailed {
  type: 'RecordMessageSendFailed';
  messageId: string;
  code: SendFailureCode;
  reason: string;
  now: string;
}

export type OutgoingMessageCommand = RequestMessageSend | RecordMessageSent | RecordMessageSendFailed;
