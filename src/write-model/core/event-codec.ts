import { z } from 'zod';
import type { DomainEvent } from './decider.js';

/**
 * The one way a stored event becomes a typed domain event.
 *
 * Each aggregate declares, per event type, the zod schema of its current
 * data, the current schema version, and upcasters that lift older shapes one
 * version at a time. The version an event was written with is in its
 * metadata (`schemaVersion`, absent = 1). Decoding upcasts to the current
 * version, then validates: a consumer never sees an older shape or data that
 * does not match its type.
 *
 * Changing an event after it has been stored: bump `version`, add an
 * upcaster from the old version to the new one, change the schema and the
 * type. Never edit stored events.
 */

/**
 * Free-form JSON data (a workflow's config, a notification's data, an item's
 * fields) kept exactly as stored. z.record would drop a `__proto__` key, which
 * JSON.parse makes an ordinary own key: what was written would not be what is read.
 */
export const plainObject = z.custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), {
  message: 'expected an object',
});

/** What the codec needs of a recorded event (RecordedEvent fits). */
export interface StoredEvent {
  type: string;
  data: unknown;
  metadata?: { readonly [key: string]: unknown };
}

/** The metadata key holding the version of the data's shape. */
export const SCHEMA_VERSION = 'schemaVersion';

/** Turns data of version `from` into data of version `from + 1`. */
export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

export interface EventShape<Data> {
  schema: z.ZodType<Data>;
  /** the current version (default 1) */
  version?: number;
  /** keyed by the version they lift from: `{ 1: (v1) => v2, 2: (v2) => v3 }` */
  upcasters?: Readonly<Record<number, Upcaster>>;
}

/**
 * Every event type of an aggregate mapped to its shape: leaving one out, or
 * naming one the union does not have, is a compile error.
 */
export type EventShapes<Event extends DomainEvent> = {
  readonly [Type in Event['type']]: EventShape<Extract<Event, { type: Type }>['data']>;
};

export class EventDecodeError extends Error {
  override readonly name = 'EventDecodeError';
  constructor(
    readonly eventType: string,
    readonly schemaVersion: number,
    readonly issues: string,
  ) {
    super(`cannot decode ${eventType} (schema version ${schemaVersion}): ${issues}`);
  }
}

export interface EventCodec<Event extends DomainEvent> {
  readonly types: readonly Event['type'][];
  /** whether the type is one of this codec's */
  owns(type: string): type is Event['type'];
  /** the current schema version of a type, written into new events' metadata */
  version(type: Event['type']): number;
  /** upcast + validate; EventDecodeError for a foreign type or data that does not fit */
  decode(stored: StoredEvent): Event;
}

function schemaVersionOf(stored: StoredEvent): number {
  const value = stored.metadata?.[SCHEMA_VERSION];
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : 1;
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(data)'}: ${issue.message}`)
    .join('; ');
}

export function eventCodec<Event extends DomainEvent>(shapes: EventShapes<Event>): EventCodec<Event> {
  const table: Readonly<Record<string, EventShape<object>>> = shapes;
  const types = Object.keys(table) as Event['type'][];
  const owns = (type: string): type is Event['type'] => Object.hasOwn(table, type);
  return {
    types,
    owns,
    version: (type) => table[type]?.version ?? 1,
    decode(stored) {
      const from = schemaVersionOf(stored);
      if (!owns(stored.type)) throw new EventDecodeError(stored.type, from, 'not an event of this aggregate');
      const shape = table[stored.type]!;
      const current = shape.version ?? 1;
      if (from > current) throw new EventDecodeError(stored.type, from, `newer than this code knows (${current})`);
      let data: unknown = stored.data;
      for (let version = from; version < current; version++) {
        const upcast = shape.upcasters?.[version];
        if (!upcast) throw new EventDecodeError(stored.type, from, `no upcaster from version ${version}`);
        if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new EventDecodeError(stored.type, from, 'data is not an object');
        data = upcast(data as Record<string, unknown>);
      }
      const parsed = shape.schema.safeParse(data);
      if (!parsed.success) throw new EventDecodeError(stored.type, from, describe(parsed.error));
      return { type: stored.type, data: parsed.data } as Event;
    },
  };
}

/**
 * Several aggregates' codecs as one, for consumers of `$all`. Event type
 * names are unique across aggregates; a name claimed twice fails at start.
 */
export function combineCodecs<Event extends DomainEvent>(codecs: readonly EventCodec<DomainEvent>[]): EventCodec<Event> {
  const byType = new Map<string, EventCodec<DomainEvent>>();
  for (const codec of codecs) {
    for (const type of codec.types) {
      if (byType.has(type)) throw new Error(`event type ${type} is declared by two aggregates`);
      byType.set(type, codec);
    }
  }
  const owns = (type: string): type is Event['type'] => byType.has(type);
  return {
    types: [...byType.keys()] as Event['type'][],
    owns,
    version: (type) => byType.get(type)?.version(type) ?? 1,
    decode(stored) {
      const codec = byType.get(stored.type);
      if (!codec) throw new EventDecodeError(stored.type, schemaVersionOf(stored), 'unknown event type');
      return codec.decode(stored) as Event;
    },
  };
}
