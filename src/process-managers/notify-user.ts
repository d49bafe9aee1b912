import type { Mailer } from '../adapters/mail/mail-port.js';
import { MailDeliveryError } from '../adapters/mail/mail-errors.js';
import { notificationContent, notificationMail } from '../adapters/mail/notification-templates.js';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../subscriptions/consumer.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { eventIdsFrom, uuidFromName } from '../write-model/core/event-ids.js';
import { notificationAggregate } from '../write-model/notification/decider.js';
import type { NotificationData, NotificationKind } from '../write-model/notification/events.js';
import { paymentOrderEvents } from '../write-model/payment-order/events.js';
import { platformAccountAggregate } from '../write-model/platform-account/decider.js';
import { platformAccountEvents } from '../write-model/platform-account/events.js';
import { subscriptionUsageEvents } from '../write-model/subscription-usage/events.js';
import { userAggregate } from '../write-model/user/decider.js';
import { workflowAggregate } from '../write-model/workflow/decider.js';
import { workflowExecutionEvents } from '../write-model/workflow-execution/events.js';
import { react, type ProcessManagerDeps } from './shared.js';

export const NOTIFY_USER = 'pm-notify-user';

export interface NotifyUserDeps extends ProcessManagerDeps {
  /** the mail port (lazy: resolved on the first mail); none: in-app notifications only */
  mailer?: () => Mailer;
  /** PUBLIC_WEB_URL: mails link to its /notifications */
  webUrl?: string;
  /** QUOTA_TIME_ZONE: the zone times are written in */
  timeZone?: string;
  /** the clock of NotificationEmailed (tests) */
  now?: () => Date;
}

export const NOTIFY_USER_EVENT_TYPES = ['QuotaExceeded', 'AccountInvalidated', 'ExecutionFailed', 'PaymentSucceeded'] as const;

interface Planned {
  event: RecordedEvent;
  userId: string;
  notificationId: string;
  kind: NotificationKind;
  data: NotificationData;
}

const MAX_TITLE = 200;
const MAX_REASON = 300;

/** A failure reason as the user may see it: credentials in URLs masked, bounded. */
export function userFacingReason(reason: string): string {
  const masked = reason.replace(/\/\/[^/\s:@]+:[^@\s/]*@/g, '//***@');
  return masked.length > MAX_REASON ? `${masked.slice(0, MAX_REASON - 1)}…` : masked;
}

/**
 * The id of the notification an event gives its user: name-based, so a
 * redelivered event names the same notification (the aggregate's no-op).
 */
export function notificationIdFor(eventId: string, userId: string): string {
  return uuidFromName(`notification:${eventId}:${userId}`);
}

/**
 * Quota exceeded, account invalidated, execution failed and payment received
 * → a notification (its own stream, `notification-{notificationId}`), then a
 * mail to the user's address unless NotificationEmailed is already recorded.
 *
 * Per batch, every notification is recorded first and mailed after, so an
 * SMTP outage never holds back the in-app ones already in hand.
 *
 * Idempotency: Notify with a name-based notification id and event ids named
 * after the triggering event (a repeat is a no-op); a mail is sent only when
 * the notification has no NotificationEmailed yet. At least once: a crash between
 * the relay's acceptance and NotificationEmailed mails again on redelivery.
 *
 * Mail failures (see MailDeliveryError): `rejected` (the relay refused this
 * recipient or message — trying again cannot help) is logged and the mail
 * skipped; anything else (connection, 4xx, auth, configuration, the mailer
 * closed by a shutdown, unknown) is about the relay, not this message, so the
 * batch throws and the runner retries it with back-off: no mail is lost while
 * the relay or its settings are fixed.
 */
export function createNotifyUser(deps: NotifyUserDeps, name = NOTIFY_USER): Consumer {
  const clock = () => deps.now?.() ?? new Date();

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
        return base(d.userId, 'quota_exceeded', {
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
        return base(d.ownerId, 'account_invalidated', {
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
        return base(d.ownerId, 'execution_failed', {
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
      default:
        return null;
    }
  }

  function timeOf(p: Planned): string {
    const d = p.data;
    const at = d.exceededAt ?? d.invalidatedAt ?? d.failedAt ?? d.paidAt;
    return typeof at === 'string' ? at : p.event.created.toISOString();
  }

  async function record(p: Planned): Promise<void> {
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
        title: title.length > MAX_TITLE ? `${title.slice(0, MAX_TITLE - 1)}…` : title,
        body,
        data: p.data,
        now: timeOf(p),
      },
      { context: contextFromEvent(p.event, name), eventIds: eventIdsFrom(`${name}:${p.event.id}`) },
    );
  }

  async function mail(p: Planned, mailer: Mailer): Promise<void> {
    const { state: notification } = await load(deps.store, notificationAggregate, p.notificationId);
    if (notification.status === 'none' || notification.emailedMessageId !== null) return; // mailed before (a redelivery)
    const { state: user } = await load(deps.store, userAggregate, p.userId);
    if (user.status !== 'active' || !user.account) {
      deps.logger?.info({ processManager: name, eventId: p.event.id, userStatus: user.status }, 'notification not mailed: the user is not active');
      return;
    }
    let messageId: string;
    try {
      ({ messageId } = await mailer.send({ to: user.account.email, ...notificationMail({ kind: p.kind, data: p.data, webUrl: deps.webUrl, timeZone: deps.timeZone }) }));
    } catch (error) {
      if (error instanceof MailDeliveryError && error.kind === 'rejected') {
        deps.logger?.warn({ processManager: name, eventId: p.event.id, notificationId: p.notificationId, err: { kind: error.kind, responseCode: error.responseCode } }, 'notification mail refused by the relay; not retried');
        return;
      }
      throw error;
    }
    await handle(
      deps.store,
      notificationAggregate,
      p.notificationId,
      { type: 'RecordNotificationEmailed', notificationId: p.notificationId, messageId, now: clock().toISOString() },
      { context: contextFromEvent(p.event, name), eventIds: eventIdsFrom(`${name}:${p.event.id}:emailed`) },
    );
  }

  return {
    name,
    filter: { eventTypes: [...NOTIFY_USER_EVENT_TYPES] },
    // mails are slow: small batches keep a retry's repeat work small
    batchSize: 50,
    async handle(events) {
      const planned: Planned[] = [];
      for (const event of events) {
        await react(deps, name, event, async () => {
          const p = await plan(event);
          if (!p) return;
          await record(p);
          planned.push(p);
        });
      }
      const mailer = deps.mailer?.();
      if (!mailer) return;
      for (const p of planned) await react(deps, name, p.event, () => mail(p, mailer));
    },
  };
}
