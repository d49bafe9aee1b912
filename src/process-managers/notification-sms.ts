import { parseSmsNumber } from '../application/sms.js';
import type { Consumer } from '../consumers/consumer.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { eventIdsFrom, uuidFromName } from '../write-model/core/event-ids.js';
import { notificationEvents } from '../write-model/notification/events.js';
import { smsMessageAggregate } from '../write-model/sms-message/decider.js';
import { smsUnitPriceFen } from '../write-model/sms-message/prices.js';
import { userAggregate } from '../write-model/user/decider.js';
import { react, type ProcessManagerDeps } from './shared.js';
import { characterCount, truncateCharacters } from '../write-model/core/characters.js';

export const NOTIFICATION_SMS = 'pm-notification-sms';

export interface NotificationSmsDeps extends ProcessManagerDeps {
  /** SMS is configured here (the sms-send queue exists): otherwise nothing is requested */
  smsConfigured: boolean;
}

/** Long enough for the title and the start of the body, at most three UCS-2 segments. */
export const NOTIFICATION_SMS_MAX = 200;

/** The SMS a notification is sent as: name-based on the notification, so a redelivered NotificationSent names the same message. */
export function notificationSmsId(notificationId: string): string {
  return uuidFromName(`notification-sms:${notificationId}`);
}

/** The title, then as much of the body as fits. */
export function notificationSmsText(title: string, body: string): string {
  const text = `${title}\n${body}`.trim();
  return characterCount(text) > NOTIFICATION_SMS_MAX ? `${truncateCharacters(text, NOTIFICATION_SMS_MAX - 1)}…` : text;
}

/**
 * NotificationSent whose channels include `sms` → an SMS to the user's
 * verified number through the SMS pipeline (SmsRequested on
 * `sms_message-{id}`; pm-sms-messages queues it, the worker sends it).
 *
 * Idempotent: the message id is name-based on the notification id and the
 * event ids on the triggering event, so a repeat is the decider's no-op.
 * Skipped: no verified number when the notification is handled (the
 * preference stays, nothing is queued), a number of a country not served,
 * or SMS not configured on this platform.
 */
export function createNotificationSms(deps: NotificationSmsDeps, name = NOTIFICATION_SMS): Consumer {
  return {
    name,
    filter: { streamPrefixes: ['notification-'], eventTypes: ['NotificationSent'] },
    batchSize: 100,
    async handle(events) {
      if (!deps.smsConfigured) return;
      for (const event of events) {
        if (event.type !== 'NotificationSent') continue;
        const decoded = notificationEvents.decode(event);
        if (decoded.type !== 'NotificationSent' || decoded.data.channels?.sms !== true) continue;
        const n = decoded.data;
        await react(deps, name, event, async () => {
          const { state } = await load(deps.store, userAggregate, n.userId);
          if (state.phone === null || state.status !== 'active') return;
          const number = parseSmsNumber(state.phone.e164, 'CN');
          if (!number.ok || smsUnitPriceFen(number.country) === null) {
            deps.logger?.warn({ processManager: name, notificationId: n.notificationId }, 'notification sms skipped: number not served');
            return;
          }
          const messageId = notificationSmsId(n.notificationId);
          await handle(
            deps.store,
            smsMessageAggregate,
            messageId,
            {
              type: 'RequestSms',
              messageId,
              ownerId: n.userId,
              to: number.e164,
              country: number.country,
              callingCode: number.callingCode,
              text: notificationSmsText(n.title, n.body),
              // the platform's message: not charged to the user's balance
              purpose: 'notification',
              now: n.sentAt,
            },
            { context: contextFromEvent(event, name), eventIds: eventIdsFrom(`${name}:${event.id}`) },
          );
        });
      }
    },
  };
}
