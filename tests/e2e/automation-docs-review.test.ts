import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { TOKENS } from '../../src/tokens.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { grantPlan } from '../support/plans.js';
import { waitFor } from '../support/wait-for.js';

/**
 * docs/automation.md (and the README's and docs/http-api.md's rows about the
 * same routes) read by a new user, claim by claim, against the running
 * platform over a socket: the API, every projection and process manager,
 * the sandbox sites for account checks, and a worker for the rebuild job.
 * What a user can see of the pipeline: POST /workflows/{id}/execute and
 * pm-dispatch-executions (plan, account, quota; the limit under concurrent
 * runs), cron schedules, the pauses on quota and account problems, account
 * health, notifications, private messages, and projection rebuilds.
 */
describe('automation as documented: a new user review (e2e)', function () {
  this.timeout(60_000);
  let platform: Platform;
  let admin: string;

  before(async () => {
    platform = await startPlatform({ proxies: 0 });
    admin = await platform.adminToken();
  });
  after(async () => {
    await platform?.stop();
  });
  // a test that failed with the sandbox behind its login wall leaves it for the next: never
  afterEach(() => platform?.sites.setMode('xiaohongshu', 'ok'));

  const api = (
    method: string,
    path: string,
    token: string,
    options: { body?: unknown; ifMatch?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply> => platform.call(method, `/api/v1${path}`, { token, ...options });

  const issuePaths = (reply: Reply): string[] => reply.body.error.details.issues.map((i: { path: (string | number)[] }) => i.path.join('.'));

  /** a connected (pending) account; `verify` makes it active through the sandbox's login check */
  async function connect(token: string, platformId: 'xiaohongshu' | 'qidian' = 'xiaohongshu', verify = false): Promise<string> {
    const cookies =
      platformId === 'xiaohongshu'
        ? `a1=${randomBytes(8).toString('hex')}; web_session=${randomBytes(12).toString('hex')}`
        : `ywkey=${randomBytes(8).toString('hex')}`;
    const connected = await api('POST', '/platform-accounts', token, {
      body: { platform: platformId, credentials: { cookies }, display_name: `${platformId}号` },
    });
    expect(connected.status, connected.text).to.equal(201);
    const id = connected.body.data.id as string;
    if (verify) {
      const verified = await api('POST', `/platform-accounts/${id}/verify`, token);
      expect(verified.body?.data, verified.text).to.include({ status: 'active' });
    }
    return id;
  }

  async function notesWorkflow(token: string, extra: Record<string, unknown> = {}): Promise<string> {
    const r = await api('POST', '/workflows', token, {
      body: { name: '咖啡', type: 'xiaohongshu.notes', config: { mode: 'keyword', keyword: '咖啡', maxItems: 5 }, ...extra },
    });
    expect(r.status, r.text).to.equal(201);
    return r.body.data.id as string;
  }

  const execution = async (token: string, id: string) => (await api('GET', `/workflows/executions/${id}`, token)).body.data;

  /**
   * The execution once pm-dispatch-executions has judged it, as the API shows it: rejected (with the reason), or
   * accepted — the scrape job enqueued under the execution's id (no worker runs here, so it stays requested).
   */
  async function judged(token: string, id: string): Promise<{ shown: any; queued: boolean }> {
    let rejected = false;
    let queued = false;
    await waitFor(
      `execution ${id} judged`,
      async () => {
        rejected = (await platform.events(`workflow_execution-${id}`)).some((e) => e.type === 'ExecutionRejected');
        queued = (await scrapeJob(id)) !== null;
        return rejected || queued;
      },
      15_000,
      50,
    );
    let shown: any;
    await waitFor(`execution ${id} shown`, async () => (shown = await execution(token, id))?.status === (rejected ? 'rejected' : 'requested'), 5_000, 50);
    return { shown, queued };
  }

  /** the scrape job pm-dispatch-executions enqueues for an accepted run ("job id = execution id"), as BullMQ keeps it */
  async function scrapeJob(executionId: string): Promise<Record<string, string> | null> {
    const redis = platform.container.get(TOKENS.Redis);
    const job = await redis.hgetall(`${platform.config.QUEUE_PREFIX}:scrape:${executionId}`);
    return Object.keys(job).length > 0 ? job : null;
  }

  async function xhsSubscriptionId(token: string): Promise<string> {
    const subs = await api('GET', '/subscriptions', token);
    return subs.body.data.items.find((s: any) => s.service === 'xiaohongshu').id as string;
  }

  const workflow = async (token: string, id: string) => (await api('GET', `/workflows/${id}`, token)).body.data;

  describe('From a request to collected items: POST /workflows/{id}/execute and pm-dispatch-executions', () => {
    it('answers 202 with the execution id and Location; 404 for unknown or another user’s workflow, 422 for a bad id; Idempotency-Key replays the same run', async () => {
      const alice = await platform.signUp('exec');
      const bob = await platform.signUp('exec-other');
      const id = await notesWorkflow(alice.token);

      const run = await api('POST', `/workflows/${id}/execute`, alice.token);
      expect(run.status, run.text).to.equal(202);
      expect(run.headers.get('location')).to.equal(`/api/v1/workflows/executions/${run.body.data.execution_id}`);
      expect(run.body.data.position).to.match(/^\d+-\d+$/);

      for (const [who, path, status] of [
        [bob, `/workflows/${id}/execute`, 404],
        [alice, `/workflows/${randomUUID()}/execute`, 404],
        [alice, '/workflows/a%00b/execute', 422],
        [alice, `/workflows/${'x'.repeat(101)}/execute`, 422],
      ] as const) {
        const r = await api('POST', path, who.token);
        expect(r.status, `${path} → ${r.text}`).to.equal(status);
        expect(r.body.error.code).to.equal(status === 404 ? 'NOT_FOUND' : 'VALIDATION_ERROR');
      }
      // bob cannot read alice's execution either
      expect((await api('GET', `/workflows/executions/${run.body.data.execution_id}`, bob.token)).status).to.equal(404);

      const key = randomUUID();
      const first = await api('POST', `/workflows/${id}/execute`, alice.token, { headers: { 'Idempotency-Key': key } });
      const again = await api('POST', `/workflows/${id}/execute`, alice.token, { headers: { 'Idempotency-Key': key } });
      expect(again.status, again.text).to.equal(202);
      expect(again.headers.get('idempotent-replayed')).to.equal('true');
      expect(again.body.data.execution_id).to.equal(first.body.data.execution_id);
      const runs = await api('GET', `/workflows/${id}/executions?after_position=${first.body.data.position}`, alice.token);
      expect(runs.body.data.pagination.total, 'two runs, not three').to.equal(2);
    });

    it('judges the plan first, then the account: a lost feature is PERMISSION_DENIED even without an account; no account is ACCOUNT_INVALID', async () => {
      const carol = await platform.signUp('judge');
      // a basic period of a few seconds: the deadline sweeper expires it back to free
      await grantPlan(platform.store, carol.userId, 'xiaohongshu', 'basic', { days: 4 / 86_400 });
      // private_messaging is basic and up: made on basic, run once the plan is free again
      const messages = await api('POST', '/workflows', carol.token, { body: { name: '私信', type: 'xiaohongshu.messages', config: { maxConversations: 5 } } });
      expect(messages.status, messages.text).to.equal(201);

      const notes = await notesWorkflow(carol.token);
      const noAccount = await api('POST', `/workflows/${notes}/execute`, carol.token);
      expect(noAccount.status, noAccount.text).to.equal(202);
      const { shown: rejected, queued } = await judged(carol.token, noAccount.body.data.execution_id);
      expect(rejected).to.include({ status: 'rejected', rejection_reason: 'ACCOUNT_INVALID' });
      expect(rejected.rejection_details).to.include({ reason: 'no_account' });
      expect(queued, 'no scrape job for a rejected run').to.equal(false);
      expect((await api('DELETE', `/workflows/${notes}`, carol.token)).status).to.equal(200);

      const sub = await xhsSubscriptionId(carol.token);
      await waitFor('the basic period expired', async () => (await api('GET', `/subscriptions/${sub}`, carol.token)).body.data.plan === 'free', 15_000, 100);
      const lost = await api('POST', `/workflows/${messages.body.data.id}/execute`, carol.token);
      expect(lost.status, lost.text).to.equal(202);
      const { shown: refused } = await judged(carol.token, lost.body.data.execution_id);
      expect(refused).to.include({ status: 'rejected', rejection_reason: 'PERMISSION_DENIED' });
      expect(refused.rejection_details).to.include({ feature: 'private_messaging' });
    });

    it('never passes daily_api_calls under concurrent runs, records QuotaExceeded once, pauses only the scheduled workflows, and an upgrade lifts only that pause', async () => {
      const dora = await platform.signUp('quota');
      await grantPlan(platform.store, dora.userId, 'xiaohongshu', 'basic'); // 500 calls a day, 3 workflows
      const account = await connect(dora.token, 'xiaohongshu', true);
      const scheduled = await notesWorkflow(dora.token, { platform_account_id: account, schedule: { kind: 'interval', every: 'daily' } });
      const manual = await notesWorkflow(dora.token, { platform_account_id: account });
      const userPaused = await notesWorkflow(dora.token, { platform_account_id: account, schedule: { kind: 'interval', every: 'daily' } });
      expect((await api('POST', `/workflows/${userPaused}/pause`, dora.token)).status).to.equal(200);

      // 456 used: 44 left; a run of 5 notes costs 6 calls (one search page, five details): 7 fit, 5 do not
      const sub = await xhsSubscriptionId(dora.token);
      const used = await api('POST', `/subscriptions/${sub}/consume`, dora.token, { body: { feature: 'daily_api_calls', amount: 456 } });
      expect(used.status, used.text).to.equal(200);
      const runs = await Promise.all(Array.from({ length: 12 }, () => api('POST', `/workflows/${manual}/execute`, dora.token)));
      expect(runs.map((r) => r.status)).to.deep.equal(Array(12).fill(202));
      const outcomes = await Promise.all(runs.map((r) => judged(dora.token, r.body.data.execution_id)));
      const rejected = outcomes.filter((o) => o.shown.status === 'rejected');
      expect(rejected.map((o) => o.shown.rejection_reason)).to.deep.equal(Array(5).fill('QUOTA_EXCEEDED'));
      expect(rejected.every((o) => !o.queued)).to.equal(true);
      expect(
        outcomes.filter((o) => o.queued && o.shown.status === 'requested'),
        'accepted: a scrape job each',
      ).to.have.length(7);
      const usage = await api('GET', `/subscriptions/${sub}/usage`, dora.token);
      const calls = usage.body.data.features.find((f: any) => f.feature === 'daily_api_calls');
      expect(calls).to.include({ limit: 500, used: 498, remaining: 2 });

      // QuotaExceeded once a day: one more refusal (a consume over the limit) tells the user nothing new
      expect((await api('POST', `/subscriptions/${sub}/consume`, dora.token, { body: { feature: 'daily_api_calls', amount: 3 } })).status).to.equal(429);
      await waitFor(
        'the scheduled workflow paused for the quota',
        async () => (await workflow(dora.token, scheduled)).paused_for.includes('quota_exceeded'),
        10_000,
        50,
      );
      const exceeded = await api('GET', `/admin/events?user_id=${dora.userId}&type=QuotaExceeded`, admin);
      let notified: any[] = [];
      await waitFor('the user told', async () => {
        notified = (await api('GET', '/notifications', dora.token)).body.data.items.filter((n: any) => n.kind === 'quota_exceeded');
        return notified.length > 0;
      });
      expect(notified, 'one quota_exceeded notification').to.have.length(1);
      expect(exceeded.body.data.map((e: any) => e.data.feature)).to.deep.equal(['daily_api_calls']);

      const paused = await workflow(dora.token, scheduled);
      expect(paused.status).to.equal('paused');
      expect(paused.pauses.find((p: any) => p.reason === 'quota_exceeded').until).to.equal(usage.body.data.resets_at);
      expect((await workflow(dora.token, manual)).paused_for, 'not scheduled: not paused').to.deep.equal([]);
      await waitFor(
        'the one the user paused paused for the quota too',
        async () => (await workflow(dora.token, userPaused)).paused_for.includes('quota_exceeded'),
        10_000,
        50,
      );
      expect((await workflow(dora.token, userPaused)).paused_for).to.have.members(['user', 'quota_exceeded']);
      // a paused workflow takes no manual run
      const refused = await api('POST', `/workflows/${scheduled}/execute`, dora.token);
      expect(refused.status, refused.text).to.equal(409);

      // an upgrade (SubscriptionUpgraded) resumes at once, lifting only the quota pause
      await grantPlan(platform.store, dora.userId, 'xiaohongshu', 'pro');
      await waitFor('resumed by the upgrade', async () => (await workflow(dora.token, scheduled)).status === 'active', 10_000, 50);
      // each workflow is resumed by a command of its own: the read model may show them one after the other
      await waitFor(
        'the quota pause lifted from the one the user paused',
        async () => !(await workflow(dora.token, userPaused)).paused_for.includes('quota_exceeded'),
        10_000,
        50,
      );
      expect((await workflow(dora.token, userPaused)).paused_for).to.deep.equal(['user']);
    });
  });

  describe('Pauses and account health: invalidation, verification', () => {
    it('a login wall invalidates the account (health 0, the owner told, its workflows paused); a verification lifts health to 80 and resumes them; verifying right after never meets 409', async () => {
      const erin = await platform.signUp('health');
      await grantPlan(platform.store, erin.userId, 'xiaohongshu', 'basic');
      const account = await connect(erin.token, 'xiaohongshu', true);
      const other = await connect(erin.token, 'xiaohongshu', true);
      const scheduled = await notesWorkflow(erin.token, { platform_account_id: account, schedule: { kind: 'interval', every: 'daily' } });
      const manual = await notesWorkflow(erin.token, { platform_account_id: account });
      const elsewhere = await notesWorkflow(erin.token, { platform_account_id: other });

      // the user re-checks the account as soon as the last check answered: pm-account-health's
      // AccountHealthChanged lands on the same stream meanwhile, which must not make the check a 409
      const statuses: number[] = [];
      for (let round = 0; round < 5; round++) {
        for (const mode of ['login', 'ok'] as const) {
          platform.sites.setMode('xiaohongshu', mode);
          const r = await api('POST', `/platform-accounts/${account}/verify`, erin.token);
          statuses.push(r.status);
          expect(r.status, r.text).to.equal(200);
          expect(r.body.data.status).to.equal(mode === 'login' ? 'invalid' : 'active');
        }
      }
      expect(statuses).to.deep.equal(Array(10).fill(200));

      platform.sites.setMode('xiaohongshu', 'login');
      const invalid = await api('POST', `/platform-accounts/${account}/verify`, erin.token);
      platform.sites.setMode('xiaohongshu', 'ok');
      expect(invalid.body.data).to.include({ verified: false, status: 'invalid', reason: 'credentials_expired' });
      await waitFor('both workflows on the account paused', async () => {
        const [a, b] = await Promise.all([workflow(erin.token, scheduled), workflow(erin.token, manual)]);
        return a.paused_for.includes('account_invalidated') && b.paused_for.includes('account_invalidated');
      });
      expect((await workflow(erin.token, elsewhere)).status, 'another account: untouched').to.equal('active');
      // pm-account-health may lag behind the checks above: wait for its answer to the last verdict (its causation)
      const healthSettled = async () => {
        const events = await platform.events(`platform_account-${account}`);
        const verdict = events.findLast((e) => e.type === 'AccountVerified' || e.type === 'AccountInvalidated')!;
        return events.some((e) => e.type === 'AccountHealthChanged' && (e.metadata as Record<string, unknown>).$causationId === verdict.id);
      };
      await waitFor('pm-account-health caught up', healthSettled);
      const accountShows = (expected: Record<string, unknown>) =>
        waitFor(`the account shown as ${JSON.stringify(expected)}`, async () => {
          const shown = (await api('GET', `/platform-accounts/${account}`, erin.token)).body.data;
          return Object.entries(expected).every(([k, v]) => shown[k] === v);
        });
      await accountShows({ status: 'invalid', health_score: 0, health_level: 'critical', last_invalidation_reason: 'credentials_expired' });
      // one notification per invalidation: five in the loop, one now
      let told: any[] = [];
      await waitFor('six account_invalidated notifications', async () => {
        told = (await api('GET', '/notifications', erin.token)).body.data.items.filter((n: any) => n.kind === 'account_invalidated');
        return told.length === 6;
      });
      expect(JSON.stringify(told)).to.not.match(/web_session|cookies/);

      const verified = await api('POST', `/platform-accounts/${account}/verify`, erin.token);
      expect(verified.status, verified.text).to.equal(200);
      await waitFor(
        'resumed by AccountVerified',
        async () => (await workflow(erin.token, scheduled)).status === 'active' && (await workflow(erin.token, manual)).status === 'active',
      );
      await waitFor('pm-account-health caught up', healthSettled);
      await accountShows({ status: 'active', health_score: 80, health_level: 'healthy' });
    });
  });

  describe('cron schedules: 422 at POST / PUT /workflows before the plan is asked', () => {
    const rankings = (expression: string) => ({
      name: '热销榜',
      type: 'qidian.rankings',
      config: { rankings: ['热销榜'] },
      schedule: { kind: 'cron', expression },
    });

    it('refuses what cannot run — a minute of 60, February 31st, the 31st of April and June, six fields — and takes a leap day', async () => {
      const fay = await platform.signUp('cron');
      for (const expression of ['60 * * * *', '0 0 31 2 *', '0 0 31 4,6 *', '0 0 31 2,4,9 *', '* * * * * *', '@daily', '*/0 * * * *']) {
        const r = await api('POST', '/workflows', fay.token, { body: rankings(expression) });
        expect(r.status, `${expression} → ${r.text}`).to.equal(422);
        expect(issuePaths(r)).to.deep.equal(['schedule.expression']);
      }
      // a cron that runs every minute is beyond the free plan's daily frequency: that is the plan's 403, after the expression is fine
      const tooOften = await api('POST', '/workflows', fay.token, { body: rankings('* * * * *') });
      expect(tooOften.status, tooOften.text).to.equal(403);
      expect(tooOften.body.error.details).to.include({ feature: 'data_collection_frequency' });
      const leapDay = await api('POST', '/workflows', fay.token, { body: rankings('0 6 29 2 *') });
      expect(leapDay.status, leapDay.text).to.equal(201);

      const got = await api('GET', `/workflows/${leapDay.body.data.id}?after_position=${leapDay.body.data.position}`, fay.token);
      const etag = got.headers.get('etag')!;
      const never = await api('PUT', `/workflows/${leapDay.body.data.id}`, fay.token, {
        body: { schedule: { kind: 'cron', expression: '0 0 31 4,6 *' } },
        ifMatch: etag,
      });
      expect(never.status, never.text).to.equal(422);
      expect(issuePaths(never)).to.deep.equal(['schedule.expression']);
      const stale = await api('PUT', `/workflows/${leapDay.body.data.id}`, fay.token, { body: { name: '新名字' }, ifMatch: '"99"' });
      expect(stale.status, stale.text).to.equal(412);
      expect((await workflow(fay.token, leapDay.body.data.id)).schedule).to.deep.equal({ kind: 'cron', expression: '0 6 29 2 *' });

      // the check comes before the plan's limits too: a second Xiaohongshu workflow (free: one) with a bad cron is 422, not 429
      await notesWorkflow(fay.token);
      const second = await api('POST', '/workflows', fay.token, {
        body: {
          name: '2',
          type: 'xiaohongshu.notes',
          config: { mode: 'keyword', keyword: '茶', maxItems: 5 },
          schedule: { kind: 'cron', expression: '0 0 31 4,6 *' },
        },
      });
      expect(second.status, second.text).to.equal(422);
    });
  });

  describe('Notifications: GET /notifications, POST /notifications/{id}/read, POST /notifications/read-all', () => {
    it('validates queries and ids; marks one (404 for another user’s or an unknown one; a repeat changes nothing); concurrent read-alls mark each once', async () => {
      const gus = await platform.signUp('inbox');
      const hal = await platform.signUp('inbox-other');
      const account = await connect(gus.token);
      for (let i = 0; i < 4; i++) {
        platform.sites.setMode('xiaohongshu', 'login');
        const a = await api('POST', `/platform-accounts/${account}/verify`, gus.token);
        platform.sites.setMode('xiaohongshu', 'ok');
        expect(a.status, a.text).to.equal(200);
        const b = await api('POST', `/platform-accounts/${account}/verify`, gus.token);
        expect(b.status, b.text).to.equal(200);
      }
      await waitFor('four notifications', async () => (await api('GET', '/notifications', gus.token)).body.data.unread_count === 4, 10_000, 50);

      for (const query of [
        'page=0',
        'page=abc',
        'page=1.5',
        'page=1e20',
        'per_page=0',
        'per_page=101',
        'unread=yes',
        'unread=TRUE',
        'after_position=x-1',
        'page=%00',
      ]) {
        const r = await api('GET', `/notifications?${query}`, gus.token);
        expect(r.status, `${query} → ${r.text}`).to.equal(422);
        expect(r.body.error.code).to.equal('VALIDATION_ERROR');
      }
      const far = await api('GET', '/notifications?page=99999999999', gus.token);
      expect(far.status, far.text).to.equal(200);
      expect(far.body.data).to.deep.include({ items: [], unread_count: 4 });
      const page2 = await api('GET', '/notifications?per_page=3&page=2', gus.token);
      expect(page2.body.data.pagination).to.include({ total: 4, total_pages: 2, has_prev: true, has_next: false });
      expect(page2.body.data.items).to.have.length(1);

      const list = (await api('GET', '/notifications', gus.token)).body.data.items as any[];
      const target = list[0].id as string;
      for (const [who, id, status] of [
        [hal, target, 404],
        [gus, randomUUID(), 404],
        [gus, 'a%00b', 422],
        [gus, 'x'.repeat(101), 422],
      ] as const) {
        const r = await api('POST', `/notifications/${id}/read`, who.token);
        expect(r.status, `${id.slice(0, 12)} → ${r.text}`).to.equal(status);
      }
      const marked = await api('POST', `/notifications/${target}/read`, gus.token);
      expect(marked.status, marked.text).to.equal(200);
      expect(marked.headers.get('etag')).to.equal(`"${marked.body.data.revision}"`);
      const again = await api('POST', `/notifications/${target}/read`, gus.token);
      expect(again.body.data).to.deep.equal({ revision: marked.body.data.revision, position: null });

      // four read-alls at once: the three left are marked once in all
      const all = await Promise.all([1, 2, 3, 4].map(() => api('POST', `/notifications/read-all?after_position=${marked.body.data.position}`, gus.token)));
      expect(all.map((r) => r.status)).to.deep.equal([200, 200, 200, 200]);
      expect(all.reduce((n, r) => n + r.body.data.marked, 0)).to.equal(3);
      for (const n of list)
        expect(
          (await platform.events(`notification-${n.id}`)).map((e) => e.type),
          n.id,
        ).to.deep.equal(['NotificationSent', 'NotificationRead']);
      const none = await api('POST', '/notifications/read-all', gus.token);
      expect(none.body.data).to.deep.equal({ marked: 0, revision: null, position: null });
      expect(none.headers.get('etag')).to.equal(null);

      // README: listed in the app only when the user's preferences say in_app (here: mail only)
      const prefs = await api('PUT', '/users/profile', hal.token, {
        body: { notification_preferences: { account_invalidated: { in_app: false, mail: true } } },
      });
      expect(prefs.status, prefs.text).to.equal(200);
      const halsAccount = await connect(hal.token);
      platform.sites.setMode('xiaohongshu', 'login');
      const walled = await api('POST', `/platform-accounts/${halsAccount}/verify`, hal.token);
      platform.sites.setMode('xiaohongshu', 'ok');
      expect(walled.body.data.status, walled.text).to.equal('invalid');
      let sent: any[] = [];
      await waitFor('the notification recorded', async () => {
        sent = (await api('GET', `/admin/events?user_id=${hal.userId}&type=NotificationSent`, admin)).body.data;
        return sent.length === 1;
      });
      expect(sent[0].data).to.deep.include({ kind: 'account_invalidated', channels: { inApp: false, mail: true } });
      const halsList = await api('GET', `/notifications?after_position=${sent[0].position}`, hal.token);
      expect(halsList.body.data).to.deep.include({ items: [], unread_count: 0 });
    });
  });

  describe('Private messages: POST /xiaohongshu/messages and the outgoing list', () => {
    it('records 202 pending with Location; 409 for an account not active, 422 for a Qidian one, 404 for another user’s; the outgoing reads are the owner’s alone', async () => {
      const ivy = await platform.signUp('sender');
      const jon = await platform.signUp('sender-other');
      await grantPlan(platform.store, ivy.userId, 'xiaohongshu', 'basic');
      const pending = await connect(ivy.token);
      const good = { platform_account_id: pending, conversation_id: 'conv_05120851b5504067', text: '你好' };
      const notActive = await api('POST', '/xiaohongshu/messages', ivy.token, { body: good });
      expect(notActive.status, notActive.text).to.equal(409);
      expect(notActive.body.error.details).to.include({ reason: 'account_not_active', status: 'pending_verification' });
      expect((await api('POST', `/platform-accounts/${pending}/verify`, ivy.token)).body.data.status).to.equal('active');

      const qidian = await connect(ivy.token, 'qidian');
      const wrongPlatform = await api('POST', '/xiaohongshu/messages', ivy.token, { body: { ...good, platform_account_id: qidian } });
      expect(wrongPlatform.status, wrongPlatform.text).to.equal(422);
      expect(issuePaths(wrongPlatform)).to.deep.equal(['platform_account_id']);
      const jonsAccount = await connect(jon.token);
      expect((await api('POST', '/xiaohongshu/messages', ivy.token, { body: { ...good, platform_account_id: jonsAccount } })).status).to.equal(404);
      for (const body of [
        { ...good, platform_account_id: 'a\u0000b' },
        { ...good, text: '😀'.repeat(1001) },
        { ...good, text: 5 },
        { ...good, peer_id: '2a234a19a702f3bd224623bb' },
      ]) {
        const r = await api('POST', '/xiaohongshu/messages', ivy.token, { body });
        expect(r.status, r.text.slice(0, 200)).to.equal(422);
      }

      const key = randomUUID();
      const sent = await api('POST', '/xiaohongshu/messages', ivy.token, { body: { ...good, text: '😀'.repeat(1000) }, headers: { 'Idempotency-Key': key } });
      expect(sent.status, sent.text).to.equal(202);
      const id = sent.body.data.message_id as string;
      expect(sent.body.data.status).to.equal('pending');
      expect(sent.headers.get('location')).to.equal(`/api/v1/xiaohongshu/messages/outgoing/${id}`);
      const replayed = await api('POST', '/xiaohongshu/messages', ivy.token, {
        body: { ...good, text: '😀'.repeat(1000) },
        headers: { 'Idempotency-Key': key },
      });
      expect(replayed.headers.get('idempotent-replayed')).to.equal('true');
      expect(replayed.body.data.message_id).to.equal(id);

      const shown = await api('GET', `/xiaohongshu/messages/outgoing/${id}?after_position=${sent.body.data.position}`, ivy.token);
      expect(shown.status, shown.text).to.equal(200);
      expect(shown.body.data).to.include({ status: 'pending', platform_account_id: pending, failure: null, sent_at: null });
      expect((await api('GET', `/xiaohongshu/messages/outgoing/${id}`, jon.token)).status).to.equal(404);
      expect((await api('GET', '/xiaohongshu/messages/outgoing/not-a-uuid', ivy.token)).status).to.equal(422);
      const mine = await api('GET', '/xiaohongshu/messages/outgoing', ivy.token);
      expect(mine.body.data.items.map((m: any) => m.id)).to.deep.equal([id]);
      const theirs = await api('GET', `/xiaohongshu/messages/outgoing?platform_account_id=${pending}`, jon.token);
      expect(theirs.body.data.items).to.deep.equal([]);
      for (const query of ['status=queued', 'per_page=101', 'platform_account_id=%00', `conversation_id=${'c'.repeat(201)}`]) {
        expect((await api('GET', `/xiaohongshu/messages/outgoing?${query}`, ivy.token)).status, query).to.equal(422);
      }
    });
  });

  describe('API key scopes on these routes (docs/http-api.md)', () => {
    it('execute needs collect, a read mark manage; a key without them is 403 naming the scope', async () => {
      const kim = await platform.signUp('keys');
      await grantPlan(platform.store, kim.userId, 'xiaohongshu', 'enterprise');
      const id = await notesWorkflow(kim.token);
      const readOnly = await api('POST', '/users/api-keys', kim.token, { body: { name: 'read', scopes: ['read'] } });
      const collect = await api('POST', '/users/api-keys', kim.token, { body: { name: 'collect', scopes: ['read', 'collect'] } });
      expect(readOnly.status, readOnly.text).to.equal(201);
      const withKey = (key: string) => ({ headers: { 'X-API-Key': key } });
      const refused = await platform.call('POST', `/api/v1/workflows/${id}/execute`, withKey(readOnly.body.data.key));
      expect(refused.status, refused.text).to.equal(403);
      expect(refused.body.error.details).to.deep.include({ required_scope: 'collect' });
      const mark = await platform.call('POST', '/api/v1/notifications/read-all', withKey(collect.body.data.key));
      expect(mark.status).to.equal(403);
      expect(mark.body.error.details).to.deep.include({ required_scope: 'manage' });
      expect((await platform.call('GET', '/api/v1/notifications', withKey(readOnly.body.data.key))).status).to.equal(200);
      const ran = await platform.call('POST', `/api/v1/workflows/${id}/execute`, withKey(collect.body.data.key));
      expect(ran.status, ran.text).to.equal(202);
    });
  });

  describe('Rebuilds: POST /admin/projections/{name}/rebuild, GET /admin/rebuilds/{jobId}', () => {
    it('adds one job for concurrent calls (Idempotency-Key not honoured), runs it on a worker, then a new call starts a new one; 403 / 404 / 422 as documented', async () => {
      const user = await platform.signUp('not-admin');
      expect((await api('POST', '/admin/projections/users-v1/rebuild', user.token)).status).to.equal(403);
      expect((await api('POST', '/admin/projections/users/rebuild', admin)).status).to.equal(404);
      expect((await api('POST', '/admin/projections/a%00b/rebuild', admin)).status).to.equal(422);
      expect((await api('POST', `/admin/projections/${'p'.repeat(201)}/rebuild`, admin)).status).to.equal(422);
      expect((await api('GET', '/admin/rebuilds/rebuild-users-v1-1', admin)).status).to.equal(404);
      expect((await api('GET', '/admin/rebuilds/x', user.token)).status).to.equal(403);

      const calls = await Promise.all(
        [1, 2, 3, 4, 5].map(() => api('POST', '/admin/projections/users-v1/rebuild', admin, { headers: { 'Idempotency-Key': 'same' } })),
      );
      expect(calls.map((r) => r.status)).to.deep.equal([202, 202, 202, 202, 202]);
      const jobId = calls[0]!.body.data.job_id as string;
      expect(new Set(calls.map((r) => r.body.data.job_id))).to.deep.equal(new Set([jobId]));
      expect(calls.every((r) => r.headers.get('location') === `/api/v1/admin/rebuilds/${jobId}`)).to.equal(true);
      expect(calls.every((r) => r.headers.get('idempotent-replayed') === null)).to.equal(true);
      const waiting = await api('GET', `/admin/rebuilds/${jobId}`, admin);
      expect(waiting.body.data).to.include({ job_id: jobId, projection: 'users-v1', state: 'waiting', finished_at: null });

      const worker = await platform.startWorker();
      try {
        let job: any;
        await waitFor(
          'the rebuild done',
          async () => ['completed', 'failed'].includes((job = (await api('GET', `/admin/rebuilds/${jobId}`, admin)).body.data).state),
          20_000,
          100,
        );
        expect(job).to.include({ state: 'completed', failed_reason: null });
        expect(job.progress).to.include({ name: 'users-v1', phase: 'done' });
        expect(job.finished_at).to.be.a('string');
        const next = await api('POST', '/admin/projections/users-v1/rebuild', admin);
        expect(next.status, next.text).to.equal(202);
        expect(next.body.data.job_id).to.not.equal(jobId);
      } finally {
        await worker.stop({ timeoutMs: 2_000 });
      }
    });
  });

  it('lists every route docs/automation.md names in /api/v1/openapi.json', async () => {
    const doc = await platform.call('GET', '/api/v1/openapi.json');
    expect(doc.status).to.equal(200);
    const paths = doc.body.paths as Record<string, Record<string, unknown>>;
    for (const [path, method] of [
      ['/api/v1/workflows/{id}/execute', 'post'],
      ['/api/v1/workflows', 'post'],
      ['/api/v1/workflows/{id}', 'put'],
      ['/api/v1/xiaohongshu/messages', 'post'],
      ['/api/v1/xiaohongshu/messages/outgoing/{id}', 'get'],
      ['/api/v1/notifications', 'get'],
      ['/api/v1/notifications/{id}/read', 'post'],
      ['/api/v1/notifications/read-all', 'post'],
      ['/api/v1/admin/projections/{name}/rebuild', 'post'],
      ['/api/v1/admin/rebuilds/{jobId}', 'get'],
      ['/api/v1/platform-accounts/{id}', 'get'],
    ] as const) {
      expect(paths[path]?.[method], `${method.toUpperCase()} ${path}`).to.be.an('object');
    }
  });
});
