import { createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, type Config } from '../../src/config.js';
import { TOKENS } from '../../src/tokens.js';
import { plan } from '../../src/write-model/subscription/plans.js';
import { startMailbox } from '../mail/mailbox.js';
import { startFixtureSites } from '../sites/server.js';
import { startPlatform, SANDBOX_INTERVALS_MS } from './platform.js';
import { followProgress } from './progress.js';
import { DEMO_ADMIN, DEMO_USER, seed, startSandboxProxies, type Seeded } from './seed.js';

/**
 * `npm run demo` after its prerequisites (scripts/demo.ts): the sandbox
 * (sites, proxies, mail catcher) on 127.0.0.1, the platform in this process
 * against a database of its own, the demo data, then progress lines until
 * SIGINT / SIGTERM stops everything and the process exits 0.
 *
 * Settings (environment): DEMO_DATABASE (collector_demo), DEMO_PORT (3000;
 * 0 picks a free port); the Postgres server is DATABASE_URL's, Redis is
 * REDIS_URL; LOG_LEVEL for the log file.
 */

export interface DemoSettings {
  database: string;
  port: number;
  /** Postgres server (its database part is replaced by `database`) */
  serverUrl: string;
  logFile: string;
}

export function demoSettings(env: NodeJS.ProcessEnv = process.env): DemoSettings | { problem: string } {
  const database = env.DEMO_DATABASE || 'collector_demo';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database))
    return { problem: `DEMO_DATABASE must be a plain database name (lower-case letters, digits, _), not ${JSON.stringify(database)}` };
  const port = Number(env.DEMO_PORT || 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    return { problem: `DEMO_PORT must be a port number (0 picks a free one), not ${JSON.stringify(env.DEMO_PORT)}` };
  const serverUrl = env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/collector';
  return { database, port, serverUrl, logFile: path.join(os.tmpdir(), `${database}.log`) };
}

function databaseUrl(settings: DemoSettings): string {
  const url = new URL(settings.serverUrl);
  url.pathname = `/${settings.database}`;
  return url.toString();
}

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function summary(s: { api: string; seeded: Seeded; mailbox: string; sites: string; logFile: string; database: string }): string {
  const { seeded } = s;
  const wf = seeded.workflows
    .map((w) => {
      const state =
        w.status === 'active'
          ? 'active'
          : `paused (${w.pausedFor.join(', ')}${w.pausedUntil ? ` until ${new Date(w.pausedUntil).toLocaleString('en-GB')}` : ''})`;
      return `    ${w.name}  [${w.platform}, ${state}]`;
    })
    .join('\n');
  const lines = [
    '',
    bold('Collector demo is running') +
      ` (database ${s.database}; ${seeded.created.length > 0 ? `set up: ${seeded.created.length} things created` : 'reusing the data of a previous run'})`,
    '',
    `  API              ${s.api}   (try ${s.api}/healthz, ${s.api}/api/v1/openapi.json)`,
    `  Operator console ${s.api}/console   sign in as ${DEMO_ADMIN.email} / ${DEMO_ADMIN.password}`,
    `  Demo user        ${DEMO_USER.email} / ${DEMO_USER.password}   (free plans: ${plan('xiaohongshu', 'free').features.daily_api_calls} Xiaohongshu API calls a day)`,
    `  Mailbox          ${s.mailbox}   (every mail the platform sends lands here; JSON: ${s.mailbox}messages.json)`,
    `  Sandbox sites    ${s.sites}   (made-up Xiaohongshu and Qidian pages the workers collect from)`,
    `  Proxies          ${seeded.proxies.map((p) => `127.0.0.1:${p.proxy.port}`).join(', ')}   (user ${seeded.proxies[0]?.proxy.username ?? '-'}; all scraping goes through them)`,
    `  Logs             ${s.logFile}`,
    '',
    `  Workflows of the demo user (sandbox clock: "realtime" runs every ${SANDBOX_INTERVALS_MS.realtime / 1000} s, "daily" every ${SANDBOX_INTERVALS_MS.daily / 1000} s):`,
    wf,
    '',
    '  As the demo user, e.g.:',
    `    TOKEN=$(curl -s ${s.api}/api/v1/auth/login -H 'Content-Type: application/json' -d '{"email":"${DEMO_USER.email}","password":"${DEMO_USER.password}"}' | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')`,
    `    curl -s ${s.api}/api/v1/xiaohongshu/contents -H "Authorization: Bearer $TOKEN"`,
    `    curl -s ${s.api}/api/v1/qidian/rankings -H "Authorization: Bearer $TOKEN"`,
    '',
    'Progress (Ctrl-C stops everything; run it again and it picks up where it left off):',
  ];
  return lines.join('\n');
}

/** What the demo user's read models say now, through the API (the projections lag the events by a moment). */
async function analytics(seeded: Seeded): Promise<string> {
  const [usage, notes] = await Promise.all([
    seeded.user.data('GET', '/api/v1/proxies/usage/me'),
    seeded.user.data('GET', '/api/v1/xiaohongshu/contents?per_page=1'),
  ]);
  const today = (usage.items as { platform: string; day: string; executions: number; items: number; failures: number }[])
    .filter((row) => row.day === usage.items[0]?.day)
    .map((row) => `${row.platform} ${row.executions} runs, ${row.items} items, ${row.failures} failures`)
    .join('; ');
  return `${new Date().toLocaleTimeString('en-GB')}  ≡ read models: ${notes.pagination.total} Xiaohongshu notes stored; proxy usage today: ${today || 'none yet'}`;
}

export async function runDemo(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const settings = demoSettings(env);
  if ('problem' in settings) {
    console.error(`demo: ${settings.problem}`);
    return 1;
  }
  const started = Date.now();
  const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const print = (line: string) => console.log(line);

  const stops: (() => Promise<unknown>)[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const stop of stops.splice(0).reverse())
        await stop().catch((error: unknown) => console.error(`demo: while stopping: ${error instanceof Error ? error.message : String(error)}`));
    })());
  let signalled: (() => void) | undefined;
  const stopRequested = new Promise<void>((resolve) => (signalled = resolve));
  // The first signal stops cleanly. Signals within 2 s of it are the same Ctrl-C (a terminal signals the whole
  // process group, npm forwards it too) and ignored; one after that gives up waiting.
  let firstSignalAt: number | undefined;
  const onSignal = () => {
    if (firstSignalAt === undefined) {
      firstSignalAt = Date.now();
      signalled?.();
    } else if (Date.now() - firstSignalAt > 2_000) {
      console.error('demo: stopping at once');
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Ctrl-C during start-up stops it there
  const STOP = Symbol('stop requested');
  const step = <T>(work: Promise<T>): Promise<T> => {
    work.catch(() => undefined); // settled after we stopped caring: not an unhandled rejection
    return Promise.race([work, stopRequested.then(() => Promise.reject(STOP))]);
  };

  try {
    print(`demo: starting the sandbox and the platform (database ${settings.database})…`);
    const sites = await step(startFixtureSites({ maxLoggedRequests: 1000 }));
    stops.push(() => sites.close());
    const mailbox = await step(startMailbox());
    stops.push(() => mailbox.stop());

    let config: Config;
    try {
      config = loadConfig({
        ...env,
        NODE_ENV: 'development',
        HOST: '127.0.0.1',
        PORT: String(settings.port),
        DATABASE_URL: databaseUrl(settings),
        // queues and leases of their own: a deployment on the same Redis is never touched
        QUEUE_PREFIX: `demo-${settings.database}`,
        SMTP_URL: mailbox.smtpUrl,
        EMAIL_VERIFICATION: 'off',
        XIAOHONGSHU_WEB_URL: sites.urls.xiaohongshuWeb,
        XIAOHONGSHU_API_URL: sites.urls.xiaohongshuApi,
        XIAOHONGSHU_CREATOR_URL: sites.urls.xiaohongshuCreator,
        QIDIAN_WEB_URL: sites.urls.qidianWeb,
        QIDIAN_BOOK_URL: sites.urls.qidianBook,
        PROXY_HEALTH_TARGET_URL: `${sites.urls.xiaohongshuWeb}/explore`,
        PROXY_HEALTH_INTERVAL_MS: '60000',
        // the sandbox clock runs schedules ~100× faster; the sandbox sites limit nobody
        ACCOUNT_JOBS_PER_MINUTE: '60',
        // the demo signs its admin and user in (and up, per demo database) on every start; the limits' Redis keys outlive a database
        LOGIN_RATE_LIMIT_PER_ACCOUNT: '100',
        AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY: '100',
      });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      console.error(`demo: invalid configuration:\n${error.problems.map((line) => `  ${line}`).join('\n')}`);
      return 1;
    }

    const proxies = await step(startSandboxProxies(config.DATABASE_URL));
    for (const proxy of proxies) stops.push(() => proxy.stop());
    const log = createWriteStream(settings.logFile, { flags: 'a' });
    stops.push(() => new Promise<void>((resolve) => log.end(resolve)));
    let platform;
    try {
      platform = await step(startPlatform(config, { logDestination: log }));
    } catch (error) {
      if (error === STOP) throw error;
      const e = error as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') console.error(`demo: port ${settings.port} is in use: stop what uses it, or set DEMO_PORT (0 picks a free port)`);
      else if (/password authentication failed|no pg_hba\.conf entry/.test(e.message ?? '')) {
        console.error(
          `demo: PostgreSQL refused ${new URL(settings.serverUrl).username || 'the user'}: allow it in pg_hba.conf (host all postgres 127.0.0.1/32 trust) or set DATABASE_URL with a password`,
        );
      } else console.error(`demo: the platform did not start: ${e.message ?? String(error)} (log: ${settings.logFile})`);
      return 1;
    }
    stops.push(() => platform.stop());
    const api = platform.url;
    print(`demo: platform up at ${api} after ${seconds()}; setting up the demo data…`);

    // the progress lines start after the summary, from what happened since this point
    const store = platform.container.get(TOKENS.EventStore);
    const head = (await store.readAll({ direction: 'backwards', maxCount: 1 }))[0]?.position ?? 'start';
    const seeded = await step(seed(api, platform.container, sites.manifest, proxies));
    const names = new Map(seeded.workflows.map((w) => [w.id, w.name]));
    // workflows the platform made itself (or the user added meanwhile) are looked up when first seen
    let lookingUp: Promise<void> | undefined;
    const lookUpNames = () =>
      (lookingUp ??= seeded.user
        .data('GET', '/api/v1/workflows?per_page=100')
        .then((page: { items: { id: string; name: string }[] }) => page.items.forEach((w) => names.set(w.id, w.name)))
        .catch(() => undefined)
        .finally(() => setTimeout(() => (lookingUp = undefined), 5_000).unref()));
    const proxyLabels = new Map(seeded.proxies.map((p) => [p.id, `127.0.0.1:${p.proxy.port}`]));
    print(summary({ api, seeded, mailbox: mailbox.url, sites: `${sites.origin}/`, logFile: settings.logFile, database: settings.database }));
    print(`demo: ready after ${seconds()}`);

    let analyticsTimer: NodeJS.Timeout | undefined;
    stops.push(async () => clearTimeout(analyticsTimer));
    const feed = followProgress(
      store,
      head,
      {
        workflowName: (id) => {
          const name = names.get(id);
          if (name !== undefined) return name;
          void lookUpNames();
          return `workflow ${id.slice(0, 8)}`;
        },
        proxyLabel: (id) => proxyLabels.get(id) ?? id.slice(0, 8),
        streamUrl: (stream) => `${api}/console#/stream/${encodeURIComponent(stream)}`,
        print,
        milestone: (name, detail) => print(`demo: milestone ${name} after ${seconds()} (${detail})`),
        runEnded: () => {
          clearTimeout(analyticsTimer);
          analyticsTimer = setTimeout(() => void analytics(seeded).then(print, () => undefined), 1500);
        },
      },
      mailbox.url,
    );
    stops.push(() => feed.stop());
    mailbox.onMessage((m) => feed.mail(m.parsed.to || m.envelope.to.join(', '), m.parsed.subject));

    await stopRequested;
    print('\ndemo: stopping…');
    await stopAll();
    print('demo: stopped');
    return 0;
  } catch (error) {
    if (error === STOP) {
      print('\ndemo: stopping…');
      await stopAll();
      print('demo: stopped');
      return 0;
    }
    console.error(`demo: ${error instanceof Error ? error.message : String(error)} (log: ${settings.logFile})`);
    return 1;
  } finally {
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
