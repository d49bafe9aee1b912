import { truncateCharacters } from '../../write-model/core/characters.js';
/**
 * The SMS provider as the platform uses it: send one message, ask where a
 * message stands. The adapter (src/adapters/sms/client.ts) speaks the
 * provider's HTTP API; tests point it at the sandbox in sandbox/sms-provider/.
 * The API secret stays inside the adapter: nothing it returns or throws
 * carries it.
 */

export interface SmsToSend {
  /** our message id: the provider's idempotency key and the `client_ref` its receipts echo */
  messageId: string;
  /** E.164 */
  to: string;
  text: string;
}

/** The provider took the message. */
export interface SmsAccepted {
  providerMessageId: string;
  /** the number it sends from (replies come to it), when it says */
  senderNumber: string | null;
  /** its price in millionths of its currency, when it says */
  priceMicros: number | null;
  currency: string | null;
  /** segments as the provider counts them */
  segments: number | null;
  acceptedAt: string;
}

/** Where a message stands at the provider (looked up by our message id). */
export type SmsProviderStatus =
  /** never reached it */
  { state: 'absent' } | ({ state: 'accepted' | 'delivered' } & SmsAccepted) | ({ state: 'undelivered'; errorCode: string } & SmsAccepted);

/** Refusal codes that concern the message itself: retrying cannot help, the message fails. */
export const SMS_PERMANENT_CODES: Readonly<Record<string, 'invalid_number' | 'country_not_supported' | 'rejected'>> = {
  INVALID_NUMBER: 'invalid_number',
  COUNTRY_NOT_SUPPORTED: 'country_not_supported',
  INVALID_TEXT: 'rejected',
  CONTENT_REJECTED: 'rejected',
  IDEMPOTENCY_KEY_REUSED: 'rejected',
};

/**
 * A call the provider did not take: `refused` (it answered no), `invalid_answer`
 * (an answer that does not verify or parse), `unavailable` (no answer: network,
 * timeout, 5xx, throttled). Only a refusal with a code of SMS_PERMANENT_CODES is
 * the message's fault; anything else (our credentials refused included) is
 * retried.
 */
export class SmsProviderError extends Error {
  override readonly name = 'SmsProviderError';
  constructor(
    readonly kind: 'refused' | 'invalid_answer' | 'unavailable',
    /** the provider's code (`INVALID_NUMBER`, `THROTTLED`, …) or ours (`TIMEOUT`, `NETWORK`, `HTTP_503`, `BAD_SIGNATURE`) */
    readonly code: string,
    message: string,
    /** the provider's Retry-After, when it gave one */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }

  /** The failure code of the message when the refusal is its own; null when a retry may help. */
  get permanent(): 'invalid_number' | 'country_not_supported' | 'rejected' | null {
    return this.kind === 'refused' ? (SMS_PERMANENT_CODES[this.code] ?? null) : null;
  }

  /** `sms refused: INVALID_NUMBER: message` — fit for an event's reason and a log (no secrets in it). */
  get reason(): string {
    return truncateCharacters(`sms provider ${this.kind.replace('_', ' ')}: ${this.code}: ${this.message}`, 500);
  }
}

/** One message of a batch: taken, or refused (for this message alone, or with the whole call). */
export type SmsBatchOutcome = { ok: true; accepted: SmsAccepted } | { ok: false; error: SmsProviderError };

export interface SmsProvider {
  /** Sends one message; sending the same messageId again gives the first answer back (never a second SMS). */
  send(sms: SmsToSend): Promise<SmsAccepted>;
  /**
   * Sends several messages in one call, each as send() would (the same
   * idempotency per messageId); the outcomes in the order given. A call the
   * provider did not take at all (network, 5xx, throttled, a bad answer)
   * rejects with its SmsProviderError. Optional: a provider without it is
   * sent one message at a time.
   */
  sendBatch?(messages: readonly SmsToSend[]): Promise<SmsBatchOutcome[]>;
  /** Where a message sent under our id stands. */
  status(messageId: string): Promise<SmsProviderStatus>;
}
