import type { Container } from 'inversify';
import { createAdmin } from '../../src/cli/create-admin.js';
import pg from 'pg';
import { TOKENS } from '../../src/tokens.js';
import { startHttpProxy, type LocalProxy } from '../proxies.js';
import type { FixtureManifest } from '../sites/server.js';

/**
 * The demo's data, set up through the API as a user and an operator would
 * (the admin alone through the CLI's createAdmin, as `npm run cli -- users
 * create-admin` does). Idempotent: whatever a previous run left in the demo
 * database is found and reused, only what is missing is created.
 */

export const DEMO_ADMIN = { email: 'admin@demo.example.com', password: 'demo-admin-password', displayName: 'Demo admin' } as const;
export const DEMO_USER = { email: 'demo@demo.example.com', password: 'demo-user-password', displayName: '演示用户' } as const;
/** the sandbox proxies' credentials (they refuse anything else) */
const PROXY_AUTH = { username: 'sandbox', password: 'sandbox-proxy-secret' } as const;
const PROXY_COUNT = 2;

export interface Reply {
  status: number;
  body: any;
  text: string;
}

/** A signed-in caller of the API; logs in again when its access token has run out. */
export class ApiSession {
  private token: string | undefined;

  constructor(
    readonly url: string,
    readonly email: string,
    private readonly password: string,
  ) {}

  static async call(url: string, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<Reply> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.token) headers['Authorization'] = `Bearer ${options.token}`;
    const res = await fetch(`${url}${path}`, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, body, text };
  }

  /** true when the credentials log in */
  async login(): Promise<boolean> {
    const r = await ApiSession.call(this.url, 'POST', '/api/v1/auth/login', { body: { email: this.email, password: this.password } });
    if (r.status === 401) return false;
    if (r.status !== 200) throw new Error(`logging in as ${this.email}: HTTP ${r.status} ${r.text}`);
    this.token = r.body.data.access_token;
    return true;
  }

  async call(method: string, path: string, body?: unknown): Promise<Reply> {
    if (!this.token && !(await this.login())) throw new Error(`cannot log in as ${this.email}`);
    let r = await ApiSession.call(this.url, method, path, { token: this.token!, body });
    if (r.status === 401 && (await this.login())) r = await ApiSession.call(this.url, method, path, { token: this.token!, body });
    return r;
  }

  /** the reply's data, or an error naming what failed */
  async data(method: string, path: string, body?: unknown, ok: number[] = [200, 201, 202]): Promise<any> {
    const r = await this.call(method, path, body);
    if (!ok.includes(r.status)) throw new Error(`${method} ${path}: HTTP ${r.status} ${r.text}`);
    return r.body?.data;
  }
}

export interface SeededProxy {
  id: string;
  proxy: LocalProxy;
}

export interface SeededWorkflow {
  id: string;
  name: string;
  platform: string;
  status: string;
  pausedFor: string[];
  pausedUntil: string | null;
}

export interface Seeded {
  admin: ApiSession;
  user: ApiSession;
  proxies: SeededProxy[];
  accounts: { id: string; platform: string; name: string; status: string }[];
  workflows: SeededWorkflow[];
  /** what this run created (nothing on a second run) */
  created: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

async function items(session: ApiSession, path: string): Promise<any[]> {
  const sep = path.includes('?') ? '&' : '?';
  return (await session.data('GET', `${path}${sep}per_page=100`)).items as any[];
}

/**
 * The sandbox's proxies, started before the platform (whose worker probes the
 * pool as it starts): on the ports of the healthy sandbox proxies the demo
 * database knows, when those are free, else on free ones.
 */
export async function startSandboxProxies(databaseUrl: string): Promise<LocalProxy[]> {
  let known: number[] = [];
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await client.connect();
    const { rows } = await client.query<{ port: number }>(
      "SELECT port FROM proxies WHERE provider = 'sandbox' AND host = '127.0.0.1' AND status = 'healthy' ORDER BY registered_at LIMIT $1",
      [PROXY_COUNT],
    );
    known = rows.map((row) => row.port);
  } catch {
    // a first run: no database or no table yet
  } finally {
    await client.end().catch(() => undefined);
  }
  const proxies: LocalProxy[] = [];
  for (let i = 0; i < PROXY_COUNT; i++) {
    const port = known[i];
    const options = { ...PROXY_AUTH, maxRecorded: 1000 };
    proxies.push(await (port === undefined ? startHttpProxy(options) : startHttpProxy({ ...options, port }).catch(() => startHttpProxy(options))));
  }
  return proxies;
}

export async function seed(url: string, container: Container, manifest: FixtureManifest, running: LocalProxy[]): Promise<Seeded> {
  const created: string[] = [];

  // ---- the operator
  const admin = new ApiSession(url, DEMO_ADMIN.email, DEMO_ADMIN.password);
  if (!(await admin.login())) {
    await createAdmin({ store: container.get(TOKENS.EventStore), passwordHasher: container.get(TOKENS.PasswordHasher) }, DEMO_ADMIN);
    await until('the admin can log in', async () => ((await admin.login()) ? true : undefined));
    created.push(`admin ${DEMO_ADMIN.email}`);
  }

  // ---- the user: registered like anyone, on the free plans every new user gets
  const user = new ApiSession(url, DEMO_USER.email, DEMO_USER.password);
  if (!(await user.login())) {
    const r = await ApiSession.call(url, 'POST', '/api/v1/auth/register', {
      body: { email: DEMO_USER.email, password: DEMO_USER.password, display_name: DEMO_USER.displayName },
    });
    if (r.status !== 201) throw new Error(`registering the demo user: HTTP ${r.status} ${r.text}`);
    await until('the demo user can log in', async () => ((await user.login()) ? true : undefined));
    created.push(`user ${DEMO_USER.email}`);
  }
  await until('the demo user has free plans of both services', async () => ((await items(user, '/api/v1/subscriptions')).length >= 2 ? true : undefined));

  // ---- the proxies in the pool: the running sandbox proxies; any other sandbox proxy (a port taken since, failed) is retired
  const proxies: SeededProxy[] = [];
  for (const known of await items(admin, '/api/v1/proxies?provider=sandbox')) {
    if (known.status === 'retired') continue;
    const proxy = running.find((p) => p.port === known.port && !proxies.some((s) => s.proxy === p));
    if (proxy && known.status === 'healthy') proxies.push({ id: known.id, proxy });
    else await admin.data('DELETE', `/api/v1/proxies/${known.id}`, undefined, [200, 202, 204, 404, 409]);
  }
  for (const proxy of running.filter((p) => !proxies.some((s) => s.proxy === p))) {
    const body = { host: proxy.host, port: proxy.port, protocol: 'http', ...PROXY_AUTH, country: 'CN', region: 'sandbox', provider: 'sandbox' };
    const { id } = await admin.data('POST', '/api/v1/proxies', body);
    proxies.push({ id, proxy });
    created.push(`proxy 127.0.0.1:${proxy.port}`);
  }

  // ---- the user's sandbox accounts: cookies the sandbox sites take as logged in
  const accountSpecs = [
    { platform: 'xiaohongshu', name: '沙盒小红书号', cookies: 'a1=sandbox0a1; web_session=sandbox-web-session' },
    { platform: 'qidian', name: '沙盒起点号', cookies: 'ywkey=sandbox-ywkey' },
  ];
  const accounts: Seeded['accounts'] = [];
  const existingAccounts = await items(user, '/api/v1/platform-accounts');
  for (const spec of accountSpecs) {
    let account = existingAccounts.find((a) => a.platform === spec.platform && a.display_name === spec.name);
    if (!account) {
      const { id } = await user.data('POST', '/api/v1/platform-accounts', {
        platform: spec.platform,
        credentials: { cookies: spec.cookies },
        display_name: spec.name,
      });
      account = { id, status: 'pending' };
      created.push(`${spec.platform} account ${spec.name}`);
    }
    let status: string = account.status;
    if (status !== 'active') status = (await user.data('POST', `/api/v1/platform-accounts/${account.id}/verify`)).status;
    accounts.push({ id: account.id, platform: spec.platform, name: spec.name, status });
  }
  const accountOf = (platform: string) => accounts.find((a) => a.platform === platform)!.id;

  // ---- the user's scheduled workflows (interval schedules tick fast in the sandbox: see platform.ts)
  const keyword = manifest.xiaohongshu.keyword;
  const workflowSpecs = [
    {
      // 20 notes = 1 search page + 20 detail calls = 21 of the free plan's 50 daily API calls: the third run is over
      name: `小红书「${keyword}」笔记`,
      type: 'xiaohongshu.notes',
      config: { mode: 'keyword', keyword, maxItems: 20 },
      platform_account_id: accountOf('xiaohongshu'),
      schedule: { kind: 'interval', every: 'realtime' },
    },
    {
      // the free plan: 热销榜 only, collected daily at most
      name: '起点热销榜',
      type: 'qidian.rankings',
      config: { rankings: ['热销榜'], maxRank: 60 },
      platform_account_id: accountOf('qidian'),
      schedule: { kind: 'interval', every: 'daily' },
    },
    {
      name: '起点追踪的小说',
      type: 'qidian.novels',
      config: { novelIds: manifest.qidian.books.map((b) => b.id) },
      platform_account_id: accountOf('qidian'),
      schedule: { kind: 'interval', every: 'daily' },
    },
  ];
  const existingWorkflows = await items(user, '/api/v1/workflows');
  for (const spec of workflowSpecs) {
    const found = existingWorkflows.find((w) => w.name === spec.name);
    if (!found) {
      await user.data('POST', '/api/v1/workflows', spec);
      created.push(`workflow ${spec.name}`);
    } else if (found.platform_account_id !== spec.platform_account_id) {
      // the account was replaced (disconnected, or the demo database half set up): the workflow follows
      await user.data('PUT', `/api/v1/workflows/${found.id}`, { platform_account_id: spec.platform_account_id });
    }
  }
  const workflows = await until('the workflows are listed', async () => {
    const listed = await items(user, '/api/v1/workflows');
    const mine = workflowSpecs.map((spec) => listed.find((w) => w.name === spec.name));
    if (mine.some((w) => w === undefined)) return undefined;
    return mine.map(
      (w): SeededWorkflow => ({
        id: w.id,
        name: w.name,
        platform: w.platform,
        status: w.status,
        pausedFor: w.paused_for,
        pausedUntil: (w.pauses as { until: string | null }[]).map((p) => p.until).find((u) => u !== null) ?? null,
      }),
    );
  });

  return { admin, user, proxies, accounts, workflows, created };
}
