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
    recorded(`notification-${id}`, 'NotificationSent', { notificationId: id, userId, kind: 'quota_exceeded', title: 'Quota', body: 'used up', data: { feature: 'x' }, sentAt });

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

  it('keeps one user\'s notifications apart from another\'s', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const [u1, u2] = [randomUUID(), randomUUID()];
    await projectionSpec(knex, notificationsProjection)
      .given([sent(a, u1, '2026-12-01T00:00:00.000Z'), sent(b, u2, '2026-12-01T00:00:01.000Z')])
      .then('notifications', { where: { user_id: u1 }, columns: ['id', 'read_at'] }, [{ id: a, read_at: null }]);
  });
});
