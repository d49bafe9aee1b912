import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../subscriptions/consumer.js';
import { NOTIFICATION_EVENT_TYPES, type NotificationEvent } from '../write-model/notification/events.js';

/**
 * Read model of the notification inboxes (stream `notifications-{userId}`):
 * `notifications` (one row per notification, read / emailed times) and
 * `notification_inboxes` (the last stream revision applied per user).
 *
 * Idempotent under redelivery: an event is applied only when its revision is
 * above the inbox's `last_revision`, moved in the same transaction.
 */
export const NOTIFICATIONS_PROJECTION = 'notifications-v1';

export const NOTIFICATION_STREAM_PREFIX = 'notifications-';

export function createNotificationsProjection(name: string = NOTIFICATIONS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [NOTIFICATION_STREAM_PREFIX] },
    async handle(events, { tx }) {
      for (const event of events) await applyEvent(tx, event);
    },
  };
}

export const notificationsProjection: Consumer = createNotificationsProjection();

const KNOWN_TYPES = new Set<string>(NOTIFICATION_EVENT_TYPES);

/** Applies one recorded event unless its revision was applied already. Exported for tests. */
export async function applyEvent(tx: Knex.Transaction | Knex, recorded: RecordedEvent): Promise<void> {
  if (!KNOWN_TYPES.has(recorded.type)) return;
  const event = { type: recorded.type, data: recorded.data } as unknown as NotificationEvent;
  const userId = event.data.userId;
  const revision = recorded.revision;

  const inbox = (await tx('notification_inboxes').where({ user_id: userId }).forUpdate().first('last_revision')) as { last_revision: string } | undefined;
  if (inbox && BigInt(inbox.last_revision) >= revision) return; // applied already
  if (inbox) await tx('notification_inboxes').where({ user_id: userId }).update({ last_revision: revision.toString() });
  else await tx('notification_inboxes').insert({ user_id: userId, last_revision: revision.toString() });

  switch (event.type) {
    case 'NotificationSent': {
      const d = event.data;
      await tx('notifications')
        .insert({
          id: d.notificationId,
          user_id: d.userId,
          kind: d.kind,
          title: d.title,
          body: d.body,
          data: JSON.stringify(d.data),
          seq: revision.toString(),
          created_at: d.sentAt,
          read_at: null,
          emailed_at: null,
        })
        .onConflict('id')
        .ignore();
      return;
    }
    case 'NotificationRead':
      await tx('notifications').where({ id: event.data.notificationId, user_id: userId }).update({ read_at: event.data.readAt });
      return;
    case 'AllNotificationsRead':
      await tx('notifications').where({ user_id: userId }).whereIn('id', event.data.notificationIds).whereNull('read_at').update({ read_at: event.data.readAt });
      return;
    case 'NotificationEmailed':
      await tx('notifications').where({ id: event.data.notificationId, user_id: userId }).update({ emailed_at: event.data.emailedAt });
      return;
  }
}
