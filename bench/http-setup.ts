/**
 * The users `npm run bench:http` loads the API with, made over HTTP the way a
 * client (and the e2e tests) makes them: register, log in, wait for the free
 * plans (a process manager starts them), buy Xiaohongshu enterprise through
 * the payment sandbox (the order placed with it, paid there, its signed
 * notification back, as the e2e tests do) so the quota-consume rounds have
 * unlimited daily calls, and create a
 * Qidian rankings workflow (no platform account needed; its runs consume no
 * daily counter) for the workflow-execute rounds.
 */
import { randomUUID } from 'node:crypto';
import { sleep } from './lib/timing.js';

export interface BenchUser {
  index: number;
  userId: string;
  token: string;
  /** the Xiaohongshu subscription (enterprise: unlimited daily_api_calls) */
  subscriptionId: string;
  workflowId: string;
  /** profile updates sent so far: each one sets a new display_name, so every update is a real change */
  profileEdits: number;
}

/** Pays an order at the provider (the payment sandbox); the provider then notifies the API. */
export type PayAtProvider = (orderId: string) => Promise<unknown>;

interface Reply {
  status: number;
  text: string;
  data: any;
}

class Api {
  constructor(readonly baseUrl: string) {}

  async call(method: string, path: string, options: { token?: string; body?: unknown; form?: string } = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.form !== undefined) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = options.form;
    } else if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let data: unknown;
    try {
      data = (JSON.parse(text) as { data?: unknown }).data;
    } catch {
      data = undefined;
    }
    return { status: res.status, text, data };
  }

  /** The call, which must answer `status`; anything else stops the benchmark with the answer. */
  async expect(status: number, method: string, path: string, options: Parameters<Api['call']>[2] = {}): Promise<Reply> {
    const reply = await this.call(method, path, options);
    if (reply.status !== status) throw new Error(`setup: ${method} ${path} answered ${reply.status}, wanted ${status}: ${reply.text.slice(0, 300)}`);
    return reply;
  }
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`setup: ${what} did not happen within ${timeoutMs / 1000} s (is the projector running?)`);
    await sleep(200);
  }
}

interface SubscriptionView {
  id: string;
  service: string;
  plan: string;
}

async function subscriptions(api: Api, token: string): Promise<SubscriptionView[]> {
  const reply = await api.expect(200, 'GET', '/api/v1/subscriptions', { token });
  return reply.data.items as SubscriptionView[];
}

const PASSWORD = 'bench password 123';

async function signUp(api: Api, runId: string, index: number): Promise<{ userId: string; token: string }> {
  const email = `bench-http-${runId}-${index}@example.test`;
  await api.expect(201, 'POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: `bench user ${index}` } });
  const login = await api.expect(200, 'POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
  return { userId: login.data.user_id as string, token: login.data.access_token as string };
}

/** Buys Xiaohongshu enterprise: an order placed with Alipay (the sandbox), paid there; the plan changes through pm-plan-on-payment. */
async function buyEnterprise(api: Api, token: string, pay: PayAtProvider): Promise<string> {
  const order = await api.expect(201, 'POST', '/api/v1/payments/orders', {
    token,
    body: { service: 'xiaohongshu', plan: 'enterprise', billing_cycle: 'monthly', provider: 'alipay' },
  });
  // the buyer's browser opens the cashier (which is where Alipay learns of the trade), then pays
  const cashier = await fetch(order.data.pay_url as string);
  if (cashier.status !== 200) throw new Error(`setup: the Alipay cashier answered ${cashier.status}`);
  await cashier.arrayBuffer();
  await pay(order.data.order_id as string);
  return waitFor('the enterprise plan', async () => {
    const found = (await subscriptions(api, token)).find((s) => s.service === 'xiaohongshu' && s.plan === 'enterprise');
    return found?.id;
  });
}

async function setUpUser(api: Api, runId: string, index: number, pay: PayAtProvider): Promise<BenchUser> {
  const { userId, token } = await signUp(api, runId, index);
  await waitFor('the free plans', async () => ((await subscriptions(api, token)).length === 2 ? true : undefined));
  const subscriptionId = await buyEnterprise(api, token, pay);
  const workflow = await api.expect(201, 'POST', '/api/v1/workflows', {
    token,
    body: { name: 'bench rankings', type: 'qidian.rankings', config: { rankings: ['热销榜'] } },
  });
  return { index, userId, token, subscriptionId, workflowId: workflow.data.id as string, profileEdits: 0 };
}

/** `count` users, set up a few at a time (registration and login hash passwords: CPU-bound on the API). */
export async function setUpUsers(baseUrl: string, count: number, pay: PayAtProvider, parallel = 8): Promise<BenchUser[]> {
  const api = new Api(baseUrl);
  const runId = randomUUID().slice(0, 8);
  const users: BenchUser[] = new Array(count);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < count; i = next++) users[i] = await setUpUser(api, runId, i, pay);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
  return users;
}
