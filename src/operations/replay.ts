import { likePrefix } from '../adapters/event-store/postgres/rows.js';
import { comparePositions, formatPosition, parsePosition, START, type Position } from '../event-store/position.js';
import { processManagers, type ProcessManagerWiring } from '../process-managers/index.js';
import { createProjections } from '../projections/index.js';
import { readCheckpoint, resetCheckpoint } from '../consumers/checkpoints.js';
import type { Consumer } from '../consumers/consumer.js';
import { toEventView } from './streams.js';
import type { EventView, OpsDeps } from './types.js';

export interface KnownConsumer {
  name: string;
  kind: 'projection' | 'process-manager';
  consumer: Consumer;
}

/**
 * Every consumer the projector runs: the projections and the process
 * managers. Built only to read their names and filters: the process
 * managers' adapters (dispatcher, schedulers, mailer) are never called here.
 */
export function knownConsumers(deps: Pick<OpsDeps, 'store' | 'timeZone'>): KnownConsumer[] {
  // adapters the tooling never calls: any use of them throws
  const unavailable = <T extends object>(): T =>
    new Proxy({} as T, {
      get: () => {
        throw new Error('not available to the operator tooling');
      },
    });
  const wiring: ProcessManagerWiring = {
    store: deps.store,
    paymentGraceMs: 0,
    timeZone: deps.timeZone,
    dispatcher: unavailable<ProcessManagerWiring['dispatcher']>(),
    schedulers: unavailable<ProcessManagerWiring['schedulers']>(),
  };
  return [
    ...createProjections({ timeZone: deps.timeZone }).map((consumer) => ({ name: consumer.name, kind: 'projection' as const, consumer })),
    ...processManagers(wiring).map((consumer) => ({ name: consumer.name, kind: 'process-manager' as const, consumer })),
  ];
}

export class ReplayError extends Error {
  override readonly name = 'ReplayError';
}

export interface ReplayOptions {
  consumer: string;
  /** `start`, or a position (`<commit>-<prepare>`): the event AT it is the first one re-delivered */
  from: string;
  dryRun: boolean;
  /** how many of the events to list (default 20) */
  sample?: number;
  onProgress?: (p: { scannedEvents: number; totalEvents: number | null; matchedEvents: number }) => void;
}

export interface ReplayReport {
  consumer: string;
  kind: 'projection' | 'process-manager';
  dryRun: boolean;
  from: string;
  /** the checkpoint before (formatPosition; null: never ran) and after */
  checkpointBefore: string | null;
  checkpointAfter: string | null;
  head: string;
  /** events the consumer's filter takes from `from` up to the head: what it will handle again */
  count: number;
  /** the first `sample` of them */
  events: EventView[];
}

/** The checkpoint just before `position`, so the event at `position` is delivered again (the consumer reads after its checkpoint). */
function justBefore(position: Position): Position {
  if (position.prepare > 0n) return { commit: position.commit, prepare: position.prepare - 1n };
  if (position.commit > 0n) return { commit: position.commit - 1n, prepare: (1n << 63n) - 1n };
  return START;
}

/**
 * Re-drives a projection or process manager from a point: rewinds its
 * checkpoint (resetCheckpoint, a new epoch: a running instance is fenced
 * off, resubscribes from the new checkpoint and handles those events again).
 * Dry run: only says what would be re-delivered. Refuses to move a
 * checkpoint forwards (that would skip events, not replay them).
 *
 * Process managers are idempotent by design (event ids named after the
 * triggering event), so a replay repeats no effect already recorded; a
 * projection's handlers are upserts of the same rows. Side effects outside
 * the event store (mails, queued jobs) follow each process manager's own
 * rules (e.g. notify-user sends a mail once per notification event).
 */
export async function replayConsumer(deps: OpsDeps, options: ReplayOptions): Promise<ReplayReport> {
  const known = knownConsumers(deps);
  const target = known.find((c) => c.name === options.consumer);
  if (!target) throw new ReplayError(`unknown consumer "${options.consumer}"; known: ${known.map((c) => c.name).join(', ')}`);
  let from: Position;
  try {
    from = options.from === 'start' ? START : parsePosition(options.from);
  } catch (error) {
    throw new ReplayError((error as Error).message);
  }
  const checkpointTo = from === START ? START : justBefore(from);
  const exists = await deps.knex('consumer_checkpoints').where({ consumer: target.name }).first('consumer');
  const before = await readCheckpoint(deps.knex, target.name);
  if (comparePositions(checkpointTo, before) > 0) {
    throw new ReplayError(
      `${target.name} is at ${exists ? formatPosition(before) : 'the start (never ran)'}: from ${options.from} would skip events, not replay them`,
    );
  }
  const head = await deps.store.headPosition();
  const filter = target.consumer.filter;
  const sample = options.sample ?? 20;

  let totalEvents: number | null = null;
  if (deps.store.kind === 'postgres') {
    // the events of $all from there on, for the progress's ETA (the filter applied below)
    const { rows } = await deps.knex.raw<{ rows: { n: string }[] }>(
      `SELECT count(*)::text AS n FROM es_events WHERE (transaction_id, global_position) > (?::text::xid8, ?::bigint)
         ${filter?.eventTypes?.length ? 'AND event_type = ANY(?::text[])' : ''}
         ${filter?.streamPrefixes?.length ? 'AND stream_name LIKE ANY(?::text[])' : ''}`,
      [
        checkpointTo.commit.toString(),
        checkpointTo.prepare.toString(),
        ...(filter?.eventTypes?.length ? [[...filter.eventTypes]] : []),
        ...(filter?.streamPrefixes?.length ? [filter.streamPrefixes.map(likePrefix)] : []),
      ],
    );
    totalEvents = Number(rows[0]?.n ?? 0);
  }

  const events: EventView[] = [];
  let count = 0;
  let at = checkpointTo;
  for (;;) {
    const page = await deps.store.readAll({ fromPosition: at, maxCount: 1000, ...(filter ? { filter } : {}) });
    for (const event of page) {
      if (comparePositions(event.position, head) > 0) break;
      count += 1;
      if (events.length < sample) events.push(toEventView(event));
    }
    options.onProgress?.({ scannedEvents: count, totalEvents, matchedEvents: count });
    if (page.length < 1000 || comparePositions(page.at(-1)!.position, head) >= 0) break;
    at = page.at(-1)!.position;
  }

  if (!options.dryRun) {
    await resetCheckpoint(deps.knex, target.name, checkpointTo);
    deps.logger?.warn({ consumer: target.name, from: options.from, checkpoint: formatPosition(checkpointTo), events: count }, 'consumer rewound for a replay');
  }
  return {
    consumer: target.name,
    kind: target.kind,
    dryRun: options.dryRun,
    from: options.from,
    checkpointBefore: exists ? formatPosition(before) : null,
    checkpointAfter: options.dryRun ? (exists ? formatPosition(before) : null) : formatPosition(checkpointTo),
    head: formatPosition(head),
    count,
    events,
  };
}
