import type { Consumer } from '../consumers/consumer.js';
import { userEvents } from '../write-model/user/events.js';
import { react } from './shared.js';
import { sendUserNotification, type UserNotificationDeps } from './user-notifications.js';

export const PASSWORD_CHANGE_NOTIFICATIONS = 'pm-password-change-notifications';

/** A change older than this when it is first seen is not told (a first run over the history). */
export const PASSWORD_CHANGE_NOTICE_MS = 24 * 60 * 60 * 1000;

/**
 * PasswordChanged (signed in, or with a reset link) → a notification of
 * kind `login_changed` to the user, in-app and by mail as their
 * preferences say: one who did not make the change learns of it at once.
 * A change already a day old when this process manager first reads it (it
 * starts at the beginning of the history) is not told: that news is stale.
 * Idempotent: the notification is named after the event.
 */
export function createPasswordChangeNotifications(deps: UserNotificationDeps & { now?: () => Date }, name = PASSWORD_CHANGE_NOTIFICATIONS): Consumer {
  const now = deps.now ?? (() => new Date());
  return {
    name,
    filter: { streamPrefixes: ['user-'], eventTypes: ['PasswordChanged'] },
    batchSize: 50,
    async handle(events) {
      for (const event of events) {
        if (event.type !== 'PasswordChanged') continue;
        const decoded = userEvents.decode(event);
        if (decoded.type !== 'PasswordChanged') continue;
        const d = decoded.data;
        if (now().getTime() - Date.parse(d.changedAt) > PASSWORD_CHANGE_NOTICE_MS) continue;
        await react(deps, name, event, async () => {
          await sendUserNotification(deps, name, event, {
            key: `password_changed:${event.id}`,
            userId: d.userId,
            kind: 'login_changed',
            data: { via: d.via, changedAt: d.changedAt },
            at: d.changedAt,
          });
        });
      }
    },
  };
}
