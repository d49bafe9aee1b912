import type { EventStore } from '../../event-store/port.js';
import { handle } from '../../write-model/core/command-handler.js';
import { eventIdsFrom } from '../../write-model/core/event-ids.js';
import { publicationAggregate } from '../../write-model/publication/decider.js';
import type { DeadlineKind } from './deadline-table.js';
import type { DeadlineAction } from './expiry-actions.js';

export const PUBLICATION_DUE_DEADLINE: DeadlineKind = 'publication.due';

/**
 * `publication.due`: the subject is a publication stream
 * (`publication-{id}`), due at its scheduledAt (pm-publication-deadlines
 * sets it). ReleaseScheduledPublication → PublicationDue, which
 * pm-publications pre-reviews like a request due at once; a publication no
 * longer scheduled (cancelled) is the decider's no-op. Event ids are named
 * after the deadline and its time, so a sweep that crashed after appending
 * repeats nothing.
 */
export function publicationActions(store: EventStore): Record<'publication.due', DeadlineAction> {
  return {
    'publication.due': async (deadline, now, context) => {
      const publicationId = deadline.subjectId.replace(/^publication-/, '');
      await handle(
        store,
        publicationAggregate,
        publicationId,
        { type: 'ReleaseScheduledPublication', publicationId, now: now.toISOString() },
        { context, eventIds: eventIdsFrom(`deadline:${deadline.key}:${deadline.dueAt}`) },
      );
    },
  };
}
