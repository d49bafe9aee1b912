import { eventTypeFilter, excludeSystemEvents, streamNameFilter, type Filter } from '@eventstore/db-client';
import type { EventFilter } from '../../../event-store/port.js';
import { isSystemEvent } from './mapping.js';

/** The full port filter, applied to every event the client hands over (whatever the server already filtered). */
export function matchesFilter(type: string, streamName: string, filter: EventFilter | undefined): boolean {
  if (isSystemEvent(type, streamName)) return false;
  if (filter?.eventTypes?.length && !filter.eventTypes.includes(type)) return false;
  if (filter?.streamPrefixes?.length && !filter.streamPrefixes.some((prefix) => streamName.startsWith(prefix))) return false;
  return true;
}

/** `^(?:a|b)$`: exact names, so `Opened` does not also match `OpenedLate`. */
export function exactNamesRegex(names: readonly string[]): string {
  return `^(?:${names.map(escapeRegex).join('|')})$`;
}

function escapeRegex(text: string): string {
  // the server compiles the pattern as a .NET regex; these are its metacharacters outside classes too
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The one filter EventStoreDB applies server-side. Event types first (usually
 * the narrower list), else stream prefixes, else just "no system events" — so
 * every subscription is filtered and gets the server's checkpoints. The other
 * half of a two-part filter is applied client-side by `matchesFilter`.
 */
export function serverFilter(filter: EventFilter | undefined, checkpointReached: Filter['checkpointReached']): Filter {
  // interval 1 = a checkpoint per server search window (32 events considered)
  const options = { checkpointInterval: 1, checkpointReached };
  if (filter?.eventTypes?.length) return eventTypeFilter({ regex: exactNamesRegex(filter.eventTypes), ...options });
  if (filter?.streamPrefixes?.length) return streamNameFilter({ prefixes: [...filter.streamPrefixes], ...options });
  return excludeSystemEvents(options);
}
