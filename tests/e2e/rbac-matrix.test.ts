import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { MATRIX_ROLES, matrixRoutes, parseMatrix, routeKey, verdict, type MatrixRoute } from '../../src/application/authorization/matrix.js';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { joinOrganization, membershipsSettle, registerMember } from '../support/members.js';

/**
 * THE TABLE of docs/rbac.md, over real HTTP: real users — one outside any
 * organization, the founder of an organization (owner), one invited member
 * per other built-in role who accepted the mailed link, a platform admin —
 * call every signed-in route of /api/v1/openapi.json with made-up ids and
 * empty bodies. deny ⇔ 403 with details.reason `role`; allow may be anything
 * else (404 and 422 are what made-up input gets). It also fails when the
 * table in the document is not the one the route registry and the policy
 * make (`npm run rbac:table`).
 */
describe('RBAC matrix: every signed-in route × every role (e2e)', function () {
  this.timeout(60_000);
  let platform: Platform;
  let sink: SmtpSink;
  let worker: RunningWorker | undefined;
  let routes: MatrixRoute[];
  const tokens = new Map<string, string>();

  before(async () => {
    sink = await new SmtpSink().start();
    platform = await startPlatform({
      proxies: 0,
      config: { SMTP_URL: sink.url, PUBLIC_WEB_URL: 'https://app.example.test', API_RATE_LIMIT_PER_USER: '100000', API_RATE_LIMIT_PER_IP: '1000000' },
    });
    worker = await startWorker(platform.container, { workerName: `rbac-mail-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });

    const invited = ['admin', 'operator', 'reviewer', 'analyst', 'billing'] as const;
    const [personal, owner, ...members] = await Promise.all(['personal', 'owner', ...invited].map((name) => registerMember(platform, name)));
    const founded = await platform.call('POST', '/api/v1/organizations', { token: owner!.token, body: { name: 'Matrix' } });
    expect(founded.status, founded.text).to.equal(201);
    const orgId = founded.body.data.id as string;
    await Promise.all(
      invited.map(async (role, i) => {
        const member = members[i]!;
        await joinOrganization(platform, sink, { organizationId: orgId, inviter: owner!, user: member, roles: [role] });
        tokens.set(role, member.token);
      }),
    );
    tokens.set('personal', personal!.token);
    tokens.set('owner', owner!.token);
    tokens.set('platform_admin', await platform.adminToken());
    await membershipsSettle();
    for (const role of invited) {
      const shown = await platform.call('GET', `/api/v1/organizations/${orgId}`, { token: tokens.get(role)! });
      expect(shown.body?.data?.my_roles, `${role}: ${shown.text}`).to.deep.equal([role]);
    }

    const document = await platform.call('GET', '/api/v1/openapi.json');
    expect(document.status).to.equal(200);
    routes = matrixRoutes(document.body);
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sink?.stop();
  });

  it('docs/rbac.md holds the table the route registry and the policy make: every route, no stale one', async () => {
    const table = parseMatrix(await readFile(fileURLToPath(new URL('../../docs/rbac.md', import.meta.url)), 'utf8'));
    expect(routes.length).to.be.greaterThan(150);
    const missing = routes.filter((r) => !table.has(routeKey(r))).map(routeKey);
    expect(missing, 'routes missing from the table: run npm run rbac:table').to.deep.equal([]);
    const stale = [...table.keys()].filter((key) => !routes.some((r) => routeKey(r) === key));
    expect(stale, 'rows of routes that no longer exist: run npm run rbac:table').to.deep.equal([]);
    for (const route of routes) {
      const row = table.get(routeKey(route))!;
      expect(row, routeKey(route)).to.deep.equal({ permission: route.permission, verdicts: MATRIX_ROLES.map((role) => verdict(role, route.permission)) });
    }
  });

  it('answers every route for every role as the table says (deny ⇔ 403 details.reason role)', async () => {
    const wrong: string[] = [];
    const check = async (role: (typeof MATRIX_ROLES)[number], route: MatrixRoute) => {
      const expected = verdict(role, route.permission);
      const { status, reason } = await hit(platform.url, route, tokens.get(role.key)!);
      const denied = status === 403 && reason === 'role';
      if (denied !== (expected === 'deny'))
        wrong.push(`${role.title}: ${routeKey(route)} (${route.permission}) expected ${expected}, got ${status} ${reason ?? ''}`);
    };
    // logging out ends the session the token stands for: last, alone
    const isLogout = (r: MatrixRoute) => r.path === '/api/v1/auth/logout';
    const rest = routes.filter((r) => !isLogout(r));
    await Promise.all(
      MATRIX_ROLES.map(async (role) => {
        // a few at a time per user
        for (let i = 0; i < rest.length; i += 6) await Promise.all(rest.slice(i, i + 6).map((route) => check(role, route)));
        for (const route of routes.filter(isLogout)) await check(role, route);
      }),
    );
    expect(wrong).to.deep.equal([]);
  });
});

/** One call with made-up path ids and an empty body: its status and, for an error, details.reason. */
async function hit(base: string, route: MatrixRoute, token: string): Promise<{ status: number; reason: string | undefined }> {
  const path = route.path.replace(/\{[^}]+\}/g, () => randomUUID());
  const body = ['POST', 'PUT', 'PATCH'].includes(route.method) ? '{}' : undefined;
  const res = await fetch(`${base}${path}`, {
    method: route.method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    ...(body ? { body } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  // a live stream (the queue monitor) never ends by itself
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    await res.body?.cancel();
    return { status: res.status, reason: undefined };
  }
  const text = await res.text();
  let reason: string | undefined;
  try {
    reason = (JSON.parse(text) as { error?: { details?: { reason?: string } } }).error?.details?.reason;
  } catch {
    reason = undefined;
  }
  return { status: res.status, reason };
}
