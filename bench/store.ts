/**
 * Event store benchmark: our Postgres store vs Emmett's PostgreSQL store vs a
 * raw single-row INSERT, on the same Postgres. `npm run bench:store [-- --json]`.
 * Progress goes to stderr, the table (or JSON with --json) to stdout.
 *
 * Append figures are interleaved: each figure's time is split into rounds, and
 * every round runs ours, Emmett and raw back to back (rotating who goes first),
 * so slow drift of a shared VM hits all three alike and the ratios stay fair.
 *
 * Env: BENCH_SECONDS (measured seconds per append figure and subject, default 5),
 * BENCH_ROUNDS (default 3), BENCH_WARMUP (s, default 1), BENCH_POOL (connections per
 * pool, default 10), BENCH_STREAMS (streams per worker, default 100),
 * BENCH_CATCHUP_EVENTS (default 100000), BENCH_READ_BATCH (subscribeToAll batchSize,
 * default 500), BENCH_LIVE_RATE (appends/s, default 1000),
 * BENCH_LOADED_USERS (users in the history of the under-load figure, default 1000; 0 skips it),
 * BENCH_REDIS_URL (the under-load projector's Redis, default redis://127.0.0.1:6379/13),
 * BENCH_LOADED_SECONDS (measured seconds of the under-load figure, default 15: several rebuilds),
 * BENCH_LOADED_SETTLE (seconds from every consumer at the head to the under-load clock, default 3),
 * BENCH_LOADED_REBUILDS (1: rebuilds in a loop under load, the default; 0: the projector alone),
 * BENCH_PG (server URL without database, default postgres://postgres@127.0.0.1:5432).
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { migrate, query, recreateDatabase } from './lib/db.js';
import { emmettAppendWorker, openEmmett } from './lib/emmett.js';
import { appendWorker, catchUp, fill, liveLatency, openStore } from './lib/ours.js';
import { payloadBytes } from './lib/payload.js';
import { openRaw, rawInsertWorker } from './lib/raw.js';
import { fmtMs, fmtRate, fmtRatio, renderTable } from './lib/table.js';
import { progress, runSlice, summarize, type Slice, type ThroughputResult } from './lib/timing.js';
import { envNumber, envNumberOrZero } from './lib/env.js';
import { liveDeliveryUnderLoad, type UnderLoadResult } from './store/under-load.js';

const config = {
  seconds: envNumber('BENCH_SECONDS', 5),
  rounds: Math.round(envNumber('BENCH_ROUNDS', 3)),
  warmupSeconds: envNumber('BENCH_WARMUP', 1),
  /** warm-up before the second and later slices of a figure: pools are already open */
  sliceWarmupSeconds: 0.2,
  poolSize: Math.round(envNumber('BENCH_POOL', 10)),
  streamsPerWorker: Math.round(envNumber('BENCH_STREAMS', 100)),
  catchUpEvents: Math.round(envNumber('BENCH_CATCHUP_EVENTS', 100_000)),
  readBatchSize: Math.round(envNumber('BENCH_READ_BATCH', 500)),
  /** read and discarded before the measured catch-up */
  catchUpWarmupEvents: 20_000,
  liveRate: envNumber('BENCH_LIVE_RATE', 1000),
  /** users in the history of the under-load figure; 0 skips it */
  loadedUsers: envNumberOrZero('BENCH_LOADED_USERS', 1000),
  loadedRedisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/13',
  /** long enough for several rebuilds, each in every phase, to fall inside the window */
  loadedSeconds: envNumber('BENCH_LOADED_SECONDS', 15),
  loadedSettleSeconds: envNumberOrZero('BENCH_LOADED_SETTLE', 3),
  loadedRebuilds: envNumberOrZero('BENCH_LOADED_REBUILDS', 1) > 0,
  batchEvents: 10,
  highConcurrency: 8,
};
const asJson = process.argv.includes('--json');

const TARGETS = { emmettMultiple: 3, rawFraction: 0.5, catchUpEventsPerSec: 50_000, liveP99Ms: 50, loadedLiveP99Ms: 25 };

type SubjectName = 'ours' | 'emmett' | 'raw';
type Op = () => Promise<unknown>;
interface Subject {
  name: SubjectName;
  /** null: the subject has no multi-event append (raw INSERT) */
  worker: (phase: string, worker: number, batch: number) => Op | null;
}
interface Figure {
  key: 'c1' | 'c8' | 'batch8';
  concurrency: number;
  batch: number;
}
type AppendFigures = Partial<Record<Figure['key'], ThroughputResult>>;

async function benchAppends(subjects: readonly Subject[]): Promise<Record<SubjectName, AppendFigures>> {
  const figures: Figure[] = [
    { key: 'c1', concurrency: 1, batch: 1 },
    { key: 'c8', concurrency: config.highConcurrency, batch: 1 },
    { key: 'batch8', concurrency: config.highConcurrency, batch: config.batchEvents },
  ];
  const results: Record<SubjectName, AppendFigures> = { ours: {}, emmett: {}, raw: {} };
  const sliceSeconds = config.seconds / config.rounds;
  for (const figure of figures) {
    const what = figure.batch === 1 ? 'single-event appends' : `${figure.batch}-event batches`;
    const runners = subjects.flatMap((subject) => {
      const ops = Array.from({ length: figure.concurrency }, (_, w) => subject.worker(figure.key, w, figure.batch));
      return ops.every((op): op is Op => op !== null) ? [{ subject, ops, slices: [] as Slice[] }] : [];
    });
    progress(
      `${what} at concurrency ${figure.concurrency}: ${runners.map((r) => r.subject.name).join(', ')} × ${config.rounds} rounds of ${sliceSeconds.toFixed(2)} s`,
    );
    for (let round = 0; round < config.rounds; round++) {
      const order = runners.map((_, i) => runners[(i + round) % runners.length]!);
      for (const runner of order) {
        const slice = await runSlice(runner.ops, round === 0 ? config.warmupSeconds : config.sliceWarmupSeconds, sliceSeconds);
        runner.slices.push(slice);
      }
      progress(`  round ${round + 1}: ${runners.map((r) => `${r.subject.name} ${fmtRate(r.slices.at(-1)!.ops / sliceSeconds)}/s`).join(', ')}`);
    }
    for (const runner of runners) results[runner.subject.name][figure.key] = summarize(runner.slices);
  }
  return results;
}

async function main(): Promise<void> {
  const began = performance.now();
  const bytes = payloadBytes();
  progress(`payload ${bytes.data} B data + ${bytes.metadata} B metadata; pools of ${config.poolSize}; ${os.cpus().length} CPUs`);

  progress('recreating databases bench_store, bench_emmett, bench_raw; migrating bench_store');
  const [storeUrl, emmettUrl, rawUrl] = await Promise.all([recreateDatabase('bench_store'), recreateDatabase('bench_emmett'), recreateDatabase('bench_raw')]);
  await migrate(storeUrl);
  const [server] = await query<{ version: string; synchronous_commit: string }>(
    storeUrl,
    `SELECT current_setting('server_version') AS version, current_setting('synchronous_commit') AS synchronous_commit`,
  );

  // 1. Append throughput, interleaved.
  const store = openStore(storeUrl, config.poolSize);
  const emmett = await openEmmett(emmettUrl, config.poolSize);
  const rawPool = await openRaw(rawUrl, config.poolSize);
  let appends: Record<SubjectName, AppendFigures>;
  try {
    appends = await benchAppends([
      { name: 'ours', worker: (phase, w, batch) => appendWorker(store, phase, w, batch, config.streamsPerWorker) },
      { name: 'emmett', worker: (phase, w, batch) => emmettAppendWorker(emmett.store, phase, w, batch, config.streamsPerWorker) },
      { name: 'raw', worker: (phase, w, batch) => (batch === 1 ? rawInsertWorker(rawPool, phase, w, config.streamsPerWorker) : null) },
    ]);
  } finally {
    await Promise.all([emmett.close(), rawPool.end()]);
  }

  // 2. Catch-up read of ≥ catchUpEvents events.
  try {
    const [{ n }] = (await query<{ n: string }>(storeUrl, 'SELECT count(*)::text AS n FROM es_events')) as [{ n: string }];
    if (Number(n) < config.catchUpEvents) {
      progress(
        `ours: topping $all up from ${fmtRate(Number(n))} to ${fmtRate(config.catchUpEvents)} events (50-event batch appends, concurrency ${config.highConcurrency})`,
      );
      await fill(store, Number(n), config.catchUpEvents, config.highConcurrency, 50);
    }
  } finally {
    await store.close();
  }
  await query(storeUrl, 'ANALYZE es_events'); // what autovacuum would have done by now
  const [{ n: storedText }] = (await query<{ n: string }>(storeUrl, 'SELECT count(*)::text AS n FROM es_events')) as [{ n: string }];
  const stored = Number(storedText);
  progress(
    `ours: catch-up read of ${fmtRate(stored)} events via subscribeToAll from start (batchSize ${config.readBatchSize}, fresh instance, after a ${fmtRate(config.catchUpWarmupEvents)}-event warm-up read)`,
  );
  const catchUpResult = await catchUp(storeUrl, config.poolSize, stored, config.readBatchSize, config.catchUpWarmupEvents);
  progress(
    `  ${fmtRate(catchUpResult.eventsPerSec)} events/s (${catchUpResult.delivered} delivered, ${catchUpResult.duplicates} duplicates, ${catchUpResult.batches} batches, ${catchUpResult.seconds.toFixed(2)} s)`,
  );

  // 3. Live delivery.
  progress(`ours: live delivery, ${config.liveRate} appends/s for ${config.warmupSeconds}+${config.seconds} s, subscriber on a separate instance`);
  const live = await liveLatency(storeUrl, config.poolSize, config.liveRate, config.warmupSeconds, config.seconds);
  progress(
    `  p50 ${fmtMs(live.p50Ms)} ms, p99 ${fmtMs(live.p99Ms)} ms, max ${fmtMs(live.maxMs)} ms (${live.measured} samples, ${live.missing} missing, ${live.duplicates} duplicates)`,
  );

  // 4. Live delivery while a projector runs every consumer and projections are rebuilt.
  let loaded: UnderLoadResult | undefined;
  if (config.loadedUsers > 0) {
    loaded = await liveDeliveryUnderLoad({
      users: config.loadedUsers,
      rate: config.liveRate,
      warmupSeconds: config.warmupSeconds,
      seconds: config.loadedSeconds,
      poolSize: config.poolSize,
      redisUrl: config.loadedRedisUrl,
      settleSeconds: config.loadedSettleSeconds,
      rebuilds: config.loadedRebuilds,
    });
    const l = loaded.live;
    progress(
      `  under load: p50 ${fmtMs(l.p50Ms)} ms, p99 ${fmtMs(l.p99Ms)} ms, max ${fmtMs(l.maxMs)} ms (${l.measured} samples, ${l.missing} missing; ${loaded.rebuildsFinished} rebuilds finished meanwhile)`,
    );
  }

  // 5. Report.
  const { ours, emmett: theirs, raw } = appends;
  const ratio = (a?: ThroughputResult, b?: ThroughputResult) => (a && b ? a.opsPerSec / b.opsPerSec : Number.NaN);
  const targets = [
    {
      name: `single appends c=${config.highConcurrency}: ours ≥ ${TARGETS.emmettMultiple}× Emmett`,
      actual: ratio(ours.c8, theirs.c8),
      target: TARGETS.emmettMultiple,
      unit: '×',
      met: ratio(ours.c8, theirs.c8) >= TARGETS.emmettMultiple,
    },
    {
      name: `10-event batches c=${config.highConcurrency}: ours ≥ ${TARGETS.emmettMultiple}× Emmett`,
      actual: ratio(ours.batch8, theirs.batch8),
      target: TARGETS.emmettMultiple,
      unit: '×',
      met: ratio(ours.batch8, theirs.batch8) >= TARGETS.emmettMultiple,
    },
    {
      name: `single appends c=${config.highConcurrency}: ours ≥ ${TARGETS.rawFraction * 100}% of raw INSERT`,
      actual: ratio(ours.c8, raw.c8),
      target: TARGETS.rawFraction,
      unit: '×',
      met: ratio(ours.c8, raw.c8) >= TARGETS.rawFraction,
    },
    {
      name: `catch-up ≥ ${fmtRate(TARGETS.catchUpEventsPerSec)} events/s, no duplicates`,
      actual: catchUpResult.eventsPerSec,
      target: TARGETS.catchUpEventsPerSec,
      unit: 'events/s',
      met: catchUpResult.eventsPerSec >= TARGETS.catchUpEventsPerSec && catchUpResult.duplicates === 0,
    },
    {
      name: `live delivery p99 < ${TARGETS.liveP99Ms} ms at ${fmtRate(config.liveRate)} appends/s`,
      actual: live.p99Ms,
      target: TARGETS.liveP99Ms,
      unit: 'ms',
      met: live.p99Ms < TARGETS.liveP99Ms && live.missing === 0 && live.duplicates === 0,
    },
    ...(loaded
      ? [
          {
            name: `live delivery p99 < ${TARGETS.loadedLiveP99Ms} ms at ${fmtRate(config.liveRate)} appends/s, projector + rebuilds running${config.loadedRebuilds ? '' : ' (rebuilds were off)'}`,
            actual: loaded.live.p99Ms,
            target: TARGETS.loadedLiveP99Ms,
            unit: 'ms',
            met: loaded.live.p99Ms < TARGETS.loadedLiveP99Ms && loaded.live.missing === 0 && loaded.live.duplicates === 0 && loaded.rebuildsFinished > 0,
          },
        ]
      : []),
  ];
  const totalSeconds = (performance.now() - began) / 1000;

  if (asJson) {
    const environment = {
      cpus: os.cpus().length,
      node: process.version,
      postgres: server?.version,
      synchronousCommit: server?.synchronous_commit,
      payloadBytes: bytes,
    };
    process.stdout.write(
      `${JSON.stringify({ config, environment, appends, catchUp: { stored, ...catchUpResult }, live, loaded, targets, totalSeconds }, null, 2)}\n`,
    );
    return;
  }

  const c8 = config.highConcurrency;
  const rate = (r?: ThroughputResult, times = 1) => (r ? r.opsPerSec * times : undefined);
  const row = (label: string, o?: number, e?: number, r?: number) => [label, fmtRate(o), fmtRate(e), fmtRate(r), fmtRatio(o, e), fmtRatio(o, r)];
  const lat = (label: string, key: Figure['key']) => [
    label,
    ...[ours, theirs, raw].map((s) => (s[key] ? `${fmtMs(s[key].p50Ms)} / ${fmtMs(s[key].p99Ms)}` : '—')),
    '',
    '',
  ];
  const spread = (label: string, key: Figure['key']) => [label, ...[ours, theirs, raw].map((s) => s[key]?.sliceRates.map(fmtRate).join(' ') ?? '—'), '', ''];
  const out: string[] = [
    `Event store benchmark — PostgreSQL ${server?.version} (synchronous_commit=${server?.synchronous_commit}), ${os.cpus().length} CPUs, Node ${process.version}`,
    `${config.seconds} s measured per figure and subject (${config.rounds} interleaved rounds, ${config.warmupSeconds} s warm-up); pools of ${config.poolSize}; ` +
      `payload ${bytes.data} B data + ${bytes.metadata} B metadata; ${config.streamsPerWorker} streams per worker, exact expected revisions`,
    '',
    renderTable(
      ['append throughput', 'ours', 'Emmett', 'raw INSERT', 'ours/Emmett', 'ours/raw'],
      [
        row('single event, c=1 (appends/s)', rate(ours.c1), rate(theirs.c1), rate(raw.c1)),
        row(`single event, c=${c8} (appends/s)`, rate(ours.c8), rate(theirs.c8), rate(raw.c8)),
        row(`10-event batch, c=${c8} (batches/s)`, rate(ours.batch8), rate(theirs.batch8)),
        row(
          `10-event batch, c=${c8} (events/s) [raw: rows/s at c=${c8}]`,
          rate(ours.batch8, config.batchEvents),
          rate(theirs.batch8, config.batchEvents),
          rate(raw.c8),
        ),
        lat('latency p50 / p99 ms, c=1', 'c1'),
        lat(`latency p50 / p99 ms, c=${c8}`, 'c8'),
        lat(`latency p50 / p99 ms, batch c=${c8}`, 'batch8'),
        spread('per-round rates, c=1', 'c1'),
        spread(`per-round rates, c=${c8}`, 'c8'),
        spread(`per-round rates, batch c=${c8}`, 'batch8'),
      ],
    ),
    '',
    renderTable(
      ['ours: reads and live delivery', 'value'],
      [
        [`catch-up via subscribeToAll from start, batchSize ${config.readBatchSize} (distinct events/s)`, fmtRate(catchUpResult.eventsPerSec)],
        [
          '  stored / delivered / duplicates / batches / seconds',
          `${fmtRate(stored)} / ${fmtRate(catchUpResult.delivered)} / ${catchUpResult.duplicates} / ${catchUpResult.batches} / ${catchUpResult.seconds.toFixed(2)}`,
        ],
        [
          `live at ${fmtRate(config.liveRate)} appends/s: append→delivery p50 / p90 / p99 / max ms`,
          `${fmtMs(live.p50Ms)} / ${fmtMs(live.p90Ms)} / ${fmtMs(live.p99Ms)} / ${fmtMs(live.maxMs)}`,
        ],
        ['  append() itself p50 / p99 ms', `${fmtMs(live.appendP50Ms)} / ${fmtMs(live.appendP99Ms)}`],
        ['  append resolved→delivery p50 / p99 ms', `${fmtMs(live.afterCommitP50Ms)} / ${fmtMs(live.afterCommitP99Ms)}`],
        ['  samples / missing / duplicates / late-issued appends', `${live.measured} / ${live.missing} / ${live.duplicates} / ${live.lateIssues}`],
        ...(loaded
          ? [
              [
                `under load (projector with ${loaded.consumers} consumers over ${fmtRate(loaded.historyEvents)} history events${config.loadedRebuilds ? ', rebuilds in a loop' : ''}, ${config.loadedSeconds} s from ${config.loadedSettleSeconds} s after ${loaded.behind.length === 0 ? 'every consumer' : 'the projections'} reached the head): p50 / p90 / p99 / max ms`,
                `${fmtMs(loaded.live.p50Ms)} / ${fmtMs(loaded.live.p90Ms)} / ${fmtMs(loaded.live.p99Ms)} / ${fmtMs(loaded.live.maxMs)}`,
              ],
              ['  append() itself p50 / p99 ms', `${fmtMs(loaded.live.appendP50Ms)} / ${fmtMs(loaded.live.appendP99Ms)}`],
              ['  append resolved→delivery p50 / p99 ms', `${fmtMs(loaded.live.afterCommitP50Ms)} / ${fmtMs(loaded.live.afterCommitP99Ms)}`],
              [
                '  samples / missing / duplicates / late-issued appends / rebuilds finished meanwhile',
                `${loaded.live.measured} / ${loaded.live.missing} / ${loaded.live.duplicates} / ${loaded.live.lateIssues} / ${loaded.rebuildsFinished}`,
              ],
            ]
          : []),
      ],
    ),
    ...(catchUpResult.duplicates + live.duplicates > 0
      ? [
          `WARNING: subscribeToAll delivered ${catchUpResult.duplicates} (catch-up) + ${live.duplicates} (live) events more than once — ` +
            'a store bug; the catch-up rate counts distinct events only',
        ]
      : []),
    '',
    renderTable(
      ['target', 'actual', 'target', 'met'],
      targets.map((t) => [
        t.name,
        t.unit === '×' ? `${t.actual.toFixed(2)}×` : t.unit === 'ms' ? `${fmtMs(t.actual)} ms` : fmtRate(t.actual),
        t.unit === '×' ? `≥ ${t.target}×` : t.unit === 'ms' ? `< ${t.target} ms` : `≥ ${fmtRate(t.target)}`,
        t.met ? 'yes' : 'NO',
      ]),
    ),
    '',
    `total run time ${totalSeconds.toFixed(0)} s`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

// No process.exit on success: every pool is closed, so the process ends on its own.
main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
