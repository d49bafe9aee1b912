import type { SealedSecret } from '../core/sealed-secret.js';
import type { SmsPurpose, SmsFailureCode, SmsReceiptStatus, SmsSentSource } from './events.js';

/** Commands of one SMS (stream `sms_message-{messageId}`); all carry `now`. */

/** The API: the owner asks for an SMS to a number the adapter has already normalised to E.164. */
export interface RequestSms {
  type: 'RequestSms';
  messageId: string;
  ownerId: string;
  to: string;
  country: string;
  callingCode: string;
  /** with sealedText: the masked body (it must hold no run of 4 digits) */
  text: string;
  /** a one-time code's body as sent, sealed by the application */
  sealedText?: SealedSecret;
  /** the platform's own message: required with sealedText (a code purpose), else `notification` or absent */
  purpose?: SmsPurpose;
  /** one recipient of this SMS batch */
  batchId?: string | null;
  /** the owner's organization, for its listings and limits */
  organizationId?: string | null;
  now: string;
}

/** The worker (or a receipt, or a status query): the provider has the message. */
export interface RecordSmsSent {
  type: 'RecordSmsSent';
  messageId: string;
  providerMessageId: string;
  senderNumber: string | null;
  providerPriceMicros: number | null;
  providerCurrency: string | null;
  sentAt: string;
  source: SmsSentSource;
  now: string;
}

/** The receipt callback: the provider's verified delivery receipt. */
export interface RecordSmsReceipt {
  type: 'RecordSmsReceipt';
  messageId: string;
  providerMessageId: string;
  receiptId: string;
  status: SmsReceiptStatus;
  /** UNDELIVERED: the provider's code and wording; DELIVERED: null */
  errorCode: string | null;
  errorReason: string | null;
  doneAt: string;
  /** what the receipt says of the send, used when it arrives before the send was recorded */
  senderNumber: string | null;
  providerPriceMicros: number | null;
  providerCurrency: string | null;
  now: string;
}

/** The worker: the message will not be sent. */
export interface RecordSmsFailed {
  type: 'RecordSmsFailed';
  messageId: string;
  code: SmsFailureCode;
  reason: string;
  now: string;
}

export type SmsMessageCommand = RequestSms | RecordSmsSent | RecordSmsReceipt | RecordSmsFailed;
