import { notificationContent } from '../application/mail/notification-templates.js';
import type { RecordedEvent } from '../event-store/port.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { eventIdsFrom, uuidFromName } from '../write-model/core/event-ids.js';
import { notificationAggregate } from '../write-model/notification/decider.js';
import type { NotificationData, NotificationKind } from '../write-model/notification/events.js';
import { userAggregate } from '../write-model/user/decider.js';
import type { NotificationMailOutbox } from './notify-user.js';
import type { ProcessManagerDeps } from './shared.js';
import { characterCount, truncateCharacters } from '../write-model/core/characters.js';

/**
 * A notification a process manager sends, as pm-notify-user does: the
 * user's preferences for the kind decide the channels (neither: nothing is
 * recorded), the in-app title and body come from the templates
 * (src/application/mail/notification-templates.ts), the Notify command carries
 * event ids named after `key` — so the same triggering change names the
 * same notification, and a repeat is the aggregate's no-op — and the mail
 * is queued in the outbox (job id = the notification id: a repeat queues
 * nothing). The mail is queued after the notification is recorded.
 */
export interface UserNotificationDeps extends ProcessManagerDeps {
  outbox?: NotificationMailOutbox;
  /** QUOTA_TIME_ZONE: the zone times are written in */
  timeZone?: string;
}

export interface NotificationToSend {
  /** names the notification: one per triggering change (e.g. `novel_alert:{alertId}:chapters:{n}`) */
  key: string;
  userId: string;
  kind: NotificationKind;
  data: NotificationData;
  /** when it happened (ISO-8601) */
  at: string;
}

const MAX_TITLE = 200;

/** The notification id of a key: name-based. */
export function notificationIdOf(key: string): string {
  return uuidFromName(`notification:${key}`);
}

/** Records (and queues the mail of) one notification; whether it was recorded (false: the user wants the kind nowhere). */
export async function sendUserNotification(deps: UserNotificationDeps, name: string, cause: RecordedEvent, n: NotificationToSend): Promise<boolean> {
  const { state } = await load(deps.store, userAggregate, n.userId);
  const chosen = state.account?.profile.notificationPreferences[n.kind];
  // SMS only when asked for (pm-notification-sms sends it to the verified number)
  const channels = { inApp: chosen?.inApp ?? true, mail: chosen?.mail ?? true, ...(chosen?.sms === true ? { sms: true } : {}) };
  if (!channels.inApp && !channels.mail && !channels.sms) return false;
  const notificationId = notificationIdOf(n.key);
  const { title, body } = notificationContent({ kind: n.kind, data: n.data, ...(deps.timeZone ? { timeZone: deps.timeZone } : {}) });
  const context = contextFromEvent(cause, name);
  await handle(
    deps.store,
    notificationAggregate,
    notificationId,
    {
      type: 'Notify',
      userId: n.userId,
      notificationId,
      kind: n.kind,
      title: characterCount(title) > MAX_TITLE ? `${truncateCharacters(title, MAX_TITLE - 1)}…` : title,
      body,
      data: n.data,
      channels,
      now: n.at,
    },
    { context, eventIds: eventIdsFrom(`${name}:${n.key}`) },
  );
  if (channels.mail && deps.outbox) {
    await deps.outbox.enqueueNotificationMail({ notificationId, userId: n.userId, causationId: cause.id, correlationId: context.correlationId });
  }
  return true;
}
