import type { NotificationKind } from './events.js';

/** What the inbox must remember to decide: which notifications exist, read or mailed. Titles and bodies live in the read model. */
export interface InboxEntry {
  kind: NotificationKind;
  read: boolean;
  /** the Message-ID of the mail; null while not mailed */
  emailedMessageId: string | null;
}

export interface NotificationInboxState {
  /** null until the first NotificationSent */
  userId: string | null;
  /** by notification id, in the order sent */
  notifications: Record<string, InboxEntry>;
}

export function initialState(): NotificationInboxState {
  return { userId: null, notifications: {} };
}

/** The entry with this id (own keys only: "constructor" is not a notification). */
export function findNotification(state: NotificationInboxState, notificationId: string): InboxEntry | undefined {
  return Object.hasOwn(state.notifications, notificationId) ? state.notifications[notificationId] : undefined;
}

export function unreadIds(state: NotificationInboxState): string[] {
  return Object.entries(state.notifications)
    .filter(([, entry]) => !entry.read)
    .map(([id]) => id);
}
