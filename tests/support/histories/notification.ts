import fc from 'fast-check';
import { NOTIFICATION_KINDS, notificationAggregate, type NotificationCommand, type NotificationData } from '../../../src/write-model/notification/index.js';
import { historySource, sequence } from './harness.js';

/**
 * `data` as the notify-user process manager builds it: plain JSON under a few
 * keys. The keys include names Object.prototype has (`__proto__`,
 * `constructor`), as an own key (JSON.parse and Object.fromEntries make
 * those), and rarely one that names a secret (refused).
 */
const value: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('w-1', 'xiaohongshu', '今日配额已用完', 42, 0, 3.5, true, null),
  fc.constant(['n-1', 'n-2']),
  fc.constant({ limit: 100, used: 100 }),
);
const key = fc.oneof(
  { arbitrary: fc.constantFrom('workflowId', 'feature', 'limit', 'orderId', 'items', 'nested'), weight: 24 },
  { arbitrary: fc.constantFrom('__proto__', 'constructor'), weight: 2 },
  { arbitrary: fc.constant('accessToken'), weight: 1 },
);
const data: fc.Arbitrary<NotificationData> = fc.array(fc.tuple(key, value), { maxLength: 4 }).map((entries) => Object.fromEntries(entries));

/**
 * One notification (`notification-n1`): sent (and redelivered), read by its
 * user (again: a no-op; by someone else: refused), mailed (once; a second
 * Message-ID is a no-op) — commands before it was sent are NOT_FOUND; a Notify
 * for another user is CONFLICT; titles and bodies padded, empty or too long.
 */
export const notificationHistories = historySource(
  notificationAggregate,
  (() => {
    // whether the history has sent the command that creates the stream yet
    let opened = false;
    return sequence(
      fc.record({
        kind: fc.constantFrom('notify', 'notify', 'read', 'read', 'emailed', 'emailed'),
        // every history opens with the command that creates the stream; one in ten after one other command first (NOT_FOUND)
        early: fc.oneof({ arbitrary: fc.constant(false), weight: 9 }, { arbitrary: fc.constant(true), weight: 1 }),
        user: fc.oneof({ arbitrary: fc.constant('u1'), weight: 8 }, { arbitrary: fc.constant('u2'), weight: 1 }),
        notificationKind: fc.constantFrom(...NOTIFICATION_KINDS),
        title: fc.oneof(
          { arbitrary: fc.constantFrom('Daily quota reached', '  Account needs attention  ', '采集失败'), weight: 12 },
          { arbitrary: fc.constantFrom('   ', 'x'.repeat(201)), weight: 1 },
        ),
        body: fc.constantFrom('Your workflow paused until tomorrow.', 'Reconnect the account to go on.\nThe workflows using it are paused.'),
        data,
        messageId: fc.constantFrom('<m1@mail.example.com>', '<m2@mail.example.com>'),
      }),
      (c, now, index): NotificationCommand => {
        if (index === 0) opened = false;
        const opening = !opened && !(index === 0 && c.early);
        if (opening) opened = true;
        const notificationId = 'n1';
        switch (opening ? 'notify' : c.kind) {
          case 'notify':
            // the first Notify is the process manager's for u1, with a title it would write
            return {
              type: 'Notify',
              userId: opening ? 'u1' : c.user,
              notificationId,
              kind: c.notificationKind,
              title: opening ? 'Daily quota reached' : c.title,
              body: c.body,
              data: c.data,
              now,
            };
          case 'read':
            return { type: 'MarkNotificationRead', notificationId, requestedBy: c.user, now };
          case 'emailed':
            return { type: 'RecordNotificationEmailed', notificationId, messageId: c.messageId, now };
        }
      },
      10,
    );
  })(),
);
