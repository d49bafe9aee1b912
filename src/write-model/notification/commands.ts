import type { NotificationChannelChoice, NotificationData, NotificationKind } from './events.js';

/** Commands of one notification (stream `notification-{notificationId}`); all carry `now`. */

/** Sent by the notify-user process manager; a notification already sent is a no-op. */
export interface Notify {
  type: 'Notify';
  userId: string;
  notificationId: string;
  kind: NotificationKind;
  title: string;
  body: string;
  data: NotificationData;
  /** where the user wants it (their notification preferences); absent: in the app and by mail */
  channels?: NotificationChannelChoice;
  now: string;
}

/** The owner read it (also what "mark all read" sends, once per unread notification). */
export interface MarkNotificationRead {
  type: 'MarkNotificationRead';
  notificationId: string;
  requestedBy: string;
  now: string;
}

export interface RecordNotificationEmailed {
  type: 'RecordNotificationEmailed';
  notificationId: string;
  messageId: string;
  now: string;
}

export type NotificationCommand = Notify | MarkNotificationRead | RecordNotificationEmailed;
