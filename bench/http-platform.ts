/**
 * The platform under test for `npm run bench:http`, run the way `npm run up`
 * runs it: the API, the projector and the worker as three child processes
 * (`node --import tsx src/main/<name>.ts`), on a database and a Redis logical
 * database of their own, wiped first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { SMTPServer } from 'smtp-server';
import { query, recreateDatabase } from './lib/db.js';
import { progress, sleep } from './lib/timing.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type ProcessName = 'api' | 'projector' | 'worker';

export interface PlatformOptions {
  database: string;
  redisUrl: string;
  chromiumPath: string;
  /** extra environment for all three (on top of ours) */
  env: Record<string, string>;
}

interface Child {
  name: ProcessName;
  process: ChildProcess;
  logFile: string;
  log: WriteStream;
  /** the exit code, or the signal that ended it */
  exited: Promise<number | NodeJS.Signals | null>;
}

export interface Platform {
  url: string;
  databaseUrl: string;
  /** false when CHROMIUM_PATH is missing: the worker was not started */
  workerStarted: boolean;
  /** where each child's stdout and stderr went */
  logFiles: Partial<Record<ProcessName, string>>;
  /** the first child that exits on its own rejects this (a crash under load must not go unnoticed) */
  crashed: Promise<never>;
  stop(): Promise<void>;
}

/** How long each child may take to stop after SIGTERM before it is killed (its SHUTDOWN_TIMEOUT_MS plus a margin). */
const STOP_GRACE_MS = 15_000;
const START_TIMEOUT_MS = 60_000;

function chromiumAvailable(chromiumPath: string): boolean {
  try {
    accessSync(chromiumPath, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * A mail server that accepts and drops every message. Production has one;
 * without it (the default SMTP_URL is a local mail catcher) pm-notify-user
 * fails on every notification mail and stops at that event, retrying, so the
 * projector never catches up.
 */
async function startMailSink(): Promise<{ url: string; close(): Promise<void> }> {
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    logger: false,
    onData(stream, _session, callback) {
      stream.on('end', () => callback());
      stream.resume();
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Empties the logical database (never FLUSHALL: other databases on the server are someone else's). */
async function flushRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}

function startChild(name: ProcessName, env: NodeJS.ProcessEnv, logDir: string): Child {
  const logFile = path.join(logDir, `bench-http-${name}.log`);
  const log = createWriteStream(logFile);
  // node itself, not npm or the tsx CLI, so our signals reach the process that handles them
  // BENCH_PROFILE=api,projector writes V8 CPU profiles of those children into $TMPDIR/bench-http-profiles
  const profiled = (process.env.BENCH_PROFILE ?? '').split(',').includes(name);
  const profile = profiled ? ['--cpu-prof', `--cpu-prof-dir=${path.join(logDir, 'bench-http-profiles')}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', `src/main/${name}.ts`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return { name, process: child, logFile, log, exited };
}

/** Resolves with the URL the API prints (`API listening on http://HOST:PORT`). */
function apiUrl(api: Child): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new Error(`the API did not print its URL within ${START_TIMEOUT_MS / 1000} s; see ${api.logFile}`)),
      START_TIMEOUT_MS,
    );
    api.process.stdout!.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString('utf8')).slice(-4096);
      const match = /API listening on (http:\/\/\S+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void api.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the API exited with ${code} before listening; see ${api.logFile}`));
    });
  });
}

/** SIGTERM, then SIGKILL after STOP_GRACE_MS; resolves when the child has exited. */
async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null) {
    child.process.kill('SIGTERM');
    const killed = await Promise.race([child.exited.then(() => false), sleep(STOP_GRACE_MS).then(() => true)]);
    if (killed) {
      progress(`${child.name} did not stop within ${STOP_GRACE_MS / 1000} s of SIGTERM: SIGKILL`);
      child.process.kill('SIGKILL');
      await child.exited;
    }
  }
  child.log.end();
}

/** Every child started and not yet stopped: a signal may arrive before startPlatform returns. */
const running = new Set<Child>();
let stopping = false;
let mailSink: Awaited<ReturnType<typeof startMailSink>> | undefined;

/** Stops every child this module started (SIGTERM, then SIGKILL); safe to call more than once. */
export async function stopAllChildren(): Promise<void> {
  stopping = true;
  const children = [...running];
  running.clear();
  await Promise.all(children.map(stopChild));
  const sink = mailSink;
  mailSink = undefined;
  await sink?.close();
}

/** Last resort when the benchmark exits without stopping (an uncaught error): no child may outlive it. */
export function signalAllChildrenNow(): void {
  for (const child of running) if (child.process.exitCode === null) child.process.kill('SIGTERM');
}

export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const databaseUrl = await recreateDatabase(options.database);
  await flushRedis(options.redisUrl);
  mailSink = await startMailSink();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: databaseUrl,
    REDIS_URL: options.redisUrl,
    LOG_LEVEL: 'warn',
    CHROMIUM_PATH: options.chromiumPath,
    SMTP_URL: mailSink.url,
    ...options.env,
  };
  const logDir = os.tmpdir();
  const children: Child[] = [];
  let reportCrash: (error: Error) => void = () => undefined;
  const crashed = new Promise<never>((_, reject) => (reportCrash = reject));
  crashed.catch(() => undefined); // observed by whoever races against it; unobserved it must not kill us
  const startWatching = (child: Child) =>
    void child.exited.then((code) => {
      if (!stopping) reportCrash(new Error(`${child.name} exited with ${code} during the benchmark; see ${child.logFile}`));
    });
  const launch = (name: ProcessName) => {
    const child = startChild(name, env, logDir);
    children.push(child);
    running.add(child);
    startWatching(child);
    return child;
  };

  try {
    // the API first: it creates the schema (migrations), so the other two find it ready
    const api = launch('api');
    const url = await apiUrl(api);
    launch('projector');
    const workerStarted = chromiumAvailable(options.chromiumPath);
    if (workerStarted) launch('worker');
    const logFiles = Object.fromEntries(children.map((c) => [c.name, c.logFile]));
    return { url, databaseUrl, workerStarted, logFiles, crashed, stop: stopAllChildren };
  } catch (error) {
    await stopAllChildren();
    throw error;
  }
}

export interface LogSummary {
  errors: number;
  warnings: number;
  /** the most frequent error / warning messages with their counts */
  top: { level: string; msg: string; count: number; example: string }[];
}

/** Counts a child's warn / error / fatal log lines (JSON lines) and their messages, to explain 5xx answers. */
export function summarizeLog(file: string, limit = 5): LogSummary {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { errors: 0, warnings: 0, top: [] };
  }
  const byMessage = new Map<string, { level: string; msg: string; count: number; example: string }>();
  let errors = 0;
  let warnings = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { level?: string; msg?: string; err?: { message?: string } };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (entry.level === 'warn') warnings++;
    else if (entry.level === 'error' || entry.level === 'fatal') errors++;
    else continue;
    const msg = `${entry.msg ?? '(no msg)'}${entry.err?.message ? `: ${entry.err.message}` : ''}`.slice(0, 200);
    const key = `${entry.level} ${msg}`;
    const found = byMessage.get(key);
    if (found) found.count++;
    else byMessage.set(key, { level: entry.level!, msg, count: 1, example: line.slice(0, 600) });
  }
  const top = [...byMessage.values()].sort((a, b) => b.count - a.count).slice(0, limit);
  return { errors, warnings, top };
}

export interface Backlog {
  /** events in $all the slowest live consumer (projection or process manager) has not handled yet */
  events: number;
  consumer: string | null;
}

/** How far the projector is behind, from its checkpoints (the Postgres event store only; null otherwise). */
export async function projectorBacklog(databaseUrl: string): Promise<Backlog | null> {
  try {
    const rows = await query<{ consumer: string; behind: number }>(
      databaseUrl,
      `SELECT c.consumer,
              (SELECT count(*) FROM es_events e
                WHERE (e.transaction_id, e.global_position) > (c.commit_position::text::xid8, c.prepare_position))::int AS behind
         FROM consumer_checkpoints c
        WHERE c.retired_by IS NULL
        ORDER BY behind DESC, c.consumer
        LIMIT 1`,
    );
    return rows[0] ? { events: rows[0].behind, consumer: rows[0].consumer } : { events: 0, consumer: null };
  } catch {
    return null; // EventStoreDB, or a schema this query does not know
  }
}

/** Waits (bounded) until the projector has handled every event, so each kind of round starts from a quiet platform. */
export async function waitForProjector(databaseUrl: string, timeoutSeconds: number): Promise<{ seconds: number; backlog: Backlog | null }> {
  const start = Date.now();
  for (;;) {
    const backlog = await projectorBacklog(databaseUrl);
    const seconds = (Date.now() - start) / 1000;
    if (backlog === null || backlog.events === 0 || seconds >= timeoutSeconds) return { seconds, backlog };
    await sleep(500);
  }
}
