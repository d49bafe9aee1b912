import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import { formatPosition, isAfter, parsePosition } from '../event-store/position.js';
import type { Consumer } from '../consumers/consumer.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { handle } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { combineCodecs } from '../write-model/core/event-codec.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { isRevoked, sessionAggregate } from '../write-model/session/decider.js';
import { sessionEvents, type SessionEvent } from '../write-model/session/events.js';
import { userEvents, type KeptSession, type UserEvent } from '../write-model/user/events.js';
import { react, type ProcessManagerDeps } from './shared.js';

export const END_SESSIONS = 'pm-end-sessions';
export const SESSION_INDEX_TABLE = 'pm_session_index';
export const SESSION_REVOCATIONS_TABLE = 'pm_session_revocations';

type Reason = 'password_changed' | 'user_suspended';

const codec = combineCodecs<UserEvent | SessionEvent>([userEvents, sessionEvents]);
const EVENT_TYPES = ['SessionStarted', 'SessionRefreshed', 'SessionEnded', 'PasswordChanged', 'UserSuspended'] as const;

interface IndexRow {
  session_id: string;
  session_epoch: number;
  expires_at: Date | string;
}

interface RevocationRow {
  session_epoch: number;
  kept_session_id: string | null;
  kept_since_epoch: number | null;
  reason: Reason;
  position: string;
}

/**
 * UserSuspended / PasswordChanged → SessionEnded (reason user_suspended /
 * password_changed) for every session of the user that was live then, the
 * session a password change was made from excepted. (A refresh is refused
 * at once by the session decider, which gets the user's epoch with the
 * command; this records the end of each session for the user's list.)
 *
 * Which sessions: an index of its own (pm_session_index), fed by
 * SessionStarted / SessionRefreshed / SessionEnded in the same ordered feed
 * as the triggers and written in the batch's transaction, so it holds
 * exactly the sessions not ended before the trigger — the users read model
 * could lag behind the trigger and miss a session. A session already
 * expired at the trigger gets no SessionEnded (it is unusable anyway); its
 * row goes, and so do the user's expired rows at each login: the index
 * holds about the live sessions only.
 *
 * A login that read the user before the revocation but started its session
 * after it (in `$all`) carries the older epoch: the user's last revocation
 * is kept (pm_session_revocations) and such a session is ended as it is
 * indexed.
 *
 * Idempotent: event ids `${name}:${trigger id}:${sessionId}`, and ending an
 * ended session is the decider's no-op; a redelivered batch appends nothing.
 */
export function createEndSessions(deps: ProcessManagerDeps, name = END_SESSIONS): Consumer {
  async function end(event: RecordedEvent, userId: string, sessionId: string, reason: Reason, now: string): Promise<void> {
    await react(
      deps,
      name,
      event,
      async () => {
        await handle(
          deps.store,
          sessionAggregate,
          sessionId,
          { type: 'EndSession', userId, sessionId, reason, now },
          {
            context: contextFromEvent(event, name),
            eventIds: eventIdsFrom(`${name}:${event.id}:${sessionId}`),
          },
        );
      },
      (error) => error instanceof DomainError && error.code === 'NOT_FOUND',
    );
  }

  async function revoke(tx: Knex, event: RecordedEvent, userId: string, epoch: number, kept: KeptSession | null, reason: Reason, at: string): Promise<void> {
    await tx(SESSION_REVOCATIONS_TABLE)
      .insert({
        consumer: name,
        user_id: userId,
        session_epoch: epoch,
        kept_session_id: kept?.sessionId ?? null,
        kept_since_epoch: kept?.sinceEpoch ?? null,
        reason,
        position: formatPosition(event.position),
      })
      .onConflict(['consumer', 'user_id'])
      .merge();
    const rows = (await tx(SESSION_INDEX_TABLE).where({ consumer: name, user_id: userId }).orderBy('session_id')) as IndexRow[];
    const atMs = Date.parse(at);
    for (const row of rows) {
      const session = { sessionId: row.session_id, sessionEpoch: row.session_epoch };
      const expired = new Date(row.expires_at).getTime() <= atMs;
      if (!expired && !isRevoked(session, { sessionEpoch: epoch, keptSession: kept })) continue;
      if (!expired) await end(event, userId, row.session_id, reason, at);
      await tx(SESSION_INDEX_TABLE).where({ consumer: name, session_id: row.session_id }).delete();
    }
  }

  async function lastRevocation(tx: Knex, userId: string): Promise<RevocationRow | undefined> {
    return (await tx(SESSION_REVOCATIONS_TABLE).where({ consumer: name, user_id: userId }).first()) as RevocationRow | undefined;
  }

  return {
    name,
    filter: { eventTypes: EVENT_TYPES },
    async handle(events, { tx: batchTx, db }) {
      const tx = db ?? batchTx; // own tables commit as written: nothing waits on commands holding a transaction id
      for (const recorded of events) {
        const event = codec.decode(recorded);
        switch (event.type) {
          case 'SessionStarted': {
            const d = event.data;
            await tx(SESSION_INDEX_TABLE).where({ consumer: name, user_id: d.userId }).andWhere('expires_at', '<=', d.startedAt).delete();
            const last = await lastRevocation(tx, d.userId);
            const kept = last?.kept_session_id != null ? { sessionId: last.kept_session_id, sinceEpoch: last.kept_since_epoch ?? 0 } : null;
            // only a revocation before this event counts (after a checkpoint reset the table may know later ones)
            if (last && isAfter(recorded.position, parsePosition(last.position)) && isRevoked(d, { sessionEpoch: last.session_epoch, keptSession: kept })) {
              await end(recorded, d.userId, d.sessionId, last.reason, d.startedAt);
              break;
            }
            await tx(SESSION_INDEX_TABLE)
              .insert({ consumer: name, session_id: d.sessionId, user_id: d.userId, session_epoch: d.sessionEpoch, expires_at: d.expiresAt })
              .onConflict(['consumer', 'session_id'])
              .ignore();
            break;
          }
          case 'SessionRefreshed':
            await tx(SESSION_INDEX_TABLE).where({ consumer: name, session_id: event.data.sessionId }).update({ expires_at: event.data.expiresAt });
            break;
          case 'SessionEnded':
            await tx(SESSION_INDEX_TABLE).where({ consumer: name, session_id: event.data.sessionId }).delete();
            break;
          case 'PasswordChanged': {
            const d = event.data;
            await revoke(tx, recorded, d.userId, d.sessionEpoch, d.keptSession, 'password_changed', d.changedAt);
            break;
          }
          case 'UserSuspended': {
            const d = event.data;
            await revoke(tx, recorded, d.userId, d.sessionEpoch, null, 'user_suspended', d.suspendedAt);
            break;
          }
          default:
            break;
        }
      }
    },
  };
}
