import { z } from 'zod';
import { inKeptYears, KEPT_YEARS_MESSAGE } from '../../write-model/core/validate.js';

/**
 * What the provider POSTs to us (JSON, signed: signature.ts): delivery
 * receipts to the `callback_url` of each message, inbound messages to the
 * inbound URL configured at the provider. Both paths are read raw
 * (RAW_BODY_PATH_PREFIXES): the signature covers the exact bytes.
 */
export const SMS_CALLBACK_PATHS = {
  receipts: '/api/v1/sms/callbacks/receipts',
  inbound: '/api/v1/sms/callbacks/inbound',
} as const;

const providerId = z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'letters, digits, _ . - (1-100)');
const number = z.string().regex(/^\+[1-9]\d{6,14}$/, 'E.164');
// what Postgres's timestamptz holds (it has no year 0): a time beyond it would be recorded, then fail every read model that keeps it
const time = z.string().refine((s) => {
  const at = Date.parse(s);
  return !Number.isNaN(at) && inKeptYears(at);
}, `an ISO-8601 time: ${KEPT_YEARS_MESSAGE}`);

export const smsReceiptSchema = z.object({
  type: z.literal('receipt'),
  receipt_id: providerId,
  message_id: providerId.describe("the provider's message id"),
  client_ref: z.uuid().describe('our message id, as sent'),
  to: number,
  from: number.nullable().optional(),
  status: z.enum(['DELIVERED', 'UNDELIVERED']),
  error_code: z.string().max(200).nullable().optional(),
  error_message: z.string().max(500).nullable().optional(),
  price: z.string().max(30).nullable().optional(),
  currency: z.string().max(3).nullable().optional(),
  done_at: time,
});
export type SmsReceipt = z.output<typeof smsReceiptSchema>;

/** The most receipts one callback request carries. */
export const SMS_RECEIPTS_PER_CALLBACK = 100;

/** Several receipts in one request (a provider gathering those due to one URL). */
export const smsReceiptBatchSchema = z.object({
  type: z.literal('receipts'),
  receipts: z.array(smsReceiptSchema).min(1).max(SMS_RECEIPTS_PER_CALLBACK),
});

/** What the receipts URL takes: one receipt, or a batch of them. */
export const smsReceiptCallbackSchema = z.discriminatedUnion('type', [smsReceiptSchema, smsReceiptBatchSchema]);

export const smsInboundSchema = z.object({
  type: z.literal('inbound'),
  message_id: providerId,
  from: number,
  to: number,
  text: z.string().max(5000),
  received_at: time,
});
export type SmsInboundNotification = z.output<typeof smsInboundSchema>;
