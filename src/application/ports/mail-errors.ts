/** Why a message was not delivered to the relay, coarse enough to branch on. */
export type MailFailureKind =
  /** could not connect, the connection dropped, or a timeout elapsed */
  | 'connection'
  /** the relay rejected the credentials, or wants credentials none were given */
  | 'auth'
  /** the relay refused the sender, a recipient or the message */
  | 'rejected'
  /** the mailer is closed, or its configuration is unusable */
  | 'config'
  | 'unknown';

export interface MailDeliveryErrorDetails {
  kind: MailFailureKind;
  /** true when the same message may go through on a later attempt (connection trouble, 4xx replies) */
  retryable: boolean;
  /** the transport's error code (ECONNECTION, ETIMEDOUT, EAUTH, EENVELOPE, ...) */
  code?: string | undefined;
  /** SMTP reply code, when the relay answered */
  responseCode?: number | undefined;
  /** the SMTP command that was refused (AUTH PLAIN, RCPT TO, DATA, ...) */
  command?: string | undefined;
}

/**
 * A message was not handed over to the SMTP relay. The message names the relay
 * host, never its credentials; the transport's original error is not attached
 * as `cause` (its fields may echo server replies to an AUTH exchange), only
 * the fields above are copied.
 */
export class MailDeliveryError extends Error {
  override readonly name = 'MailDeliveryError';
  readonly kind: MailFailureKind;
  readonly retryable: boolean;
  readonly code: string | undefined;
  readonly responseCode: number | undefined;
  readonly command: string | undefined;
  /**
   * The failure is the relay's (down, busy, misconfigured), not this
   * message's: only `rejected` is about the message. A consumer retries a
   * transient error without end and never parks the event for it.
   */
  readonly transient: boolean;

  constructor(message: string, details: MailDeliveryErrorDetails) {
    super(message);
    this.kind = details.kind;
    this.transient = details.kind !== 'rejected';
    this.retryable = details.retryable;
    this.code = details.code;
    this.responseCode = details.responseCode;
    this.command = details.command;
  }
}
