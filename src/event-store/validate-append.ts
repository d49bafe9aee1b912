import type { EventData } from './port.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What no adapter may store, refused before it costs a round trip: `$` names
 * are the store's own (EventStoreDB would take them, then hide them from
 * every $all read), ids must be uuids, and an append has events.
 */
export function validateAppend(streamName: string, events: readonly EventData[]): void {
  if (!streamName || streamName.startsWith('$')) throw new TypeError(`invalid stream name "${streamName}"`);
  if (events.length === 0) throw new TypeError(`append to ${streamName}: no events`);
  for (const event of events) {
    if (!UUID.test(event.id)) throw new TypeError(`append to ${streamName}: event id "${event.id}" is not a uuid`);
    if (!event.type || event.type.startsWith('$')) throw new TypeError(`append to ${streamName}: invalid event type "${event.type}"`);
  }
}
