import { randomUUID } from 'node:crypto';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import type { EventStore } from '../event-store/port.js';
import type { Position } from '../event-store/position.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, type HandleResult } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { smsMessageAggregate } from '../write-model/sms-message/decider.js';
import type { SmsMessageEvent } from '../write-model/sms-message/events.js';
import { smsInboundAggregate, type SmsInboundEvent } from '../write-model/sms-message/inbound.js';
import { firstWordKeyword } from '../write-model/sms-keyword/decider.js';
import { smsUnitPriceFen } from '../write-model/sms-message/prices.js';
import { countSegments, type SmsEncoding } from '../write-model/sms-message/segments.js';
import type { SmsInboundState } from '../write-model/sms-message/inbound.js';
import type { SmsMessageState } from '../write-model/sms-message/state.js';
import type { ChargeResult, LedgerCharges } from './ports/ledger.js';
import type { Turns } from './ports/turns.js';
import { API_CHARGE_TURN, chargeSms, insufficientBalanceReason, smsChargeTurnKey, SmsInsufficientBalanceError, smsRequestEventIds } from './sms/charges.js';
import { sendLimitKey } from './sms/org-key.js';

/**
 * SMS (docs/sms.md): asking for one to be sent (POST /api/v1/sms/messages),
 * and what the provider's verified callbacks record. The process manager
 * `pm-sms-messages` queues each request and the worker sends it; nothing
 * here talks to the provider.
 */

/** Number types that cannot take an SMS. */
const NOT_FOR_SMS = new Set(['FIXED_LINE', 'TOLL_FREE', 'PREMIUM_RATE', 'SHARED_COST', 'PAGER', 'UAN', 'VOICEMAIL']);

export type SmsNumber = { ok: true; e164: string; country: string; callingCode: string } | { ok: false; problem: string };

/**
 * A number as written by a user → E.164 with its country. International
 * input (`+44…`, `0044…` is not: write `+`) is read as such; anything else in
 * `defaultRegion` (SMS_DEFAULT_REGION). Refused: what is not a valid number
 * there, and numbers that cannot take an SMS (landlines, toll-free, premium).
 */
export function parseSmsNumber(input: string, defaultRegion: string): SmsNumber {
  const text = input.trim();
  if (text === '' || text.length > 40 || !/^[+\d\s().-]+$/.test(text)) return { ok: false, problem: 'not a phone number' };
  const parsed = parsePhoneNumberFromString(text, defaultRegion as CountryCode);
  if (!parsed?.isValid()) return { ok: false, problem: text.startsWith('+') ? 'not a valid phone number' : `not a valid phone number in ${defaultRegion}` };
  const type = parsed.getType();
  if (type !== undefined && NOT_FOR_SMS.has(type)) return { ok: false, problem: `a ${type.toLowerCase().replaceAll('_', '-')} number cannot take an SMS` };
  if (!parsed.country) return { ok: false, problem: 'a number of no country (a global service number) cannot take an SMS' };
  return { ok: true, e164: parsed.number, country: parsed.country, callingCode: parsed.countryCallingCode };
}

function toProblem(message: string, extra: Record<string, unknown> = {}): DomainError {
  return new DomainError('VALIDATION_ERROR', `to: ${message}`, { issues: [{ in: 'body', path: ['to'], message, code: 'invalid_phone_number' }], ...extra });
}

/** A send limit's answer; `release` (where the limit offers it) gives the place taken back. */
export interface SmsSendDecision {
  allowed: boolean;
  limit: number;
  retryAfterSeconds: number;
  release?: () => Promise<void>;
}

/** The per-user send limit (a fixed window in Redis: adapters/rate-limit). */
export interface SmsSendLimits {
  hit(key: string): Promise<SmsSendDecision>;
}

/** More sends than SMS_SENDS_PER_USER_PER_MINUTE (or the organization's): the API answers 429 RATE_LIMITED with Retry-After. */
export class SmsRateLimitedError extends Error {
  override readonly name = 'SmsRateLimitedError';
  constructor(
    readonly limit: number,
    readonly retryAfterSeconds: number,
    /** whose limit: the user's, or their organization's (SMS_SENDS_PER_ORGANIZATION_PER_MINUTE) */
    readonly per: 'user' | 'organization' = 'user',
  ) {
    super(`at most ${limit} SMS a minute${per === 'organization' ? ' for your organization' : ''}; try again in ${retryAfterSeconds} s`);
  }
}

export interface SmsDeps {
  store: EventStore;
  now: () => Date;
}

export interface RequestedSms {
  messageId: string;
  to: string;
  country: string;
  encoding: SmsEncoding;
  segments: number;
  priceFen: number;
  revision: bigint;
  position: Position | undefined;
}

/**
 * Checks, in order: the number (422 under body.to: invalid, not for SMS, or
 * a country not served — details.reason country_not_served); the user's
 * send limit, then the organization's (SmsRateLimitedError); then
 * SmsRequested on a fresh stream and, when a ledger is given, the charge for
 * it (its event id the source: pm-sms-messages charging it again posts
 * nothing more). A balance that cannot pay records SmsFailed
 * insufficient_balance (never queued) and throws
 * SmsInsufficientBalanceError. A charge that fails otherwise is left to
 * pm-sms-messages (`onChargeError` is told): the message is recorded.
 * Recording, charging and failing happen in the message's charge turn
 * (smsChargeTurnKey), which pm-sms-messages waits for before it reads the
 * message. A send refused after taking its place in the organization's
 * window gives the place back.
 */
export async function requestSms(
  deps: SmsDeps & {
    limits: SmsSendLimits;
    defaultRegion: string;
    organizationLimits?: SmsSendLimits | null;
    ledger?: LedgerCharges | null;
    /** where the charge takes the message's turn (smsChargeTurnKey); absent: no process manager charges beside the API */
    chargeTurns?: Turns | null;
    onChargeError?: (error: unknown) => void;
  },
  caller: { userId: string; context: CommandContext; organizationId?: string | null },
  input: { to: string; text: string },
): Promise<RequestedSms> {
  const number = parseSmsNumber(input.to, deps.defaultRegion);
  if (!number.ok) throw toProblem(number.problem);
  if (smsUnitPriceFen(number.country) === null)
    throw toProblem(`SMS is not sent to ${number.country}`, { reason: 'country_not_served', country: number.country });
  const limit = await deps.limits.hit(caller.userId);
  if (!limit.allowed) throw new SmsRateLimitedError(limit.limit, limit.retryAfterSeconds);
  let place: SmsSendDecision | null = null;
  if (deps.organizationLimits) {
    place = await deps.organizationLimits.hit(sendLimitKey(caller.organizationId, caller.userId));
    if (!place.allowed) throw new SmsRateLimitedError(place.limit, place.retryAfterSeconds, caller.organizationId ? 'organization' : 'user');
  }
  try {
    const messageId = randomUUID();
    const record = () => recordAndCharge(deps, caller, messageId, number, input.text);
    return await (deps.ledger && deps.chargeTurns ? deps.chargeTurns.run(smsChargeTurnKey(messageId), API_CHARGE_TURN, record) : record());
  } catch (error) {
    // only a refusal gives the place back: after an error of unknown outcome the message may be recorded, and it counts
    if (place?.release && (error instanceof SmsInsufficientBalanceError || error instanceof DomainError)) {
      // not given back (Redis away): the window counts one send too many, never one too few
      await place.release().catch(() => undefined);
    }
    throw error;
  }
}

async function recordAndCharge(
  deps: SmsDeps & { ledger?: LedgerCharges | null; onChargeError?: (error: unknown) => void },
  caller: { userId: string; context: CommandContext; organizationId?: string | null },
  messageId: string,
  number: Extract<SmsNumber, { ok: true }>,
  text: string,
): Promise<RequestedSms> {
  const eventIds = smsRequestEventIds(messageId);
  const result = await handle(
    deps.store,
    smsMessageAggregate,
    messageId,
    {
      type: 'RequestSms',
      messageId,
      ownerId: caller.userId,
      to: number.e164,
      country: number.country,
      callingCode: number.callingCode,
      text,
      organizationId: caller.organizationId ?? null,
      now: deps.now().toISOString(),
    },
    // a fresh random id: the stream is new, nothing to read (the append's no_stream checks it)
    { context: caller.context, expectedRevision: 'no_stream', eventIds, loaded: { state: smsMessageAggregate.decider.initialState(), revision: -1n } },
  );
  const { encoding, segments } = countSegments(text);
  // charged only once recorded: a write that fails has taken no money
  if (deps.ledger) {
    let charged: ChargeResult | null = null;
    try {
      charged = await chargeSms(deps.ledger, {
        messageId,
        ownerId: caller.userId,
        country: number.country,
        segments,
        requestedEventId: eventIds(0),
      });
    } catch (error) {
      // pending and unpaid: pm-sms-messages charges it before queueing it, or fails it insufficient_balance
      deps.onChargeError?.(error);
    }
    if (charged && !charged.ok) {
      await handle(
        deps.store,
        smsMessageAggregate,
        messageId,
        { type: 'RecordSmsFailed', messageId, code: 'insufficient_balance', reason: insufficientBalanceReason(charged), now: deps.now().toISOString() },
        { context: caller.context, eventIds: eventIdsFrom(`sms-request-refused:${messageId}`), loaded: { state: result.state, revision: result.revision } },
      );
      throw new SmsInsufficientBalanceError(charged.amountCents, charged.availableCents);
    }
  }
  return {
    messageId,
    to: number.e164,
    country: number.country,
    encoding,
    segments,
    priceFen: segments * smsUnitPriceFen(number.country)!,
    revision: result.revision,
    position: result.position,
  };
}

/** A verified delivery receipt, as the callback read it. */
export interface SmsReceiptInput {
  messageId: string;
  providerMessageId: string;
  receiptId: string;
  status: 'DELIVERED' | 'UNDELIVERED';
  errorCode: string | null;
  errorReason: string | null;
  doneAt: string;
  senderNumber: string | null;
  providerPriceMicros: number | null;
  providerCurrency: string | null;
}

/** Records a receipt; no events when it was recorded before (replayed) or comes after the outcome (out of order). */
export function recordSmsReceipt(deps: SmsDeps, receipt: SmsReceiptInput, context: CommandContext): Promise<HandleResult<SmsMessageState, SmsMessageEvent>> {
  return handle(deps.store, smsMessageAggregate, receipt.messageId, { type: 'RecordSmsReceipt', ...receipt, now: deps.now().toISOString() }, { context });
}

/** Where an inbound message goes: the owner of the newest message to its sender from that number, or nobody. */
export type ReplyTargets = (from: string, to: string, now: Date) => Promise<{ messageId: string; ownerId: string; organizationId?: string | null } | null>;

/** Who reserved a keyword (normalised), or nobody. */
export type KeywordOwners = (keyword: string) => Promise<{ ownerId: string; organizationId: string | null } | null>;

/** Records a verified inbound message, routed; a repeat of the provider's notification records nothing. */
export async function receiveInboundSms(
  deps: SmsDeps & { replyTargets: ReplyTargets; keywordOwners?: KeywordOwners },
  inbound: { providerMessageId: string; from: string; to: string; text: string; receivedAt: string },
  context: CommandContext,
): Promise<HandleResult<SmsInboundState, SmsInboundEvent>> {
  const now = deps.now();
  // its first word a reserved keyword: to the keyword's owner; else a reply to whoever last sent to the sender
  const keyword = deps.keywordOwners ? firstWordKeyword(inbound.text) : null;
  const owner = keyword ? await deps.keywordOwners!(keyword) : null;
  if (keyword && owner)
    return handle(
      deps.store,
      smsInboundAggregate,
      inbound.providerMessageId,
      {
        type: 'RecordInboundSms',
        ...inbound,
        ownerId: owner.ownerId,
        organizationId: owner.organizationId,
        route: 'keyword',
        keyword,
        replyTo: null,
        now: now.toISOString(),
      },
      { context },
    );
  const target = await deps.replyTargets(inbound.from, inbound.to, now);
  return handle(
    deps.store,
    smsInboundAggregate,
    inbound.providerMessageId,
    {
      type: 'RecordInboundSms',
      ...inbound,
      ownerId: target?.ownerId ?? null,
      organizationId: target?.organizationId ?? null,
      route: target ? 'reply' : 'unrouted',
      replyTo: target?.messageId ?? null,
      now: now.toISOString(),
    },
    { context },
  );
}
