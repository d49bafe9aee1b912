/**
 * HTTP load benchmark: `npm run bench:http [-- --json]`. Progress goes to
 * stderr, the tables (or JSON) to stdout.
 *
 * The platform runs as `npm run up` runs it: the API, the projector and the
 * worker as three child processes, on a fresh database `collector_bench_http`
 * and Redis logical database 5 (flushed first). Without Chromium at
 * CHROMIUM_PATH the worker is left out (said in the output).
 *
 * Setup over HTTP (bench/http-setup.ts): BENCH_USERS users, each with its own
 * access token, Xiaohongshu enterprise (unlimited daily calls, bought through
 * the Alipay sandbox) and a Qidian rankings workflow.
 *
 * Rounds (autocannon, bench/http-load.ts): profile update, quota consume, the
 * main queries, GET /healthz as the framework's ceiling, and last workflow
 * execute (the executions it requests keep the projector and the worker busy
 * long after it), BENCH_ROUNDS rounds of BENCH_ROUND_SECONDS with
 * BENCH_CONNECTIONS connections, each connection one user. Before each kind
 * the projector is given up to BENCH_SETTLE_SECONDS to catch up, so every
 * kind starts from a quiet platform.
 *
 * Env: BENCH_ROUND_SECONDS (10), BENCH_ROUNDS (4), BENCH_CONNECTIONS (32),
 * BENCH_USERS (32), BENCH_SETTLE_SECONDS (60), BENCH_PG (server URL without a
 * database), BENCH_REDIS_URL (redis://127.0.0.1:6379/5), CHROMIUM_PATH,
 * BENCH_WARMUP_SECONDS (3: an unmeasured round first per kind; 0: none),
 * BENCH_KINDS (only these kinds, e.g. `profile,queries`), BENCH_PROFILE (`api`,
 * `projector`: V8 CPU profiles of those children in $TMPDIR/bench-http-profiles).
 *
 * Exit code 0 whether or not the targets are met; non-zero only when the
 * benchmark could not run (a child crashed, setup failed).
 */
import os from 'node:os';
import { KINDS, runRound, type LoadKind, type RoundResult } from './http-load.js';
import { signalAllChildrenNow, startPlatform, stopAllChildren, summarizeLog, waitForProjector, type Platform } from './http-platform.js';
import { generateMerchant, platformEnv, registrationOf } from '../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../sandbox/payment-provider/server.js';
import { setUpUsers, type BenchUser, type PayAtProvider } from './http-setup.js';
import { fmtMs, fmtRate, fmtRatio, renderTable } from './lib/table.js';
import { progress } from './lib/timing.js';
import { envNumber, envNumberOrZero } from './lib/env.js';

const config = {
  roundSeconds: envNumber('BENCH_ROUND_SECONDS', 10),
  rounds: Math.round(envNumber('BENCH_ROUNDS', 4)),
  connections: Math.round(envNumber('BENCH_CONNECTIONS', 32)),
  users: Math.round(envNumber('BENCH_USERS', 32)),
  settleSeconds: envNumber('BENCH_SETTLE_SECONDS', 60),
  warmupSeconds: envNumberOrZero('BENCH_WARMUP_SECONDS', 3),
  /** BENCH_KINDS=profile,queries runs only those kinds (profile, consume, execute, queries, healthz) */
  kinds: (process.env.BENCH_KINDS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean),
  database: 'collector_bench_http',
  redisUrl: process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379/5',
  chromiumPath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
};
const asJson = process.argv.includes('--json');

const TARGETS = { commandsPerSec: 2_000, lastOverFirst: 0.9, queriesPerSec: 5_000 };

interface KindRun {
  kind: LoadKind;
  rounds: RoundResult[];
  /** seconds the projector took to catch up before the kind's first round */
  settleSeconds: number;
  /** events the projector was behind when the kind started (after the wait; null: not measurable) */
  backlogAtStart: number | null;
}

// ---------------------------------------------------------------- running

async function runKind(platform: Platform, kind: LoadKind, users: readonly BenchUser[]): Promise<KindRun> {
  const settled = await waitForProjector(platform.databaseUrl, config.settleSeconds);
  const backlog = settled.backlog?.events ?? null;
  progress(
    backlog
      ? `${kind.label}: projector still ${backlog} events behind after ${settled.seconds.toFixed(1)} s (slowest: ${settled.backlog!.consumer}); starting anyway`
      : `${kind.label}: projector caught up in ${settled.seconds.toFixed(1)} s`,
  );
  if (config.warmupSeconds > 0) {
    // unmeasured: the first requests of a kind pay for compiling its code paths and filling pools
    await runRound({ url: platform.url, kind, users, round: 0, seconds: config.warmupSeconds, connections: config.connections });
    progress(`  warmed up for ${config.warmupSeconds} s (not measured)`);
  }
  const rounds: RoundResult[] = [];
  for (let round = 1; round <= config.rounds; round++) {
    const result = await runRound({ url: platform.url, kind, users, round, seconds: config.roundSeconds, connections: config.connections });
    rounds.push(result);
    progress(
      `  round ${round}: ${fmtRate(result.reqPerSec)} req/s, 2xx ${fmtRate(result.okPerSec)}/s, p50 ${fmtMs(result.p50Ms)} ms, p99 ${fmtMs(result.p99Ms)} ms${failureText(result)}`,
    );
  }
  return { kind, rounds, settleSeconds: settled.seconds, backlogAtStart: backlog };
}

async function runAll(platform: Platform, pay: PayAtProvider): Promise<{ users: BenchUser[]; runs: KindRun[] }> {
  progress(`setting up ${config.users} users (register, log in, enterprise plan, workflow)`);
  const users = await setUpUsers(platform.url, config.users, pay);
  const runs: KindRun[] = [];
  for (const kind of KINDS.filter((k) => config.kinds.length === 0 || config.kinds.includes(k.key))) {
    progress(`${kind.label}: ${config.rounds} rounds of ${config.roundSeconds} s, ${config.connections} connections`);
    runs.push(await runKind(platform, kind, users));
  }
  return { users, runs };
}

// ---------------------------------------------------------------- reporting

const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);

function failureText(r: RoundResult): string {
  const parts = [
    ...Object.entries(r.clientErrors).map(([code, n]) => `${code} ×${n}`),
    ...Object.entries(r.serverErrors).map(([code, n]) => `${code} ×${n}`),
    r.errors > 0 ? `${r.errors} errors` : '',
    r.timeouts > 0 ? `${r.timeouts} timeouts` : '',
  ].filter(Boolean);
  return parts.length > 0 ? `; ${parts.join(', ')}` : '';
}

function kindTable(run: KindRun): string {
  const rows = run.rounds.map((r) => [
    String(r.round),
    fmtRate(r.reqPerSec),
    fmtRate(r.okPerSec),
    fmtMs(r.p50Ms),
    fmtMs(r.p99Ms),
    String(sum(r.clientErrors)),
    String(sum(r.serverErrors)),
    String(r.errors),
    String(r.timeouts),
    r.loadAverage.toFixed(1),
  ]);
  const table = renderTable(['round', 'req/s', '2xx/s', 'p50 ms', 'p99 ms', '4xx', '5xx', 'errors', 'timeouts', 'load avg'], rows);
  const details = run.rounds.filter((r) => failureText(r) !== '').map((r) => `  round ${r.round}${failureText(r).replace(';', ':')}`);
  return [table, ...details].join('\n');
}

const first = (run: KindRun) => run.rounds[0]!;
const last = (run: KindRun) => run.rounds[run.rounds.length - 1]!;
const yesNo = (met: boolean) => (met ? 'yes' : 'NO');

function summaryTable(runs: readonly KindRun[]): string {
  const ceiling = runs.find((r) => r.kind.group === 'ceiling');
  return renderTable(
    ['kind', 'round 1 2xx/s', `round ${config.rounds} 2xx/s`, `round ${config.rounds} / round 1`, 'round 1 p99 ms', 'vs /healthz (round 1)'],
    runs.map((run) => [
      run.kind.label,
      fmtRate(first(run).okPerSec),
      fmtRate(last(run).okPerSec),
      fmtRatio(last(run).okPerSec, first(run).okPerSec),
      fmtMs(first(run).p99Ms),
      ceiling ? fmtRatio(first(run).okPerSec, first(ceiling).okPerSec) : '—',
    ]),
  );
}

function targetTable(runs: readonly KindRun[]): string {
  const commands = runs.filter((r) => r.kind.group === 'command');
  const queries = runs.find((r) => r.kind.group === 'query');
  const all = runs.flatMap((r) => r.rounds);
  const errors = all.reduce((n, r) => n + r.errors + r.timeouts, 0);
  const serverErrors = all.reduce((n, r) => n + sum(r.serverErrors), 0);
  const meanCommands = commands.reduce((n, r) => n + first(r).okPerSec, 0) / commands.length;
  const rows = [
    ...commands.map((run) => [
      `commands ≥ ${fmtRate(TARGETS.commandsPerSec)}/s: ${run.kind.label} (round 1, 2xx)`,
      `${fmtRate(first(run).okPerSec)}/s`,
      yesNo(first(run).okPerSec >= TARGETS.commandsPerSec),
    ]),
    ...(commands.length > 1 ? [['  mean of the command kinds (round 1; the target is per kind)', `${fmtRate(meanCommands)}/s`, '—']] : []),
    ...commands.map((run) => [
      `round ${config.rounds} ≥ ${TARGETS.lastOverFirst} × round 1: ${run.kind.label}`,
      fmtRatio(last(run).okPerSec, first(run).okPerSec),
      yesNo(last(run).okPerSec >= TARGETS.lastOverFirst * first(run).okPerSec),
    ]),
    ...(queries
      ? [
          [
            `queries ≥ ${fmtRate(TARGETS.queriesPerSec)}/s (round 1, 2xx)`,
            `${fmtRate(first(queries).okPerSec)}/s`,
            yesNo(first(queries).okPerSec >= TARGETS.queriesPerSec),
          ],
        ]
      : []),
    ['0 errors and timeouts (every round)', String(errors), yesNo(errors === 0)],
    ['0 5xx (every round)', String(serverErrors), yesNo(serverErrors === 0)],
  ];
  return renderTable(['target', 'figure', 'met'], rows);
}

/** The children's warnings and errors: where a 5xx or a crash is explained. */
function logReport(platform: Platform): string {
  const lines: string[] = [];
  for (const [name, file] of Object.entries(platform.logFiles)) {
    const log = summarizeLog(file);
    lines.push(`${name}: ${log.errors} error and ${log.warnings} warning log lines (${file})`);
    for (const top of log.top) lines.push(`  ${top.count} × ${top.level}: ${top.msg}`);
  }
  return lines.join('\n');
}

function report(platform: Platform, users: readonly BenchUser[], runs: readonly KindRun[]): void {
  if (asJson) {
    console.log(
      JSON.stringify(
        {
          config,
          workerStarted: platform.workerStarted,
          targets: TARGETS,
          runs: runs.map((r) => ({
            kind: r.kind.key,
            label: r.kind.label,
            settleSeconds: r.settleSeconds,
            backlogAtStart: r.backlogAtStart,
            rounds: r.rounds,
          })),
        },
        null,
        2,
      ),
    );
    return;
  }
  const cpus = os.cpus();
  const usersUsed = Math.min(...runs.filter((r) => r.kind.group !== 'ceiling').flatMap((r) => r.rounds.map((x) => x.usersUsed)));
  console.log(
    `\nHTTP load: ${config.connections} connections over ${users.length} users (each connection one user; every round used ${usersUsed} distinct users at once), ${config.rounds} rounds of ${config.roundSeconds} s per kind`,
  );
  console.log(
    `platform: API + projector + ${platform.workerStarted ? 'worker' : `NO worker (no Chromium at ${config.chromiumPath})`}, each its own process; ${cpus.length} × ${cpus[0]?.model ?? 'CPU'}, node ${process.version}; load generator (autocannon) on the same machine`,
  );
  console.log(
    `machine load (1-minute average, counting the platform, Postgres and autocannon too): ${loadAtStart.toFixed(1)} before the platform started, ${os.loadavg()[0]!.toFixed(1)} after the last round`,
  );
  for (const run of runs) {
    const settle = run.backlogAtStart
      ? `; the projector was still ${run.backlogAtStart} events behind when it started`
      : `; the projector had caught up (waited ${run.settleSeconds.toFixed(1)} s)`;
    console.log(`\n${run.kind.label}${settle}:\n`);
    console.log(kindTable(run));
  }
  console.log('\nSummary (2xx answers per second; /healthz is the ceiling of Koa + middleware on this machine):\n');
  console.log(summaryTable(runs));
  console.log('\nTargets:\n');
  console.log(targetTable(runs));
  console.log(`\nLogs (LOG_LEVEL=warn):\n${logReport(platform)}`);
}

// ---------------------------------------------------------------- main

const loadAtStart = os.loadavg()[0]!;
let interrupted = false;

async function main(): Promise<number> {
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: stopping the platform`);
    void stopAllChildren().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', signalAllChildrenNow);

  progress(`starting the API, the projector and the worker on ${config.database} and ${config.redisUrl}`);
  // the payment provider orders are placed with and paid at: the sandbox (it signs like Alipay / WeChat Pay)
  const merchant = generateMerchant();
  const sandbox: PaymentSandbox = await startPaymentSandbox({ merchant: registrationOf(merchant), timeScale: 0.001 });
  const platform = await startPlatform({
    database: config.database,
    redisUrl: config.redisUrl,
    chromiumPath: config.chromiumPath,
    env: {
      ACCESS_TOKEN_TTL_SECONDS: '86400',
      // every user logs in from 127.0.0.1
      LOGIN_RATE_LIMIT_PER_IP: '100000',
      // a throughput run: the buckets are checked on every request (their cost is measured) but sized past the load;
      // BENCH_RATE_LIMITS=off turns them off, to see what they cost
      API_RATE_LIMIT_PER_IP: process.env.BENCH_RATE_LIMITS === 'off' ? '0' : '1000000',
      API_RATE_LIMIT_PER_USER: process.env.BENCH_RATE_LIMITS === 'off' ? '0' : '100000',
      ...platformEnv({ merchant, keys: sandbox.keys, sandboxUrl: sandbox.url, notifyBaseUrl: 'http://collector-api.bench' }),
    },
  });
  sandbox.resolve.set('collector-api.bench', platform.url);
  if (!platform.workerStarted) progress(`no Chromium at ${config.chromiumPath}: running WITHOUT the worker`);
  progress(`API at ${platform.url}; logs in ${Object.values(platform.logFiles).join(', ')}`);
  try {
    const { users, runs } = await Promise.race([runAll(platform, (orderId) => sandbox.pay('alipay', orderId)), platform.crashed]);
    report(platform, users, runs);
    return 0;
  } finally {
    progress('stopping the platform');
    await platform.stop();
    await sandbox.stop();
  }
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    // after a signal, requests in flight fail as the API goes: the signal handler exits (130)
    if (interrupted) return;
    console.error(`bench:http could not run: ${error instanceof Error ? error.message : String(error)}`);
    await stopAllChildren();
    process.exit(1);
  },
);
