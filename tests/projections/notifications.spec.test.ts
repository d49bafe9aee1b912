import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { notificationsProjection } from '../../src/projections/notifications.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('notifications-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const sent = (id: string, userId: string, sentAt: string) =>
    recorded(`notification-${id}`, 'NotificationSent', {
      notificationId: id,
      userId,
      kind: 'quota_exceeded',
      title: 'Quota',
      body: 'used up',
      data: { feature: 'x' },
      sentAt,
    });

  it('inserts a sent notification once and sets read and emailed times once', async () => {
    const id = randomUUID();
    const userId = randomUUID();
    await projectionSpec(knex, notificationsProjection)
      .given([
        sent(id, userId, '2026-12-01T00:00:00.000Z'),
        recorded(`notification-${id}`, 'NotificationRead', { notificationId: id, userId, readAt: '2026-12-01T01:00:00.000Z' }),
        recorded(`notification-${id}`, 'NotificationRead', { notificationId: id, userId, readAt: '2026-12-01T02:00:00.000Z' }),
        recorded(`notification-${id}`, 'NotificationEmailed', { notificationId: id, userId, messageId: '<m@x>', emailedAt: '2026-12-01T03:00:00.000Z' }),
      ])
      .then('notifications', { where: { user_id: userId }, columns: ['id', 'kind', 'read_at', 'emailed_at'] }, [
        { id, kind: 'quota_exceeded', read_at: '2026-12-01T01:00:00.000Z', emailed_at: '2026-12-01T03:00:00.000Z' },
      ]);
  });

  it('keeps every column of a sent notification, its read and emailed times folded in one batch or split across batches', async () => {
    const id = randomUUID();
    const userId = randomUUID();
    const events = [
      sent(id, userId, '2026-12-01T00:00:00.000Z'),
      recorded(`notification-${id}`, 'NotificationEmailed', { notificationId: id, userId, messageId: '<m@x>', emailedAt: '2026-12-01T00:01:00.000Z' }),
      recorded(`notification-${id}`, 'NotificationRead', { notificationId: id, userId, readAt: '2026-12-01T00:02:00.000Z' }),
    ];
    for (const batchSize of [500, 1, 2]) {
      await projectionSpec(knex, notificationsProjection, { batchSize })
        .given(events)
        .then('notifications', { where: { id }, columns: ['user_id', 'kind', 'title', 'body', 'data', 'seq', 'created_at', 'read_at', 'emailed_at'] }, [
          {
            user_id: userId,
            kind: 'quota_exceeded',
            title: 'Quota',
            body: 'used up',
            data: { feature: 'x' },
            seq: events[0]!.position.prepare.toString(),
            created_at: '2026-12-01T00:00:00.000Z',
            read_at: '2026-12-01T00:02:00.000Z',
            emailed_at: '2026-12-01T00:01:00.000Z',
          },
        ]);
    }
  });

  it('keeps the first read and emailed times when later ones, or the sent event again, come in later batches', async () => {
    const id = randomUUID();
    const userId = randomUUID();
    const first = sent(id, userId, '2026-12-01T00:00:00.000Z');
    const read = recorded(`notification-${id}`, 'NotificationRead', { notificationId: id, userId, readAt: '2026-12-01T01:00:00.000Z' });
    const emailed = recorded(`notification-${id}`, 'NotificationEmailed', {
      notificationId: id,
      userId,
      messageId: '<m@x>',
      emailedAt: '2026-12-01T03:00:00.000Z',
    });
    for (const batchSize of [500, 1, 2]) {
      await projectionSpec(knex, notificationsProjection, { batchSize })
        .given([
          first,
          read,
          emailed,
          first,
          recorded(`notification-${id}`, 'NotificationRead', { notificationId: id, userId, readAt: '2026-12-02T00:00:00.000Z' }),
          recorded(`notification-${id}`, 'NotificationEmailed', { notificationId: id, userId, messageId: '<n@x>', emailedAt: '2026-12-02T00:00:00.000Z' }),
        ])
        .then('notifications', { where: { id }, columns: ['read_at', 'emailed_at', 'seq'] }, [
          { read_at: '2026-12-01T01:00:00.000Z', emailed_at: '2026-12-01T03:00:00.000Z', seq: first.position.prepare.toString() },
        ]);
    }
  });

  it("sets no time through another user's event", async () => {
    const id = randomUUID();
    const [owner, stranger] = [randomUUID(), randomUUID()];
    await projectionSpec(knex, notificationsProjection)
      .given([
        sent(id, owner, '2026-12-01T00:00:00.000Z'),
        recorded(`notification-${id}`, 'NotificationRead', { notificationId: id, userId: stranger, readAt: '2026-12-01T01:00:00.000Z' }),
        recorded(`notification-${id}`, 'NotificationEmailed', {
          notificationId: id,
          userId: stranger,
          messageId: '<m@x>',
          emailedAt: '2026-12-01T01:00:00.000Z',
        }),
      ])
      .then('notifications', { where: { id }, columns: ['user_id', 'read_at', 'emailed_at'] }, [{ user_id: owner, read_at: null, emailed_at: null }]);
  });

  it("keeps one user's notifications apart from another's", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const [u1, u2] = [randomUUID(), randomUUID()];
    await projectionSpec(knex, notificationsProjection)
      .given([sent(a, u1, '2026-12-01T00:00:00.000Z'), sent(b, u2, '2026-12-01T00:00:01.000Z')])
      .then('notifications', { where: { user_id: u1 }, columns: ['id', 'read_at'] }, [{ id: a, read_at: null }]);
  });
});
