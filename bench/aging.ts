/**
 * Aging benchmark: for every aggregate with a growth path, the latency of a
 * user's command on a fresh aggregate beside the same command on one carrying
 * a year of realistic history, written through the events the real code
 * writes (bench/aging/history.ts). `npm run bench:aging [-- --json]`.
 *
 * Fresh and aged commands alternate, one at a time, so drift of a shared
 * machine hits both alike. Target: aged p50 ≤ 1.2 × fresh p50 for every
 * aggregate (p99 is printed beside it).
 *
 * Env: BENCH_AGING_ITERATIONS (measured commands per side, default 300),
 * BENCH_AGING_WARMUP (unmeasured commands per side first, default 30),
 * BENCH_AGING_ONLY (a substring: run only the scenarios whose aggregate matches),
 * BENCH_PG (server URL without database, default postgres://postgres@127.0.0.1:5432).
 */
import { performance } from 'node:perf_hooks';
import { createPostgresEventStore } from '../src/adapters/event-store/postgres/index.js';
import { useStateCache } from '../src/write-model/core/state-cache.js';
import { SCENARIOS } from './aging/scenarios.js';
import type { AgingContext, Scenario } from './aging/scenario.js';
import { migrate, recreateDatabase } from './lib/db.js';
import { fmtMs, renderTable } from './lib/table.js';
import { percentile, progress } from './lib/timing.js';
import { envNumber } from './lib/env.js';

const TARGET_RATIO = 1.2;

const iterations = envNumber('BENCH_AGING_ITERATIONS', 300, { integer: true });
const warmup = envNumber('BENCH_AGING_WARMUP', 30, { integer: true });
const only = process.env.BENCH_AGING_ONLY ?? '';
const asJson = process.argv.includes('--json');

interface Side {
  events: number;
  p50: number;
  p99: number;
}
interface Result {
  scenario: Scenario;
  fresh: Side;
  aged: Side;
  ratio: number;
}

async function measure(context: AgingContext, scenario: Scenario): Promise<Result> {
  progress(`${scenario.aggregate}: writing a fresh target and a year of history (${scenario.history})`);
  const t0 = performance.now();
  const fresh = await scenario.prepare(context, false);
  const aged = await scenario.prepare(context, true);
  progress(`  ${aged.events.toLocaleString('en-US')} events of history in ${((performance.now() - t0) / 1000).toFixed(1)} s; measuring ${scenario.command}`);
  const times = { fresh: [] as number[], aged: [] as number[] };
  for (let i = 0; i < warmup + iterations; i++) {
    // alternate which side goes first, so neither always follows the other
    const order = i % 2 === 0 ? (['fresh', 'aged'] as const) : (['aged', 'fresh'] as const);
    for (const side of order) {
      const target = side === 'fresh' ? fresh.target : aged.target;
      const start = performance.now();
      await scenario.run(context, target, i);
      if (i >= warmup) times[side].push(performance.now() - start);
    }
  }
  const side = (list: number[], events: number): Side => {
    const sorted = [...list].sort((a, b) => a - b);
    return { events, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  };
  const f = side(times.fresh, fresh.events);
  const a = side(times.aged, aged.events);
  return { scenario, fresh: f, aged: a, ratio: a.p50 / f.p50 };
}

async function main(): Promise<void> {
  const url = await recreateDatabase('collector_bench_aging');
  await migrate(url);
  const store = createPostgresEventStore({ connectionString: url, poolSize: 4 });
  // no kept states: every command reads its stream as a new process (or another one) would, the path age could slow
  useStateCache(store, 0);
  const context: AgingContext = { store, now: new Date() };
  const results: Result[] = [];
  try {
    for (const scenario of SCENARIOS.filter((s) => s.aggregate.includes(only))) results.push(await measure(context, scenario));
  } finally {
    await store.close();
  }
  if (asJson) {
    const rows = results.map((r) => ({
      aggregate: r.scenario.aggregate,
      command: r.scenario.command,
      history: r.scenario.history,
      fresh: r.fresh,
      aged: r.aged,
      ratio: r.ratio,
      met: r.ratio <= TARGET_RATIO,
    }));
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const ratio = (n: number) => `${n.toFixed(2)}×`;
  console.log(`\nCommand latency, fresh vs a year of history (${iterations} commands per side, ms)\n`);
  console.log(
    renderTable(
      ['aggregate', 'command', 'history events', 'fresh p50', 'fresh p99', 'aged p50', 'aged p99', 'aged/fresh p50', 'aged/fresh p99'],
      results.map((r) => [
        r.scenario.aggregate,
        r.scenario.command,
        r.aged.events.toLocaleString('en-US'),
        fmtMs(r.fresh.p50),
        fmtMs(r.fresh.p99),
        fmtMs(r.aged.p50),
        fmtMs(r.aged.p99),
        ratio(r.ratio),
        ratio(r.aged.p99 / r.fresh.p99),
      ]),
    ),
  );
  console.log('\nYear of history per aggregate:');
  for (const r of results) console.log(`  ${r.scenario.aggregate}: ${r.scenario.history}`);
  console.log(`\nTargets\n`);
  console.log(
    renderTable(
      ['target', 'value', 'met'],
      results.map((r) => [`${r.scenario.aggregate}: aged/fresh p50 ≤ ${TARGET_RATIO}×`, ratio(r.ratio), r.ratio <= TARGET_RATIO ? 'yes' : 'NO']),
    ),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
