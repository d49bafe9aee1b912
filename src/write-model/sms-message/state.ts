import type { SealedSecret } from '../core/sealed-secret.js';
import type { SmsFailureCode } from './events.js';
import type { SmsEncoding } from './segments.js';

/** What a decision needs of one SMS. */
export interface RequestedSms {
  status: 'pending' | 'sent' | 'delivered' | 'undelivered' | 'failed';
  messageId: string;
  ownerId: string;
  to: string;
  country: string;
  callingCode: string;
  text: string;
  /** a one-time code's body as sent (the worker opens it); null or absent: `text` is sent */
  sealedText?: SealedSecret | null;
  encoding: SmsEncoding;
  segments: number;
  priceFen: number;
  requestedAt: string;
  /** set once sent */
  providerMessageId: string | null;
  /** set once a receipt is recorded */
  receiptId: string | null;
  /** set once failed */
  failure: { code: SmsFailureCode; reason: string } | null;
}

export type SmsMessageState = { status: 'none' } | RequestedSms;

export function initialState(): SmsMessageState {
  return { status: 'none' };
}
