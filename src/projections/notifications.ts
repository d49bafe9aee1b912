import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../subscriptions/consumer.js';
import { notificationEvents } from '../write-model/notification/events.js';

/**
 * Read model of the notifications (one stream per notification,
 * `notification-{notificationId}`): `notifications`, one row per
 * notification with its read and emailed times. `seq` is the global
 * sequence (the position's `prepare`) of its NotificationSent: the order
 * among notifications sent at the same time.
 *
 * Idempotent under redelivery without a revision of its own: a notification
 * is sent, read and mailed at most once each (the aggregate's rules), so the
 * row is inserted once and each time is set only while still null.
 * (`notification_inboxes`, of the one-inbox-per-user streams, is no longer
 * written.)
 */
export const NOTIFICATIONS_PROJECTION = 'notifications-v1';

export const NOTIFICATION_STREAM_PREFIX = 'notification-';

export function createNotificationsProjection(name: string = NOTIFICATIONS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [NOTIFICATION_STREAM_PREFIX], eventTypes: notificationEvents.types },
    async handle(events, { tx }) {
      for (const event of events) await applyEvent(tx, event);
    },
  };
}

export const notificationsProjection: Consumer = createNotificationsProjection();

/** Applies one recorded event; a repeat changes nothing. Exported for tests. */
export async function applyEvent(tx: Knex.Transaction | Knex, recorded: RecordedEvent): Promise<void> {
  if (!notificationEvents.owns(recorded.type)) return;
  const event = notificationEvents.decode(recorded);
  const row = () => tx('notifications').where({ id: event.data.notificationId, user_id: event.data.userId });
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
          seq: recorded.position.prepare.toString(),
          created_at: d.sentAt,
          read_at: null,
          emailed_at: null,
        })
        .onConflict('id')
        .ignore();
      return;
    }
    case 'NotificationRead':
      await row().whereNull('read_at').update({ read_at: event.data.readAt });
      return;
    case 'NotificationEmailed':
      await row().whereNull('emailed_at').update({ emailed_at: event.data.emailedAt });
      return;
  }
}
