import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec, plainObject } from '../core/event-codec.js';

/**
 * One notification's events, stream `notification-{notificationId}`: what
 * the platform told a user in-app, whether the user read it and whether it
 * was also mailed. A short-lived stream (at most three events), so no
 * command's cost depends on how many notifications the user ever had.
 * Every event names the user, so the read model needs no stream names.
 * Times are ISO-8601 strings.
 */

export const NOTIFICATION_KINDS = [
  'quota_exceeded',
  'account_invalidated',
  'execution_failed',
  'payment_received',
  'novel_alert',
  'keyword_match',
  'subscription_renewal',
  'subscription_expiring',
  'review_approved',
  'review_rejected',
  'publication_published',
  'publication_failed',
  'queue_blocked',
  'mfa_reset',
  'login_changed',
] as const;
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
  /** where it goes, as the user's preferences said when it was sent; absent (older events): both */
  channels?: NotificationChannelChoice;
  sentAt: string;
}

export interface NotificationChannelChoice {
  /** listed by GET /notifications */
  inApp: boolean;
  /** mailed */
  mail: boolean;
  /** also sent by SMS to the verified phone (pm-notification-sms); absent: no */
  sms?: boolean;
}

export interface NotificationReadData {
  notificationId: string;
  userId: string;
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
  | DomainEvent<'NotificationEmailed', NotificationEmailedData>;

export type NotificationEventType = NotificationEvent['type'];

// ---------------------------------------------------------------- decoding

const ref = { notificationId: z.string(), userId: z.string() };

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const notificationEvents = eventCodec<NotificationEvent>({
  NotificationSent: {
    schema: z.object({
      ...ref,
      kind: z.enum(NOTIFICATION_KINDS),
      title: z.string(),
      body: z.string(),
      data: plainObject,
      channels: z.object({ inApp: z.boolean(), mail: z.boolean(), sms: z.boolean().optional() }).optional(),
      sentAt: z.string(),
    }),
  },
  NotificationRead: { schema: z.object({ ...ref, readAt: z.string() }) },
  NotificationEmailed: { schema: z.object({ ...ref, messageId: z.string(), emailedAt: z.string() }) },
});
