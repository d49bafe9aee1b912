import type { OutgoingMessagePlatform, SendFailureCode } from './events.js';

/** What a decision needs of one outgoing message. */
export interface RequestedMessage {
  status: 'pending' | 'sent' | 'failed';
  messageId: string;
  ownerId: string;
  platform: OutgoingMessagePlatform;
  platformAccountId: string;
  conversationId: string | null;
  peerId: string | null;
  text: string;
  clientMessageId: string;
  requestedAt: string;
  /** set once sent */
  platformMessageId: string | null;
  /** set once failed */
  failure: { code: SendFailureCode; reason: string } | null;
}

export type OutgoingMessageState = { status: 'none' } | RequestedMessage;

export function initialState(): OutgoingMessageState {
  return { status: 'none' };
}
