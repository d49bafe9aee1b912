import type { NotificationData, NotificationKind } from './events.js';

/** Commands of the notification inbox (stream `notifications-{userId}`); all carry `now`. */

/** Sent by the notify-user process manager; a notificationId already in the inbox is a no-op. */
export interface Notify {
  type: 'Notify';
  userId: string;
  notificationId: string;
  kind: NotificationKind;
  title: string;
  body: string;
  data: NotificationData;
  now: string;
}

export interface MarkNotificationRead {
  type: 'MarkNotificationRead';
  notificationId: string;
  requestedBy: string;
  now: string;
}

export interface MarkAllNotificationsRead {
  type: 'MarkAllNotificationsRead';
  requestedBy: string;
  now: string;
}

export interface RecordNotificationEmailed {
  type: 'RecordNotificationEmailed';
  notificationId: string;
  messageId: string;
  now: string;
}

export type NotificationCommand = Notify | MarkNotificationRead | MarkAllNotificationsRead | RecordNotificationEmailed;
