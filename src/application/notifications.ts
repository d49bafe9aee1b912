import type { Knex } from 'knex';
import type { EventStore } from '../event-store/port.js';
import { maxPosition, type Position } from '../event-store/position.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, type HandleResult } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { notificationAggregate } from '../write-model/notification/decider.js';
import type { NotificationEvent } from '../write-model/notification/events.js';
import type { NotificationState } from '../write-model/notification/state.js';

/**
 * Marking notifications read. Each notification is its own stream
 * (`notification-{id}`), so "mark all read" is one MarkNotificationRead per
 * notification the read model shows unread: its cost follows what is unread,
 * never the user's history. One sent after the read model was read stays
 * unread (as it would have in one inbox: mark-all names what it marks).
 */

export interface NotificationsDeps {
  store: EventStore;
  knex: Knex;
  context: CommandContext;
  now: Date;
}

type Result = HandleResult<NotificationState, NotificationEvent>;

/** Marking at once: a few appends in flight keep a long unread list quick without flooding the store. */
const CONCURRENCY = 8;

/** Marks one notification read; another user's is NOT_FOUND, like an unknown one (nothing is told about it). */
export async function markNotificationRead(deps: Omit<NotificationsDeps, 'knex'>, userId: string, notificationId: string): Promise<Result> {
  try {
    return await handle(
      deps.store,
      notificationAggregate,
      notificationId,
      { type: 'MarkNotificationRead', notificationId, requestedBy: userId, now: deps.now.toISOString() },
      { context: deps.context },
    );
  } catch (error) {
    if (error instanceof DomainError && error.code === 'PERMISSION_DENIED') {
      throw new DomainError('NOT_FOUND', `notification ${notificationId} not found`, { notificationId });
    }
    throw error;
  }
}

export interface MarkAllOutcome {
  /** how many were unread and are now read */
  marked: number;
  /** the revision of the last notification marked; undefined when none was */
  revision: bigint | undefined;
  /** the latest of the positions written; undefined when nothing was */
  position: Position | undefined;
}

/** The user's unread notifications, as the read model has them. */
async function unreadIds(knex: Knex, userId: string): Promise<string[]> {
  const rows = (await knex('notifications').where({ user_id: userId }).whereNull('read_at').orderBy('seq').select('id')) as { id: string }[];
  return rows.map((r) => r.id);
}

export async function markAllNotificationsRead(deps: NotificationsDeps, userId: string): Promise<MarkAllOutcome> {
  const ids = await unreadIds(deps.knex, userId);
  const outcome: MarkAllOutcome = { marked: 0, revision: undefined, position: undefined };
  for (let i = 0; i < ids.length; i += CONCURRENCY) {
    const results = await Promise.all(ids.slice(i, i + CONCURRENCY).map((id) => markNotificationRead(deps, userId, id)));
    for (const result of results) {
      if (!result.position) continue; // read meanwhile
      outcome.marked += 1;
      outcome.revision = result.revision;
      outcome.position = outcome.position ? maxPosition(outcome.position, result.position) : result.position;
    }
  }
  return outcome;
}
