/**
 * Pipeline benchmark: `npm run bench:pipeline [-- --json]`.
 * Progress goes to stderr, the tables (or JSON) to stdout.
 *
 * Dispatch: executions requested → pm-dispatch-executions (plan check, proxy
 * choice, ProxyAssigned, BullMQ job) → jobs in the scrape queue, per second,
 * on a backlog and live at a steady rate; beside it the two halves' ceilings
 * (event store appends alone, BullMQ adds alone). Fresh database
 * `bench_pipeline`, its own queue prefix in REDIS_URL.
 *
 * Scraping: pages, API calls and items per minute with the real browser pool
 * and scrapers against the fixture sites on 127.0.0.1, side by side for one
 * context (a worker without a pool: the baseline), the pool at
 * BENCH_CONTEXTS parallel contexts, and the pool without resource blocking.
 *
 * Env: BENCH_EXECUTIONS (backlog, default 2000), BENCH_CONCURRENCY (default 8),
 * BENCH_LIVE_RATE (requests/s, default 50), BENCH_LIVE_EXECUTIONS (default 300),
 * BENCH_SCRAPE_SECONDS (per configuration, default 20), BENCH_PACING_MS (the
 * paced configurations' delay between platform requests, default 300), BENCH_CONTEXTS
 * (default 4), CHROMIUM_PATH (default /usr/bin/chromium), BENCH_PG, REDIS_URL.
 */
import { measureDispatch } from './lib/dispatch.js';
import { measureScraping, startScrapeBench, type ScrapeFigures } from './lib/scrape.js';
import { fmtMs, fmtRate, fmtRatio, renderTable } from './lib/table.js';
import { progress } from './lib/timing.js';
import { envNumber } from './lib/env.js';

const asJson = process.argv.includes('--json');
const scrapeSeconds = envNumber('BENCH_SCRAPE_SECONDS', 20);
const contexts = Math.round(envNumber('BENCH_CONTEXTS', 4));
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const pacing = Math.round(envNumber('BENCH_PACING_MS', 300));

async function scraping(): Promise<ScrapeFigures[]> {
  const bench = await startScrapeBench();
  try {
    const runs: ScrapeFigures[] = [];
    for (const options of [
      { label: '1 context (baseline)', contexts: 1, blockResources: true },
      { label: `pool, ${contexts} contexts`, contexts, blockResources: true },
      { label: `pool, ${contexts} contexts, images/fonts loaded`, contexts, blockResources: false },
      { label: `1 context, ${pacing} ms pacing (baseline)`, contexts: 1, blockResources: true, delayMs: [pacing, pacing] as const },
      { label: `pool, ${contexts} contexts, ${pacing} ms pacing`, contexts, blockResources: true, delayMs: [pacing, pacing] as const },
    ]) {
      progress(`scraping: ${options.label} for ${scrapeSeconds} s`);
      runs.push(await measureScraping(bench.sites, { ...options, seconds: scrapeSeconds, executablePath }));
    }
    return runs;
  } finally {
    await bench.close();
  }
}

const perMinute = (n: number, seconds: number) => (n / seconds) * 60;

const dispatch = await measureDispatch({
  executions: Math.round(envNumber('BENCH_EXECUTIONS', 2000)),
  concurrency: Math.round(envNumber('BENCH_CONCURRENCY', 8)),
  liveRate: envNumber('BENCH_LIVE_RATE', 50),
  liveExecutions: Math.round(envNumber('BENCH_LIVE_EXECUTIONS', 300)),
});
const scrape = await scraping();
if (asJson) {
  console.log(JSON.stringify({ dispatch, scraping: scrape }, null, 2));
} else {
  console.log(`\nDispatch (${dispatch.executions} executions requested, then dispatched by pm-dispatch-executions):\n`);
  console.log(
    renderTable(
      ['figure', 'per second', 'vs dispatch'],
      [
        ['requests appended (event store only)', fmtRate(dispatch.requestsPerSecond), fmtRatio(dispatch.requestsPerSecond, dispatch.dispatchedPerSecond)],
        ['dispatched: request → job enqueued (backlog)', fmtRate(dispatch.dispatchedPerSecond), '1.00×'],
        ['BullMQ adds only (enqueue ceiling)', fmtRate(dispatch.rawEnqueuePerSecond), fmtRatio(dispatch.rawEnqueuePerSecond, dispatch.dispatchedPerSecond)],
      ],
    ),
  );
  console.log(`live at ${dispatch.liveRate} requests/s: request → job p50 ${fmtMs(dispatch.latencyP50Ms)} ms, p95 ${fmtMs(dispatch.latencyP95Ms)} ms`);
  const base = scrape[0]!;
  const pacedBase = scrape[3]!;
  console.log('\nScraping against the fixture sites (real Chromium, no proxy):\n');
  console.log(
    renderTable(
      ['configuration', 'jobs', 'pages/min', 'API calls/min', 'items/min', 'items/min vs baseline'],
      scrape.map((r) => [
        r.label,
        String(r.jobs),
        fmtRate(perMinute(r.pages, r.seconds)),
        fmtRate(perMinute(r.apiCalls, r.seconds)),
        fmtRate(perMinute(r.items, r.seconds)),
        fmtRatio(perMinute(r.items, r.seconds), perMinute((r.label.includes('pacing') ? pacedBase : base).items, (r.label.includes('pacing') ? pacedBase : base).seconds)),
      ]),
    ),
  );
}
