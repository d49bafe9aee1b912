import type { DomainEvent } from '../core/decider.js';

/**
 * The notification inbox's events (stream `notifications-{userId}`): one
 * inbox per user, holding what the platform told the user in-app and whether
 * it was also mailed. Times are ISO-8601 strings.
 */

export const NOTIFICATION_KINDS = ['quota_exceeded', 'account_invalidated', 'execution_failed', 'payment_received'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** Plain JSON only; never a credential (the decider refuses secret-looking keys). */
export type NotificationData = Record<string, unknown>;

export interface NotificationSentData {
  /** name-based on the triggering event, so a redelivered event repeats it */
  notificationId: string;
  userId: string;
  kind: NotificationKind;
  title: string;
  body: string;
  data: NotificationData;
  sentAt: string;
}

export interface NotificationReadData {
  notificationId: string;
  userId: string;
  readAt: string;
}

/** Mark-all names the ids it marked: one sent meanwhile stays unread. */
export interface AllNotificationsReadData {
  userId: string;
  notificationIds: string[];
  readAt: string;
}

/** The mail went to the relay; a redelivered trigger must not mail again. */
export interface NotificationEmailedData {
  notificationId: string;
  userId: string;
  /** the Message-ID the relay accepted */
  messageId: string;
  emailedAt: string;
}

export type NotificationEvent =
  | DomainEvent<'NotificationSent', NotificationSentData>
  | DomainEvent<'NotificationRead', NotificationReadData>
  | DomainEvent<'AllNotificationsRead', AllNotificationsReadData>
  | DomainEvent<'NotificationEmailed', NotificationEmailedData>;

export type NotificationEventType = NotificationEvent['type'];

export const NOTIFICATION_EVENT_TYPES: readonly NotificationEventType[] = [
  'NotificationSent',
  'NotificationRead',
  'AllNotificationsRead',
  'NotificationEmailed',
];
