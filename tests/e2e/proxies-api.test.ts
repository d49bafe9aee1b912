import { expect } from 'chai';
import type { Container } from 'inversify';
import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { formatPosition } from '../../src/event-store/position.js';
import { proxiesProjection } from '../../src/projections/proxies.js';
import { proxyUsageProjection } from '../../src/projections/proxy-usage.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { proxyStream, type SealedSecret } from '../../src/write-model/proxy/index.js';
import { workflowExecutionAggregate, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { signedIn } from '../support/signed-in.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';

// the thresholds the API is configured with (config PROXY_FAILURE_THRESHOLD / PROXY_RECOVERY_THRESHOLD)
const PROXY_FAILURE_THRESHOLD = 3;
const PROXY_RECOVERY_THRESHOLD = 2;

interface Reply {
  res: Response;
  body: { success: boolean; data?: any; error?: { code: string; message: string; details: any } };
  text: string;
}

describe('proxies API (e2e)', function () {
  this.timeout(60_000);
  let container: Container;
  let store: EventStore;
  let knex: Knex;
  let running: RunningServer;
  const runners: ConsumerRunner[] = [];
  /** every response body, to look for the password in */
  const seen: string[] = [];
  let admin = '';
  let adminId = '';
  let user = '';
  let userId = '';

  before(async () => {
    container = await buildContainer(
      testConfig({ PROXY_FAILURE_THRESHOLD: String(PROXY_FAILURE_THRESHOLD), PROXY_RECOVERY_THRESHOLD: String(PROXY_RECOVERY_THRESHOLD) }),
    );
    store = container.get(TOKENS.EventStore);
    knex = container.get(TOKENS.Knex);
    // both projections in-process (the projector's job in production)
    for (const consumer of [proxiesProjection, proxyUsageProjection]) {
      const runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, consumer, { idleCheckpointMs: 100, lockRetryMs: 100 });
      runner.start();
      runners.push(runner);
    }
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
    // a real admin and user, each with a session and an access token as login issues them
    const deps = { store, passwordHasher: container.get(TOKENS.PasswordHasher), accessTokens: container.get(TOKENS.AccessTokens) };
    ({ userId: adminId, token: admin } = await signedIn(deps, 'admin'));
    ({ userId, token: user } = await signedIn(deps, 'user'));
  });
  after(async () => {
    if (running) await closeServer(running.server);
    await Promise.all(runners.map((r) => r.stop()));
    if (container) await disposeContainer(container);
  });

  async function call(method: string, path: string, options: { body?: unknown; token?: string } = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    const res = await fetch(`${running.url}/api/v1/proxies${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await res.text();
    seen.push(text, JSON.stringify([...res.headers]));
    return { res, body: JSON.parse(text), text };
  }

  async function register(body: Record<string, unknown>): Promise<{ id: string; position: string }> {
    const reply = await call('POST', '', { token: admin, body });
    expect(reply.res.status, reply.text).to.equal(201);
    return { id: reply.body.data.id, position: reply.body.data.position };
  }

  async function get(id: string, position: string): Promise<any> {
    const reply = await call('GET', `/${id}?after_position=${position}`, { token: admin });
    expect(reply.res.status, reply.text).to.equal(200);
    expect(reply.res.headers.get('X-Projection-Lag')).to.equal(null);
    return reply.body.data;
  }

  async function check(id: string, body: Record<string, unknown>): Promise<any> {
    const reply = await call('POST', `/${id}/health-checks`, { token: admin, body });
    expect(reply.res.status, reply.text).to.equal(201);
    return reply.body.data;
  }

  it('registers with sealed credentials, lists with stats, fails and recovers on health checks, bans, unbans and retires', async () => {
    const password = `pw-${randomUUID()}`;
    const username = `acct-${randomUUID().slice(0, 8)}`;
    const provider = `prov-${randomUUID().slice(0, 8)}`;
    const a = await register({ host: 'GW1.example.test', port: 8000, protocol: 'http', username, password, country: 'cn', region: 'Guangdong', provider });
    // a port of its own per run: the pool refuses a proxy it has already (a run that stopped before retiring it)
    const b = await register({ host: '10.0.0.7', port: 1024 + Math.floor(Math.random() * 60_000), protocol: 'socks5', country: 'US', provider });

    const list = await call('GET', `?provider=${provider}&after_position=${b.position}`, { token: admin });
    expect(list.res.status, list.text).to.equal(200);
    expect(list.body.data.pagination).to.include({ total: 2, page: 1 });
    const byId = new Map<string, any>(list.body.data.items.map((p: any) => [p.id, p]));
    expect(byId.get(a.id)).to.include({
      host: 'gw1.example.test',
      port: 8000,
      protocol: 'http',
      has_credentials: true,
      country: 'CN',
      status: 'healthy',
      success_rate: null,
      avg_latency_ms: null,
      registered_by: adminId,
    });
    expect(byId.get(b.id)).to.include({ protocol: 'socks5', has_credentials: false, country: 'US' });
    for (const [query, ids] of [
      [`provider=${provider}&protocol=socks5`, [b.id]],
      [`provider=${provider}&country=cn`, [a.id]],
      [`provider=${provider}&region=guangdong`, [a.id]],
      [`provider=${provider}&status=failed`, []],
    ] as const) {
      const filtered = await call('GET', `?${query}`, { token: admin });
      expect(
        filtered.body.data.items.map((p: any) => p.id),
        query,
      ).to.deep.equal(ids);
    }

    // failures up to the threshold fail it
    expect(PROXY_FAILURE_THRESHOLD).to.equal(3);
    for (let i = 1; i < PROXY_FAILURE_THRESHOLD; i++) {
      expect(await check(a.id, { ok: false, error: 'connect timeout' })).to.include({ recorded: true, failed: false, status: 'healthy' });
    }
    const failed = await check(a.id, { ok: false, error: 'connect refused' });
    expect(failed).to.include({ recorded: true, failed: true, recovered: false, status: 'failed' });
    expect(await get(a.id, failed.position)).to.include({
      status: 'failed',
      consecutive_failures: 3,
      last_error: 'connect refused',
      failure_reason: 'connect refused',
      success_rate: 0,
    });
    const listedFailed = await call('GET', `?provider=${provider}&status=failed`, { token: admin });
    expect(listedFailed.body.data.items.map((p: any) => p.id)).to.deep.equal([a.id]);

    // successes up to the recovery threshold bring it back
    expect(PROXY_RECOVERY_THRESHOLD).to.equal(2);
    expect(await check(a.id, { ok: true, latency_ms: 100 })).to.include({ recovered: false, status: 'failed' });
    const recovered = await check(a.id, { ok: true, latency_ms: 300 });
    expect(recovered).to.include({ recorded: true, recovered: true, status: 'healthy' });
    const healthy = await get(a.id, recovered.position);
    expect(healthy).to.include({
      status: 'healthy',
      consecutive_failures: 0,
      consecutive_successes: 2,
      total_checks: 5,
      success_rate: 2 / 5,
      avg_latency_ms: 200,
      last_latency_ms: 300,
    });
    expect(healthy.last_checked_at).to.be.a('string');

    // bans
    const banned = await call('POST', `/${a.id}/bans`, { token: admin, body: { platform: 'xiaohongshu', reason: 'captcha wall' } });
    expect(banned.res.status, banned.text).to.equal(200);
    expect(banned.body.data.banned).to.equal(true);
    const again = await call('POST', `/${a.id}/bans`, { token: admin, body: { platform: 'xiaohongshu', reason: 'captcha wall' } });
    expect(again.body.data.banned).to.equal(false);
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const timed = await call('POST', `/${a.id}/bans`, { token: admin, body: { platform: 'qidian', reason: 'rate limited', until } });
    const withBans = await get(a.id, timed.body.data.position);
    expect(withBans.bans.map((x: any) => [x.platform, x.until])).to.deep.equal([
      ['qidian', until],
      ['xiaohongshu', null],
    ]);
    const unbanned = await call('DELETE', `/${a.id}/bans/xiaohongshu`, { token: admin });
    expect(unbanned.res.status, unbanned.text).to.equal(200);
    expect(unbanned.body.data.unbanned).to.equal(true);
    expect((await get(a.id, unbanned.body.data.position)).bans.map((x: any) => x.platform)).to.deep.equal(['qidian']);
    expect((await call('DELETE', `/${a.id}/bans/xiaohongshu`, { token: admin })).body.data.unbanned).to.equal(false);

    // retire: final
    const retired = await call('DELETE', `/${b.id}?reason=provider%20closed`, { token: admin });
    expect(retired.res.status, retired.text).to.equal(200);
    expect(await get(b.id, retired.body.data.position)).to.include({ status: 'retired' });
    const late = await call('POST', `/${b.id}/health-checks`, { token: admin, body: { ok: true, latency_ms: 5 } });
    expect(late.res.status, late.text).to.equal(409);

    // the password (and the username) in clear: in no response, no read table row, no event
    const events = await store.readStream(proxyStream(a.id));
    const rows = [await knex('proxies').where({ id: a.id }).first(), ...(await knex('proxy_bans').where({ proxy_id: a.id }))];
    for (const [where, text] of [
      ['responses', seen.join('\n')],
      ['events', JSON.stringify(events.map((e) => ({ data: e.data, metadata: e.metadata })))],
      ['read tables', JSON.stringify(rows)],
    ] as const) {
      expect(text, where).to.not.include(password);
      expect(text, where).to.not.include(username);
    }
    // …but the sealed box opens, for the proxy it was sealed for only
    const sealed = (events[0]!.data as unknown as { credentials: SealedSecret }).credentials;
    expect(container.get(TOKENS.SecretBox).decrypt(sealed, a.id)).to.equal(`${username}:${password}`);
    expect(() => container.get(TOKENS.SecretBox).decrypt(sealed, b.id)).to.throw();
  });

  it('refuses non-admins (403), anonymous callers (401), unknown proxies (404) and bad input (422)', async () => {
    const { id } = await register({ host: `gw2-${randomUUID().slice(0, 8)}.example.test`, port: 3128, protocol: 'https' });
    for (const [method, path, body] of [
      ['GET', '', undefined],
      ['GET', `/${id}`, undefined],
      ['POST', '', { nonsense: true }], // refused before validation: nothing is told about the body
      ['DELETE', `/${id}`, undefined],
      ['POST', `/${id}/bans`, { platform: 'qidian', reason: 'x' }],
      ['DELETE', `/${id}/bans/qidian`, undefined],
      ['POST', `/${id}/health-checks`, { ok: false }],
      ['GET', '/usage', undefined],
    ] as const) {
      const reply = await call(method, path, { token: user, body });
      expect(reply.res.status, `${method} ${path}: ${reply.text}`).to.equal(403);
      expect(reply.body.error!.code).to.equal('PERMISSION_DENIED');
    }
    expect((await call('GET', '')).res.status).to.equal(401);
    expect((await call('GET', '/usage/me')).res.status).to.equal(401);

    const unknown = randomUUID();
    expect((await call('GET', `/${unknown}`, { token: admin })).res.status).to.equal(404);
    const unknownCheck = await call('POST', `/${unknown}/health-checks`, { token: admin, body: { ok: false } });
    expect(unknownCheck.res.status, unknownCheck.text).to.equal(404);

    for (const body of [
      { host: 'gw.example.test', port: 8080, protocol: 'http', password: 'no-user' },
      { host: 'gw.example.test', port: 70000, protocol: 'http' },
      { host: 'gw.example.test', port: 8080, protocol: 'ftp' },
      { host: 'gw.example.test', port: 8080, protocol: 'http', username: 'a:b', password: 'x' },
    ]) {
      const reply = await call('POST', '', { token: admin, body });
      expect(reply.res.status, reply.text).to.equal(422);
      expect(reply.body.error!.code).to.equal('VALIDATION_ERROR');
    }
    const noLatency = await call('POST', `/${id}/health-checks`, { token: admin, body: { ok: true } });
    expect(noLatency.res.status, noLatency.text).to.equal(422);
    const badPlatform = await call('POST', `/${id}/bans`, { token: admin, body: { platform: 'tiktok', reason: 'x' } });
    expect(badPlatform.res.status, badPlatform.text).to.equal(422);
  });

  it('refuses a proxy the pool has already (409 duplicate_proxy); another username, port or protocol, or one retired meanwhile, is not one', async () => {
    const host = `dup-${randomUUID().slice(0, 8)}.example.test`;
    const withUser = await register({ host, port: 8000, protocol: 'http', username: 'alpha', password: `pw-${randomUUID()}` });
    const anonymous = await register({ host, port: 8000, protocol: 'http' });
    await get(withUser.id, anonymous.position);

    for (const [body, proxyId] of [
      // the host in any case, another password: the same proxy
      [{ host: host.toUpperCase(), port: 8000, protocol: 'http', username: 'alpha', password: `pw-${randomUUID()}`, region: 'elsewhere' }, withUser.id],
      [{ host, port: 8000, protocol: 'http' }, anonymous.id],
    ] as const) {
      const twice = await call('POST', '', { token: admin, body });
      expect(twice.res.status, twice.text).to.equal(409);
      expect(twice.body.error!.code).to.equal('CONFLICT');
      expect(twice.body.error!.details).to.include({ reason: 'duplicate_proxy', proxy_id: proxyId });
    }
    const listed = await call('GET', `?after_position=${anonymous.position}&per_page=100`, { token: admin });
    expect(listed.body.data.items.filter((p: any) => p.host === host).map((p: any) => p.id)).to.have.members([withUser.id, anonymous.id]);

    // another username, port or protocol is another proxy
    await register({ host, port: 8000, protocol: 'http', username: 'beta', password: `pw-${randomUUID()}` });
    await register({ host, port: 8001, protocol: 'http', username: 'alpha', password: `pw-${randomUUID()}` });
    await register({ host, port: 8000, protocol: 'socks5', username: 'alpha', password: `pw-${randomUUID()}` });
    // retired (its stream says so before the read model does): it can be registered anew
    const retired = await call('DELETE', `/${withUser.id}`, { token: admin });
    expect(retired.res.status, retired.text).to.equal(200);
    await register({ host, port: 8000, protocol: 'http', username: 'alpha', password: `pw-${randomUUID()}` });
  });

  it('answers usage per proxy for admins and per service for the user themself', async () => {
    const proxyId = randomUUID();
    const executionId = randomUUID();
    const other = `user-${randomUUID()}`;
    const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
    const now = Date.now();
    const at = (s: number) => new Date(now + s * 1000).toISOString();
    const run = async (id: string, ownerId: string, commands: (id: string) => WorkflowExecutionCommand[]) => {
      let position = '';
      const all: WorkflowExecutionCommand[] = [
        {
          type: 'RequestExecution',
          executionId: id,
          workflowId: `wf-${id}`,
          ownerId,
          platform: 'qidian',
          workflowType: 'qidian.rankings',
          config: {},
          platformAccountId: null,
          trigger: 'schedule',
          requestedBy: null,
          now: at(0),
        },
        ...commands(id),
      ];
      for (const command of all) {
        const result = await handle(store, workflowExecutionAggregate, id, command, { context });
        if (result.position) position = formatPosition(result.position);
      }
      return position;
    };
    await run(randomUUID(), other, (id) => [
      { type: 'StartExecution', executionId: id, now: at(1) },
      { type: 'AssignProxy', executionId: id, proxyId, reason: 'initial', now: at(2) },
    ]);
    const position = await run(executionId, userId, (id) => [
      { type: 'StartExecution', executionId: id, now: at(1) },
      { type: 'AssignProxy', executionId: id, proxyId, reason: 'initial', now: at(2) },
      {
        type: 'CollectItems',
        executionId: id,
        batchId: 'b1',
        items: ['r1', 'r2', 'r3', 'r4'].map((p) => ({ platformContentId: p, kind: 'qidian.book', data: {} })),
        cursor: null,
        now: at(3),
      },
      { type: 'FailExecution', executionId: id, reason: 'layout changed', now: at(4) },
    ]);

    const all = await call('GET', `/usage?proxy_id=${proxyId}&after_position=${position}`, { token: admin });
    expect(all.res.status, all.text).to.equal(200);
    expect(all.body.data.items.map((r: any) => [r.user_id, r.platform, r.executions, r.items, r.failures])).to.have.deep.members([
      [userId, 'qidian', 1, 4, 1],
      [other, 'qidian', 1, 0, 0],
    ]);

    const mine = await call('GET', `/usage/me?after_position=${position}`, { token: user });
    expect(mine.res.status, mine.text).to.equal(200);
    expect(mine.body.data.items).to.have.length(1);
    expect(mine.body.data.items[0]).to.include({ platform: 'qidian', executions: 1, items: 4, failures: 1 });
    expect(mine.body.data.items[0]).to.not.have.property('proxy_id');
    const empty = await call('GET', `/usage/me?platform=xiaohongshu`, { token: user });
    expect(empty.body.data.items).to.deep.equal([]);
  });
});
