import type { Page } from 'playwright';

/**
 * The contract between the message-send worker and a platform's messenger:
 * `send(page, message)` drives `page` (a fresh context with the leased
 * proxy, the account's cookies and user agent) and either answers where the
 * platform has the message, or throws:
 * - the scrapers' LoginWallError / CaptchaError / BlockedError (errors.ts),
 *   which the worker treats as it does for scrape jobs;
 * - MessageRefusedError when the platform refuses this message for good;
 * - anything else: a transient failure (retried with back-off).
 *
 * Never twice: before sending, a messenger looks for the message on the
 * platform by its client message id (an earlier attempt may have sent it
 * and died before it was recorded) and answers `recovered: true` when found.
 */

export interface OutgoingPlatformMessage {
  /** the platform's conversation id, or null: the conversation with `peerId` */
  conversationId: string | null;
  peerId: string | null;
  text: string;
  /** echoed by the platform with the message */
  clientMessageId: string;
  /** when it was asked for: a message found on the platform is never older */
  requestedAt: string;
}

export interface PlatformMessageReceipt {
  platformMessageId: string;
  conversationId: string;
  peerId: string | null;
  /** ISO-8601 */
  sentAt: string;
  /** found already sent (an earlier attempt), not sent now */
  recovered: boolean;
}

export interface PlatformMessenger {
  send(page: Page, message: OutgoingPlatformMessage): Promise<PlatformMessageReceipt>;
}

/** The platform refused the message itself: no retry can send it. */
export class MessageRefusedError extends Error {
  override readonly name = 'MessageRefusedError';
  constructor(
    readonly code: 'conversation_not_found' | 'peer_not_found' | 'rejected',
    /** machine-readable, e.g. `api_code_-9104` */
    readonly reason: string,
  ) {
    super(`message refused: ${code} (${reason})`);
  }
}
