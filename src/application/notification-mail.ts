import type { Mailer } from './ports/mailer.js';
import { notificationMail } from './mail/notification-templates.js';
import { deliverOrDrop } from './deliver-mail.js';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { notificationAggregate, notificationStream } from '../write-model/notification/decider.js';
import { notificationEvents, type NotificationSentData } from '../write-model/notification/events.js';
import { StreamNotFoundError } from '../event-store/errors.js';
import { userAggregate } from '../write-model/user/decider.js';

/**
 * What a queued notification mail carries: ids only. The message is rendered
 * when it is sent, from the notification and the user's address as they are
 * then, so no address or text waits in Redis.
 */
export interface NotificationMailJob {
  notificationId: string;
  userId: string;
  /** the event that caused the notification: the causation of NotificationEmailed */
  causationId: string;
  correlationId: string;
}

export interface NotificationMailDeps {
  store: EventStore;
  mailer: Mailer;
  /** PUBLIC_WEB_URL: mails link to its /notifications */
  webUrl?: string;
  /** QUOTA_TIME_ZONE: the zone times are written in */
  timeZone?: string;
  logger?: Pick<Logger, 'info' | 'warn'>;
  now?: () => Date;
}

/** mailed-before: already mailed, or no such notification; not-wanted: the user chose no mail for its kind */
export type NotificationMailOutcome = 'sent' | 'mailed-before' | 'user-inactive' | 'not-wanted' | 'refused';

/**
 * Mails one notification unless NotificationEmailed is recorded already, and
 * records it (deliverOrDrop: a mail the relay refuses is dropped, any other
 * failure thrown for the queue to try again).
 * At least once: a crash between the relay's acceptance and the record mails
 * again on the next try.
 */
export async function sendNotificationMail(deps: NotificationMailDeps, job: NotificationMailJob): Promise<NotificationMailOutcome> {
  // the notification's own short stream: what was sent (to render it) and whether it was mailed
  let sent: NotificationSentData | undefined;
  let emailed = false;
  try {
    for (const recorded of await deps.store.readStream(notificationStream(job.notificationId))) {
      const event = notificationEvents.decode(recorded);
      if (event.type === 'NotificationSent') sent = event.data;
      else if (event.type === 'NotificationEmailed') emailed = true;
    }
  } catch (error) {
    if (!(error instanceof StreamNotFoundError)) throw error;
  }
  if (!sent || emailed) return 'mailed-before';
  if (sent.channels?.mail === false) return 'not-wanted'; // the user's preferences at the time it was sent
  const { state: user } = await load(deps.store, userAggregate, job.userId);
  if (user.status !== 'active' || !user.account) {
    deps.logger?.info({ notificationId: job.notificationId, userStatus: user.status }, 'notification not mailed: the user is not active');
    return 'user-inactive';
  }
  const delivered = await deliverOrDrop(
    deps.mailer,
    { to: user.account.email, ...notificationMail({ kind: sent.kind, data: sent.data, webUrl: deps.webUrl, timeZone: deps.timeZone }) },
    { logger: deps.logger, what: 'notification mail', context: { notificationId: job.notificationId } },
  );
  if (delivered === 'refused') return 'refused';
  const { messageId } = delivered;
  await handle(
    deps.store,
    notificationAggregate,
    job.notificationId,
    { type: 'RecordNotificationEmailed', notificationId: job.notificationId, messageId, now: (deps.now?.() ?? new Date()).toISOString() },
    {
      context: { correlationId: job.correlationId, causationId: job.causationId, actor: 'mail-outbox' },
      eventIds: eventIdsFrom(`mail-outbox:${job.notificationId}:emailed`),
    },
  );
  return 'sent';
}
