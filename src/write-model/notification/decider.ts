import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireOneOf, requireText } from '../core/validate.js';
import type { MarkAllNotificationsRead, MarkNotificationRead, NotificationCommand, Notify, RecordNotificationEmailed } from './commands.js';
import { NOTIFICATION_KINDS, type NotificationData, type NotificationEvent } from './events.js';
import { findNotification, initialState, unreadIds, type InboxEntry, type NotificationInboxState } from './state.js';

/**
 * The notification inbox: one per user, stream `notifications-{userId}`.
 *
 * Rules (tests/unit/notification.spec.test.ts):
 * - Notify: a notificationId already in the inbox is a no-op (the id is
 *   name-based on the triggering event, so a redelivery repeats it). The
 *   inbox belongs to the user of its first notification; Notify for another
 *   user on it is CONFLICT.
 * - Title ≤ 200 and body ≤ 2000 characters; `data` plain JSON of at most
 *   4 KB whose keys never look like secrets (password, token, cookie, …):
 *   notifications are shown and mailed, credentials must never ride along.
 * - MarkNotificationRead / MarkAllNotificationsRead: only the owner
 *   (PERMISSION_DENIED); an unknown notification is NOT_FOUND; already read
 *   is a no-op, and so is mark-all with nothing unread.
 * - RecordNotificationEmailed: once per notification (the first Message-ID
 *   stays; a repeat is a no-op); unknown is NOT_FOUND.
 */
export function notificationInboxStream(userId: string): string {
  return `notifications-${userId}`;
}

type Event = NotificationEvent;
type State = NotificationInboxState;

export const MAX_TITLE = 200;
export const MAX_BODY = 2000;
export const MAX_DATA_BYTES = 4096;
/** Keys that name a credential; such a key in `data` is refused whatever its value. */
const SECRET_KEY = /passw(or)?d|secret|cookie|token|credential|authori[sz]ation|api[_-]?key|private[_-]?key/i;

// ---------------------------------------------------------------- checks

function boundedText(value: unknown, field: string, max: number): string {
  const text = requireText(value, field).trim();
  if (text.length > max) throw invalid(`${field} must be at most ${max} characters`, { field, max });
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
  if (new TextEncoder().encode(json).length > MAX_DATA_BYTES) throw invalid(`data must be at most ${MAX_DATA_BYTES} bytes of JSON`, { field: 'data', max: MAX_DATA_BYTES });
  // a copy: nothing the caller keeps a reference to rides into the event
  return JSON.parse(json) as NotificationData;
}

function owner(state: State, requestedBy: unknown): string {
  if (state.userId === null) throw new DomainError('NOT_FOUND', 'no notifications', {});
  if (typeof requestedBy !== 'string' || requestedBy !== state.userId) {
    throw new DomainError('PERMISSION_DENIED', 'the notifications belong to another user', {});
  }
  return state.userId;
}

function existing(state: State, notificationId: unknown): [string, InboxEntry] {
  const id = requireText(notificationId, 'notificationId');
  const entry = findNotification(state, id);
  if (!entry) throw new DomainError('NOT_FOUND', `notification ${id} not found`, { notificationId: id });
  return [id, entry];
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
  if (state.userId !== null && state.userId !== userId) {
    throw new DomainError('CONFLICT', 'this inbox belongs to another user', { notificationId });
  }
  if (findNotification(state, notificationId)) return [];
  return [{ type: 'NotificationSent', data: { notificationId, userId, kind, title, body, data, sentAt: command.now } }];
}

function markRead(command: MarkNotificationRead, state: State): Event[] {
  const userId = owner(state, command.requestedBy);
  const [notificationId, entry] = existing(state, command.notificationId);
  instant(command.now, 'now');
  if (entry.read) return [];
  return [{ type: 'NotificationRead', data: { notificationId, userId, readAt: command.now } }];
}

function markAllRead(command: MarkAllNotificationsRead, state: State): Event[] {
  instant(command.now, 'now');
  if (state.userId === null) return []; // an empty inbox: nothing to mark
  const userId = owner(state, command.requestedBy);
  const ids = unreadIds(state);
  if (ids.length === 0) return [];
  return [{ type: 'AllNotificationsRead', data: { userId, notificationIds: ids, readAt: command.now } }];
}

function recordEmailed(command: RecordNotificationEmailed, state: State): Event[] {
  const [notificationId, entry] = existing(state, command.notificationId);
  const messageId = requireText(command.messageId, 'messageId');
  instant(command.now, 'now');
  if (entry.emailedMessageId !== null) return [];
  return [{ type: 'NotificationEmailed', data: { notificationId, userId: state.userId!, messageId, emailedAt: command.now } }];
}

function decide(command: NotificationCommand, state: State): Event[] {
  switch (command.type) {
    case 'Notify':
      return notify(command, state);
    case 'MarkNotificationRead':
      return markRead(command, state);
    case 'MarkAllNotificationsRead':
      return markAllRead(command, state);
    case 'RecordNotificationEmailed':
      return recordEmailed(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

// ---------------------------------------------------------------- evolve

function withEntry(state: State, id: string, change: (entry: InboxEntry) => InboxEntry): State {
  const entry = findNotification(state, id);
  if (!entry) return state; // cannot happen: Sent comes first
  return { ...state, notifications: { ...state.notifications, [id]: change(entry) } };
}

/** Every event changes the state. */
function evolve(state: State, event: Event): State {
  switch (event.type) {
    case 'NotificationSent': {
      const d = event.data;
      return {
        userId: state.userId ?? d.userId,
        notifications: { ...state.notifications, [d.notificationId]: { kind: d.kind, read: false, emailedMessageId: null } },
      };
    }
    case 'NotificationRead':
      return withEntry(state, event.data.notificationId, (e) => ({ ...e, read: true }));
    case 'AllNotificationsRead':
      return event.data.notificationIds.reduce((s, id) => withEntry(s, id, (e) => ({ ...e, read: true })), state);
    case 'NotificationEmailed':
      return withEntry(state, event.data.notificationId, (e) => ({ ...e, emailedMessageId: event.data.messageId }));
  }
}

export const notificationDecider: Decider<NotificationInboxState, NotificationCommand, NotificationEvent> = {
  initialState,
  decide,
  evolve,
};
