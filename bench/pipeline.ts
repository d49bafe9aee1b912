/**
 * Pipeline benchmark: `npm run bench:pipeline [-- --json]`.
 * Progress goes to stderr, the tables (or JSON) to stdout.
 *
 * Dispatch: a backlog of executions requested first (ExecutionRequested
 * appended as the API does, no consumer running), then the real
 * pm-dispatch-executions drains it (plan check, proxy choice, ProxyAssigned,
 * BullMQ job): jobs in the scrape queue per second; beside it, measured in
 * the same run on the same Postgres and Redis, the two halves' ceilings
 * (requests appended alone, BullMQ adds alone), and live at a steady rate.
 * Target: ≥ 2,000 dispatches/s on a 20,000-request backlog. Fresh database
 * `bench_pipeline`, its own queue prefix in REDIS_URL.
 *
 * Scraping: pages, API calls and items per minute with the real browser pool
 * and scrapers against the fixture sites on 127.0.0.1, side by side for one
 * context (a worker without a pool: the baseline), the pool at
 * BENCH_CONTEXTS parallel contexts, and the pool without resource blocking.
 *
 * Publishing: publications dispatched per second on a 10,000 backlog
 * (bench/publications.ts: PublicationRequested → pre-review → publish job;
 * target ≥ 1,000/s) and the pre-review engine's articles per second on one
 * core (bench/pre-review.ts: 2,000-character articles against a
 * 10,000-phrase rule set; target ≥ 5,000/s). BENCH_PUBLISHING=0 leaves both out.
 *
 * Env: BENCH_EXECUTIONS (backlog, default 20000), BENCH_CONCURRENCY (default 8),
 * BENCH_LIVE_RATE (requests/s, default 50), BENCH_LIVE_EXECUTIONS (default 300),
 * BENCH_SCRAPE_SECONDS (per configuration, default 20; 0 leaves scraping out),
 * BENCH_PACING_MS (the paced configurations' delay between platform requests,
 * default 300), BENCH_CONTEXTS (default 4), CHROMIUM_PATH (default
 * /usr/bin/chromium), BENCH_PG, REDIS_URL.
 */
import { measureDispatch } from './lib/dispatch.js';
import { benchPreReview, printPreReview } from './pre-review.js';
import { benchPublicationDispatch, printPublicationDispatch } from './publications.js';
import { measureScraping, startScrapeBench, type ScrapeFigures } from './lib/scrape.js';
import { fmtMs, fmtRate, fmtRatio, renderTable } from './lib/table.js';
import { progress } from './lib/timing.js';
import { envNumber, envNumberOrZero } from './lib/env.js';

const asJson = process.argv.includes('--json');
const scrapeSeconds = envNumberOrZero('BENCH_SCRAPE_SECONDS', 20);
/** dispatches per second on a backlog of TARGET_BACKLOG requests */
const TARGET_DISPATCH = 2_000;
const TARGET_BACKLOG = 20_000;
const contexts = Math.round(envNumber('BENCH_CONTEXTS', 4));
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const pacing = Math.round(envNumber('BENCH_PACING_MS', 300));

async function scraping(): Promise<ScrapeFigures[]> {
  if (scrapeSeconds === 0) return [];
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
  executions: Math.round(envNumber('BENCH_EXECUTIONS', TARGET_BACKLOG)),
  concurrency: Math.round(envNumber('BENCH_CONCURRENCY', 8)),
  liveRate: envNumber('BENCH_LIVE_RATE', 50),
  liveExecutions: Math.round(envNumber('BENCH_LIVE_EXECUTIONS', 300)),
});
const scrape = await scraping();
const withPublishing = envNumberOrZero('BENCH_PUBLISHING', 1) !== 0;
const publications = withPublishing ? await benchPublicationDispatch({ print: false }) : null;
const preReview = withPublishing ? await benchPreReview({ log: progress }) : null;
const target = {
  wanted: `>= ${TARGET_DISPATCH} dispatched/s on a ${TARGET_BACKLOG}-request backlog`,
  met: dispatch.dispatchedPerSecond >= TARGET_DISPATCH && dispatch.executions >= TARGET_BACKLOG,
};
if (asJson) {
  console.log(JSON.stringify({ dispatch, target, scraping: scrape, publications, preReview }, null, 2));
} else {
  console.log(`\nDispatch (a backlog of ${dispatch.executions.toLocaleString('en-US')} executions requested, then drained by pm-dispatch-executions):\n`);
  console.log(
    renderTable(
      ['figure', 'per second', 'vs dispatch'],
      [
        ['dispatched: request → job enqueued (backlog)', fmtRate(dispatch.dispatchedPerSecond), '1.00×'],
        [
          `requests appended (building the backlog, c=${dispatch.concurrency})`,
          fmtRate(dispatch.requestsPerSecond),
          fmtRatio(dispatch.requestsPerSecond, dispatch.dispatchedPerSecond),
        ],
        [
          `BullMQ adds alone (one at a time, c=${dispatch.concurrency})`,
          fmtRate(dispatch.rawEnqueuePerSecond),
          fmtRatio(dispatch.rawEnqueuePerSecond, dispatch.dispatchedPerSecond),
        ],
      ],
    ),
  );
  console.log(`live at ${dispatch.liveRate} requests/s: request → job p50 ${fmtMs(dispatch.latencyP50Ms)} ms, p95 ${fmtMs(dispatch.latencyP95Ms)} ms\n`);
  const backlogMet = dispatch.executions >= TARGET_BACKLOG;
  console.log(
    renderTable(
      ['target', 'wanted', 'got', 'met'],
      [
        [
          `dispatched/s on a ${fmtRate(TARGET_BACKLOG)}-request backlog`,
          `≥ ${fmtRate(TARGET_DISPATCH)}`,
          `${fmtRate(dispatch.dispatchedPerSecond)}${backlogMet ? '' : ` (backlog of ${fmtRate(dispatch.executions)})`}`,
          target.met ? 'yes' : 'NO',
        ],
      ],
    ),
  );
  if (scrape.length > 0) {
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
          fmtRatio(
            perMinute(r.items, r.seconds),
            perMinute((r.label.includes('pacing') ? pacedBase : base).items, (r.label.includes('pacing') ? pacedBase : base).seconds),
          ),
        ]),
      ),
    );
  }
  if (publications) printPublicationDispatch(publications);
  if (preReview) printPreReview(preReview);
}
