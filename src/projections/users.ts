import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../subscriptions/consumer.js';
import { combineCodecs } from '../write-model/core/event-codec.js';
import { sessionEvents, type SessionEvent } from '../write-model/session/events.js';
import { userEvents, type UserEvent } from '../write-model/user/events.js';

export const USERS_PROJECTION = 'users-v1';

const codec = combineCodecs<UserEvent | SessionEvent>([userEvents, sessionEvents]);

/**
 * `users` from the User streams (`user-{id}`) and `user_sessions` from the
 * Session streams (`session-{id}`); the `user_email-…` reservations are not
 * read. Secrets are never copied: no passwordHash, refreshTokenHash or
 * resetTokenHash reaches a table.
 *
 * Idempotent, so a replay from any checkpoint changes nothing:
 * - `users.revision` is the last user-stream revision applied. The
 *   registration is an insert that ignores an existing row; every later user
 *   event moves `users.revision` forward (`WHERE revision < event revision`)
 *   together with its changes.
 * - A session row only moves forward: the start is an insert that ignores an
 *   existing row, a refresh applies only over an older one, the end only to
 *   a session not ended yet.
 */
export const usersProjection: Consumer = {
  name: USERS_PROJECTION,
  filter: { streamPrefixes: ['user-', 'session-'], eventTypes: codec.types },
  async handle(events, { tx }) {
    for (const event of events) await apply(tx, event);
  },
};

async function apply(tx: Knex.Transaction, recorded: RecordedEvent): Promise<void> {
  const event = codec.decode(recorded);
  const revision = recorded.revision.toString();

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
      return;
    }
    case 'SessionRefreshed': {
      const d = event.data;
      await tx('user_sessions')
        .where({ id: d.sessionId, user_id: d.userId })
        .andWhere((q) => q.whereNull('last_refreshed_at').orWhere('last_refreshed_at', '<', d.refreshedAt))
        .update({ last_refreshed_at: d.refreshedAt, expires_at: d.expiresAt });
      return;
    }
    case 'SessionEnded': {
      const d = event.data;
      await tx('user_sessions').where({ id: d.sessionId, user_id: d.userId }).whereNull('ended_at').update({ ended_at: d.endedAt, end_reason: d.reason });
      return;
    }
    default:
      break;
  }

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
  }
  await tx('users').where({ id: event.data.userId }).andWhere('revision', '<', revision).update(changes);
}
