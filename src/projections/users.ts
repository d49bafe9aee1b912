import type { Knex } from 'knex';
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
    const profiles = new ProfileUpdates();
    for (const recorded of events) {
      const event = codec.decode(recorded);
      if (event.type === 'ProfileUpdated') {
        profiles.add(event.data, recorded.revision);
        continue;
      }
      // anything else about a user lands after that user's earlier profile changes
      if ('userId' in event.data && !event.type.startsWith('Session')) await profiles.flush(tx, event.data.userId);
      await apply(tx, event, recorded.revision.toString());
    }
    await profiles.flushAll(tx);
  },
};

/**
 * A batch's profile changes folded per user into one update: a busy user's
 * hundreds of ProfileUpdated in a batch cost one statement. A user's events
 * come in stream order, so the merge (later fields over earlier ones, the
 * last revision) is what applying them one by one leaves; the revision guard
 * keeps a redelivered batch from going backwards.
 */
class ProfileUpdates {
  private readonly byUser = new Map<string, { changes: Record<string, unknown>; revision: bigint }>();

  add(d: Extract<UserEvent, { type: 'ProfileUpdated' }>['data'], revision: bigint): void {
    const merged = this.byUser.get(d.userId) ?? { changes: {}, revision };
    if (d.displayName !== undefined) merged.changes.display_name = d.displayName;
    if (d.avatarUrl !== undefined) merged.changes.avatar_url = d.avatarUrl;
    if (d.timezone !== undefined) merged.changes.timezone = d.timezone;
    merged.changes.updated_at = d.updatedAt;
    merged.revision = revision;
    this.byUser.set(d.userId, merged);
  }

  async flush(tx: Knex.Transaction, userId: string): Promise<void> {
    const merged = this.byUser.get(userId);
    if (!merged) return;
    this.byUser.delete(userId);
    const revision = merged.revision.toString();
    await tx('users').where({ id: userId }).andWhere('revision', '<', revision).update({ ...merged.changes, revision });
  }

  async flushAll(tx: Knex.Transaction): Promise<void> {
    for (const userId of [...this.byUser.keys()]) await this.flush(tx, userId);
  }
}

async function apply(tx: Knex.Transaction, event: UserEvent | SessionEvent, revision: string): Promise<void> {
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
    // ProfileUpdated never comes here: handle() folds a batch's profile changes (ProfileUpdates)
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
