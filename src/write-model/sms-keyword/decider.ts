import { z } from 'zod';
import type { Aggregate } from '../core/aggregate.js';
import type { Decider, DomainEvent } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { eventCodec } from '../core/event-codec.js';
import { instant, invalid, optionalText, requireText } from '../core/validate.js';

/**
 * An inbound keyword: stream `sms_keyword-{KEYWORD}`, its reservation, and
 * its release. An inbound SMS whose first word is a reserved keyword goes to
 * the keyword's owner (their organization). Unique platform-wide: the first
 * reservation appends to a stream that must not exist (`no_stream`); a
 * released keyword may be reserved again (by anyone) at the revision read.
 * A keyword is reserved and released a handful of times in its life, so the
 * stream stays short.
 *
 * Rules (tests/unit/sms-keyword.spec.test.ts):
 * - ReserveSmsKeyword: the keyword normalised (normalizeSmsKeyword, else
 *   VALIDATION_ERROR under keyword); free or released → reserved; reserved
 *   by the same owner (organization, or user outside one) → a no-op; by
 *   another: CONFLICT (reason keyword_taken).
 * - ReleaseSmsKeyword: only the owner (the organization's members, or the
 *   user) releases it (NOT_FOUND otherwise, as for a keyword never
 *   reserved: nobody learns who holds it); released already: NOT_FOUND.
 */

/** 2-20 letters or digits (any script), upper-cased: `STOP`, `JOIN2024`, `优惠`. */
const KEYWORD = /^[\p{L}\p{N}]{2,20}$/u;

/** The keyword as kept and matched: NFKC, upper case; null when it is not one. */
export function normalizeSmsKeyword(value: string): string | null {
  const k = value.normalize('NFKC').trim().toUpperCase();
  return KEYWORD.test(k) ? k : null;
}

/** The first word of an inbound text (split at spaces, punctuation and symbols), as a keyword; null when it cannot be one. */
export function firstWordKeyword(text: string): string | null {
  // words are split at spaces, punctuation and symbols: `JOIN-2025`, `(JOIN)`, `#JOIN` and `JOIN！` all start with JOIN
  const first =
    text
      .normalize('NFKC')
      .split(/[\s\p{P}\p{S}]+/u)
      .find((word) => word !== '') ?? '';
  return normalizeSmsKeyword(first);
}

export interface SmsKeywordOwner {
  /** who reserved it */
  ownerId: string;
  /** their organization: every member's keyword */
  organizationId: string | null;
}

export type SmsKeywordEvent =
  | DomainEvent<'SmsKeywordReserved', { keyword: string; ownerId: string; organizationId: string | null; reservedAt: string }>
  | DomainEvent<'SmsKeywordReleased', { keyword: string; ownerId: string; organizationId: string | null; by: string; releasedAt: string }>;

export type SmsKeywordCommand =
  | { type: 'ReserveSmsKeyword'; keyword: string; ownerId: string; organizationId: string | null; now: string }
  | { type: 'ReleaseSmsKeyword'; keyword: string; by: string; organizationId: string | null; now: string };

export type SmsKeywordState = { status: 'none' | 'released' } | ({ status: 'reserved'; keyword: string } & SmsKeywordOwner);

export function smsKeywordStream(keyword: string): string {
  return `sms_keyword-${keyword}`;
}

export const smsKeywordEvents = eventCodec<SmsKeywordEvent>({
  SmsKeywordReserved: {
    schema: z.object({ keyword: z.string(), ownerId: z.string(), organizationId: z.string().nullable(), reservedAt: z.string() }),
  },
  SmsKeywordReleased: {
    schema: z.object({ keyword: z.string(), ownerId: z.string(), organizationId: z.string().nullable(), by: z.string(), releasedAt: z.string() }),
  },
});

function keywordOf(value: unknown): string {
  const k = typeof value === 'string' ? normalizeSmsKeyword(value) : null;
  if (!k) throw invalid('keyword must be 2-20 letters or digits', { field: 'keyword' });
  return k;
}

/** Whether `who` (a user, in an organization or not) holds the reservation. */
function holds(state: SmsKeywordOwner, userId: string, organizationId: string | null): boolean {
  return state.organizationId !== null ? state.organizationId === organizationId : state.ownerId === userId;
}

function decide(command: SmsKeywordCommand, state: SmsKeywordState): SmsKeywordEvent[] {
  const keyword = keywordOf(command.keyword);
  const organizationId = optionalText(command.organizationId, 'organizationId');
  instant(command.now, 'now');
  if (command.type === 'ReserveSmsKeyword') {
    const ownerId = requireText(command.ownerId, 'ownerId');
    if (state.status === 'reserved') {
      if (holds(state, ownerId, organizationId)) return [];
      throw new DomainError('CONFLICT', `the keyword ${keyword} is taken`, { reason: 'keyword_taken', keyword });
    }
    return [{ type: 'SmsKeywordReserved', data: { keyword, ownerId, organizationId, reservedAt: command.now } }];
  }
  if (command.type === 'ReleaseSmsKeyword') {
    const by = requireText(command.by, 'by');
    if (state.status !== 'reserved' || !holds(state, by, organizationId)) throw new DomainError('NOT_FOUND', `no keyword ${keyword} of yours`, { keyword });
    return [{ type: 'SmsKeywordReleased', data: { keyword, ownerId: state.ownerId, organizationId: state.organizationId, by, releasedAt: command.now } }];
  }
  throw invalid('unknown command', { type: (command as { type?: unknown }).type });
}

function evolve(_state: SmsKeywordState, event: SmsKeywordEvent): SmsKeywordState {
  if (event.type === 'SmsKeywordReserved')
    return { status: 'reserved', keyword: event.data.keyword, ownerId: event.data.ownerId, organizationId: event.data.organizationId };
  return { status: 'released' };
}

export const smsKeywordDecider: Decider<SmsKeywordState, SmsKeywordCommand, SmsKeywordEvent> = {
  initialState: () => ({ status: 'none' }),
  decide,
  evolve,
};

/** The binding: stream `sms_keyword-{KEYWORD}` (no snapshots: a few events in its life). */
export const smsKeywordAggregate: Aggregate<SmsKeywordState, SmsKeywordCommand, SmsKeywordEvent> = {
  name: 'sms_keyword',
  streamName: smsKeywordStream,
  decider: smsKeywordDecider,
  events: smsKeywordEvents,
};
