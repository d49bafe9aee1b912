import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import type { ExpectedRevision } from '../../src/event-store/port.js';
import { comparePositions, START, type Position } from '../../src/event-store/position.js';
import { makeEvent, makeEvents } from './payload.js';
import { percentile, progress, sleep } from './timing.js';

export function openStore(connectionString: string, poolSize: number): PostgresEventStore {
  return createPostgresEventStore({
    connectionString,
    poolSize,
    onBackgroundError: (error) => progress(`  background error: ${String(error)}`),
  });
}

/**
 * One worker's op: append `batch` fresh events to the next of its own
 * `streams` streams, with the exact expected revision, as a command handler would.
 */
export function appendWorker(store: PostgresEventStore, phase: string, worker: number, batch: number, streams: number): () => Promise<void> {
  const revisions = new Map<string, ExpectedRevision>();
  let i = 0;
  return async () => {
    const stream = `order-${phase}w${worker}s${i++ % streams}`;
    const result = await store.append(stream, makeEvents(batch), revisions.get(stream) ?? 'no_stream');
    revisions.set(stream, result.nextExpectedRevision);
  };
}

/** Tops the store up to `target` events with large batch appends from `concurrency` workers. */
export async function fill(store: PostgresEventStore, have: number, target: number, concurrency: number, batch: number): Promise<number> {
  let remaining = Math.max(0, target - have);
  const started = performance.now();
  const written = remaining;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      let i = 0;
      while (remaining > 0) {
        const n = Math.min(batch, remaining);
        remaining -= n;
        await store.append(`order-fillw${w}s${i++ % 200}`, makeEvents(n), 'any');
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  progress(`  wrote ${written.toLocaleString('en-US')} events in ${seconds.toFixed(1)} s (${Math.round(written / seconds).toLocaleString('en-US')} events/s)`);
  return written;
}

export interface CatchUpResult {
  /** events delivered, duplicates included */
  delivered: number;
  /** delivered events whose position was not after the previous one (re-deliveries) */
  duplicates: number;
  seconds: number;
  /** distinct events per second */
  eventsPerSec: number;
  batches: number;
}

/**
 * Reads $all from the start through subscribeToAll on a fresh store instance,
 * until caught up. A first, discarded read of `warmupEvents` warms the JIT and
 * the connection, so the figure is the steady rate rather than start-up.
 */
export async function catchUp(connectionString: string, poolSize: number, expected: number, batchSize: number, warmupEvents: number): Promise<CatchUpResult> {
  const store = openStore(connectionString, poolSize);
  try {
    if (warmupEvents > 0) {
      const warmup = store.subscribeToAll({ fromPosition: 'start', batchSize });
      let read = 0;
      for await (const batch of warmup) {
        read += batch.events.length;
        if (read >= warmupEvents || batch.caughtUp) break;
      }
      await warmup.close();
    }
    const started = performance.now();
    let delivered = 0;
    let duplicates = 0;
    let batches = 0;
    let last: Position = START;
    const subscription = store.subscribeToAll({ fromPosition: 'start', batchSize });
    for await (const batch of subscription) {
      delivered += batch.events.length;
      batches++;
      for (const event of batch.events) {
        // $all is delivered in strictly increasing position: anything else was delivered before
        if (comparePositions(event.position, last) <= 0) duplicates++;
        else last = event.position;
      }
      if (batch.caughtUp && delivered - duplicates >= expected) break;
    }
    await subscription.close();
    const seconds = (performance.now() - started) / 1000;
    return { delivered, duplicates, seconds, eventsPerSec: (delivered - duplicates) / seconds, batches };
  } finally {
    await store.close();
  }
}

export interface LiveResult {
  rate: number;
  seconds: number;
  sent: number;
  measured: number;
  missing: number;
  /** events delivered again after their first delivery */
  duplicates: number;
  /** received − just before append(), ms */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** append() call to its promise resolving, ms */
  appendP50Ms: number;
  appendP99Ms: number;
  /** received − append() resolved, ms (≤ 0 when the subscriber saw it first): the wake-up and read path alone */
  afterCommitP50Ms: number;
  afterCommitP99Ms: number;
  /** appends issued later than their slot by more than 5 ms (the pacer fell behind) */
  lateIssues: number;
}

/**
 * Open-loop appender at `rate` single-event appends/s on one store instance; a
 * subscriber on a second instance (own pool, own LISTEN connection), as if in
 * another process. Latency = subscriber received − just before append().
 * Samples for appends issued in the first `warmupSeconds` are dropped.
 */
export async function liveLatency(connectionString: string, poolSize: number, rate: number, warmupSeconds: number, seconds: number): Promise<LiveResult> {
  const appender = openStore(connectionString, poolSize);
  const subscriberStore = openStore(connectionString, poolSize);
  const sentAt = new Map<string, number>();
  const committedAt = new Map<string, number>();
  const receivedAt = new Map<string, number>();
  let duplicates = 0;
  let failures = 0;
  const failed = new Set<string>();
  try {
    const subscription = subscriberStore.subscribeToAll({ fromPosition: await appender.headPosition() });
    const reading = (async () => {
      for await (const batch of subscription) {
        const now = performance.now();
        for (const event of batch.events) {
          if (!sentAt.has(event.id)) continue;
          if (receivedAt.has(event.id)) duplicates++;
          else receivedAt.set(event.id, now);
        }
      }
    })();

    const interval = 1000 / rate;
    const total = Math.round(rate * (warmupSeconds + seconds));
    const inFlight = new Set<Promise<void>>();
    let issued = 0;
    let lateIssues = 0;
    const start = performance.now();
    while (issued < total) {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      while (issued < due) {
        const slot = start + issued * interval;
        const event = makeEvent();
        const t0 = performance.now();
        if (t0 - slot > 5) lateIssues++;
        sentAt.set(event.id, t0);
        const p: Promise<void> = appender
          .append(`order-livew0s${issued % 1000}`, [event], 'any')
          .then(
            () => void committedAt.set(event.id, performance.now()),
            (error) => {
              failures++;
              failed.add(event.id);
              progress(`  live append failed: ${String(error)}`);
            },
          )
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        issued++;
      }
      await sleep(1);
    }
    await Promise.all(inFlight);
    // let the subscriber drain what is committed
    const deadline = performance.now() + 5000;
    while (receivedAt.size < issued - failures && performance.now() < deadline) await sleep(5);
    await subscription.close();
    await reading;

    const measureFrom = start + warmupSeconds * 1000;
    const latencies: number[] = [];
    const appendLatencies: number[] = [];
    const afterCommit: number[] = [];
    for (const [id, t0] of sentAt) {
      if (t0 < measureFrom) continue;
      const received = receivedAt.get(id);
      const committed = committedAt.get(id);
      if (received !== undefined) latencies.push(received - t0);
      if (committed !== undefined) appendLatencies.push(committed - t0);
      if (received !== undefined && committed !== undefined) afterCommit.push(received - committed);
    }
    for (const list of [latencies, appendLatencies, afterCommit]) list.sort((a, b) => a - b);
    const undelivered = [...sentAt.keys()].filter((id) => !receivedAt.has(id) && !failed.has(id));
    if (undelivered.length > 0) await reportUndelivered(connectionString, undelivered, sentAt, receivedAt);
    return {
      rate,
      seconds,
      sent: issued,
      measured: latencies.length,
      missing: issued - failures - receivedAt.size,
      duplicates,
      p50Ms: percentile(latencies, 50),
      p90Ms: percentile(latencies, 90),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.at(-1) ?? Number.NaN,
      appendP50Ms: percentile(appendLatencies, 50),
      appendP99Ms: percentile(appendLatencies, 99),
      afterCommitP50Ms: percentile(afterCommit, 50),
      afterCommitP99Ms: percentile(afterCommit, 99),
      lateIssues,
    };
  } finally {
    await subscriberStore.close();
    await appender.close();
  }
}

/**
 * Says, for each appended event the subscriber never received, whether it is
 * stored and where, and whether its neighbours in $all were delivered: what
 * tells a lost delivery from a lost append.
 */
async function reportUndelivered(
  connectionString: string,
  ids: string[],
  sent: ReadonlyMap<string, number>,
  received: ReadonlyMap<string, number>,
): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    for (const id of ids.slice(0, 10)) {
      const { rows } = await client.query<{ xid: string; position: string; stream: string; revision: string }>(
        'SELECT transaction_id::text AS xid, global_position::text AS position, stream_name AS stream, stream_revision::text AS revision FROM es_events WHERE event_id = $1',
        [id],
      );
      const row = rows[0];
      if (!row) {
        progress(`  undelivered event ${id}: not stored, though its append succeeded`);
        continue;
      }
      // three before it and three after it in $all order
      const { rows: around } = await client.query<{ id: string; xid: string; position: string }>(
        `SELECT * FROM (
           (SELECT event_id::text AS id, transaction_id::text AS xid, global_position::text AS position, transaction_id AS t, global_position AS g FROM es_events
             WHERE (transaction_id, global_position) < ($1::text::xid8, $2::bigint) ORDER BY t DESC, g DESC LIMIT 3)
           UNION ALL
           (SELECT event_id::text, transaction_id::text, global_position::text, transaction_id AS t, global_position AS g FROM es_events
             WHERE (transaction_id, global_position) >= ($1::text::xid8, $2::bigint) ORDER BY t, g LIMIT 4)) around
         ORDER BY t, g`,
        [row.xid, row.position],
      );
      const state = (other: string) => (other === id ? ' (this one)' : !sent.has(other) ? ' (not ours)' : received.has(other) ? '' : ' (not delivered)');
      const neighbours = around.map((n) => `${n.xid}/${n.position}${state(n.id)}`).join(', ');
      progress(`  undelivered event ${id}: stored at ${row.xid}/${row.position} (${row.stream}@${row.revision}); around it: ${neighbours}`);
    }
  } finally {
    await client.end();
  }
}
