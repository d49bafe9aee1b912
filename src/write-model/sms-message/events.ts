import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';
import type { SealedSecret } from '../core/sealed-secret.js';
import { SMS_ENCODINGS, type SmsEncoding } from './segments.js';

/**
 * One SMS a user sends through the provider: stream `sms_message-{id}`, at
 * most four events (requested; sent; delivered or undelivered — or failed).
 * One stream per message, so nothing grows with how many a user sends; the
 * list is the read model's business. Every event names the owner. Times are
 * ISO-8601 strings, money integer fen (ours) or integer micro-units of the
 * provider's currency (what the provider says it charged us).
 */

/** The longest text (characters as JavaScript counts them: UTF-16 units); ten UCS-2 segments is 670. */
export const MAX_SMS_TEXT = 1600;

/** E.164: `+`, the country calling code and the national number, 8 to 15 digits in all. */
export const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * Why a message will not be sent:
 * - `invalid_number`, `country_not_supported`: the provider refused the destination;
 * - `rejected`: the provider refused the message itself (content, sender, account);
 * - `attempts_exhausted`: transient failures (the provider down, throttling) until the job's last attempt;
 * - `insufficient_balance`: the ledger refused the charge (the owner's prepaid balance), so it was never queued.
 */
export const SMS_FAILURE_CODES = ['invalid_number', 'country_not_supported', 'rejected', 'attempts_exhausted', 'insufficient_balance'] as const;
export type SmsFailureCode = (typeof SMS_FAILURE_CODES)[number];

/** How a send came to be recorded: the provider's answer to our send, its delivery receipt (which came first), or a status query. */
export const SMS_SENT_SOURCES = ['send', 'receipt', 'status_query'] as const;
export type SmsSentSource = (typeof SMS_SENT_SOURCES)[number];

export const SMS_RECEIPT_STATUSES = ['DELIVERED', 'UNDELIVERED'] as const;

/**
 * What a message with a sealed body carries: a one-time code. Its text in
 * the events, read models and answers is the masked one (`•••••• is your
 * code`); the body as sent is `sealedText`, opened only by the worker.
 */
export const SMS_CODE_PURPOSES = ['login_code', 'phone_verification'] as const;
export type SmsCodePurpose = (typeof SMS_CODE_PURPOSES)[number];
/** The platform's own messages: a one-time code (sealed body), or a notification the user asked to get by SMS. */
export const SMS_PURPOSES = [...SMS_CODE_PURPOSES, 'notification'] as const;
export type SmsPurpose = (typeof SMS_PURPOSES)[number];
export type SmsReceiptStatus = (typeof SMS_RECEIPT_STATUSES)[number];

export interface SmsRequestedData {
  messageId: string;
  ownerId: string;
  /** E.164 */
  to: string;
  /** ISO 3166-1 alpha-2 of the number */
  country: string;
  /** the country calling code, digits (`86`) */
  callingCode: string;
  /** as sent; with `sealedText`, the masked body (no code in it) */
  text: string;
  /** a one-time code's message: the body as sent, sealed (context `sms-text:{messageId}`); absent: `text` is sent */
  sealedText?: SealedSecret;
  /** the platform's own message: what the code is for (with `sealedText`), or `notification`; absent: a user's own SMS */
  purpose?: SmsPurpose;
  encoding: SmsEncoding;
  segments: number;
  /** the catalogue's price per segment for the country (prices.ts), fen */
  unitPriceFen: number;
  /** segments × unitPriceFen */
  priceFen: number;
  requestedAt: string;
  /** the SMS batch it is one recipient of (absent: a single send) */
  batchId?: string;
  /** the owner's organization when requested (absent: none) */
  organizationId?: string;
}

export interface SmsSentData {
  messageId: string;
  ownerId: string;
  providerMessageId: string;
  /** the number the provider sent from (replies come to it); null when it did not say */
  senderNumber: string | null;
  /** what the provider charges us, in millionths of its currency; null when not told */
  providerPriceMicros: number | null;
  providerCurrency: string | null;
  /** when the provider accepted it */
  sentAt: string;
  source: SmsSentSource;
  recordedAt: string;
}

export interface SmsDeliveredData {
  messageId: string;
  ownerId: string;
  providerMessageId: string;
  /** the provider's id of the receipt */
  receiptId: string;
  /** when the handset took it, as the provider says */
  deliveredAt: string;
  recordedAt: string;
}

export interface SmsUndeliveredData {
  messageId: string;
  ownerId: string;
  providerMessageId: string;
  receiptId: string;
  /** the provider's error code (`UNKNOWN_SUBSCRIBER`, `ABSENT_SUBSCRIBER`, …) */
  errorCode: string;
  /** short, as the provider words it */
  errorReason: string;
  doneAt: string;
  recordedAt: string;
}

export interface SmsFailedData {
  messageId: string;
  ownerId: string;
  code: SmsFailureCode;
  /** short, never a credential */
  reason: string;
  failedAt: string;
}

export type SmsMessageEvent =
  | DomainEvent<'SmsRequested', SmsRequestedData>
  | DomainEvent<'SmsSent', SmsSentData>
  | DomainEvent<'SmsDelivered', SmsDeliveredData>
  | DomainEvent<'SmsUndelivered', SmsUndeliveredData>
  | DomainEvent<'SmsFailed', SmsFailedData>;

export type SmsMessageEventType = SmsMessageEvent['type'];

// ---------------------------------------------------------------- decoding

const ref = { messageId: z.string(), ownerId: z.string() };

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const smsMessageEvents = eventCodec<SmsMessageEvent>({
  SmsRequested: {
    schema: z.object({
      ...ref,
      to: z.string(),
      country: z.string(),
      callingCode: z.string(),
      text: z.string(),
      sealedText: z.object({ keyId: z.string(), iv: z.string(), tag: z.string(), ciphertext: z.string() }).optional(),
      purpose: z.enum(SMS_PURPOSES).optional(),
      encoding: z.enum(SMS_ENCODINGS),
      segments: z.number().int(),
      unitPriceFen: z.number().int(),
      priceFen: z.number().int(),
      requestedAt: z.string(),
      batchId: z.string().optional(),
      organizationId: z.string().optional(),
    }),
  },
  SmsSent: {
    schema: z.object({
      ...ref,
      providerMessageId: z.string(),
      senderNumber: z.string().nullable(),
      providerPriceMicros: z.number().int().nullable(),
      providerCurrency: z.string().nullable(),
      sentAt: z.string(),
      source: z.enum(SMS_SENT_SOURCES),
      recordedAt: z.string(),
    }),
  },
  SmsDelivered: {
    schema: z.object({ ...ref, providerMessageId: z.string(), receiptId: z.string(), deliveredAt: z.string(), recordedAt: z.string() }),
  },
  SmsUndelivered: {
    schema: z.object({
      ...ref,
      providerMessageId: z.string(),
      receiptId: z.string(),
      errorCode: z.string(),
      errorReason: z.string(),
      doneAt: z.string(),
      recordedAt: z.string(),
    }),
  },
  SmsFailed: { schema: z.object({ ...ref, code: z.enum(SMS_FAILURE_CODES), reason: z.string(), failedAt: z.string() }) },
});
