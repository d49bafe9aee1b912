import type { ChargeResult, LedgerCharges } from '../ports/ledger.js';
import type { TurnOptions } from '../ports/turns.js';
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

/**
 * A single send's charge is decided in the message's turn: the API holds it
 * from before SmsRequested is written until the charge is taken or SmsFailed
 * written; pm-sms-messages reads the message and charges it only in the same
 * turn. So the process manager never reads a send as pending in the moment
 * between the API's refused charge and its SmsFailed, and pays for it with a
 * top-up that landed meanwhile.
 */
export function smsChargeTurnKey(messageId: string): string {
  return `sms-charge:${messageId}`;
}

/** The API's turn: a fresh message's key is free; held at most 30 s (a crashed API frees it then). */
export const API_CHARGE_TURN: TurnOptions = { waitMs: 2_000, holdMs: 30_000 };
/** The process manager's: it may wait out a crashed API's whole turn. */
export const PM_CHARGE_TURN: TurnOptions = { waitMs: 35_000, holdMs: 30_000 };

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
