import type { Consumer } from '../consumers/consumer.js';
import { userEvents } from '../write-model/user/events.js';
import { react } from './shared.js';
import { sendUserNotification, type UserNotificationDeps } from './user-notifications.js';

export const MFA_RESET_NOTIFICATIONS = 'pm-mfa-reset-notifications';

/**
 * MfaReset (an admin turned the user's second factors off) → a notification
 * of kind `mfa_reset` to the user, in-app and by mail as their preferences
 * say, with the admin's reason: if they did not ask for it, they learn it at
 * once. Idempotent: the notification is named after the event.
 */
export function createMfaResetNotifications(deps: UserNotificationDeps, name = MFA_RESET_NOTIFICATIONS): Consumer {
  return {
    name,
    filter: { streamPrefixes: ['user-'], eventTypes: ['MfaReset'] },
    batchSize: 50,
    async handle(events) {
      for (const event of events) {
        if (event.type !== 'MfaReset') continue;
        const decoded = userEvents.decode(event);
        if (decoded.type !== 'MfaReset') continue;
        const d = decoded.data;
        await react(deps, name, event, async () => {
          await sendUserNotification(deps, name, event, {
            key: `mfa_reset:${event.id}`,
            userId: d.userId,
            kind: 'mfa_reset',
            data: { reason: d.reason, resetAt: d.resetAt },
            at: d.resetAt,
          });
        });
      }
    },
  };
}
