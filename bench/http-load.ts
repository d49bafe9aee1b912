/**
 * The load of `npm run bench:http`: what each kind of round sends, and one
 * round of autocannon. Every connection is one user: autocannon's setupClient
 * runs once per connection as the round opens them, and gives it that user's
 * requests, so all users are loaded at once and no two connections write to
 * the same aggregate (a stream's writes would otherwise conflict).
 */
import os from 'node:os';
import autocannon from 'autocannon';
import type { BenchUser } from './http-setup.js';

export type KindKey = 'profile' | 'consume' | 'execute' | 'queries' | 'healthz';

export interface LoadKind {
  key: KindKey;
  label: string;
  group: 'command' | 'query' | 'ceiling';
  /** the requests one connection sends in a loop; no user: an unauthenticated route */
  requestsFor(user: BenchUser | undefined): autocannon.Request[];
}

const json = { 'content-type': 'application/json' };
const bearer = (user: BenchUser) => ({ authorization: `Bearer ${user.token}` });
const userOf = (user: BenchUser | undefined): BenchUser => {
  if (!user) throw new Error('this kind of round needs users');
  return user;
};

export const KINDS: readonly LoadKind[] = [
  {
    key: 'profile',
    label: 'PUT /users/profile',
    group: 'command',
    requestsFor(u) {
      const user = userOf(u);
      return [
        {
          method: 'PUT',
          path: '/api/v1/users/profile',
          headers: { ...bearer(user), ...json },
          // a new display_name every time: an unchanged profile would be a no-op, not a command's full work
          setupRequest: (req) => ({ ...req, body: JSON.stringify({ display_name: `bench user ${user.index} #${++user.profileEdits}` }) }),
        },
      ];
    },
  },
  {
    key: 'consume',
    label: 'POST /subscriptions/:id/consume',
    group: 'command',
    requestsFor(u) {
      const user = userOf(u);
      return [
        {
          method: 'POST',
          path: `/api/v1/subscriptions/${user.subscriptionId}/consume`,
          headers: { ...bearer(user), ...json },
          body: JSON.stringify({ feature: 'daily_api_calls', amount: 1 }),
        },
      ];
    },
  },
  {
    key: 'queries',
    label: 'GET profile, subscriptions, workflows, notifications (in turn)',
    group: 'query',
    requestsFor(u) {
      const user = userOf(u);
      const get = (path: string): autocannon.Request => ({ method: 'GET', path, headers: bearer(user) });
      return [get('/api/v1/users/profile'), get('/api/v1/subscriptions'), get('/api/v1/workflows'), get('/api/v1/notifications')];
    },
  },
  {
    key: 'healthz',
    label: 'GET /healthz (framework ceiling)',
    group: 'ceiling',
    requestsFor: () => [{ method: 'GET', path: '/healthz' }],
  },
  // last: the tens of thousands of executions it requests keep the projector and the worker dispatching them
  // long after its rounds, and would load every round after it; the other kinds start from a quiet platform
  {
    key: 'execute',
    label: 'POST /workflows/:id/execute',
    group: 'command',
    requestsFor(u) {
      const user = userOf(u);
      return [{ method: 'POST', path: `/api/v1/workflows/${user.workflowId}/execute`, headers: bearer(user) }];
    },
  },
];

export interface RoundResult {
  kind: KindKey;
  round: number;
  seconds: number;
  /** every answer, per second (autocannon's mean of its per-second samples) */
  reqPerSec: number;
  /** 2xx answers per second */
  okPerSec: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  /** 4xx answers by `status code` (e.g. `429 QUOTA_EXCEEDED`) */
  clientErrors: Record<string, number>;
  serverErrors: Record<string, number>;
  /** connection errors other than timeouts */
  errors: number;
  timeouts: number;
  /** distinct users the round's connections used */
  usersUsed: number;
  /** the machine's 1-minute load average as the round ends: other work on it skews the figures */
  loadAverage: number;
}

/** `429 QUOTA_EXCEEDED` from the error envelope, or just the status when the body is not one. */
function answerCode(status: number, body: string): string {
  try {
    const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? `${status} ${code}` : String(status);
  } catch {
    return String(status);
  }
}

export interface RoundOptions {
  url: string;
  kind: LoadKind;
  users: readonly BenchUser[];
  round: number;
  seconds: number;
  connections: number;
}

/** One round: `connections` connections, each as its own user (round-robin when there are fewer users), for `seconds`. */
export async function runRound(options: RoundOptions): Promise<RoundResult> {
  const { kind, users } = options;
  const failures: Record<string, number> = {};
  const countFailure = (status: number, body: string) => {
    if (status < 400) return;
    const key = answerCode(status, body);
    failures[key] = (failures[key] ?? 0) + 1;
  };
  const withCounting = (requests: autocannon.Request[]) => requests.map((r) => ({ ...r, onResponse: countFailure }));
  const used = new Set<number>();
  let nextConnection = 0;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    pipelining: 1,
    timeout: 10,
    setupClient(client) {
      const user = kind.group === 'ceiling' ? undefined : users[nextConnection++ % users.length];
      if (user) used.add(user.index);
      client.setRequests(withCounting(kind.requestsFor(user)));
    },
  });
  const pick = (from: (status: number) => boolean) => Object.fromEntries(Object.entries(failures).filter(([key]) => from(Number(key.split(' ')[0]))));
  return {
    kind: kind.key,
    round: options.round,
    seconds: result.duration,
    reqPerSec: result.requests.average,
    okPerSec: result['2xx'] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: result['2xx'],
    clientErrors: pick((s) => s >= 400 && s < 500),
    serverErrors: pick((s) => s >= 500),
    errors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    usersUsed: used.size,
    loadAverage: os.loadavg()[0]!,
  };
}
