import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../subscriptions/consumer.js';
import type { UserEvent } from '../write-model/user/events.js';

export const USERS_PROJECTION = 'users-v1';

const USER_EVENT_TYPES: readonly UserEvent['type'][] = [
  'UserRegistered',
  'ProfileUpdated',
  'SessionStarted',
  'SessionRefreshed',
  'SessionEnded',
  'PasswordResetRequested',
  'PasswordChanged',
  'RoleChanged',
  'UserSuspended',
  'UserReactivated',
];

/**
 * `users` and `user_sessions` from the User streams (`user-{id}`; the
 * `user_email-…` reservations are not read). Secrets are never copied: no
 * passwordHash, refreshTokenHash or resetTokenHash reaches a table.
 *
 * Idempotent: `users.revision` is the last user-stream revision applied. The
 * registration is an insert that ignores an existing row; every later event
 * first moves `users.revision` forward (`WHERE revision < event revision`)
 * and changes anything (the user row, its sessions) only when that update
 * hit the row. A replay from any checkpoint therefore changes nothing.
 */
export const usersProjection: Consumer = {
  name: USERS_PROJECTION,
  filter: { streamPrefixes: ['user-'], eventTypes: USER_EVENT_TYPES },
  async handle(events, { tx }) {
    for (const event of events) await apply(tx, event);
  },
};

async function apply(tx: Knex.Transaction, recorded: RecordedEvent): Promise<void> {
  const event = { type: recorded.type, data: recorded.data } as unknown as UserEvent;
  const revision = recorded.revision.toString();

  if (event.type === 'UserRegistered') {
    const d = event.data;
    await tx('users')
      .insert({
        id: d.userId,
        email: d.email,
        display_name: d.displayName,
        avatar_url: null,
        timezone: null,
        role: d.role,
        status: 'active',
        registered_at: d.registeredAt,
        updated_at: d.registeredAt,
        revision,
      })
      .onConflict('id')
      .ignore();
    return;
  }

  const changes: Record<string, unknown> = { revision };
  switch (event.type) {
    case 'ProfileUpdated': {
      const d = event.data;
      if (d.displayName !== undefined) changes.display_name = d.displayName;
      if (d.avatarUrl !== undefined) changes.avatar_url = d.avatarUrl;
      if (d.timezone !== undefined) changes.timezone = d.timezone;
      changes.updated_at = d.updatedAt;
      break;
    }
    case 'RoleChanged':
      changes.role = event.data.role;
      changes.updated_at = event.data.changedAt;
      break;
    case 'UserSuspended':
      changes.status = 'suspended';
      changes.updated_at = event.data.suspendedAt;
      break;
    case 'UserReactivated':
      changes.status = 'active';
      changes.updated_at = event.data.reactivatedAt;
      break;
    case 'PasswordChanged':
      changes.updated_at = event.data.changedAt;
      break;
    default:
      break;
  }
  const userId = event.data.userId;
  const hit = await tx('users').where({ id: userId }).andWhere('revision', '<', revision).update(changes);
  if (hit === 0) return; // already applied (a replay), or a stream without registration

  switch (event.type) {
    case 'SessionStarted': {
      const d = event.data;
      await tx('user_sessions')
        .insert({
          id: d.sessionId,
          user_id: d.userId,
          user_agent: d.userAgent,
          ip: d.ip,
          started_at: d.startedAt,
          last_refreshed_at: null,
          expires_at: d.expiresAt,
          ended_at: null,
          end_reason: null,
        })
        .onConflict('id')
        .ignore();
      break;
    }
    case 'SessionRefreshed': {
      const d = event.data;
      await tx('user_sessions').where({ id: d.sessionId, user_id: d.userId }).update({ last_refreshed_at: d.refreshedAt, expires_at: d.expiresAt });
      break;
    }
    case 'SessionEnded': {
      const d = event.data;
      await tx('user_sessions').where({ id: d.sessionId, user_id: d.userId }).update({ ended_at: d.endedAt, end_reason: d.reason });
      break;
    }
    default:
      break;
  }
}
