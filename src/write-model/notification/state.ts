import type { NotificationKind } from './events.js';

/** What a decision needs of one notification; its title and body live in the read model. */
export interface SentNotification {
  status: 'sent';
  notificationId: string;
  userId: string;
  kind: NotificationKind;
  read: boolean;
  /** the Message-ID of the mail; null while not mailed */
  emailedMessageId: string | null;
}

export type NotificationState = { status: 'none' } | SentNotification;

export function initialState(): NotificationState {
  return { status: 'none' };
}
