import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { requireSealed, sameSealed } from '../core/sealed-secret.js';
import { instant, invalid, optionalText, requireOneOf, requireText } from '../core/validate.js';
import type { RecordSmsFailed, RecordSmsReceipt, RecordSmsSent, RequestSms, SmsMessageCommand } from './commands.js';
import {
  E164,
  MAX_SMS_TEXT,
  SMS_CODE_PURPOSES,
  SMS_FAILURE_CODES,
  SMS_RECEIPT_STATUSES,
  SMS_SENT_SOURCES,
  smsMessageEvents,
  type SmsMessageEvent,
  type SmsSentData,
} from './events.js';
import { smsUnitPriceFen } from './prices.js';
import { countSegments } from './segments.js';
import { initialState, type RequestedSms, type SmsMessageState } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * One SMS: stream `sms_message-{messageId}`, at most four events. The API
 * requests it, the worker records the provider's acceptance (or the
 * failure), the provider's receipt records how it ended.
 *
 * Rules (tests/unit/sms-message.spec.test.ts):
 * - RequestSms: `to` in E.164, `country` a served country (prices.ts; else
 *   VALIDATION_ERROR under `to`, details.reason country_not_served), text
 *   of 1..MAX_SMS_TEXT characters, not blank, without NUL. Segments and the
 *   price are fixed here. The same request again is a no-op; another under
 *   the same id is CONFLICT. A one-time code's message comes with its body
 *   sealed (`sealedText`, and a `purpose`): `text` is then the masked body,
 *   and a run of 4 digits in it is VALIDATION_ERROR (the code in clear).
 * - RecordSmsSent: only for a requested message (NOT_FOUND); recorded
 *   already (by the worker or a receipt): a no-op when the provider id is
 *   the same, CONFLICT when another; failed: CONFLICT.
 * - RecordSmsReceipt: only for a requested message (NOT_FOUND). Pending (the
 *   receipt overtook the worker's record): the send is recorded from the
 *   receipt, then the outcome. Sent: the outcome, when the provider id is
 *   the message's (else CONFLICT). Delivered or undelivered already — a
 *   replayed receipt, or a late one out of order: a no-op (the first outcome
 *   stands). Failed: a no-op (the message stays failed).
 * - RecordSmsFailed: only for a requested message; anything but pending: a
 *   no-op (a late failure never undoes a send).
 */
export function smsMessageStream(messageId: string): string {
  return `sms_message-${messageId}`;
}

type Event = SmsMessageEvent;
type State = SmsMessageState;

export const MAX_SMS_FAILURE_REASON = 500;
export const MAX_PROVIDER_FIELD = 200;

/** The text's own rules: the API checks the same before (422 under body.text). */
export function smsTextProblem(text: unknown): string | null {
  if (typeof text !== 'string') return 'text must be a string';
  if (text.trim() === '') return 'text must not be blank';
  if (characterCount(text) > MAX_SMS_TEXT) return `text must be at most ${MAX_SMS_TEXT} characters`;
  if (text.includes('\u0000')) return 'text must not contain NUL characters';
  return null;
}

function requested(state: State, messageId: unknown): RequestedSms {
  const id = requireText(messageId, 'messageId');
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `sms ${id} not found`, { messageId: id });
  return state;
}

function providerText(value: unknown, field: string): string {
  const text = requireText(value, field);
  if (characterCount(text) > MAX_PROVIDER_FIELD) throw invalid(`${field} must be at most ${MAX_PROVIDER_FIELD} characters`, { field, max: MAX_PROVIDER_FIELD });
  return text;
}

function price(micros: unknown, currency: unknown): { micros: number | null; currency: string | null } {
  if (micros === null || micros === undefined) return { micros: null, currency: null };
  if (!Number.isSafeInteger(micros) || (micros as number) < 0)
    throw invalid('providerPriceMicros must be a non-negative integer', { field: 'providerPriceMicros' });
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) throw invalid('providerCurrency must be an ISO 4217 code', { field: 'providerCurrency' });
  return { micros: micros as number, currency };
}

function request(command: RequestSms, state: State): Event[] {
  const messageId = requireText(command.messageId, 'messageId');
  const ownerId = requireText(command.ownerId, 'ownerId');
  if (typeof command.to !== 'string' || !E164.test(command.to)) throw invalid('to must be a number in E.164 (+8613800138000)', { field: 'to' });
  if (typeof command.callingCode !== 'string' || !/^[1-9]\d{0,2}$/.test(command.callingCode) || !command.to.startsWith(`+${command.callingCode}`))
    throw invalid("callingCode must be the number's country calling code", { field: 'callingCode' });
  const country = requireText(command.country, 'country');
  const unitPriceFen = smsUnitPriceFen(country);
  if (unitPriceFen === null) throw invalid(`SMS is not sent to ${country}`, { field: 'to', reason: 'country_not_served', country });
  const problem = smsTextProblem(command.text);
  if (problem) throw invalid(problem, { field: 'text', max: MAX_SMS_TEXT });
  const sealedText = command.sealedText === undefined ? undefined : requireSealed(command.sealedText, 'sealedText');
  const purpose =
    sealedText !== undefined
      ? requireOneOf(command.purpose, SMS_CODE_PURPOSES, 'purpose')
      : command.purpose === undefined
        ? undefined
        : requireOneOf(command.purpose, ['notification'] as const, 'purpose');
  if (sealedText !== undefined && /\d{4}/.test(command.text)) throw invalid('text must be masked when the body is sealed', { field: 'text' });
  instant(command.now, 'now');
  if (state.status !== 'none') {
    const kept = state.sealedText ?? null;
    const sameBody = sealedText === undefined ? kept === null : kept !== null && sameSealed(kept, sealedText);
    if (state.ownerId === ownerId && state.to === command.to && state.text === command.text && sameBody) return [];
    throw new DomainError('CONFLICT', `sms ${messageId} was requested with other content`, { messageId });
  }
  const { encoding, segments } = countSegments(command.text);
  const batchId = optionalText(command.batchId, 'batchId');
  const organizationId = optionalText(command.organizationId, 'organizationId');
  return [
    {
      type: 'SmsRequested',
      data: {
        messageId,
        ownerId,
        to: command.to,
        country,
        callingCode: command.callingCode,
        text: command.text,
        ...(sealedText !== undefined ? { sealedText } : {}),
        ...(purpose !== undefined ? { purpose } : {}),
        encoding,
        segments,
        unitPriceFen,
        priceFen: segments * unitPriceFen,
        requestedAt: command.now,
        ...(batchId ? { batchId } : {}),
        ...(organizationId ? { organizationId } : {}),
      },
    },
  ];
}

/** The send as the provider told it; null when it is recorded already (CONFLICT when under another provider id). */
function sentEvent(m: RequestedSms, data: Omit<SmsSentData, 'messageId' | 'ownerId'>): Event | null {
  if (m.status === 'failed')
    throw new DomainError('CONFLICT', `sms ${m.messageId} already failed (${m.failure?.code ?? 'unknown'})`, { messageId: m.messageId, status: m.status });
  if (m.providerMessageId !== null) {
    if (m.providerMessageId === data.providerMessageId) return null;
    throw new DomainError('CONFLICT', `sms ${m.messageId} was sent as provider message ${m.providerMessageId}`, {
      messageId: m.messageId,
      providerMessageId: m.providerMessageId,
    });
  }
  return { type: 'SmsSent', data: { messageId: m.messageId, ownerId: m.ownerId, ...data } };
}

function recordSent(command: RecordSmsSent, state: State): Event[] {
  const m = requested(state, command.messageId);
  const providerMessageId = providerText(command.providerMessageId, 'providerMessageId');
  const senderNumber = optionalText(command.senderNumber, 'senderNumber');
  const charged = price(command.providerPriceMicros, command.providerCurrency);
  const source = requireOneOf(command.source, SMS_SENT_SOURCES, 'source');
  instant(command.sentAt, 'sentAt');
  instant(command.now, 'now');
  const event = sentEvent(m, {
    providerMessageId,
    senderNumber,
    providerPriceMicros: charged.micros,
    providerCurrency: charged.currency,
    sentAt: command.sentAt,
    source,
    recordedAt: command.now,
  });
  return event ? [event] : [];
}

function recordReceipt(command: RecordSmsReceipt, state: State): Event[] {
  const m = requested(state, command.messageId);
  const providerMessageId = providerText(command.providerMessageId, 'providerMessageId');
  const receiptId = providerText(command.receiptId, 'receiptId');
  const status = requireOneOf(command.status, SMS_RECEIPT_STATUSES, 'status');
  const errorCode = status === 'UNDELIVERED' ? providerText(command.errorCode, 'errorCode') : null;
  const errorReason = status === 'UNDELIVERED' ? (optionalText(command.errorReason, 'errorReason') ?? errorCode!).slice(0, MAX_PROVIDER_FIELD) : null;
  const senderNumber = optionalText(command.senderNumber, 'senderNumber');
  const charged = price(command.providerPriceMicros, command.providerCurrency);
  instant(command.doneAt, 'doneAt');
  instant(command.now, 'now');
  // replayed, out of order, or for a message that failed: the first outcome stands
  if (m.status === 'delivered' || m.status === 'undelivered' || m.status === 'failed') return [];
  const events: Event[] = [];
  if (m.status === 'pending') {
    events.push({
      type: 'SmsSent',
      data: {
        messageId: m.messageId,
        ownerId: m.ownerId,
        providerMessageId,
        senderNumber,
        providerPriceMicros: charged.micros,
        providerCurrency: charged.currency,
        sentAt: command.doneAt,
        source: 'receipt',
        recordedAt: command.now,
      },
    });
  } else if (m.providerMessageId !== providerMessageId) {
    throw new DomainError('CONFLICT', `sms ${m.messageId} was sent as provider message ${m.providerMessageId}`, {
      messageId: m.messageId,
      providerMessageId: m.providerMessageId,
    });
  }
  const ref = { messageId: m.messageId, ownerId: m.ownerId, providerMessageId, receiptId };
  events.push(
    status === 'DELIVERED'
      ? { type: 'SmsDelivered', data: { ...ref, deliveredAt: command.doneAt, recordedAt: command.now } }
      : { type: 'SmsUndelivered', data: { ...ref, errorCode: errorCode!, errorReason: errorReason!, doneAt: command.doneAt, recordedAt: command.now } },
  );
  return events;
}

function recordFailed(command: RecordSmsFailed, state: State): Event[] {
  const m = requested(state, command.messageId);
  const code = requireOneOf(command.code, SMS_FAILURE_CODES, 'code');
  const reason = requireText(command.reason, 'reason');
  if (characterCount(reason) > MAX_SMS_FAILURE_REASON)
    throw invalid(`reason must be at most ${MAX_SMS_FAILURE_REASON} characters`, { field: 'reason', max: MAX_SMS_FAILURE_REASON });
  instant(command.now, 'now');
  if (m.status !== 'pending') return [];
  return [{ type: 'SmsFailed', data: { messageId: m.messageId, ownerId: m.ownerId, code, reason, failedAt: command.now } }];
}

function decide(command: SmsMessageCommand, state: State): Event[] {
  switch (command.type) {
    case 'RequestSms':
      return request(command, state);
    case 'RecordSmsSent':
      return recordSent(command, state);
    case 'RecordSmsReceipt':
      return recordReceipt(command, state);
    case 'RecordSmsFailed':
      return recordFailed(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

/** O(1) per event; only SmsRequested can come first (anything else on an empty state leaves it). */
function evolve(state: State, event: Event): State {
  if (event.type === 'SmsRequested') {
    const d = event.data;
    return {
      status: 'pending',
      messageId: d.messageId,
      ownerId: d.ownerId,
      to: d.to,
      country: d.country,
      callingCode: d.callingCode,
      text: d.text,
      ...(d.sealedText ? { sealedText: d.sealedText } : {}),
      encoding: d.encoding,
      segments: d.segments,
      priceFen: d.priceFen,
      requestedAt: d.requestedAt,
      providerMessageId: null,
      receiptId: null,
      failure: null,
    };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'SmsSent':
      // a receipt may have recorded the outcome in the same decision: the status only moves forward
      return { ...state, status: state.status === 'pending' ? 'sent' : state.status, providerMessageId: event.data.providerMessageId };
    case 'SmsDelivered':
      return { ...state, status: 'delivered', receiptId: event.data.receiptId };
    case 'SmsUndelivered':
      return { ...state, status: 'undelivered', receiptId: event.data.receiptId };
    case 'SmsFailed':
      return { ...state, status: 'failed', failure: { code: event.data.code, reason: event.data.reason } };
  }
}

export const smsMessageDecider: Decider<SmsMessageState, SmsMessageCommand, SmsMessageEvent> = {
  initialState,
  decide,
  evolve,
};

/** The binding the command handler uses: stream `sms_message-{messageId}`, short-lived (no snapshots). */
export const smsMessageAggregate: Aggregate<SmsMessageState, SmsMessageCommand, SmsMessageEvent> = {
  name: 'sms_message',
  streamName: smsMessageStream,
  decider: smsMessageDecider,
  events: smsMessageEvents,
};
