import { notificationContent } from '../application/mail/notification-templates.js';
import { reviewOpening } from '../application/review/reviews.js';
import type { NotificationMailJob } from '../application/notification-mail.js';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { eventIdsFrom, uuidFromName } from '../write-model/core/event-ids.js';
import { notificationAggregate } from '../write-model/notification/decider.js';
import { organizationAggregate } from '../write-model/organization/decider.js';
import type { NotificationChannelChoice, NotificationData, NotificationKind } from '../write-model/notification/events.js';
import { paymentOrderEvents } from '../write-model/payment-order/events.js';
import { platformAccountAggregate } from '../write-model/platform-account/decider.js';
import { platformAccountEvents } from '../write-model/platform-account/events.js';
import { publicationAggregate } from '../write-model/publication/decider.js';
import { publicationEvents } from '../write-model/publication/events.js';
import { reviewEvents } from '../write-model/review/events.js';
import { subscriptionUsageEvents } from '../write-model/subscription-usage/events.js';
import { subscriptionEvents } from '../write-model/subscription/events.js';
import { userAggregate } from '../write-model/user/decider.js';
import { workflowAggregate } from '../write-model/workflow/decider.js';
import { workflowExecutionEvents } from '../write-model/workflow-execution/events.js';
import { react, type ProcessManagerDeps } from './shared.js';
import { characterCount, truncateCharacters } from '../write-model/core/characters.js';

export const NOTIFY_USER = 'pm-notify-user';

/** Where mails are queued (the `mail` queue: src/adapters/queue/mail-queue.ts); the worker sends them. */
export interface NotificationMailOutbox {
  enqueueNotificationMail(job: NotificationMailJob): Promise<void>;
}

export interface NotifyUserDeps extends ProcessManagerDeps {
  /** the mail outbox; none: in-app notifications only */
  outbox?: NotificationMailOutbox;
  /** QUOTA_TIME_ZONE: the zone times are written in */
  timeZone?: string;
}

export const NOTIFY_USER_EVENT_TYPES = [
  'QuotaExceeded',
  'AccountInvalidated',
  'ExecutionFailed',
  'PaymentSucceeded',
  'SubscriptionRenewalOrdered',
  'SubscriptionExpiryReminded',
  'PublicationPublished',
  'PublicationFailed',
  'ReviewApproved',
  'ReviewRejected',
] as const;

interface Planned {
  event: RecordedEvent;
  userId: string;
  notificationId: string;
  kind: NotificationKind;
  data: NotificationData;
  /** set by the user's preferences when it is recorded */
  channels?: NotificationChannelChoice;
}

const MAX_TITLE = 200;
const MAX_REASON = 300;

/** A failure reason as the user may see it: credentials in URLs masked, bounded. */
export function userFacingReason(reason: string): string {
  const masked = reason.replace(/\/\/[^/\s:@]+:[^@\s/]*@/g, '//***@');
  return characterCount(masked) > MAX_REASON ? `${truncateCharacters(masked, MAX_REASON - 1)}…` : masked;
}

/**
 * The id of the notification an event gives its user: name-based, so a
 * redelivered event names the same notification (the aggregate's no-op).
 */
export function notificationIdFor(eventId: string, userId: string): string {
  return uuidFromName(`notification:${eventId}:${userId}`);
}

/**
 * Quota exceeded, account invalidated, execution failed, payment received, a
 * renewal order placed before the period ends (`subscription_renewal`, with
 * the pay link) and a paid period about to end without renewal
 * (`subscription_expiring`), a publication published or failed (but for a
 * rejection in review), a human review approved or rejected (`review_approved`,
 * `review_rejected`, with the reviewer's comment) → a notification (its own stream, `notification-{notificationId}`), and a
 * mail queued in the outbox for the worker to send.
 *
 * The user's notification preferences (their profile, per kind) decide the
 * channels, recorded with the notification: in the app (GET /notifications)
 * and/or by mail; a kind they want on neither is not recorded at all.
 *
 * The process manager never waits on SMTP: queueing is a Redis write, and
 * the mail worker retries with back-off while the relay is down (an outage
 * delays mail, and holds back no notification and no other consumer).
 *
 * An organization's subscription (the one its members share) and the
 * resources it owns itself have no user: their notices go to the
 * organization's owner.
 *
 * Idempotency: Notify with a name-based notification id and event ids named
 * after the triggering event (a repeat is a no-op); the mail job's id is the
 * notification's (a repeat adds nothing), and the sender skips a
 * notification already mailed (NotificationEmailed).
 */
export function createNotifyUser(deps: NotifyUserDeps, name = NOTIFY_USER): Consumer {
  /**
   * Who hears of a subscription's quota and renewals, or of a resource: its
   * holder or owner, or where that is an organization (its shared
   * subscription, or a resource it owns itself: both carry its id) the
   * organization's owner.
   */
  async function recipientOf(holderId: string): Promise<string> {
    const { state } = await load(deps.store, organizationAggregate, holderId);
    return state.organizationId !== null && state.ownerId !== null ? state.ownerId : holderId;
  }

  async function plan(event: RecordedEvent): Promise<Planned | null> {
    const base = (userId: string, kind: NotificationKind, data: NotificationData): Planned => ({
      event,
      userId,
      notificationId: notificationIdFor(event.id, userId),
      kind,
      data,
    });
    switch (event.type) {
      case 'QuotaExceeded': {
        const decoded = subscriptionUsageEvents.decode(event);
        if (decoded.type !== 'QuotaExceeded') return null;
        const d = decoded.data;
        return base(await recipientOf(d.userId), 'quota_exceeded', {
          subscriptionId: d.subscriptionId,
          service: d.service,
          feature: d.feature,
          quotaKind: d.kind,
          limit: d.limit,
          used: d.used,
          day: d.day,
          resetsAt: d.kind === 'daily_counter' ? d.resetsAt : null,
          exceededAt: d.exceededAt,
        });
      }
      case 'AccountInvalidated': {
        const decoded = platformAccountEvents.decode(event);
        if (decoded.type !== 'AccountInvalidated') return null;
        const d = decoded.data;
        // the owner's label for the account, read from its stream (no credential is opened)
        const { state } = await load(deps.store, platformAccountAggregate, d.accountId);
        return base(await recipientOf(d.ownerId), 'account_invalidated', {
          accountId: d.accountId,
          accountName: state.status === 'none' ? null : state.displayName,
          platform: d.platform,
          reason: d.reason,
          invalidatedAt: d.invalidatedAt,
        });
      }
      case 'ExecutionFailed': {
        const decoded = workflowExecutionEvents.decode(event);
        if (decoded.type !== 'ExecutionFailed') return null;
        const d = decoded.data;
        const { state } = await load(deps.store, workflowAggregate, d.workflowId);
        return base(await recipientOf(d.ownerId), 'execution_failed', {
          executionId: d.executionId,
          workflowId: d.workflowId,
          workflowName: state.workflow?.name ?? null,
          reason: userFacingReason(d.reason),
          attempt: d.attempt,
          itemCount: d.itemCount,
          failedAt: d.failedAt,
        });
      }
      case 'PaymentSucceeded': {
        const decoded = paymentOrderEvents.decode(event);
        if (decoded.type !== 'PaymentSucceeded') return null;
        const d = decoded.data;
        return base(d.userId, 'payment_received', {
          orderId: d.orderId,
          service: d.service,
          plan: d.plan,
          billingCycle: d.billingCycle,
          amountFen: d.amountFen,
          provider: d.provider,
          paidAt: d.paidAt,
        });
      }
      case 'SubscriptionRenewalOrdered': {
        // the renewal deadline placed the order: remind the user to pay it (the pay link in the data)
        const decoded = subscriptionEvents.decode(event);
        if (decoded.type !== 'SubscriptionRenewalOrdered') return null;
        const d = decoded.data;
        return base(await recipientOf(d.userId), 'subscription_renewal', {
          subscriptionId: d.subscriptionId,
          service: d.service,
          plan: d.plan,
          periodEnd: d.periodEnd,
          orderId: d.orderId,
          amountFen: d.amountFen,
          provider: d.provider,
          channel: d.channel,
          payUrl: d.payUrl,
          codeUrl: d.codeUrl,
          orderExpiresAt: d.orderExpiresAt,
          remindedAt: d.orderedAt,
        });
      }
      case 'SubscriptionExpiryReminded': {
        const decoded = subscriptionEvents.decode(event);
        if (decoded.type !== 'SubscriptionExpiryReminded') return null;
        const d = decoded.data;
        return base(await recipientOf(d.userId), 'subscription_expiring', {
          subscriptionId: d.subscriptionId,
          service: d.service,
          plan: d.plan,
          periodEnd: d.periodEnd,
          fallbackPlan: d.fallbackPlan,
          reason: d.reason,
          remindedAt: d.remindedAt,
        });
      }
      case 'PublicationPublished':
      case 'PublicationFailed': {
        const decoded = publicationEvents.decode(event);
        if (decoded.type !== 'PublicationPublished' && decoded.type !== 'PublicationFailed') return null;
        const d = decoded.data;
        // a rejection in review is told by the review's own notification (review_rejected)
        if (decoded.type === 'PublicationFailed' && decoded.data.code === 'review_rejected') return null;
        // the title as published, from the publication's stream (a few tens of events)
        const { state } = await load(deps.store, publicationAggregate, d.publicationId);
        const title = state.status === 'none' ? null : state.content.title;
        const ref = { publicationId: d.publicationId, articleId: d.articleId, title, platform: d.platform, accountId: d.accountId };
        const recipient = await recipientOf(d.ownerId);
        if (decoded.type === 'PublicationPublished') {
          const p = decoded.data;
          return base(recipient, 'publication_published', { ...ref, postId: p.postId, url: p.url, publishedAt: p.publishedAt });
        }
        const f = decoded.data;
        return base(recipient, 'publication_failed', { ...ref, code: f.code, reason: userFacingReason(f.reason), failedAt: f.failedAt });
      }
      case 'ReviewApproved':
      case 'ReviewRejected': {
        // a human review decided: the author hears of it (a rejection with the reviewer's reason)
        const decoded = reviewEvents.decode(event);
        if (decoded.type !== 'ReviewApproved' && decoded.type !== 'ReviewRejected') return null;
        const d = decoded.data;
        const opened = await reviewOpening(deps.store, d.reviewId);
        return base(await recipientOf(d.ownerId), decoded.type === 'ReviewApproved' ? 'review_approved' : 'review_rejected', {
          reviewId: d.reviewId,
          publicationId: d.publicationId,
          title: opened?.title ?? null,
          platform: opened?.platform ?? null,
          comment: d.comment,
          decidedAt: d.decidedAt,
          waitedSeconds: d.waitedSeconds,
        });
      }
      default:
        return null;
    }
  }

  function timeOf(p: Planned): string {
    const d = p.data;
    const at = d.exceededAt ?? d.invalidatedAt ?? d.failedAt ?? d.paidAt ?? d.remindedAt ?? d.publishedAt ?? d.decidedAt;
    return typeof at === 'string' ? at : p.event.created.toISOString();
  }

  /** The user's channels for the kind (their profile's notification preferences; a kind never set: both). */
  async function channelsFor(p: Planned): Promise<NotificationChannelChoice> {
    const { state } = await load(deps.store, userAggregate, p.userId);
    const chosen = state.account?.profile.notificationPreferences[p.kind];
    // SMS only when asked for (pm-notification-sms sends it to the verified number)
    return { inApp: chosen?.inApp ?? true, mail: chosen?.mail ?? true, ...(chosen?.sms === true ? { sms: true } : {}) };
  }

  /** Records the notification unless the user wants it on no channel; whether it was recorded. */
  async function record(p: Planned): Promise<boolean> {
    const channels = await channelsFor(p);
    if (!channels.inApp && !channels.mail && !channels.sms) return false;
    p.channels = channels;
    const { title, body } = notificationContent({ kind: p.kind, data: p.data, timeZone: deps.timeZone });
    await handle(
      deps.store,
      notificationAggregate,
      p.notificationId,
      {
        type: 'Notify',
        userId: p.userId,
        notificationId: p.notificationId,
        kind: p.kind,
        title: characterCount(title) > MAX_TITLE ? `${truncateCharacters(title, MAX_TITLE - 1)}…` : title,
        body,
        data: p.data,
        channels,
        now: timeOf(p),
      },
      { context: contextFromEvent(p.event, name), eventIds: eventIdsFrom(`${name}:${p.event.id}`) },
    );
    return true;
  }

  return {
    name,
    filter: { eventTypes: [...NOTIFY_USER_EVENT_TYPES] },
    batchSize: 50,
    async handle(events) {
      const planned: Planned[] = [];
      for (const event of events) {
        await react(deps, name, event, async () => {
          const p = await plan(event);
          if (!p || !(await record(p))) return;
          planned.push(p);
        });
      }
      const outbox = deps.outbox;
      if (!outbox) return;
      for (const p of planned) {
        if (p.channels?.mail === false) continue;
        await react(deps, name, p.event, () =>
          outbox.enqueueNotificationMail({
            notificationId: p.notificationId,
            userId: p.userId,
            causationId: p.event.id,
            correlationId: contextFromEvent(p.event, name).correlationId,
          }),
        );
      }
    },
  };
}
