import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate, recreateDatabase } from '../lib/db.js';
import { liveLatency, type LiveResult } from '../lib/ours.js';
import { progress, sleep } from '../lib/timing.js';
import { writeHistory } from '../rebuild/history.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface UnderLoadOptions {
  users: number;
  rate: number;
  warmupSeconds: number;
  seconds: number;
  poolSize: number;
  redisUrl: string;
  /** seconds between every consumer reaching the head and the clock starting */
  settleSeconds: number;
  /** whether projections are rebuilt in a loop meanwhile (false: the projector alone) */
  rebuilds: boolean;
}

export interface UnderLoadResult {
  historyEvents: number;
  consumers: number;
  /** consumers that had not caught up with the history when the clock started (none, normally) */
  behind: string[];
  /** projection rebuilds that finished while live delivery was measured */
  rebuildsFinished: number;
  live: LiveResult;
}

/**
 * Live delivery as a busy platform sees it: a realistic history, a real
 * projector process running every projection and process manager over it,
 * and projection rebuilds one after another (real CLI processes) — while
 * `liveLatency` appends at `rate` and times append → delivery.
 */
export async function liveDeliveryUnderLoad(options: UnderLoadOptions): Promise<UnderLoadResult> {
  progress('under load: recreating bench_store_loaded, migrating, writing a history');
  const url = await recreateDatabase('bench_store_loaded');
  await migrate(url);
  const historyEvents = await writeHistory(url, { users: options.users, proxies: 20, concurrency: 2 });
  progress(`under load: ${historyEvents} history events; starting a projector`);
  const env = { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'warn', DATABASE_URL: url, REDIS_URL: options.redisUrl, SMTP_URL: 'smtp://127.0.0.1:1' };
  const logDir = os.tmpdir();
  const projector = start('projector', ['src/main/projector.ts'], env, logDir);
  let stopRebuilds = false;
  let rebuildsFinished = 0;
  let rebuilds: Promise<void> | undefined;
  try {
    const { consumers, behind } = await waitForConsumersAtHead(url);
    progress(
      `under load: ${behind.length === 0 ? `the projector's ${consumers} consumers are at the head` : `still behind after ${PROCESS_MANAGERS_WAIT_MS / 1000} s: ${behind.join(', ')}`}; ${options.rebuilds ? 'rebuilding projections in a loop, ' : ''}measuring in ${options.settleSeconds} s`,
    );
    const names = [
      'users-v1',
      'subscriptions-v1',
      'workflows-v1',
      'xiaohongshu-content-v1',
      'qidian-data-v1',
      'notifications-v1',
      'proxies-v1',
      'proxy-usage-v1',
      'platform-accounts-v1',
    ];
    rebuilds = (async () => {
      for (let i = 0; options.rebuilds && !stopRebuilds; i++) {
        const child = start(`rebuild-${i}`, ['src/main/cli.ts', 'projections', 'rebuild', names[i % names.length]!], env, logDir);
        const code = await child.exited;
        if (code === 0 && !stopRebuilds) rebuildsFinished++;
        else if (code !== 0 && !stopRebuilds) progress(`  a rebuild exited with ${String(code)}; see ${child.logFile}`);
      }
    })();
    // the first rebuild is under way before the clock starts
    await sleep(options.settleSeconds * 1000);
    const live = await liveLatency(url, options.poolSize, options.rate, options.warmupSeconds, options.seconds);
    return { historyEvents, consumers, behind, rebuildsFinished, live };
  } finally {
    stopRebuilds = true;
    projector.process.kill('SIGTERM');
    await projector.exited;
    await rebuilds;
  }
}

interface Child {
  process: ChildProcess;
  logFile: string;
  exited: Promise<number | NodeJS.Signals | null>;
}

function start(name: string, args: string[], env: NodeJS.ProcessEnv, logDir: string): Child {
  const logFile = path.join(logDir, `bench-store-${name}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return { process: child, logFile, exited };
}

const CONSUMERS_AT_HEAD = `
  WITH head AS (SELECT transaction_id, global_position FROM es_events ORDER BY transaction_id DESC, global_position DESC LIMIT 1)
  SELECT consumer, consumer ~ '-v[0-9]+$' AS projection,
         (commit_position::text::xid8, prepare_position) < ((SELECT transaction_id FROM head), (SELECT global_position FROM head)) AS behind
    FROM consumer_checkpoints WHERE retired_by IS NULL AND consumer NOT LIKE '%#%'`;

/**
 * Waits until the projector runs every consumer and all of them have caught
 * up with the history at once: first the projections, then the process
 * managers (whose reactions append events of their own, which the others
 * then handle). The measurement is of a projector following live appends,
 * not of one still replaying history; a process manager that has not caught
 * up within PROCESS_MANAGERS_WAIT_MS is named and the bench goes on.
 */
async function waitForConsumersAtHead(url: string): Promise<{ consumers: number; behind: string[] }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const deadline = Date.now() + 10 * 60_000;
    for (;;) {
      const rows = (await client.query<{ consumer: string; projection: boolean; behind: boolean }>(CONSUMERS_AT_HEAD)).rows;
      const projections = rows.filter((r) => r.projection);
      const behind = projections.filter((r) => r.behind).length;
      if (projections.length >= 9 && behind === 0) break;
      if (Date.now() > deadline)
        throw new Error(`the projector's projections did not reach the head within 10 minutes (${behind} of ${projections.length} behind)`);
      await sleep(1_000);
    }
    progress('under load: the projections are at the head; waiting for the process managers');
    const managersDeadline = Date.now() + PROCESS_MANAGERS_WAIT_MS;
    for (;;) {
      const rows = (await client.query<{ consumer: string; behind: boolean }>(CONSUMERS_AT_HEAD)).rows;
      const behind = rows.filter((r) => r.behind).map((r) => r.consumer);
      if (behind.length === 0 || Date.now() > managersDeadline) return { consumers: rows.length, behind };
      await sleep(500);
    }
  } finally {
    await client.end();
  }
}

const PROCESS_MANAGERS_WAIT_MS = 3 * 60_000;
