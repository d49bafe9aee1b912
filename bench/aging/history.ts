import type { EventStore, Json } from '../../src/event-store/index.js';
import type { Aggregate } from '../../src/write-model/core/aggregate.js';
import { load } from '../../src/write-model/core/command-handler.js';
import type { DomainEvent } from '../../src/write-model/core/decider.js';
import { SCHEMA_VERSION } from '../../src/write-model/core/event-codec.js';

const BATCH = 500;

/**
 * Writes an aggregate's history the way the real code would have: every
 * command is decided by the aggregate's own decider on the state folded so
 * far, and the events it decides are appended (in batches, with the schema
 * version and a correlation in their metadata). Then one load, as the next
 * command would do, so a snapshot is written where the policy says so.
 * Commands the decider refuses are skipped (a generated history may ask for
 * something the rules forbid); the count of appended events is returned.
 */
export async function writeHistory<State, Command, Event extends DomainEvent>(
  store: EventStore,
  aggregate: Aggregate<State, Command, Event>,
  id: string,
  commands: Iterable<Command>,
): Promise<number> {
  const streamName = aggregate.streamName(id);
  let state = aggregate.decider.initialState();
  let revision = -1n;
  let pending: Event[] = [];
  let written = 0;
  let refused = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const result = await store.append(
      streamName,
      pending.map((event) => ({
        id: crypto.randomUUID(),
        type: event.type,
        data: event.data as Json,
        metadata: { $correlationId: 'bench-aging', $causationId: 'bench-aging', userId: 'bench', [SCHEMA_VERSION]: aggregate.events.version(event.type) },
      })),
      revision < 0n ? 'no_stream' : revision,
    );
    revision = result.nextExpectedRevision;
    written += pending.length;
    pending = [];
  };
  for (const command of commands) {
    let events: Event[];
    try {
      events = aggregate.decider.decide(command, state);
    } catch (error) {
      // a history the rules refuse is not the history the table claims: say so
      if (refused++ === 0) process.stderr.write(`  (history of ${streamName}: a command was refused: ${String(error)})\n`);
      continue;
    }
    for (const event of events) state = aggregate.decider.evolve(state, event);
    pending.push(...events);
    if (pending.length >= BATCH) await flush();
  }
  await flush();
  await load(store, aggregate, id);
  return written;
}

/** ISO time `days` days and `minutes` minutes after `start`. */
export function at(start: Date, days: number, minutes = 0): string {
  return new Date(start.getTime() + days * 86_400_000 + minutes * 60_000).toISOString();
}
