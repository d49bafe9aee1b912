import type { Knex } from 'knex';
import type { Consumer } from '../consumers/consumer.js';
import type { RecordedEvent } from '../event-store/port.js';
import { upsertRows } from '../projections/sql-batch.js';
import { queueAlertEvents } from '../write-model/queue-alert/events.js';
import { userEvents } from '../write-model/user/events.js';
import type { NotificationMailOutbox } from './notify-user.js';
import { react } from './shared.js';
import { sendUserNotification, type UserNotificationDeps } from './user-notifications.js';

export const QUEUE_ALERTS = 'pm-queue-alerts';

export interface QueueAlertsDeps extends UserNotificationDeps {
  outbox?: NotificationMailOutbox;
}

const USER_TYPES = ['UserRegistered', 'RoleChanged', 'UserSuspended', 'UserReactivated'] as const;

/**
 * A blocked queue is told to every admin.
 *
 * - UserRegistered / RoleChanged / UserSuspended / UserReactivated → its own
 *   index of who is an active admin (`pm_queue_alert_admins`, guarded by the
 *   user stream's revision), read in the same ordered feed, so a detection
 *   goes to the admins of that moment.
 * - QueueBlockageDetected (the blockage detector, `queue_alert-…`) → a
 *   `queue_blocked` notification for each active admin, in the app and by
 *   mail as their preferences say (user-notifications.ts), named after the
 *   event and the admin (key `queue_blocked:{eventId}:{userId}`): a
 *   redelivery records nothing more. A replay from an earlier checkpoint
 *   finds the index as it is now; users whose row changed after the
 *   detection (`changed_at`) are left out rather than told of an old one.
 *
 * Its table is written outside the batch transaction (no transaction waits
 * on the commands).
 */
export function createQueueAlerts(deps: QueueAlertsDeps, name = QUEUE_ALERTS): Consumer {
  return {
    name,
    filter: { eventTypes: [...USER_TYPES, 'QueueBlockageDetected'] },
    batchSize: 100,
    async handle(events, { tx, db }) {
      const writer: Knex = db ?? tx;
      for (const event of events) {
        if (event.streamName.startsWith('user-') && (USER_TYPES as readonly string[]).includes(event.type)) {
          await indexUser(writer, event);
        } else if (event.type === 'QueueBlockageDetected' && event.streamName.startsWith('queue_alert-')) {
          await react(deps, name, event, () => notifyAdmins(deps, name, writer, event));
        }
      }
    },
  };
}

async function indexUser(db: Knex, event: RecordedEvent): Promise<void> {
  const e = userEvents.decode(event);
  const revision = event.revision.toString();
  const changed = event.created.toISOString();
  const guard = 't.last_revision < excluded.last_revision';
  switch (e.type) {
    case 'UserRegistered':
      await upsertRows(
        db,
        'pm_queue_alert_admins',
        [{ user_id: e.data.userId, role: e.data.role, active: true, last_revision: revision, changed_at: changed }],
        {
          conflict: ['user_id'],
          update: ['role', 'active', 'last_revision', 'changed_at'],
          guard,
        },
      );
      return;
    case 'RoleChanged':
      await upsertRows(
        db,
        'pm_queue_alert_admins',
        [{ user_id: e.data.userId, role: e.data.role, active: true, last_revision: revision, changed_at: changed }],
        {
          conflict: ['user_id'],
          update: ['role', 'last_revision', 'changed_at'],
          guard,
        },
      );
      return;
    case 'UserSuspended':
    case 'UserReactivated':
      await upsertRows(
        db,
        'pm_queue_alert_admins',
        [{ user_id: e.data.userId, role: 'user', active: e.type === 'UserReactivated', last_revision: revision, changed_at: changed }],
        { conflict: ['user_id'], update: ['active', 'last_revision', 'changed_at'], guard },
      );
      return;
    default:
      return;
  }
}

async function notifyAdmins(deps: QueueAlertsDeps, name: string, db: Knex, event: RecordedEvent): Promise<void> {
  const e = queueAlertEvents.decode(event);
  if (e.type !== 'QueueBlockageDetected') return;
  const d = e.data;
  // the admins as of the detection: a row changed after it (a replay from an earlier checkpoint) is not judged on its present
  const admins = await db('pm_queue_alert_admins')
    .where({ role: 'admin', active: true })
    .andWhere('changed_at', '<=', event.created.toISOString())
    .orderBy('user_id')
    .pluck<string[]>('user_id');
  for (const userId of admins) {
    await sendUserNotification(deps, name, event, {
      key: `queue_blocked:${event.id}:${userId}`,
      userId,
      kind: 'queue_blocked',
      data: {
        queue: d.queue,
        waiting: d.waiting,
        paused: d.paused,
        blockedSince: d.blockedSince,
        oldestWaitingSeconds: d.oldestWaitingSeconds,
        thresholdSeconds: d.thresholdSeconds,
        detectedAt: d.detectedAt,
      },
      at: d.detectedAt,
    });
  }
}
