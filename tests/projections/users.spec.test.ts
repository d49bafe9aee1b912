import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { usersProjection } from '../../src/projections/users.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

/** One batch, every event alone, and pairs: a row's events folded in one batch or split across batches leave the same row. */
const BATCH_SIZES = [500, 1, 2];

describe('users-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 0, minute)).toISOString();
  const USER_COLUMNS = ['email', 'display_name', 'avatar_url', 'timezone', 'role', 'status', 'email_verified_at', 'registered_at', 'updated_at', 'revision'];

  const userEvents = (userId: string) => {
    const stream = `user-${userId}`;
    const e = (type: string, data: Record<string, unknown>) => recorded(stream, type, { userId, ...data });
    return [
      e('UserRegistered', { email: `${userId}@x.test`, passwordHash: '$argon2id$h', displayName: 'Ann', role: 'user', registeredAt: at(0) }),
      e('ProfileUpdated', { displayName: 'Anna', avatarUrl: 'https://x.test/a.png', updatedAt: at(1) }),
      e('ProfileUpdated', { timezone: 'Asia/Shanghai', updatedAt: at(2) }),
      e('PasswordResetRequested', { resetTokenHash: 'f'.repeat(64), expiresAt: at(60), requestedAt: at(3) }),
      e('PasswordChanged', { passwordHash: '$argon2id$h2', via: 'reset', keptSession: null, sessionEpoch: 1, changedAt: at(4) }),
      e('RoleChanged', { role: 'admin', previousRole: 'user', changedAt: at(5) }),
      e('UserSuspended', { reason: 'abuse', sessionEpoch: 2, suspendedAt: at(6) }),
      e('ProfileUpdated', { avatarUrl: null, updatedAt: at(7) }),
      e('UserReactivated', { reactivatedAt: at(8) }),
      e('EmailVerificationRequested', { verifyTokenHash: 'e'.repeat(64), expiresAt: at(120), requestedAt: at(9) }),
      e('EmailVerified', { email: `${userId}@x.test`, verifiedAt: at(10) }),
    ];
  };

  it('applies every user event, in one batch or split across batches', async () => {
    const userId = randomUUID();
    const events = userEvents(userId);
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, usersProjection, { batchSize })
        .given(events)
        .then('users', { where: { id: userId }, columns: USER_COLUMNS }, [
          {
            email: `${userId}@x.test`,
            display_name: 'Anna',
            avatar_url: null,
            timezone: 'Asia/Shanghai',
            role: 'admin',
            status: 'active',
            email_verified_at: at(10),
            registered_at: at(0),
            updated_at: at(10),
            revision: '10',
          },
        ]);
    }
  });

  it('stops at the suspension when the events end there, and a redelivered older event does not move the row back', async () => {
    const userId = randomUUID();
    const events = userEvents(userId).slice(0, 7);
    // after the suspension: the profile change (revision 1) and the role change (revision 5) again
    const stale = [events[1]!, events[5]!];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, usersProjection, { batchSize })
        .given([...events, ...stale])
        .then('users', { where: { id: userId }, columns: ['display_name', 'avatar_url', 'role', 'status', 'updated_at', 'revision'] }, [
          { display_name: 'Anna', avatar_url: 'https://x.test/a.png', role: 'admin', status: 'suspended', updated_at: at(6), revision: '6' },
        ]);
    }
  });

  it('keeps the username (from the registration or a change) and the notification preferences', async () => {
    const userId = randomUUID();
    const stream = `user-${userId}`;
    const e = (type: string, data: Record<string, unknown>) => recorded(stream, type, { userId, ...data });
    const prefs = { quota_exceeded: { inApp: true, mail: false } };
    const events = [
      e('UserRegistered', { email: `${userId}@x.test`, passwordHash: '$argon2id$h', displayName: 'Ann', username: 'ann', role: 'user', registeredAt: at(0) }),
      e('ProfileUpdated', { notificationPreferences: prefs, updatedAt: at(1) }),
      e('ProfileUpdated', { username: 'ann_w', previousUsername: 'ann', updatedAt: at(2) }),
    ];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, usersProjection, { batchSize })
        .given(events)
        .then('users', { where: { id: userId }, columns: ['username', 'notification_preferences', 'updated_at', 'revision'] }, [
          { username: 'ann_w', notification_preferences: prefs, updated_at: at(2), revision: '2' },
        ]);
    }
    const unnamed = randomUUID();
    await projectionSpec(knex, usersProjection)
      .given(userEvents(unnamed).slice(0, 1))
      .then('users', { where: { id: unnamed }, columns: ['username', 'notification_preferences'] }, [{ username: null, notification_preferences: {} }]);
  });

  it('registers a user once: a second registration of the same id changes nothing', async () => {
    const userId = randomUUID();
    const [registered] = userEvents(userId);
    const again = recorded(
      `user-${userId}`,
      'UserRegistered',
      { userId, email: 'other@x.test', passwordHash: 'h', displayName: 'Other', role: 'admin', registeredAt: at(30) },
      { revision: 0n },
    );
    await projectionSpec(knex, usersProjection)
      .given([registered!, again])
      .then('users', { where: { id: userId }, columns: ['display_name', 'role', 'revision'] }, [{ display_name: 'Ann', role: 'user', revision: '0' }]);
  });

  it('keeps a session: started once, the latest refresh, the first end; an older refresh redelivered later changes nothing', async () => {
    const userId = randomUUID();
    const sessionId = randomUUID();
    const stream = `session-${sessionId}`;
    const e = (type: string, data: Record<string, unknown>) => recorded(stream, type, { userId, sessionId, ...data });
    const started = e('SessionStarted', {
      refreshTokenHash: 'a'.repeat(64),
      expiresAt: at(100),
      userAgent: 'UA',
      ip: '10.0.0.1',
      sessionEpoch: 0,
      startedAt: at(0),
    });
    const refresh1 = e('SessionRefreshed', { refreshTokenHash: 'b'.repeat(64), expiresAt: at(110), refreshedAt: at(10) });
    const refresh2 = e('SessionRefreshed', { refreshTokenHash: 'c'.repeat(64), expiresAt: at(120), refreshedAt: at(20) });
    const ended = e('SessionEnded', { reason: 'logout', endedAt: at(30) });
    const endedAgain = e('SessionEnded', { reason: 'revoked', endedAt: at(40) });
    const other = randomUUID();
    const otherStarted = recorded(`session-${other}`, 'SessionStarted', {
      userId,
      sessionId: other,
      refreshTokenHash: 'd'.repeat(64),
      expiresAt: at(200),
      userAgent: null,
      ip: null,
      sessionEpoch: 0,
      startedAt: at(50),
    });
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, usersProjection, { batchSize })
        .given([started, refresh1, otherStarted, refresh2, ended, refresh1, endedAgain, started])
        .then(
          'user_sessions',
          {
            where: { user_id: userId },
            columns: ['id', 'user_agent', 'ip', 'started_at', 'last_refreshed_at', 'expires_at', 'ended_at', 'end_reason'],
            orderBy: ['started_at'],
          },
          [
            {
              id: sessionId,
              user_agent: 'UA',
              ip: '10.0.0.1',
              started_at: at(0),
              last_refreshed_at: at(20),
              expires_at: at(120),
              ended_at: at(30),
              end_reason: 'logout',
            },
            { id: other, user_agent: null, ip: null, started_at: at(50), last_refreshed_at: null, expires_at: at(200), ended_at: null, end_reason: null },
          ],
        );
    }
  });

  it('folds no refresh or end of another user into a session started in the same batch', async () => {
    const userId = randomUUID();
    const sessionId = randomUUID();
    const e = (type: string, data: Record<string, unknown>) => recorded(`session-${sessionId}`, type, { userId, sessionId, ...data });
    const events = [
      e('SessionStarted', { refreshTokenHash: 'a'.repeat(64), expiresAt: at(100), userAgent: null, ip: null, sessionEpoch: 0, startedAt: at(0) }),
      e('SessionRefreshed', { userId: randomUUID(), refreshTokenHash: 'b'.repeat(64), expiresAt: at(110), refreshedAt: at(10) }),
      e('SessionEnded', { userId: randomUUID(), reason: 'logout', endedAt: at(30) }),
    ];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, usersProjection, { batchSize })
        .given(events)
        .then('user_sessions', { where: { id: sessionId }, columns: ['user_id', 'last_refreshed_at', 'expires_at', 'ended_at'] }, [
          { user_id: userId, last_refreshed_at: null, expires_at: at(100), ended_at: null },
        ]);
    }
  });

  it('takes the first of two refreshes at the same time', async () => {
    const userId = randomUUID();
    const sessionId = randomUUID();
    const e = (type: string, data: Record<string, unknown>) => recorded(`session-${sessionId}`, type, { userId, sessionId, ...data });
    const events = [
      e('SessionStarted', { refreshTokenHash: 'a'.repeat(64), expiresAt: at(100), userAgent: null, ip: null, sessionEpoch: 0, startedAt: at(0) }),
      e('SessionRefreshed', { refreshTokenHash: 'b'.repeat(64), expiresAt: at(110), refreshedAt: at(10) }),
      e('SessionRefreshed', { refreshTokenHash: 'c'.repeat(64), expiresAt: at(999), refreshedAt: at(10) }),
    ];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, usersProjection, { batchSize })
        .given(events)
        .then('user_sessions', { where: { id: sessionId }, columns: ['last_refreshed_at', 'expires_at'] }, [
          { last_refreshed_at: at(10), expires_at: at(110) },
        ]);
    }
  });
});
