import type { Knex } from 'knex';
import type { Consumer } from '../consumers/consumer.js';
import { combineCodecs } from '../write-model/core/event-codec.js';
import { sessionEvents, type SessionEvent } from '../write-model/session/events.js';
import { userEvents, type UserEvent } from '../write-model/user/events.js';
import { micros } from './instants.js';
import { insertSkipped, patchRows, selectRows, upsertRows, type Row } from './sql-batch.js';

export const USERS_PROJECTION = 'users-v1';

const codec = combineCodecs<UserEvent | SessionEvent>([userEvents, sessionEvents]);

/**
 * `users` from the User streams (`user-{id}`) and `user_sessions` from the
 * Session streams (`session-{id}`); the `user_email-…` reservations are not
 * read. Secrets are never copied: no passwordHash, refreshTokenHash,
 * resetTokenHash, TOTP secret, recovery-code or phone-code hash reaches a
 * table (only the factors' status, how many codes are left, the verified number).
 *
 * A batch is folded in memory and written with a few statements, whatever
 * its size. Idempotent, so a replay from any checkpoint changes nothing:
 * - `users.revision` is the last user-stream revision applied. The
 *   registration creates the row unless it exists; every later user event
 *   applies only above the row's revision (read, locked, at the start of
 *   the batch) and moves it, and the update is guarded the same way.
 * - A session row only moves forward: the start creates it unless it
 *   exists, a refresh applies only over an older one, the end only to a
 *   session not ended yet.
 */
export const usersProjection: Consumer = {
  name: USERS_PROJECTION,
  filter: { streamPrefixes: ['user-', 'session-'], eventTypes: codec.types },
  async handle(events, { tx }) {
    const users: Decoded<UserEvent>[] = [];
    const sessions: SessionEvent[] = [];
    for (const recorded of events) {
      const event = codec.decode(recorded);
      if (isSessionEvent(event)) sessions.push(event);
      else users.push({ event, revision: recorded.revision });
    }
    await writeUsers(tx, users);
    await writeSessions(tx, sessions);
  },
};

interface Decoded<E> {
  event: E;
  revision: bigint;
}

function isSessionEvent(event: UserEvent | SessionEvent): event is SessionEvent {
  return event.type === 'SessionStarted' || event.type === 'SessionRefreshed' || event.type === 'SessionEnded';
}

/**
 * Each user's events in stream order over the row as the batch finds it:
 * new rows are inserted whole, existing ones patched with the columns the
 * applied events set (later over earlier) and the last revision.
 */
async function writeUsers(tx: Knex.Transaction, events: Decoded<UserEvent>[]): Promise<void> {
  if (events.length === 0) return;
  const ids = [...new Set(events.map((e) => e.event.data.userId))];
  const current = await selectRows<{ id: string; revision: string }>(
    tx,
    'users',
    ids.map((id) => ({ id })),
    { key: ['id'], columns: ['id', 'revision'], forUpdate: true },
  );
  const rows = new Map<string, { revision: bigint; insert?: Row; patch?: Row }>(current.map((r) => [r.id, { revision: BigInt(r.revision) }]));

  for (const { event, revision } of events) {
    const id = event.data.userId;
    const row = rows.get(id);
    if (event.type === 'UserRegistered') {
      if (row) continue; // registered already
      const d = event.data;
      rows.set(id, {
        revision,
        insert: {
          id,
          email: d.email,
          display_name: d.displayName,
          username: d.username ?? null,
          notification_preferences: {},
          avatar_url: null,
          timezone: null,
          role: d.role,
          status: 'active',
          registered_at: d.registeredAt,
          updated_at: d.registeredAt,
          revision: revision.toString(),
          // every column a later event of the batch may set: the batch's new rows are inserted in one statement, which
          // gives a column missing from one row NULL, not its default
          ...UNSET,
        },
      });
      continue;
    }
    if (!row || revision <= row.revision) continue; // no such user, or applied already
    const target = row.insert ?? (row.patch ??= { id });
    Object.assign(target, changesOf(event), { revision: revision.toString() });
    row.revision = revision;
  }

  const inserts = [...rows.values()].flatMap((r) => (r.insert ? [r.insert] : []));
  const patches = [...rows.values()].flatMap((r) => (r.patch ? [r.patch] : []));
  await upsertRows(tx, 'users', inserts, { conflict: ['id'] });
  await patchRows(tx, 'users', patches, { key: ['id'], guard: 't.revision < n.revision' });
}

/** A new user's columns that only later events set, at their defaults. */
const UNSET: Row = {
  email_verified_at: null,
  mfa_totp: 'off',
  mfa_recovery_codes_left: 0,
  phone_e164: null,
  phone_verified_at: null,
  mfa_sms: false,
};

/** The columns a user event (after the registration) sets. */
function changesOf(event: Exclude<UserEvent, { type: 'UserRegistered' }>): Row {
  switch (event.type) {
    case 'ProfileUpdated': {
      const d = event.data;
      const changes: Row = { updated_at: d.updatedAt };
      if (d.displayName !== undefined) changes.display_name = d.displayName;
      if (d.avatarUrl !== undefined) changes.avatar_url = d.avatarUrl;
      if (d.timezone !== undefined) changes.timezone = d.timezone;
      if (d.username !== undefined) changes.username = d.username;
      if (d.notificationPreferences !== undefined) changes.notification_preferences = d.notificationPreferences;
      return changes;
    }
    case 'RoleChanged':
      return { role: event.data.role, updated_at: event.data.changedAt };
    case 'UserSuspended':
      return { status: 'suspended', updated_at: event.data.suspendedAt };
    case 'UserReactivated':
      return { status: 'active', updated_at: event.data.reactivatedAt };
    case 'PasswordChanged':
      return { updated_at: event.data.changedAt };
    case 'EmailVerified':
      return { email_verified_at: event.data.verifiedAt, updated_at: event.data.verifiedAt };
    // the second factor's status and the recovery codes left; never the sealed secret or a code's hash
    case 'TotpEnrollmentStarted':
      return { mfa_totp: 'pending', mfa_recovery_codes_left: 0, updated_at: event.data.startedAt };
    case 'TotpEnabled':
      return { mfa_totp: 'on', mfa_recovery_codes_left: event.data.recoveryCodeHashes.length, updated_at: event.data.enabledAt };
    case 'RecoveryCodeUsed':
      return { mfa_recovery_codes_left: event.data.recoveryCodesLeft, updated_at: event.data.usedAt };
    case 'RecoveryCodesRegenerated':
      return { mfa_recovery_codes_left: event.data.recoveryCodeHashes.length, updated_at: event.data.regeneratedAt };
    case 'TotpDisabled':
      return { mfa_totp: 'off', mfa_recovery_codes_left: 0, updated_at: event.data.disabledAt };
    // the verified number and whether SMS is a second factor; never a code's hash
    case 'PhoneNumberVerified':
      return { phone_e164: event.data.phoneE164, phone_verified_at: event.data.verifiedAt, updated_at: event.data.verifiedAt };
    case 'PhoneNumberRemoved':
      return { phone_e164: null, phone_verified_at: null, mfa_sms: false, updated_at: event.data.removedAt };
    case 'SmsMfaEnabled':
      return { mfa_sms: true, updated_at: event.data.enabledAt };
    case 'SmsMfaDisabled':
      return { mfa_sms: false, updated_at: event.data.disabledAt };
    case 'MfaReset':
      return { mfa_totp: 'off', mfa_recovery_codes_left: 0, mfa_sms: false, updated_at: event.data.resetAt };
    case 'PhoneVerificationStarted':
    case 'PasswordResetRequested':
    case 'EmailVerificationRequested':
      return {}; // only the revision moves
  }
}

/**
 * Sessions in at most three statements: the starts (first one per session),
 * the latest refresh per session (the first of equal times, as applying them
 * one by one leaves it), the first end per session. A session that starts in
 * the batch is inserted with its refresh and end folded in (its new row
 * would pass both guards); only the sessions whose row was there already, or
 * that did not start in the batch, are patched, each patch keeping its guard
 * in SQL, so the order of the batch's times against the row's is Postgres's.
 */
async function writeSessions(tx: Knex.Transaction, events: SessionEvent[]): Promise<void> {
  if (events.length === 0) return;
  const starts = new Map<string, Row>();
  const refreshes = new Map<string, { row: Row; at: bigint }>();
  const ends = new Map<string, Row>();
  for (const event of events) {
    const d = event.data;
    const key = `${d.sessionId} ${d.userId}`;
    switch (event.type) {
      case 'SessionStarted': {
        const s = event.data;
        if (!starts.has(s.sessionId)) {
          starts.set(s.sessionId, {
            id: s.sessionId,
            user_id: s.userId,
            user_agent: s.userAgent,
            ip: s.ip,
            started_at: s.startedAt,
            last_refreshed_at: null,
            expires_at: s.expiresAt,
            ended_at: null,
            end_reason: null,
          });
        }
        break;
      }
      case 'SessionRefreshed': {
        const r = event.data;
        const at = micros(r.refreshedAt);
        const before = refreshes.get(key);
        if (!before || at > before.at)
          refreshes.set(key, { at, row: { id: r.sessionId, user_id: r.userId, last_refreshed_at: r.refreshedAt, expires_at: r.expiresAt } });
        break;
      }
      case 'SessionEnded':
        if (!ends.has(key)) ends.set(key, { id: d.sessionId, user_id: d.userId, ended_at: event.data.endedAt, end_reason: event.data.reason });
        break;
    }
  }
  // the row a start inserts, with what the batch's refresh and end of the same session and user set
  const rows = [...starts.values()].map((start) => {
    const key = `${start.id} ${start.user_id}`;
    const refresh = refreshes.get(key)?.row;
    const end = ends.get(key);
    return refresh || end
      ? {
          ...start,
          ...(refresh && { last_refreshed_at: refresh.last_refreshed_at, expires_at: refresh.expires_at }),
          ...(end && { ended_at: end.ended_at, end_reason: end.end_reason }),
        }
      : start;
  });
  const existing = await insertSkipped<{ id: string }>(tx, 'user_sessions', rows, { conflict: ['id'], key: ['id'] });
  // a session inserted now has its refresh and end already
  const inserted = new Set(starts.keys());
  for (const { id } of existing) inserted.delete(id);
  const folded = (patch: Row) => inserted.has(patch.id as string) && starts.get(patch.id as string)!.user_id === patch.user_id;
  await patchRows(
    tx,
    'user_sessions',
    [...refreshes.values()].map((r) => r.row).filter((r) => !folded(r)),
    { key: ['id', 'user_id'], guard: 't.last_refreshed_at IS NULL OR t.last_refreshed_at < n.last_refreshed_at' },
  );
  await patchRows(
    tx,
    'user_sessions',
    [...ends.values()].filter((r) => !folded(r)),
    { key: ['id', 'user_id'], guard: 't.ended_at IS NULL' },
  );
}
