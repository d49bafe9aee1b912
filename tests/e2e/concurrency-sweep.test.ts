import { expect } from 'chai';
import { isDeepStrictEqual } from 'node:util';
import { generateKeyPairSync, randomInt, randomUUID } from 'node:crypto';
import type { Container } from 'inversify';
import type { RunningServer } from '../../src/adapters/http/server.js';
import type { EventStore } from '../../src/event-store/port.js';
import { formatPosition } from '../../src/event-store/position.js';
import { TOKENS } from '../../src/tokens.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import { userAggregate } from '../../src/write-model/user/decider.js';
import { notificationAggregate } from '../../src/write-model/notification/decider.js';
import { organizationAggregate } from '../../src/write-model/organization/decider.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/index.js';
import { startApiWithProjections, type ApiWithProjections } from '../support/api-with-projections.js';
import { type BurstReply, burst, describeBurst, expectOnly, latestPosition, withStatus } from '../support/bursts.js';
import { grantPlan, startOnPlan } from '../support/plans.js';
import { signedIn } from '../support/signed-in.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The write routes under bursts of identical requests made at once (the API,
 * the projections, Postgres and Redis all real): never a 5xx, and what
 * results is what one request at a time would have left —
 * - without Idempotency-Key: a unique thing (a proxy, a keyword, a username,
 *   an organization of one founder, an invitation) is created once (the rest
 *   409), a plan's resource limit or daily counter is not overshot, a delete
 *   is done once (the rest 404 or a no-op), and deletions of many resources
 *   at once each give their unit back;
 * - with one Idempotency-Key: one execution, every answer its stored
 *   response (or 409 IDEMPOTENCY_IN_PROGRESS while it runs);
 * - with If-Match of the same revision: one change wins, the rest 412, and
 *   the state read back is the winner's.
 */

const N = 16;

describe('concurrency sweep: bursts of identical writes', function () {
  this.timeout(60_000);
  let container: Container;
  let running: RunningServer;
  let store: EventStore;
  let api: ApiWithProjections | undefined;
  let admin: { userId: string; token: string };
  /** Xiaohongshu and Qidian basic: 5 accounts, 3 workflows, 5 alert rules, keywords */
  let basic: { userId: string; token: string };
  /** both enterprise: api keys, reports, review rules, articles, everything else */
  let rich: { userId: string; token: string };

  async function call(method: string, path: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<BurstReply> {
    const sent: Record<string, string> = { ...headers };
    if (token) sent.Authorization = `Bearer ${token}`;
    if (body !== undefined) sent['Content-Type'] = 'application/json';
    const res = await fetch(`${running.url}${path}`, { method, headers: sent, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    let parsed: any;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  }
  async function ok(method: string, path: string, token: string, body?: unknown): Promise<any> {
    const r = await call(method, path, token, body);
    expect(r.status, `${method} ${path}: ${r.text}`).to.be.oneOf([200, 201, 202]);
    return r.body.data;
  }
  /** A list read once its projection has passed `position` (all of it: up to 100 items). */
  async function list(path: string, token: string, position?: string): Promise<any[]> {
    const sep = path.includes('?') ? '&' : '?';
    const r = await call('GET', `${path}${sep}per_page=100${position ? `&after_position=${position}` : ''}`, token);
    expect(r.status, r.text).to.equal(200);
    expect(r.headers.get('x-projection-lag'), `${path} lagged`).to.equal(null);
    return r.body.data.items;
  }
  const deps = () => ({ store, passwordHasher: container.get(TOKENS.PasswordHasher), accessTokens: container.get(TOKENS.AccessTokens) });
  const hex24 = () => Array.from({ length: 24 }, () => randomInt(16).toString(16)).join('');
  const novelId = () => String(randomInt(1_000_000_000, 2_000_000_000));
  const accountBody = (name = 'sweep') => ({ platform: 'xiaohongshu', credentials: { cookies: `a1=${hex24()}; web_session=${hex24()}` }, display_name: name });
  const workflowBody = (account: string, name = 'sweep') => ({
    name,
    type: 'xiaohongshu.notes',
    config: { mode: 'keyword', keyword: '茶', maxItems: 5 },
    platform_account_id: account,
  });
  const reportBody = (name = 'sweep') => ({ name, kind: 'qidian.tracked_novels', format: 'xlsx', schedule: { frequency: 'daily', hour: 9 } });
  const ruleBody = (name = 'sweep') => ({ scope: 'mine', name, kind: 'banned_phrase', phrases: ['sweep'] });

  async function onPlans(xiaohongshu: 'basic' | 'enterprise' | 'free', qidian: 'basic' | 'enterprise' | 'free') {
    const user = await signedIn(deps(), 'user');
    await startOnPlan(store, user.userId, 'xiaohongshu', xiaohongshu);
    await startOnPlan(store, user.userId, 'qidian', qidian);
    await waitFor(
      'the plans in the read model',
      async () => {
        const items: any[] = (await call('GET', '/api/v1/subscriptions', user.token)).body?.data?.items ?? [];
        return items.length === 2 && items.every((i) => i.plan === (i.service === 'xiaohongshu' ? xiaohongshu : qidian));
      },
      20_000,
      50,
    );
    return user;
  }

  /**
   * A user's subscription of `service` (its id a uuid, as the free-plans process manager starts it, so the routes
   * that name it take it) on `plan`, as listed.
   */
  async function paidSubscription(
    service: 'xiaohongshu' | 'qidian' = 'xiaohongshu',
    plan: 'basic' | 'pro' | 'enterprise' = 'enterprise',
    user?: { userId: string; token: string },
  ): Promise<{ user: { userId: string; token: string }; subscription: any }> {
    const holder = user ?? (await signedIn(deps(), 'user'));
    const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
    const subscriptionId = randomUUID();
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(holder.userId, service),
      { type: 'StartSubscription', subscriptionId, userId: holder.userId, service, plan: 'free', now: new Date().toISOString() },
      { context },
    );
    await grantPlan(store, holder.userId, service, plan);
    let subscription: any;
    await waitFor(
      `the ${plan} plan listed`,
      async () => {
        subscription = (await list('/api/v1/subscriptions', holder.token)).find((i) => i.id === subscriptionId);
        return subscription?.plan === plan;
      },
      10_000,
      50,
    );
    return { user: holder, subscription };
  }
  /** How many units of a resource limit the subscription holds now. */
  async function held(subscriptionId: string, token: string, feature: string): Promise<number> {
    const r = await call('GET', `/api/v1/subscriptions/${subscriptionId}/usage`, token);
    expect(r.status, r.text).to.equal(200);
    return r.body.data.features.find((f: any) => f.feature === feature).used;
  }

  before(async () => {
    const smsKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const config = {
      API_RATE_LIMIT_PER_IP: '0',
      API_RATE_LIMIT_PER_USER: '0',
      // SMS configured (a provider never called here), so the SMS keyword routes answer rather than 503
      SMS_PROVIDER_URL: 'http://127.0.0.1:9',
      SMS_API_KEY: 'sweep',
      SMS_API_SECRET: 'sweep-secret-sweep-secret-sweep-secret',
      SMS_PROVIDER_PUBLIC_KEY: smsKey,
      SMS_CALLBACK_BASE_URL: 'http://127.0.0.1:9',
      SMS_CHARGE_LEDGER: 'false',
    };
    api = await startApiWithProjections(config);
    ({ container, store, running } = api);
    admin = await signedIn(deps(), 'admin');
    [basic, rich] = await Promise.all([onPlans('basic', 'basic'), onPlans('enterprise', 'enterprise')]);
  });
  after(async () => {
    await api?.stop();
  });

  describe('without Idempotency-Key: one-at-a-time outcomes', () => {
    it('the same proxy registered at once: one 201, the rest 409 duplicate_proxy; one proxy in the pool', async () => {
      const body = { host: `sweep-${randomUUID()}.example.test`, port: 3128, protocol: 'http', username: 'sweep', password: 'sweep' };
      const replies = await burst(N, () => call('POST', '/api/v1/proxies', admin.token, body));
      expectOnly('POST /proxies', replies, [201, 409]);
      expect(withStatus(replies, 201), describeBurst('POST /proxies', replies)).to.have.length(1);
      for (const r of withStatus(replies, 409)) expect(r.body.error.details.reason).to.equal('duplicate_proxy');
      const proxies = (await list('/api/v1/proxies', admin.token, latestPosition(replies))).filter((p) => p.host === body.host);
      expect(proxies).to.have.length(1);
    });

    it('the same Qidian keyword watched at once: one 201, the rest 409; one keyword', async () => {
      const keyword = `sweep${randomInt(1e9)}`;
      const replies = await burst(N, () => call('POST', '/api/v1/qidian/keywords', basic.token, { keyword }));
      expectOnly('POST /qidian/keywords', replies, [201, 409]);
      expect(withStatus(replies, 201), describeBurst('POST /qidian/keywords', replies)).to.have.length(1);
      const items = (await list('/api/v1/qidian/keywords', basic.token, latestPosition(replies))).filter((k) => k.keyword === keyword);
      expect(items).to.have.length(1);
    });

    it('the same SMS keyword reserved at once: one 201, the rest the same answer 200; one reservation', async () => {
      const keyword = `SW${randomInt(1e9)}`;
      const replies = await burst(N, () => call('POST', '/api/v1/sms/keywords', rich.token, { keyword }));
      expectOnly('POST /sms/keywords', replies, [200, 201]);
      expect(withStatus(replies, 201), describeBurst('POST /sms/keywords', replies)).to.have.length(1);
      const items = (await list('/api/v1/sms/keywords', rich.token, latestPosition(replies))).filter((k) => k.keyword === keyword);
      expect(items).to.have.length(1);
      // held by someone else: 409 for every one of a burst
      const other = await burst(N, () => call('POST', '/api/v1/sms/keywords', basic.token, { keyword }));
      expectOnly('POST /sms/keywords (taken)', other, [409, 403]);
    });

    it('the same novel tracked at once: one tracking', async () => {
      const novel = novelId();
      const replies = await burst(N, () => call('POST', '/api/v1/qidian/trackings', basic.token, { novel_id: novel }));
      expectOnly('POST /qidian/trackings', replies, [200, 201, 409]);
      expect(withStatus(replies, 201), describeBurst('POST /qidian/trackings', replies)).to.have.length(1);
      const items = (await list('/api/v1/qidian/trackings', basic.token, latestPosition(replies))).filter((t) => t.novel_id === novel);
      expect(items).to.have.length(1);
    });

    it('the same alert rule made at once: one 201, the rest 409 duplicate_alert', async () => {
      const novel = novelId();
      await ok('POST', '/api/v1/qidian/trackings', rich.token, { novel_id: novel });
      const body = { novel_id: novel, kind: 'word_count_threshold', words: 1_000 };
      const replies = await burst(N, () => call('POST', '/api/v1/qidian/alerts', rich.token, body));
      expectOnly('POST /qidian/alerts', replies, [201, 409]);
      expect(withStatus(replies, 201), describeBurst('POST /qidian/alerts', replies)).to.have.length(1);
      const items = await list(`/api/v1/qidian/alerts?novel_id=${novel}`, rich.token, latestPosition(replies));
      expect(items).to.have.length(1);
    });

    it('organizations founded at once by one user: one 201, the rest 409; one organization', async () => {
      const founder = await signedIn(deps(), 'user');
      const replies = await burst(N, () => call('POST', '/api/v1/organizations', founder.token, { name: 'sweep' }));
      expectOnly('POST /organizations', replies, [201, 409]);
      expect(withStatus(replies, 201), describeBurst('POST /organizations', replies)).to.have.length(1);
      let orgs: any[] = [];
      await waitFor(
        'the organization listed',
        async () => {
          orgs = (await call('GET', '/api/v1/organizations', founder.token)).body?.data?.items ?? [];
          return orgs.length > 0;
        },
        10_000,
        50,
      );
      expect(orgs).to.have.length(1);
    });

    it('the same address invited at once: one 201, the rest 409; one pending invitation', async () => {
      const founder = await signedIn(deps(), 'user');
      const org = (await ok('POST', '/api/v1/organizations', founder.token, { name: 'sweep' })).id;
      const email = `invitee-${randomUUID()}@example.test`;
      const replies = await burst(N, () => call('POST', `/api/v1/organizations/${org}/invitations`, founder.token, { email, roles: ['analyst'] }));
      expectOnly('POST /invitations', replies, [201, 409]);
      expect(withStatus(replies, 201), describeBurst('POST /invitations', replies)).to.have.length(1);
      const items = await list(`/api/v1/organizations/${org}/invitations?status=pending`, founder.token, latestPosition(replies));
      expect(items).to.have.length(1);
    });

    it('one username taken at once by many users: one holds it, the rest 409', async () => {
      const users = await Promise.all(Array.from({ length: 8 }, () => signedIn(deps(), 'user')));
      const username = `sweep_${randomInt(1e9)}`;
      const replies = await burst(users.length, (i) => call('PUT', '/api/v1/users/profile', users[i]!.token, { username }));
      expectOnly('PUT /users/profile username', replies, [200, 409]);
      expect(withStatus(replies, 200), describeBurst('PUT /users/profile', replies)).to.have.length(1);
      const winner = users[replies.findIndex((r) => r.status === 200)]!;
      // the profile is read from its read model: once it has the winner's name, no one else has it
      await waitFor("the winner's username", async () => (await call('GET', '/api/v1/users/profile', winner.token)).body.data.username === username, 5_000, 50);
      const profiles = await Promise.all(users.map((u) => call('GET', '/api/v1/users/profile', u.token)));
      const holders = profiles.filter((r) => r.body.data.username === username);
      expect(holders.map((h) => h.body.data.id)).to.deep.equal([winner.userId]);
    });

    it('one user asking for one username at once (with If-Match or without): the name stays theirs alone', async () => {
      for (const ifMatch of [true, false]) {
        const user = await signedIn(deps(), 'user');
        const other = await signedIn(deps(), 'user');
        const username = `sweep_${randomInt(1e9)}`;
        let etag: string | null = null;
        await waitFor(
          'the profile read',
          async () => {
            etag = (await call('GET', '/api/v1/users/profile', user.token)).headers.get('etag');
            return etag !== null;
          },
          5_000,
          50,
        );
        const revision = JSON.parse(etag!) as string;
        const headers: Record<string, string> = ifMatch ? { 'If-Match': `"${revision}"` } : {};
        const replies = await burst(N, () => call('PUT', '/api/v1/users/profile', user.token, { username }, headers));
        expectOnly('PUT /users/profile (one name)', replies, ifMatch ? [200, 412] : [200, 409]);
        expect(withStatus(replies, 200).length, describeBurst('PUT /users/profile', replies)).to.be.at.least(1);
        // the losers gave back nothing the winner holds: someone else asking for it is refused
        const taken = await call('PUT', '/api/v1/users/profile', other.token, { username });
        expect(taken.status, `${ifMatch ? 'with' : 'without'} If-Match: ${taken.text}`).to.equal(409);
      }
    });

    it('one user switching between two usernames at once: the name the profile ends with stays theirs alone', async () => {
      const user = await signedIn(deps(), 'user');
      const other = await signedIn(deps(), 'user');
      const names = [`sweep_${randomInt(1e9)}`, `sweep_${randomInt(1e9)}`];
      await ok('PUT', '/api/v1/users/profile', user.token, { username: names[0] });
      const replies = await burst(N, (i) => call('PUT', '/api/v1/users/profile', user.token, { username: names[i % 2] }));
      expectOnly('PUT /users/profile (two names)', replies, [200, 409]);
      // what the user's stream recorded last
      const { state } = await load(store, userAggregate, user.userId);
      const recorded = state.account?.profile.username;
      expect(recorded).to.be.oneOf(names);
      const taken = await call('PUT', '/api/v1/users/profile', other.token, { username: recorded });
      expect(taken.status, taken.text).to.equal(409);
    });

    it('workflows made at once do not overshoot the plan (basic: 3)', async () => {
      const account = (await ok('POST', '/api/v1/platform-accounts', basic.token, accountBody())).id;
      const first = await ok('POST', '/api/v1/workflows', basic.token, workflowBody(account, 'first'));
      const replies = await burst(N, (i) => call('POST', '/api/v1/workflows', basic.token, workflowBody(account, `burst ${i}`)));
      expectOnly('POST /workflows', replies, [201, 409, 429]);
      expect(withStatus(replies, 201), describeBurst('POST /workflows', replies)).to.have.length.at.most(2);
      const items = await list('/api/v1/workflows?platform=xiaohongshu', basic.token, latestPosition(replies) ?? first.position);
      expect(items).to.have.length.at.most(3);
      expect(items.length, 'the burst filled the plan').to.equal(1 + withStatus(replies, 201).length);
      // deleted at once: one deletion; its slot given back once
      const victim = items.find((w) => w.id !== first.id)!.id;
      const deletes = await burst(N, () => call('DELETE', `/api/v1/workflows/${victim}`, basic.token));
      expectOnly('DELETE /workflows/{id}', deletes, [200, 404, 409]);
      expect(
        deletes.filter((r) => r.status === 200 && r.body.data.position !== null),
        describeBurst('DELETE /workflows/{id}', deletes),
      ).to.have.length(1);
      const refill = await burst(N, (i) => call('POST', '/api/v1/workflows', basic.token, workflowBody(account, `refill ${i}`)));
      expectOnly('POST /workflows (refill)', refill, [201, 409, 429]);
      const after = await list('/api/v1/workflows?platform=xiaohongshu', basic.token, latestPosition(refill) ?? latestPosition(deletes));
      expect(after.length, describeBurst('refill', refill)).to.equal(3);
    });

    it('platform accounts connected at once do not overshoot the plan (basic: 5)', async () => {
      const user = await onPlans('basic', 'free');
      const replies = await burst(N, (i) => call('POST', '/api/v1/platform-accounts', user.token, accountBody(`burst ${i}`)));
      expectOnly('POST /platform-accounts', replies, [201, 409, 429]);
      expect(withStatus(replies, 201), describeBurst('POST /platform-accounts', replies)).to.have.length.at.most(5);
      const items = await list('/api/v1/platform-accounts?platform=xiaohongshu', user.token, latestPosition(replies));
      expect(items.length).to.equal(withStatus(replies, 201).length).and.to.be.at.most(5);
      // disconnected at once: one disconnection
      const victim = items[0].id;
      const deletes = await burst(N, () => call('DELETE', `/api/v1/platform-accounts/${victim}`, user.token));
      expectOnly('DELETE /platform-accounts/{id}', deletes, [200, 404, 409]);
      expect(
        deletes.filter((r) => r.status === 200 && r.body.data.position !== null),
        describeBurst('DELETE /platform-accounts/{id}', deletes),
      ).to.have.length(1);
    });

    it('novels tracked at once do not overshoot the plan (free: 10)', async () => {
      const user = await onPlans('free', 'free');
      const replies = await burst(16, () => call('POST', '/api/v1/qidian/trackings', user.token, { novel_id: novelId() }));
      expectOnly('POST /qidian/trackings (limit)', replies, [201, 409, 429]);
      expect(withStatus(replies, 201), describeBurst('POST /qidian/trackings', replies)).to.have.length.at.most(10);
      const items = await list('/api/v1/qidian/trackings', user.token, latestPosition(replies));
      expect(items.length).to.equal(withStatus(replies, 201).length).and.to.be.at.most(10);
    });

    it('alert rules made at once do not overshoot the plan (basic: 5)', async () => {
      const user = await onPlans('free', 'basic');
      const novels = Array.from({ length: N }, () => novelId());
      for (const novel of novels) await ok('POST', '/api/v1/qidian/trackings', user.token, { novel_id: novel });
      const replies = await burst(N, (i) => call('POST', '/api/v1/qidian/alerts', user.token, { novel_id: novels[i], kind: 'completion' }));
      expectOnly('POST /qidian/alerts (limit)', replies, [201, 409, 429]);
      expect(withStatus(replies, 201), describeBurst('POST /qidian/alerts', replies)).to.have.length.at.most(5);
      const items = await list('/api/v1/qidian/alerts', user.token, latestPosition(replies));
      expect(items.length).to.equal(withStatus(replies, 201).length).and.to.be.at.most(5);
    });

    it("a holder's resources deleted at once: each deletion done and answered, every unit given back", async () => {
      const { user, subscription: xiaohongshu } = await paidSubscription('xiaohongshu', 'pro');
      const { subscription: qidian } = await paidSubscription('qidian', 'basic', user);
      const accounts: string[] = [];
      for (let i = 0; i < N; i++) accounts.push((await ok('POST', '/api/v1/platform-accounts', user.token, accountBody(`a${i}`))).id);
      const workflows: string[] = [];
      for (let i = 0; i < 10; i++) workflows.push((await ok('POST', '/api/v1/workflows', user.token, workflowBody(accounts[0]!, `w${i}`))).id);
      const trackings: string[] = [];
      const alerts: string[] = [];
      for (let i = 0; i < N; i++) {
        const novel = novelId();
        trackings.push((await ok('POST', '/api/v1/qidian/trackings', user.token, { novel_id: novel })).id);
        if (i < 5) alerts.push((await ok('POST', '/api/v1/qidian/alerts', user.token, { novel_id: novel, kind: 'completion' })).id);
      }
      const units = async () => ({
        account_limit: await held(xiaohongshu.id, user.token, 'account_limit'),
        automation_workflows: await held(xiaohongshu.id, user.token, 'automation_workflows'),
        novel_tracking_limit: await held(qidian.id, user.token, 'novel_tracking_limit'),
        alert_notifications: await held(qidian.id, user.token, 'alert_notifications'),
      });
      // the usage is read from the subscriptions projection, which follows the reservations and releases a moment later
      const settled = async (expected: Awaited<ReturnType<typeof units>>) => {
        let seen = await units();
        for (const deadline = Date.now() + 10_000; JSON.stringify(seen) !== JSON.stringify(expected) && Date.now() < deadline; seen = await units()) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(seen).to.deep.equal(expected);
      };
      await settled({ account_limit: N, automation_workflows: 10, novel_tracking_limit: N, alert_notifications: 5 });
      const failures: string[] = [];
      const deleteAll = async (label: string, paths: string[]) => {
        const replies = await burst(paths.length, (i) => call('DELETE', paths[i]!, user.token));
        if (replies.some((r) => r.status !== 200)) failures.push(describeBurst(label, replies));
      };
      await deleteAll(
        'DELETE /workflows/{id}',
        workflows.map((id) => `/api/v1/workflows/${id}`),
      );
      await deleteAll(
        'DELETE /platform-accounts/{id}',
        accounts.map((id) => `/api/v1/platform-accounts/${id}`),
      );
      await deleteAll(
        'DELETE /qidian/alerts/{id}',
        alerts.map((id) => `/api/v1/qidian/alerts/${id}`),
      );
      await deleteAll(
        'DELETE /qidian/trackings/{id}',
        trackings.map((id) => `/api/v1/qidian/trackings/${id}`),
      );
      expect(failures, failures.join('\n')).to.deep.equal([]);
      await settled({ account_limit: 0, automation_workflows: 0, novel_tracking_limit: 0, alert_notifications: 0 });
    });

    it('API keys made at once stop at 20', async () => {
      const user = await onPlans('enterprise', 'enterprise');
      for (let i = 0; i < 14; i++) await ok('POST', '/api/v1/users/api-keys', user.token, { name: `before ${i}`, scopes: ['read'] });
      const replies = await burst(N, (i) => call('POST', '/api/v1/users/api-keys', user.token, { name: `burst ${i}`, scopes: ['read'] }));
      expectOnly('POST /users/api-keys', replies, [201, 409]);
      expect(withStatus(replies, 201), describeBurst('POST /users/api-keys', replies)).to.have.length.at.most(6);
      const items = (await list('/api/v1/users/api-keys', user.token, latestPosition(replies))).filter((k) => k.status === 'active');
      expect(items.length)
        .to.equal(14 + withStatus(replies, 201).length)
        .and.to.be.at.most(20);
      const victim = items[0].id;
      const deletes = await burst(N, () => call('DELETE', `/api/v1/users/api-keys/${victim}`, user.token));
      expectOnly('DELETE /users/api-keys/{id}', deletes, [200, 409]);
      expect(deletes.filter((r) => r.status === 200 && r.body.data.position !== null)).to.have.length(1);
    });

    it('deletions at once: one deletion, the rest 404 or a no-op; never a 5xx', async () => {
      const article = (await ok('POST', '/api/v1/articles', rich.token, { title: 'sweep', body: 'sweep' })).id;
      const rule = (await ok('POST', '/api/v1/review-rules', rich.token, ruleBody())).id;
      const report = (await ok('POST', '/api/v1/reports', rich.token, reportBody())).id;
      const tracking = (await ok('POST', '/api/v1/qidian/trackings', rich.token, { novel_id: novelId() })).id;
      const keyword = (await ok('POST', '/api/v1/qidian/keywords', rich.token, { keyword: `gone${randomInt(1e9)}` })).id;
      const novel = novelId();
      await ok('POST', '/api/v1/qidian/trackings', rich.token, { novel_id: novel });
      const alert = (await ok('POST', '/api/v1/qidian/alerts', rich.token, { novel_id: novel, kind: 'completion' })).id;
      const proxy = (
        await ok('POST', '/api/v1/proxies', admin.token, { host: '127.0.0.1', port: 9, protocol: 'http', username: `gone-${randomUUID()}`, password: 'x' })
      ).id;
      const sms = `GONE${randomInt(1e9)}`;
      await ok('POST', '/api/v1/sms/keywords', rich.token, { keyword: sms });
      const targets: [string, string][] = [
        [`/api/v1/articles/${article}`, rich.token],
        [`/api/v1/review-rules/${rule}`, rich.token],
        [`/api/v1/reports/${report}`, rich.token],
        [`/api/v1/qidian/trackings/${tracking}`, rich.token],
        [`/api/v1/qidian/keywords/${keyword}`, rich.token],
        [`/api/v1/qidian/alerts/${alert}`, rich.token],
        [`/api/v1/proxies/${proxy}`, admin.token],
        [`/api/v1/sms/keywords/${sms}`, rich.token],
      ];
      const failures: string[] = [];
      await Promise.all(
        targets.map(async ([path, token]) => {
          const replies = await burst(N, () => call('DELETE', path, token));
          const label = `DELETE ${path}`;
          const wrote = replies.filter((r) => r.status === 200 && r.body?.data?.position !== null);
          if (replies.some((r) => r.status >= 500) || wrote.length !== 1 || replies.some((r) => ![200, 404, 409].includes(r.status))) {
            failures.push(describeBurst(label, replies));
          }
        }),
      );
      expect(failures, failures.join('\n')).to.deep.equal([]);
    });

    it('changes at once without If-Match: each one applied or 409, never a 5xx; the state is one of them', async () => {
      const article = (await ok('POST', '/api/v1/articles', rich.token, { title: 'sweep', body: 'sweep' })).id;
      const replies = await burst(N, (i) => call('PUT', `/api/v1/articles/${article}`, rich.token, { title: `title ${i}`, body: 'sweep' }));
      expectOnly('PUT /articles/{id}', replies, [200, 409]);
      const applied = replies.flatMap((r, i) => (r.status === 200 ? [`title ${i}`] : []));
      expect(applied.length, describeBurst('PUT /articles/{id}', replies)).to.be.greaterThan(0);
      // the read model follows a moment later
      await waitFor(
        'the article shows an applied title',
        async () => applied.includes((await call('GET', `/api/v1/articles/${article}`, rich.token)).body?.data?.title),
        5_000,
        50,
      );
    });
    it('a downgrade asked at once is scheduled once; a cancellation at once is recorded once', async () => {
      const { user, subscription } = await paidSubscription();
      const subscriptionId = subscription.id;
      const replies = await burst(N, () => call('PUT', `/api/v1/subscriptions/${subscription.id}`, user.token, { plan: 'basic' }));
      expectOnly('PUT /subscriptions/{id} (downgrade)', replies, [200, 409]);
      expect(
        replies.filter((r) => r.status === 200 && r.body.data.position !== null),
        describeBurst('PUT /subscriptions/{id}', replies),
      ).to.have.length(1);
      // the daily counter (enterprise: unlimited calls) and the free plan's 50 a day, counted at once
      const consumed = await burst(N, () =>
        call('POST', `/api/v1/subscriptions/${subscription.id}/consume`, user.token, { feature: 'daily_api_calls', amount: 3 }),
      );
      expectOnly('POST /subscriptions/{id}/consume', consumed, [200, 409]);
      const cancels = await burst(N, () => call('DELETE', `/api/v1/subscriptions/${subscription.id}`, user.token));
      expectOnly('DELETE /subscriptions/{id}', cancels, [200, 409]);
      expect(
        cancels.filter((r) => r.status === 200 && r.body.data.position !== null),
        describeBurst('DELETE /subscriptions/{id}', cancels),
      ).to.have.length(1);
      const after = (await list('/api/v1/subscriptions', user.token, latestPosition(cancels))).find((i) => i.id === subscriptionId);
      expect(after).to.include({ plan: 'enterprise', cancel_at_period_end: true });
    });

    it('a daily counter used at once is not overshot (free: 50 calls a day)', async () => {
      const user = await signedIn(deps(), 'user');
      const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
      const subscriptionId = randomUUID();
      await handle(
        store,
        subscriptionAggregate,
        subscriptionKey(user.userId, 'xiaohongshu'),
        { type: 'StartSubscription', subscriptionId, userId: user.userId, service: 'xiaohongshu', plan: 'free', now: new Date().toISOString() },
        { context },
      );
      const path = `/api/v1/subscriptions/${subscriptionId}/consume`;
      await waitFor(
        'the subscription',
        async () => (await call('POST', path, user.token, { feature: 'daily_api_calls', amount: 20 })).status === 200,
        5_000,
        50,
      );
      const replies = await burst(N, () => call('POST', path, user.token, { feature: 'daily_api_calls', amount: 7 }));
      expectOnly('POST /subscriptions/{id}/consume', replies, [200, 409, 429]);
      const counted = withStatus(replies, 200);
      expect(counted.length, describeBurst('consume', replies)).to.be.at.most(4);
      const used = Math.max(...counted.map((r) => r.body.data.used_today));
      expect(used)
        .to.equal(20 + 7 * counted.length)
        .and.to.be.at.most(50);
      // what is left is still there: one more of 50 - used fits, one past it does not
      const last = await call('POST', path, user.token, { feature: 'daily_api_calls', amount: 50 - used + 1 });
      expect(last.status, last.text).to.equal(429);
    });

    it('notifications marked read at once: one mark each; runs asked at once: each recorded, never a 5xx', async () => {
      const reader = await signedIn(deps(), 'user');
      const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
      const ids: string[] = [];
      let position = '';
      for (let i = 0; i < 3; i++) {
        const id = randomUUID();
        const r = await handle(
          store,
          notificationAggregate,
          id,
          { type: 'Notify', userId: reader.userId, notificationId: id, kind: 'quota_exceeded', title: 't', body: 'b', data: {}, now: new Date().toISOString() },
          { context },
        );
        position = formatPosition(r.position!);
        ids.push(id);
      }
      await list('/api/v1/notifications', reader.token, position);
      const reads = await burst(N, () => call('POST', `/api/v1/notifications/${ids[0]}/read`, reader.token));
      expectOnly('POST /notifications/{id}/read', reads, [200, 409]);
      expect(reads.filter((r) => r.status === 200 && r.body.data.position !== null)).to.have.length(1);
      const all = await burst(N, () => call('POST', '/api/v1/notifications/read-all', reader.token));
      expectOnly('POST /notifications/read-all', all, [200, 409]);
      const left = await call('GET', `/api/v1/notifications?unread=true&after_position=${latestPosition(all) ?? latestPosition(reads)}`, reader.token);
      expect(left.body.data.unread_count, left.text).to.equal(0);
      const stream = await store.readStream(`notification-${ids[1]}`);
      expect(stream.filter((e) => e.type !== 'NotificationSent').length, JSON.stringify(stream.map((e) => e.type))).to.equal(1);

      const account = (await ok('POST', '/api/v1/platform-accounts', rich.token, accountBody())).id;
      const workflow = (await ok('POST', '/api/v1/workflows', rich.token, workflowBody(account))).id;
      const runs = await burst(N, () => call('POST', `/api/v1/workflows/${workflow}/execute`, rich.token));
      expectOnly('POST /workflows/{id}/execute', runs, [202, 409]);
      const executions = new Set(withStatus(runs, 202).map((r) => r.body.data.execution_id));
      expect(executions.size).to.equal(withStatus(runs, 202).length);
      const edits = await burst(N, (i) => call('PUT', `/api/v1/workflows/${workflow}`, rich.token, { name: `edit ${i}` }));
      expectOnly('PUT /workflows/{id}', edits, [200, 409]);
      const named = edits.flatMap((r, i) => (r.status === 200 ? [`edit ${i}`] : []));
      expect(named.length, describeBurst('PUT /workflows/{id}', edits)).to.be.greaterThan(0);
      await waitFor(
        'the workflow shows an applied name',
        async () => named.includes((await call('GET', `/api/v1/workflows/${workflow}`, rich.token)).body?.data?.name),
        5_000,
        50,
      );
    });

    it('a member removed at once, and one leaving at once: one removal each', async () => {
      const founder = await signedIn(deps(), 'user');
      const org = (await ok('POST', '/api/v1/organizations', founder.token, { name: 'sweep' })).id;
      const [removed, leaving] = await Promise.all([signedIn(deps(), 'user'), signedIn(deps(), 'user')]);
      const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
      for (const member of [removed, leaving]) {
        await handle(
          store,
          organizationAggregate,
          org,
          { type: 'AddMember', userId: member.userId, roles: ['analyst'], team: null, invitationId: null, now: new Date().toISOString() },
          { context },
        );
      }
      const removals = await burst(N, () => call('DELETE', `/api/v1/organizations/${org}/members/${removed.userId}`, founder.token));
      expectOnly('DELETE /members/{userId}', removals, [200, 404, 409]);
      expect(withStatus(removals, 200), describeBurst('DELETE /members/{userId}', removals)).to.have.length.at.least(1);
      expect(removals.filter((r) => r.status === 200 && r.body.data.position !== null)).to.have.length(1);
      const leaves = await burst(N, () => call('POST', `/api/v1/organizations/${org}/leave`, leaving.token));
      expectOnly('POST /organizations/{id}/leave', leaves, [200, 404, 409]);
      expect(
        leaves.filter((r) => r.status === 200 && r.body.data.position !== null),
        describeBurst('POST /leave', leaves),
      ).to.have.length(1);
      const members = await list(`/api/v1/organizations/${org}/members`, founder.token, latestPosition([...removals, ...leaves]));
      expect(members.map((m) => m.user_id)).to.deep.equal([founder.userId]);
    });
  });

  describe('one Idempotency-Key: one execution, one stored answer', () => {
    async function idempotentBurst(label: string, method: string, path: string, token: string, body: unknown): Promise<BurstReply> {
      const key = randomUUID();
      const replies = await burst(N, () => call(method, path, token, body, { 'Idempotency-Key': key }));
      const failures: string[] = [];
      const done = replies.filter((r) => r.status >= 200 && r.status < 300);
      if (replies.some((r) => !(r.status >= 200 && r.status < 300) && !(r.status === 409 && r.body?.error?.code === 'IDEMPOTENCY_IN_PROGRESS'))) {
        failures.push('an answer neither 2xx nor 409 IDEMPOTENCY_IN_PROGRESS');
      }
      if (done.length === 0) failures.push('no answer was 2xx');
      const first = done.filter((r) => r.headers.get('idempotent-replayed') !== 'true');
      if (first.length !== 1) failures.push(`${first.length} executions answered`);
      for (const r of done) {
        if (r.status !== done[0]!.status || !isDeepStrictEqual(r.body, done[0]!.body)) failures.push('answers differ');
      }
      // a late repeat: the stored answer
      const again = await call(method, path, token, body, { 'Idempotency-Key': key });
      if (again.headers.get('idempotent-replayed') !== 'true' || !isDeepStrictEqual(again.body, done[0]?.body)) {
        failures.push(`the repeat answered ${again.status} ${again.text.slice(0, 200)}`);
      }
      expect(failures, describeBurst(label, replies)).to.deep.equal([]);
      return done[0]!;
    }

    it('creations: one resource each', async () => {
      const account = (await ok('POST', '/api/v1/platform-accounts', rich.token, accountBody())).id;
      const cases: { label: string; path: string; token?: string; body: unknown; listed: string; match: (item: any) => boolean }[] = [];
      const marker = randomUUID();
      cases.push(
        { label: 'articles', path: '/api/v1/articles', body: { title: marker, body: 'x' }, listed: '/api/v1/articles', match: (i) => i.title === marker },
        { label: 'workflows', path: '/api/v1/workflows', body: workflowBody(account, marker), listed: '/api/v1/workflows', match: (i) => i.name === marker },
        {
          label: 'platform accounts',
          path: '/api/v1/platform-accounts',
          body: accountBody(marker),
          listed: '/api/v1/platform-accounts',
          match: (i) => i.display_name === marker,
        },
        {
          label: 'review rules',
          path: '/api/v1/review-rules',
          body: ruleBody(marker),
          listed: '/api/v1/review-rules?scope=mine',
          match: (i) => i.name === marker,
        },
        { label: 'reports', path: '/api/v1/reports', body: reportBody(marker), listed: '/api/v1/reports', match: (i) => i.name === marker },
        {
          label: 'proxies',
          path: '/api/v1/proxies',
          token: admin.token,
          body: { host: `${marker}.example.test`, port: 9, protocol: 'http', username: 'idem', password: 'x' },
          listed: '/api/v1/proxies',
          match: (i) => i.host === `${marker}.example.test`,
        },
      );
      const novel = novelId();
      cases.push({
        label: 'trackings',
        path: '/api/v1/qidian/trackings',
        body: { novel_id: novel },
        listed: '/api/v1/qidian/trackings',
        match: (i) => i.novel_id === novel,
      });
      const word = `idem${randomInt(1e9)}`;
      cases.push({
        label: 'keywords',
        path: '/api/v1/qidian/keywords',
        body: { keyword: word },
        listed: '/api/v1/qidian/keywords',
        match: (i) => i.keyword === word,
      });
      for (const c of cases) {
        const token = c.token ?? rich.token;
        const answer = await idempotentBurst(`POST ${c.path}`, 'POST', c.path, token, c.body);
        const items = (await list(c.listed, token, answer.body.data.position)).filter(c.match);
        expect(items, `${c.label} listed`).to.have.length(1);
      }
    });

    it('runs, alerts, organizations, notification marks, SMS keywords', async () => {
      const account = (await ok('POST', '/api/v1/platform-accounts', rich.token, accountBody())).id;
      const workflow = (await ok('POST', '/api/v1/workflows', rich.token, workflowBody(account))).id;
      await idempotentBurst('POST /workflows/{id}/execute', 'POST', `/api/v1/workflows/${workflow}/execute`, rich.token, undefined);
      const novel = novelId();
      await ok('POST', '/api/v1/qidian/trackings', rich.token, { novel_id: novel });
      await idempotentBurst('POST /qidian/alerts', 'POST', '/api/v1/qidian/alerts', rich.token, { novel_id: novel, kind: 'update' });
      const founder = await signedIn(deps(), 'user');
      await idempotentBurst('POST /organizations', 'POST', '/api/v1/organizations', founder.token, { name: 'sweep' });
      await idempotentBurst('POST /sms/keywords', 'POST', '/api/v1/sms/keywords', rich.token, { keyword: `ID${randomInt(1e9)}` });

      const reader = await signedIn(deps(), 'user');
      const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
      let position = '';
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const id = randomUUID();
        const now = new Date().toISOString();
        const r = await handle(
          store,
          notificationAggregate,
          id,
          { type: 'Notify', userId: reader.userId, notificationId: id, kind: 'quota_exceeded', title: 't', body: 'b', data: {}, now },
          { context },
        );
        position = formatPosition(r.position!);
        ids.push(id);
      }
      await list('/api/v1/notifications', reader.token, position);
      await idempotentBurst('POST /notifications/{id}/read', 'POST', `/api/v1/notifications/${ids[0]}/read`, reader.token, undefined);
      const all = await idempotentBurst('POST /notifications/read-all', 'POST', '/api/v1/notifications/read-all', reader.token, undefined);
      const left = await call(
        'GET',
        `/api/v1/notifications?unread=true${all.body.data.position ? `&after_position=${all.body.data.position}` : ''}`,
        reader.token,
      );
      expect(left.body.data.unread_count, left.text).to.equal(0);
    });
  });

  describe('If-Match of one revision: one change wins, the rest 412', () => {
    async function ifMatchBurst(label: string, method: string, path: string, token: string, revision: string, bodyOf: (i: number) => unknown): Promise<number> {
      const replies = await burst(N, (i) => call(method, path, token, bodyOf(i), { 'If-Match': `"${revision}"` }));
      expectOnly(label, replies, [200, 202, 412]);
      const won = replies.flatMap((r, i) => (r.status === 200 || r.status === 202 ? [i] : []));
      expect(won, describeBurst(label, replies)).to.have.length(1);
      return won[0]!;
    }
    const revisionOf = async (path: string, token: string) => {
      const r = await call('GET', path, token);
      expect(r.status, r.text).to.equal(200);
      return JSON.parse(r.headers.get('etag')!) as string;
    };

    it('profile, articles, workflows, platform accounts, review rules, reports, trackings, alerts', async () => {
      const user = await onPlans('enterprise', 'enterprise');
      const account = (await ok('POST', '/api/v1/platform-accounts', user.token, accountBody())).id;
      const workflow = await ok('POST', '/api/v1/workflows', user.token, workflowBody(account));
      const article = await ok('POST', '/api/v1/articles', user.token, { title: 'sweep', body: 'sweep' });
      const rule = await ok('POST', '/api/v1/review-rules', user.token, ruleBody());
      const report = await ok('POST', '/api/v1/reports', user.token, reportBody());
      const novel = novelId();
      const tracking = await ok('POST', '/api/v1/qidian/trackings', user.token, { novel_id: novel });
      const alert = await ok('POST', '/api/v1/qidian/alerts', user.token, { novel_id: novel, kind: 'word_count_threshold', words: 1000 });
      const cases: {
        path: string;
        get?: string;
        method?: string;
        revision: string;
        body: (i: number) => unknown;
        read: (d: any) => unknown;
        expected: (i: number) => unknown;
      }[] = [
        {
          path: '/api/v1/users/profile',
          revision: await revisionOf('/api/v1/users/profile', user.token),
          body: (i) => ({ display_name: `name ${i}` }),
          read: (d) => d.display_name,
          expected: (i) => `name ${i}`,
        },
        {
          path: `/api/v1/articles/${article.id}`,
          revision: article.revision,
          body: (i) => ({ title: `title ${i}`, body: 'sweep' }),
          read: (d) => d.title,
          expected: (i) => `title ${i}`,
        },
        {
          path: `/api/v1/workflows/${workflow.id}`,
          revision: workflow.revision,
          body: (i) => ({ name: `wf ${i}` }),
          read: (d) => d.name,
          expected: (i) => `wf ${i}`,
        },
        {
          path: `/api/v1/platform-accounts/${account}`,
          revision: await revisionOf(`/api/v1/platform-accounts/${account}`, user.token),
          body: (i) => ({ display_name: `acct ${i}` }),
          read: (d) => d.display_name,
          expected: (i) => `acct ${i}`,
        },
        {
          path: `/api/v1/review-rules/${rule.id}`,
          revision: rule.revision,
          body: (i) => ({ ...ruleBody(`rule ${i}`), scope: undefined }),
          read: (d) => d.name,
          expected: (i) => `rule ${i}`,
        },
        {
          path: `/api/v1/reports/${report.id}`,
          revision: report.revision,
          body: (i) => ({ name: `report ${i}` }),
          read: (d) => d.name,
          expected: (i) => `report ${i}`,
        },
        {
          path: `/api/v1/qidian/trackings/${tracking.id}`,
          revision: tracking.revision,
          body: (i) => ({ title: `tracked ${i}` }),
          // no single read: the list has it
          get: '/api/v1/qidian/trackings',
          read: (d) => d.items.find((t: any) => t.id === tracking.id)?.title,
          expected: (i) => `tracked ${i}`,
        },
        {
          path: `/api/v1/qidian/alerts/${alert.id}`,
          revision: alert.revision,
          body: (i) => ({ words: 2000 + i }),
          read: (d) => d.words,
          expected: (i) => 2000 + i,
        },
      ];
      for (const c of cases) {
        const method = c.method ?? 'PUT';
        const winner = await ifMatchBurst(`${method} ${c.path}`, method, c.path, user.token, c.revision, c.body);
        // a read model's read catches up within a moment; then it has the winner's change, and stays so
        let read: unknown;
        await waitFor(
          `${c.path}: the winner's change (${JSON.stringify(c.expected(winner))}), read ${JSON.stringify(read)}`,
          async () => {
            const r = await call('GET', c.get ?? c.path, user.token);
            read = r.status === 200 ? c.read(r.body.data) : r.text;
            return isDeepStrictEqual(read, c.expected(winner));
          },
          5_000,
          50,
        );
      }
    });

    it('organizations and members', async () => {
      const founder = await signedIn(deps(), 'user');
      const org = await ok('POST', '/api/v1/organizations', founder.token, { name: 'sweep' });
      const winner = await ifMatchBurst('PATCH /organizations/{id}', 'PATCH', `/api/v1/organizations/${org.id}`, founder.token, org.revision, (i) => ({
        name: `org ${i}`,
      }));
      await waitFor(
        "the organization shows the winner's name",
        async () => (await call('GET', `/api/v1/organizations/${org.id}`, founder.token)).body?.data?.name === `org ${winner}`,
        5_000,
        50,
      );
      // a member added as an accepted invitation adds one (the invitation's own flow is the organizations tests')
      const member = await signedIn(deps(), 'user');
      const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
      const added = await handle(
        store,
        organizationAggregate,
        org.id,
        { type: 'AddMember', userId: member.userId, roles: ['analyst'], team: null, invitationId: null, now: new Date().toISOString() },
        { context },
      );
      const path = `/api/v1/organizations/${org.id}/members/${member.userId}`;
      const team = await ifMatchBurst('PATCH /members/{userId}', 'PATCH', path, founder.token, String(added.revision), (i) => ({ team: `team ${i}` }));
      const members = await list(`/api/v1/organizations/${org.id}/members`, founder.token);
      let seen: unknown;
      await waitFor(
        `the winner's team, seen ${JSON.stringify(seen)}`,
        async () => {
          const items = await list(`/api/v1/organizations/${org.id}/members`, founder.token);
          seen = items.find((m) => m.user_id === member.userId)?.team;
          return seen === `team ${team}`;
        },
        5_000,
        50,
      );
      expect(members.length).to.be.at.least(2);
    });

    it('a subscription cancelled with If-Match at once: one cancellation, the rest 412', async () => {
      const { user, subscription } = await paidSubscription();
      const path = `/api/v1/subscriptions/${subscription.id}`;
      await ifMatchBurst('DELETE /subscriptions/{id}', 'DELETE', path, user.token, subscription.revision, () => undefined);
      const { subscription: other, user: owner } = await paidSubscription();
      const winner = await ifMatchBurst('PUT /subscriptions/{id}', 'PUT', `/api/v1/subscriptions/${other.id}`, owner.token, other.revision, (i) => ({
        plan: i % 2 ? 'basic' : 'pro',
      }));
      let pending: unknown;
      await waitFor(
        `the winner's downgrade, seen ${JSON.stringify(pending)}`,
        async () => {
          pending = (await list('/api/v1/subscriptions', owner.token)).find((i) => i.id === other.id)?.pending_downgrade;
          return pending === (winner % 2 ? 'basic' : 'pro');
        },
        5_000,
        50,
      );
    });

    it('deletions with If-Match: one 200, the rest 412 or 404', async () => {
      const user = await onPlans('enterprise', 'enterprise');
      const article = await ok('POST', '/api/v1/articles', user.token, { title: 'sweep', body: 'sweep' });
      const rule = await ok('POST', '/api/v1/review-rules', user.token, ruleBody());
      const report = await ok('POST', '/api/v1/reports', user.token, reportBody());
      const key = await ok('POST', '/api/v1/users/api-keys', user.token, { name: 'sweep', scopes: ['read'] });
      const account = await ok('POST', '/api/v1/platform-accounts', user.token, accountBody());
      const workflow = await ok('POST', '/api/v1/workflows', user.token, workflowBody(account.id));
      const other = await ok('POST', '/api/v1/platform-accounts', user.token, accountBody());
      const novel = novelId();
      const tracking = await ok('POST', '/api/v1/qidian/trackings', user.token, { novel_id: novel });
      const alert = await ok('POST', '/api/v1/qidian/alerts', user.token, { novel_id: novel, kind: 'completion' });
      const keyword = await ok('POST', '/api/v1/qidian/keywords', user.token, { keyword: `ifm${randomInt(1e9)}` });
      const sms = await ok('POST', '/api/v1/sms/keywords', user.token, { keyword: `IFM${randomInt(1e9)}` });
      const proxy = await ok('POST', '/api/v1/proxies', admin.token, { host: `ifm-${randomUUID()}.example.test`, port: 9, protocol: 'http' });
      const proxyDeletes = await burst(N, () => call('DELETE', `/api/v1/proxies/${proxy.id}`, admin.token, undefined, { 'If-Match': `"${proxy.revision}"` }));
      expectOnly('DELETE /proxies/{id}', proxyDeletes, [200, 412]);
      expect(withStatus(proxyDeletes, 200), describeBurst('DELETE /proxies/{id}', proxyDeletes)).to.have.length(1);
      const targets: [string, string][] = [
        [`/api/v1/platform-accounts/${other.id}`, other.revision],
        [`/api/v1/qidian/alerts/${alert.id}`, alert.revision],
        [`/api/v1/qidian/keywords/${keyword.id}`, keyword.revision],
        [`/api/v1/sms/keywords/${sms.keyword}`, sms.revision],
        [`/api/v1/articles/${article.id}`, article.revision],
        [`/api/v1/review-rules/${rule.id}`, rule.revision],
        [`/api/v1/reports/${report.id}`, report.revision],
        [`/api/v1/users/api-keys/${key.id}`, key.revision],
        [`/api/v1/workflows/${workflow.id}`, workflow.revision],
      ];
      // the tracking after its alert (an alert names a tracked novel)
      const later: [string, string][] = [[`/api/v1/qidian/trackings/${tracking.id}`, tracking.revision]];
      const failures: string[] = [];
      await Promise.all(
        targets.map(async ([path, revision]) => {
          const replies = await burst(N, () => call('DELETE', path, user.token, undefined, { 'If-Match': `"${revision}"` }));
          const wrote = replies.filter((r) => r.status === 200);
          if (wrote.length !== 1 || replies.some((r) => ![200, 404, 412].includes(r.status))) failures.push(describeBurst(`DELETE ${path}`, replies));
        }),
      );
      for (const [path, revision] of later) {
        const replies = await burst(N, () => call('DELETE', path, user.token, undefined, { 'If-Match': `"${revision}"` }));
        if (withStatus(replies, 200).length !== 1 || replies.some((r) => ![200, 404, 412].includes(r.status)))
          failures.push(describeBurst(`DELETE ${path}`, replies));
      }
      expect(failures, failures.join('\n')).to.deep.equal([]);
    });
  });
});
