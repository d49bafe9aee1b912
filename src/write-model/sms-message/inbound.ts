import { z } from 'zod';
import type { Aggregate } from '../core/aggregate.js';
import type { Decider, DomainEvent } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { eventCodec } from '../core/event-codec.js';
import { instant, invalid, optionalText, requireOneOf, requireText } from '../core/validate.js';
import { E164 } from './events.js';
import { characterCount } from '../core/characters.js';

/**
 * One inbound SMS the provider received on one of our numbers: stream
 * `sms_inbound-{providerMessageId}`, one event, ever. The provider's id
 * names the stream, so a notification delivered twice records it once.
 *
 * Routing is decided before the command (the callback looks up the
 * keyword its first word may be, then who last sent from that number to
 * the sender): `keyword` to the keyword's owner, `reply` to the owner of
 * that message, or `unrouted` (ownerId null) when neither. The first record
 * stands: a repeat is a no-op whatever it would route to now; another text
 * or number under the same provider id is CONFLICT.
 */

export const MAX_INBOUND_TEXT = 5000;
const PROVIDER_ID = /^[A-Za-z0-9_.-]{1,100}$/;
/** keyword: its first word is a keyword someone reserved (sms_keyword-{KEYWORD}); reply: it answers a message sent to its sender; unrouted: neither */
export const SMS_INBOUND_ROUTES = ['keyword', 'reply', 'unrouted'] as const;
export type SmsInboundRoute = (typeof SMS_INBOUND_ROUTES)[number];

export interface SmsReceivedData {
  providerMessageId: string;
  /** the sender, E.164 */
  from: string;
  /** our number it was sent to, E.164 */
  to: string;
  text: string;
  /** when the provider received it */
  receivedAt: string;
  /** the owner it is routed to; null when unrouted */
  ownerId: string | null;
  route: SmsInboundRoute;
  /** reply: the owner's message it answers */
  replyTo: string | null;
  /** keyword: the keyword it was routed by (absent otherwise) */
  keyword?: string;
  /** the owner's organization (absent: none, or unrouted) */
  organizationId?: string;
  recordedAt: string;
}

export type SmsInboundEvent = DomainEvent<'SmsReceived', SmsReceivedData>;

export interface RecordInboundSms {
  type: 'RecordInboundSms';
  providerMessageId: string;
  from: string;
  to: string;
  text: string;
  receivedAt: string;
  ownerId: string | null;
  route: SmsInboundRoute;
  replyTo: string | null;
  keyword?: string | null;
  organizationId?: string | null;
  now: string;
}

export type SmsInboundCommand = RecordInboundSms;

export type SmsInboundState =
  | { status: 'none' }
  | { status: 'received'; providerMessageId: string; from: string; to: string; text: string; ownerId: string | null };

export function smsInboundStream(providerMessageId: string): string {
  return `sms_inbound-${providerMessageId}`;
}

export const smsInboundEvents = eventCodec<SmsInboundEvent>({
  SmsReceived: {
    schema: z.object({
      providerMessageId: z.string(),
      from: z.string(),
      to: z.string(),
      text: z.string(),
      receivedAt: z.string(),
      ownerId: z.string().nullable(),
      route: z.enum(SMS_INBOUND_ROUTES),
      replyTo: z.string().nullable(),
      keyword: z.string().optional(),
      organizationId: z.string().optional(),
      recordedAt: z.string(),
    }),
  },
});

function decide(command: SmsInboundCommand, state: SmsInboundState): SmsInboundEvent[] {
  if (command.type !== 'RecordInboundSms') throw invalid('unknown command', { type: (command as { type?: unknown }).type });
  const providerMessageId = requireText(command.providerMessageId, 'providerMessageId');
  // it names the stream: letters, digits, _ . - only
  if (!PROVIDER_ID.test(providerMessageId)) throw invalid('providerMessageId must be 1-100 letters, digits, _ . -', { field: 'providerMessageId' });
  for (const field of ['from', 'to'] as const) {
    if (typeof command[field] !== 'string' || !E164.test(command[field])) throw invalid(`${field} must be a number in E.164`, { field });
  }
  if (typeof command.text !== 'string' || characterCount(command.text) > MAX_INBOUND_TEXT || command.text.includes('\u0000'))
    throw invalid(`text must be a string of at most ${MAX_INBOUND_TEXT} characters without NUL`, { field: 'text', max: MAX_INBOUND_TEXT });
  const route = requireOneOf(command.route, SMS_INBOUND_ROUTES, 'route');
  const ownerId = optionalText(command.ownerId, 'ownerId');
  const replyTo = optionalText(command.replyTo, 'replyTo');
  const keyword = optionalText(command.keyword, 'keyword');
  const organizationId = optionalText(command.organizationId, 'organizationId');
  if ((route === 'unrouted') !== (ownerId === null) || (route === 'reply') !== (replyTo !== null) || (route === 'keyword') !== (keyword !== null))
    throw invalid('a reply names its owner and message, a keyword message its owner and keyword; an unrouted message none of them', { field: 'route' });
  instant(command.receivedAt, 'receivedAt');
  instant(command.now, 'now');
  if (state.status === 'received') {
    if (state.from === command.from && state.to === command.to && state.text === command.text) return [];
    throw new DomainError('CONFLICT', `inbound sms ${providerMessageId} was recorded with other content`, { providerMessageId });
  }
  return [
    {
      type: 'SmsReceived',
      data: {
        providerMessageId,
        from: command.from,
        to: command.to,
        text: command.text,
        receivedAt: command.receivedAt,
        ownerId,
        route,
        replyTo,
        ...(keyword ? { keyword } : {}),
        ...(organizationId && ownerId ? { organizationId } : {}),
        recordedAt: command.now,
      },
    },
  ];
}

function evolve(state: SmsInboundState, event: SmsInboundEvent): SmsInboundState {
  if (event.type !== 'SmsReceived' || state.status !== 'none') return state;
  const d = event.data;
  return { status: 'received', providerMessageId: d.providerMessageId, from: d.from, to: d.to, text: d.text, ownerId: d.ownerId };
}

export const smsInboundDecider: Decider<SmsInboundState, SmsInboundCommand, SmsInboundEvent> = {
  initialState: () => ({ status: 'none' }),
  decide,
  evolve,
};

/** The binding: stream `sms_inbound-{providerMessageId}`, one event (no snapshots). */
export const smsInboundAggregate: Aggregate<SmsInboundState, SmsInboundCommand, SmsInboundEvent> = {
  name: 'sms_inbound',
  streamName: smsInboundStream,
  decider: smsInboundDecider,
  events: smsInboundEvents,
};
