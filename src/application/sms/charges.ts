import type { ChargeResult, LedgerCharges } from '../ports/ledger.js';
import { eventIdsFrom, type EventIdSource } from '../../write-model/core/event-ids.js';
import { smsMessageStream } from '../../write-model/sms-message/decider.js';

/**
 * Charging an SMS to the prepaid balance (LedgerCharges: the ledger's
 * per-country price per segment). The charge is for the message's
 * SmsRequested event, charged once it is written — its id is the charge's
 * source, so charging it again (the API first, then pm-sms-messages; a
 * redelivered event) posts once.
 * Where the ledger is not wired, or SMS_CHARGE_LEDGER=false, nothing is
 * charged.
 */

/** The ids of a message's SmsRequested: named after the message, so the API knows the charge's source. */
export function smsRequestEventIds(messageId: string): EventIdSource {
  return eventIdsFrom(`sms-request:${messageId}`);
}

export interface SmsToCharge {
  messageId: string;
  ownerId: string;
  country: string;
  segments: number;
  batchId?: string | null;
  /** the SmsRequested event's id */
  requestedEventId: string;
}

export async function chargeSms(ledger: LedgerCharges, sms: SmsToCharge): Promise<ChargeResult> {
  return ledger.charge({
    holder: await ledger.holderOf(sms.ownerId),
    item: 'sms',
    quantity: sms.segments,
    country: sms.country,
    sourceEventId: sms.requestedEventId,
    sourceStream: smsMessageStream(sms.messageId),
    reason: sms.batchId ? `SMS ${sms.messageId} of batch ${sms.batchId}` : `SMS ${sms.messageId}`,
  });
}

/** SmsFailed insufficient_balance's reason. */
export function insufficientBalanceReason(refused: { amountCents: number; availableCents: number }): string {
  return `the balance cannot pay for it: ${refused.amountCents} cents, ${refused.availableCents} available`;
}

/** The API's answer to a charge the balance cannot pay: 409 CONFLICT, details.reason insufficient_balance. */
export class SmsInsufficientBalanceError extends Error {
  override readonly name = 'SmsInsufficientBalanceError';
  constructor(
    readonly amountCents: number,
    readonly availableCents: number,
  ) {
    super(`the balance cannot pay for this SMS: it costs ${amountCents} cents, ${availableCents} available`);
  }
}
