import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { notificationEvents } from '../write-model/notification/events.js';
import { upsertRows, type Row } from './sql-batch.js';

/**
 * Read model of the notifications (one stream per notification,
 * `notification-{notificationId}`): `notifications`, one row per
 * notification with its read and emailed times. `seq` is the global
 * sequence (the position's `prepare`) of its NotificationSent: the order
 * among notifications sent at the same time.
 *
 * A batch costs one or two statements: one insert of the batch's sent
 * notifications with the read and emailed times that follow them in the
 * batch, one update of the other times it carries.
 * Idempotent under redelivery without a revision of its own: a notification
 * is sent, read and mailed at most once each (the aggregate's rules), so the
 * row is inserted once and each time is set only while still null (the
 * first of a batch's reads, or mails, of a notification wins, as when they
 * were applied one by one).
 * A notification the user wanted by mail only (channels.inApp false) gets
 * no row. (`notification_inboxes`, of the one-inbox-per-user streams, is no
 * longer written.)
 */
export const NOTIFICATIONS_PROJECTION = 'notifications-v1';

export const NOTIFICATION_STREAM_PREFIX = 'notification-';

export function createNotificationsProjection(name: string = NOTIFICATIONS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [NOTIFICATION_STREAM_PREFIX], eventTypes: notificationEvents.types },
    async handle(events, { tx }) {
      await applyEvents(tx, events);
    },
  };
}

export const notificationsProjection: Consumer = createNotificationsProjection();

/** Applies one recorded event; a repeat changes nothing. Exported for tests. */
export async function applyEvent(tx: Knex.Transaction | Knex, recorded: RecordedEvent): Promise<void> {
  await applyEvents(tx, [recorded]);
}

/** Applies a batch of recorded events in their order. */
export async function applyEvents(tx: Knex.Transaction | Knex, events: readonly RecordedEvent[]): Promise<void> {
  const sent = new Map<string, Row & Times>();
  // The first read and mailed times of the batch per (notification, user). Those after the batch's NotificationSent of
  // the same user go into its row; `early` ones (before it) only to a row there before the batch (the stream puts the
  // sent event first: there are none); the others to the rows there.
  const early = new TimesFold();
  const times = new TimesFold();
  const timesOf = (id: string, userId: string): Times => {
    const row = sent.get(id);
    if (!row) return early.of(id, userId);
    return row.user_id === userId ? row : times.of(id, userId);
  };
  for (const recorded of events) {
    if (!notificationEvents.owns(recorded.type)) continue;
    const event = notificationEvents.decode(recorded);
    switch (event.type) {
      case 'NotificationSent': {
        const d = event.data;
        // mail only (the user's preferences): not listed in the app
        if (sent.has(d.notificationId) || d.channels?.inApp === false) break;
        sent.set(d.notificationId, {
          id: d.notificationId,
          user_id: d.userId,
          kind: d.kind,
          title: d.title,
          body: d.body,
          data: d.data,
          seq: recorded.position.prepare.toString(),
          created_at: d.sentAt,
          read_at: null,
          emailed_at: null,
        });
        break;
      }
      case 'NotificationRead': {
        const d = event.data;
        timesOf(d.notificationId, d.userId).read_at ??= d.readAt;
        break;
      }
      case 'NotificationEmailed': {
        const d = event.data;
        timesOf(d.notificationId, d.userId).emailed_at ??= d.emailedAt;
        break;
      }
    }
  }
  await early.write(tx);
  // a redelivered NotificationSent inserts nothing, but the times folded into it still apply to its row (when still null)
  await upsertRows(tx, 'notifications', [...sent.values()], {
    conflict: ['id'],
    update: { read_at: 'COALESCE(t.read_at, excluded.read_at)', emailed_at: 'COALESCE(t.emailed_at, excluded.emailed_at)' },
    guard:
      't.user_id = excluded.user_id AND ((t.read_at IS NULL AND excluded.read_at IS NOT NULL) OR (t.emailed_at IS NULL AND excluded.emailed_at IS NOT NULL))',
  });
  await times.write(tx);
}

interface Times {
  id: string;
  user_id: string;
  read_at: string | null;
  emailed_at: string | null;
}

class TimesFold {
  private readonly byKey = new Map<string, Times>();

  of(id: string, userId: string): Times {
    const key = `${id}\u0000${userId}`;
    let entry = this.byKey.get(key);
    if (!entry) this.byKey.set(key, (entry = { id, user_id: userId, read_at: null, emailed_at: null }));
    return entry;
  }

  /** One update: a time already set stays; a row of another user is not this event's. */
  async write(tx: Knex.Transaction | Knex): Promise<void> {
    if (this.byKey.size === 0) return;
    await tx.raw(
      `UPDATE notifications AS t
          SET read_at = COALESCE(t.read_at, n.read_at), emailed_at = COALESCE(t.emailed_at, n.emailed_at)
         FROM (SELECT * FROM jsonb_to_recordset(?::jsonb) AS r(id text, user_id text, read_at timestamptz, emailed_at timestamptz)
                LIMIT ${this.byKey.size}) AS n -- the real count: the planner's guess of a hundred would scan the table
        WHERE t.id = n.id AND t.user_id = n.user_id
          AND ((t.read_at IS NULL AND n.read_at IS NOT NULL) OR (t.emailed_at IS NULL AND n.emailed_at IS NOT NULL))`,
      [JSON.stringify([...this.byKey.values()])],
    );
  }
}
