import { createHash, randomUUID } from 'node:crypto';

/**
 * A name-based (version 5 style) uuid: the same name always gives the same id.
 * Reactions name their events after the triggering event, so handling it
 * twice appends the same ids and the store makes the second time a no-op.
 */
export function uuidFromName(name: string): string {
  const hash = createHash('sha1').update(name).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export type EventIdSource = (index: number) => string;

export const randomEventIds: EventIdSource = () => randomUUID();

export function eventIdsFrom(name: string): EventIdSource {
  return (index) => uuidFromName(`${name}#${index}`);
}
