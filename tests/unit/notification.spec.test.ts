import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  MAX_BODY,
  MAX_TITLE,
  notificationAggregate,
  notificationDecider,
  notificationEvents,
  notificationStream,
  type MarkNotificationRead,
  type NotificationEvent,
  type Notify,
  type RecordNotificationEmailed,
} from '../../src/write-model/notification/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(notificationDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const OWNER = 'user-1';
const STRANGER = 'user-2';
const N1 = 'n-1';
const N2 = 'n-2';
const T0 = '2026-03-01T10:00:00.000Z';
const T1 = '2026-03-01T11:00:00.000Z';
const T2 = '2026-03-01T12:00:00.000Z';

const notify1: Notify = {
  type: 'Notify',
  userId: OWNER,
  notificationId: N1,
  kind: 'quota_exceeded',
  title: '配额已用完 / Quota reached',
  body: 'daily_api_calls: 100 of 100',
  data: { service: 'xiaohongshu', feature: 'daily_api_calls', limit: 100, resetsAt: T2 },
  now: T0,
};
const sent1: NotificationEvent = {
  type: 'NotificationSent',
  data: { notificationId: N1, userId: OWNER, kind: 'quota_exceeded', title: notify1.title, body: notify1.body, data: notify1.data, sentAt: T0 },
};
const notify2: Notify = { ...notify1, notificationId: N2, kind: 'payment_received', title: 'Paid', body: 'thanks', data: { orderId: 'o-1' }, now: T1 };
const sent2: NotificationEvent = {
  type: 'NotificationSent',
  data: { notificationId: N2, userId: OWNER, kind: 'payment_received', title: 'Paid', body: 'thanks', data: { orderId: 'o-1' }, sentAt: T1 },
};
const read1: NotificationEvent = { type: 'NotificationRead', data: { notificationId: N1, userId: OWNER, readAt: T2 } };
const markRead1: MarkNotificationRead = { type: 'MarkNotificationRead', notificationId: N1, requestedBy: OWNER, now: T2 };
const emailed: RecordNotificationEmailed = { type: 'RecordNotificationEmailed', notificationId: N1, messageId: 'm-1@relay', now: T1 };
const emailed1: NotificationEvent = { type: 'NotificationEmailed', data: { notificationId: N1, userId: OWNER, messageId: 'm-1@relay', emailedAt: T1 } };

describe('Notification', () => {
  it('lives in its own short stream notification-{notificationId} (no snapshots) and starts empty', () => {
    expect(notificationStream('n')).to.equal('notification-n');
    expect(notificationAggregate.streamName('n')).to.equal('notification-n');
    expect(notificationAggregate.snapshot).to.equal(undefined);
    expect(notificationDecider.initialState()).to.deep.equal({ status: 'none' });
  });

  it('decodes its stored events and refuses data that does not fit', () => {
    for (const event of [sent1, read1, emailed1]) expect(notificationEvents.decode(event)).to.deep.equal(event);
    expect(() => notificationEvents.decode({ type: 'NotificationRead', data: { notificationId: N1 } })).to.throw(/userId/);
    expect(() => notificationEvents.decode({ type: 'AllNotificationsRead', data: {} })).to.throw(/not an event of this aggregate/);
  });

  describe('Notify', () => {
    it('sends a notification on an empty stream', () => {
      spec.given([]).when(notify1).then([sent1]);
      spec.given([]).when(notify2).then([sent2]);
      spec
        .given([])
        .when(notify1)
        .thenState({ status: 'sent', notificationId: N1, userId: OWNER, kind: 'quota_exceeded', read: false, emailedMessageId: null });
    });

    it('trims the title and body', () => {
      spec
        .given([])
        .when({ ...notify1, title: `  ${notify1.title} `, body: ` ${notify1.body}\n` })
        .then([sent1]);
    });

    it('is a no-op once sent (a redelivered trigger), read, mailed or not, whatever it says now', () => {
      spec.given([sent1]).when(notify1).then([]);
      spec
        .given([sent1, read1])
        .when({ ...notify1, now: T2 })
        .then([]);
      spec
        .given([sent1, emailed1])
        .when({ ...notify1, title: 'changed' })
        .then([]);
    });

    it('refuses another user for a sent notification (CONFLICT)', () => {
      spec
        .given([sent1])
        .when({ ...notify1, userId: STRANGER })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('refuses an unknown kind, an empty or long title or body, and a bad now', () => {
      spec
        .given([])
        .when({ ...notify1, kind: 'spam' as never })
        .thenThrows(DomainError, field('kind'));
      spec
        .given([])
        .when({ ...notify1, title: '  ' })
        .thenThrows(DomainError, field('title'));
      spec
        .given([])
        .when({ ...notify1, title: 'x'.repeat(MAX_TITLE + 1) })
        .thenThrows(DomainError, field('title'));
      spec
        .given([])
        .when({ ...notify1, body: 'x'.repeat(MAX_BODY + 1) })
        .thenThrows(DomainError, field('body'));
      spec
        .given([])
        .when({ ...notify1, notificationId: '' })
        .thenThrows(DomainError, field('notificationId'));
      spec
        .given([])
        .when({ ...notify1, now: 'yesterday' })
        .thenThrows(DomainError, field('now'));
    });

    it('refuses data that is not a plain JSON object, or too big', () => {
      spec
        .given([])
        .when({ ...notify1, data: [] as never })
        .thenThrows(DomainError, field('data'));
      spec
        .given([])
        .when({ ...notify1, data: { at: new Date(T0) } })
        .thenThrows(DomainError, field('data.at'));
      spec
        .given([])
        .when({ ...notify1, data: { n: Number.NaN } })
        .thenThrows(DomainError, field('data.n'));
      spec
        .given([])
        .when({ ...notify1, data: { big: 'x'.repeat(5000) } })
        .thenThrows(DomainError, field('data'));
    });

    it('refuses secret-looking keys at any depth, naming the key and never the value', () => {
      for (const key of ['password', 'cookies', 'accessToken', 'credentials', 'proxyPasswd', 'api_key']) {
        spec
          .given([])
          .when({ ...notify1, data: { nested: [{ [key]: 'hunter2-value' }] } })
          .thenThrows(DomainError, (e: DomainError) => {
            return (
              e.code === 'VALIDATION_ERROR' &&
              e.details.field === `data.nested[0].${key}` &&
              !JSON.stringify(e).includes('hunter2') &&
              !e.message.includes('hunter2')
            );
          });
      }
    });
  });

  describe('MarkNotificationRead', () => {
    it('marks the notification read', () => {
      spec.given([sent1]).when(markRead1).then([read1]);
      spec
        .given([sent1, emailed1])
        .when(markRead1)
        .thenState({ status: 'sent', notificationId: N1, userId: OWNER, kind: 'quota_exceeded', read: true, emailedMessageId: 'm-1@relay' });
    });

    it('is a no-op when already read', () => {
      spec.given([sent1, read1]).when(markRead1).then([]);
      spec
        .given([sent1, read1])
        .when({ ...markRead1, now: T0 })
        .then([]);
    });

    it('refuses an unknown notification with NOT_FOUND (an empty stream), and an empty id', () => {
      spec.given([]).when(markRead1).thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([])
        .when({ ...markRead1, notificationId: '' })
        .thenThrows(DomainError, field('notificationId'));
    });

    it('refuses anyone but its user (PERMISSION_DENIED), also once read, and a missing requester', () => {
      spec
        .given([sent1])
        .when({ ...markRead1, requestedBy: STRANGER })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
      spec
        .given([sent1, read1])
        .when({ ...markRead1, requestedBy: STRANGER })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
      spec
        .given([sent1])
        .when({ ...markRead1, requestedBy: undefined as never })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
    });

    it('refuses a bad now', () => {
      spec
        .given([sent1])
        .when({ ...markRead1, now: '' })
        .thenThrows(DomainError, field('now'));
    });
  });

  describe('RecordNotificationEmailed', () => {
    it('records the mail of a notification', () => {
      spec.given([sent1]).when(emailed).then([emailed1]);
      spec
        .given([sent1])
        .when(emailed)
        .thenState({ status: 'sent', notificationId: N1, userId: OWNER, kind: 'quota_exceeded', read: false, emailedMessageId: 'm-1@relay' });
      spec.given([sent1, read1]).when(emailed).then([emailed1]);
    });

    it('is a no-op once mailed, even with another Message-ID (the first stays)', () => {
      spec.given([sent1, emailed1]).when(emailed).then([]);
      spec
        .given([sent1, emailed1])
        .when({ ...emailed, messageId: 'm-2@relay' })
        .then([]);
    });

    it('refuses an unknown notification and an empty Message-ID', () => {
      spec.given([]).when(emailed).thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([sent1])
        .when({ ...emailed, messageId: ' ' })
        .thenThrows(DomainError, field('messageId'));
    });
  });
});
