import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireOneOf, requireText } from '../core/validate.js';
import type { MarkNotificationRead, NotificationCommand, Notify, RecordNotificationEmailed } from './commands.js';
import { NOTIFICATION_KINDS, notificationEvents, type NotificationData, type NotificationEvent } from './events.js';
import { initialState, type NotificationState, type SentNotification } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * One notification: stream `notification-{notificationId}`, at most three
 * events (sent, read, emailed). The user's list is the read model's
 * business; "mark all read" is the caller marking each unread one.
 *
 * Rules (tests/unit/notification.spec.test.ts):
 * - Notify: a notification already sent is a no-op (the id is name-based on
 *   the triggering event and the user, so a redelivery repeats it); Notify
 *   naming another user for a sent notification is CONFLICT.
 * - Title ≤ 200 and body ≤ 2000 characters; `data` plain JSON of at most
 *   4 KB whose keys never look like secrets (password, token, cookie, …):
 *   notifications are shown and mailed, credentials must never ride along.
 * - MarkNotificationRead: an unknown notification is NOT_FOUND; anyone but
 *   its user is PERMISSION_DENIED (the API answers 404 for both); already
 *   read is a no-op.
 * - RecordNotificationEmailed: once per notification (the first Message-ID
 *   stays; a repeat is a no-op); unknown is NOT_FOUND.
 */
export function notificationStream(notificationId: string): string {
  return `notification-${notificationId}`;
}

type Event = NotificationEvent;
type State = NotificationState;

export const MAX_TITLE = 200;
export const MAX_BODY = 2000;
export const MAX_DATA_BYTES = 4096;
/** Keys that name a credential; such a key in `data` is refused whatever its value. */
const SECRET_KEY = /passw(or)?d|secret|cookie|token|credential|authori[sz]ation|api[_-]?key|private[_-]?key/i;

// ---------------------------------------------------------------- checks

function boundedText(value: unknown, field: string, max: number): string {
  const text = requireText(value, field).trim();
  if (characterCount(text) > max) throw invalid(`${field} must be at most ${max} characters`, { field, max });
  return text;
}

function checkJson(value: unknown, path: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(`${path} must be a finite number`, { field: path });
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkJson(item, `${path}[${i}]`));
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) {
      // the key is named, never the value
      if (SECRET_KEY.test(key)) throw invalid(`${path}.${key} looks like a secret; notifications carry none`, { field: `${path}.${key}` });
      checkJson(item, `${path}.${key}`);
    }
    return;
  }
  throw invalid(`${path} must be plain JSON`, { field: path });
}

function requireData(value: unknown): NotificationData {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('data must be an object', { field: 'data' });
  checkJson(value, 'data');
  const json = JSON.stringify(value);
  if (new TextEncoder().encode(json).length > MAX_DATA_BYTES)
    throw invalid(`data must be at most ${MAX_DATA_BYTES} bytes of JSON`, { field: 'data', max: MAX_DATA_BYTES });
  // a copy: nothing the caller keeps a reference to rides into the event
  return JSON.parse(json) as NotificationData;
}

function existing(state: State, notificationId: unknown): SentNotification {
  const id = requireText(notificationId, 'notificationId');
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `notification ${id} not found`, { notificationId: id });
  return state;
}

// ---------------------------------------------------------------- decide

function notify(command: Notify, state: State): Event[] {
  const userId = requireText(command.userId, 'userId');
  const notificationId = requireText(command.notificationId, 'notificationId');
  const kind = requireOneOf(command.kind, NOTIFICATION_KINDS, 'kind');
  const title = boundedText(command.title, 'title', MAX_TITLE);
  const body = boundedText(command.body, 'body', MAX_BODY);
  const data = requireData(command.data);
  instant(command.now, 'now');
  if (state.status === 'sent') {
    if (state.userId !== userId) throw new DomainError('CONFLICT', `notification ${notificationId} belongs to another user`, { notificationId });
    return [];
  }
  const channels = command.channels;
  if (
    channels !== undefined &&
    (typeof channels.inApp !== 'boolean' || typeof channels.mail !== 'boolean' || (channels.sms !== undefined && typeof channels.sms !== 'boolean'))
  ) {
    throw new DomainError('VALIDATION_ERROR', 'channels needs inApp and mail as booleans (sms optional)', { field: 'channels' });
  }
  return [
    {
      type: 'NotificationSent',
      data: {
        notificationId,
        userId,
        kind,
        title,
        body,
        data,
        ...(channels ? { channels: { inApp: channels.inApp, mail: channels.mail, ...(channels.sms === true ? { sms: true } : {}) } } : {}),
        sentAt: command.now,
      },
    },
  ];
}

function markRead(command: MarkNotificationRead, state: State): Event[] {
  const n = existing(state, command.notificationId);
  if (typeof command.requestedBy !== 'string' || command.requestedBy !== n.userId) {
    throw new DomainError('PERMISSION_DENIED', `notification ${n.notificationId} belongs to another user`, { notificationId: n.notificationId });
  }
  instant(command.now, 'now');
  if (n.read) return [];
  return [{ type: 'NotificationRead', data: { notificationId: n.notificationId, userId: n.userId, readAt: command.now } }];
}

function recordEmailed(command: RecordNotificationEmailed, state: State): Event[] {
  const n = existing(state, command.notificationId);
  const messageId = requireText(command.messageId, 'messageId');
  instant(command.now, 'now');
  if (n.emailedMessageId !== null) return [];
  return [{ type: 'NotificationEmailed', data: { notificationId: n.notificationId, userId: n.userId, messageId, emailedAt: command.now } }];
}

function decide(command: NotificationCommand, state: State): Event[] {
  switch (command.type) {
    case 'Notify':
      return notify(command, state);
    case 'MarkNotificationRead':
      return markRead(command, state);
    case 'RecordNotificationEmailed':
      return recordEmailed(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

// ---------------------------------------------------------------- evolve

/** Every event changes the state; only NotificationSent can come first (anything else on an empty state leaves it). */
function evolve(state: State, event: Event): State {
  if (event.type === 'NotificationSent') {
    const d = event.data;
    return { status: 'sent', notificationId: d.notificationId, userId: d.userId, kind: d.kind, read: false, emailedMessageId: null };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'NotificationRead':
      state.read = true;
      return state;
    case 'NotificationEmailed':
      state.emailedMessageId = event.data.messageId;
      return state;
  }
}

export const notificationDecider: Decider<NotificationState, NotificationCommand, NotificationEvent> = {
  initialState,
  decide,
  evolve,
};

/** The binding the command handler uses: stream `notification-{notificationId}`, short-lived (no snapshots). */
export const notificationAggregate: Aggregate<NotificationState, NotificationCommand, NotificationEvent> = {
  name: 'notification',
  streamName: notificationStream,
  decider: notificationDecider,
  events: notificationEvents,
};
