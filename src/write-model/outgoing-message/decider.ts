import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, optionalText, requireOneOf, requireText } from '../core/validate.js';
import type { OutgoingMessageCommand, RecordMessageSendFailed, RecordMessageSent, RequestMessageSend } from './commands.js';
import { MAX_MESSAGE_TEXT, OUTGOING_MESSAGE_PLATFORMS, SEND_FAILURE_CODES, outgoingMessageEvents, type OutgoingMessageEvent } from './events.js';
import { initialState, type OutgoingMessageState, type RequestedMessage } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * One outgoing private message: stream `outgoing_message-{messageId}`, at
 * most two events. The API requests it, the worker reports how it ended.
 *
 * Rules (tests/unit/outgoing-message.spec.test.ts):
 * - RequestMessageSend: text of 1..MAX_MESSAGE_TEXT characters, not blank,
 *   without NUL; exactly one of conversationId and peerId. A repeat of the
 *   same request (same owner, account, target and text) is a no-op; another
 *   request under the same id is CONFLICT. The client message id the
 *   platform echoes is derived from the message id.
 * - RecordMessageSent: only for a requested message (NOT_FOUND otherwise);
 *   already sent: a no-op (the first record stays); failed: CONFLICT.
 * - RecordMessageSendFailed: only for a requested message; sent or failed
 *   already: a no-op (a late failure never undoes a send).
 */
export function outgoingMessageStream(messageId: string): string {
  return `outgoing_message-${messageId}`;
}

/** What the platform gets as the message's client id (and echoes back): the message id without dashes. */
export function clientMessageIdFor(messageId: string): string {
  return `cm${messageId.replaceAll('-', '')}`;
}

type Event = OutgoingMessageEvent;
type State = OutgoingMessageState;

export const MAX_FAILURE_REASON = 500;

/** The text's own rules: the API checks the same before (422 under body.text). */
export function textProblem(text: unknown): string | null {
  if (typeof text !== 'string') return 'text must be a string';
  if (text.trim() === '') return 'text must not be blank';
  // characters as a person counts them: an emoji outside the BMP is one, not its two UTF-16 units
  if (characterCount(text) > MAX_MESSAGE_TEXT) return `text must be at most ${MAX_MESSAGE_TEXT} characters`;
  if (text.includes('\u0000')) return 'text must not contain NUL characters';
  return null;
}

function requested(state: State, messageId: unknown): RequestedMessage {
  const id = requireText(messageId, 'messageId');
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `message ${id} not found`, { messageId: id });
  return state;
}

function request(command: RequestMessageSend, state: State): Event[] {
  const messageId = requireText(command.messageId, 'messageId');
  const ownerId = requireText(command.ownerId, 'ownerId');
  const platform = requireOneOf(command.platform, OUTGOING_MESSAGE_PLATFORMS, 'platform');
  const platformAccountId = requireText(command.platformAccountId, 'platformAccountId');
  const conversationId = optionalText(command.conversationId, 'conversationId');
  const peerId = optionalText(command.peerId, 'peerId');
  if ((conversationId === null) === (peerId === null)) throw invalid('exactly one of conversationId and peerId', { field: 'conversationId' });
  const problem = textProblem(command.text);
  if (problem) throw invalid(problem, { field: 'text', max: MAX_MESSAGE_TEXT });
  instant(command.now, 'now');
  if (state.status !== 'none') {
    const same =
      state.ownerId === ownerId &&
      state.platformAccountId === platformAccountId &&
      state.conversationId === conversationId &&
      state.peerId === peerId &&
      state.text === command.text;
    if (same) return [];
    throw new DomainError('CONFLICT', `message ${messageId} was requested with other content`, { messageId });
  }
  return [
    {
      type: 'MessageSendRequested',
      data: {
        messageId,
        ownerId,
        platform,
        platformAccountId,
        conversationId,
        peerId,
        text: command.text,
        clientMessageId: clientMessageIdFor(messageId),
        requestedAt: command.now,
      },
    },
  ];
}

function recordSent(command: RecordMessageSent, state: State): Event[] {
  const m = requested(state, command.messageId);
  const platformMessageId = requireText(command.platformMessageId, 'platformMessageId');
  const conversationId = requireText(command.conversationId, 'conversationId');
  const peerId = optionalText(command.peerId, 'peerId');
  instant(command.sentAt, 'sentAt');
  instant(command.now, 'now');
  if (typeof command.recovered !== 'boolean') throw invalid('recovered must be a boolean', { field: 'recovered' });
  if (m.status === 'sent') return [];
  if (m.status === 'failed')
    throw new DomainError('CONFLICT', `message ${m.messageId} already failed (${m.failure?.code ?? 'unknown'})`, { messageId: m.messageId, status: m.status });
  return [
    {
      type: 'MessageSent',
      data: {
        messageId: m.messageId,
        ownerId: m.ownerId,
        platformAccountId: m.platformAccountId,
        platformMessageId,
        conversationId,
        peerId: peerId ?? m.peerId,
        sentAt: command.sentAt,
        recovered: command.recovered,
        recordedAt: command.now,
      },
    },
  ];
}

function recordFailed(command: RecordMessageSendFailed, state: State): Event[] {
  const m = requested(state, command.messageId);
  const code = requireOneOf(command.code, SEND_FAILURE_CODES, 'code');
  const reason = requireText(command.reason, 'reason');
  if (characterCount(reason) > MAX_FAILURE_REASON)
    throw invalid(`reason must be at most ${MAX_FAILURE_REASON} characters`, { field: 'reason', max: MAX_FAILURE_REASON });
  instant(command.now, 'now');
  if (m.status !== 'pending') return [];
  return [
    {
      type: 'MessageSendFailed',
      data: { messageId: m.messageId, ownerId: m.ownerId, platformAccountId: m.platformAccountId, code, reason, failedAt: command.now },
    },
  ];
}

function decide(command: OutgoingMessageCommand, state: State): Event[] {
  switch (command.type) {
    case 'RequestMessageSend':
      return request(command, state);
    case 'RecordMessageSent':
      return recordSent(command, state);
    case 'RecordMessageSendFailed':
      return recordFailed(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

/** O(1) per event; only MessageSendRequested can come first (anything else on an empty state leaves it). */
function evolve(state: State, event: Event): State {
  if (event.type === 'MessageSendRequested') {
    const d = event.data;
    return {
      status: 'pending',
      messageId: d.messageId,
      ownerId: d.ownerId,
      platform: d.platform,
      platformAccountId: d.platformAccountId,
      conversationId: d.conversationId,
      peerId: d.peerId,
      text: d.text,
      clientMessageId: d.clientMessageId,
      requestedAt: d.requestedAt,
      platformMessageId: null,
      failure: null,
    };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'MessageSent':
      return { ...state, status: 'sent', platformMessageId: event.data.platformMessageId };
    case 'MessageSendFailed':
      return { ...state, status: 'failed', failure: { code: event.data.code, reason: event.data.reason } };
  }
}

export const outgoingMessageDecider: Decider<OutgoingMessageState, OutgoingMessageCommand, OutgoingMessageEvent> = {
  initialState,
  decide,
  evolve,
};

/** The binding the command handler uses: stream `outgoing_message-{messageId}`, short-lived (no snapshots). */
export const outgoingMessageAggregate: Aggregate<OutgoingMessageState, OutgoingMessageCommand, OutgoingMessageEvent> = {
  name: 'outgoing_message',
  streamName: outgoingMessageStream,
  decider: outgoingMessageDecider,
  events: outgoingMessageEvents,
};
