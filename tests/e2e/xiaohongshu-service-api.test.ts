import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { randomBytes, randomUUID } from 'node:crypto';
import { extractText, getDocumentProxy } from 'unpdf';
import type { RecordedEvent } from '../../src/event-store/port.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { dailyUsageId, subscriptionUsageAggregate } from '../../src/write-model/subscription-usage/decider.js';
import { workflowExecutionStream } from '../../src/write-model/workflow-execution/decider.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';
import { grantPlan } from '../support/plans.js';

const ofType = (events: RecordedEvent[], type: string) => events.filter((e) => e.type === type);
const xhsCookies = () => `a1=${randomBytes(8).toString('hex')}; web_session=${randomBytes(12).toString('hex')}`;
const DAY = 86_400_000;

/**
 * The Xiaohongshu service paths on the whole platform (API, projector
 * consumers, a worker with Chromium, the fixture sites, local proxies):
 * `/xiaohongshu/accounts…` as aliases of `/platform-accounts…` restricted to
 * Xiaohongshu, the one-off `/xiaohongshu/contents/collect` through the
 * execution pipeline and its daily quota, and the analytics report
 * `/xiaohongshu/analytics/export` as xlsx and pdf, parsed back.
 */
describe('xiaohongshu service paths (e2e): account aliases, one-off collection, analytics report', function () {
  this.timeout(240_000);
  let platform: Platform;
  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };
  let accountId: string;
  let qidianAccountId: string;
  let collectionId: string;
  const _context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    platform = await startPlatform({ proxies: 1 });
    const admin = await platform.adminToken();
    for (const p of platform.proxies.proxies) {
      const r = await platform.call('POST', '/api/v1/proxies', {
        token: admin,
        body: {
          host: p.host,
          port: p.port,
          protocol: 'http',
          username: p.username,
          password: p.password,
          country: 'CN',
          region: 'shanghai',
          provider: 'local',
        },
      });
      expect(r.status, r.text).to.equal(201);
    }
    alice = await platform.signUp('alice');
    bob = await platform.signUp('bob');
  });
  after(async () => {
    await platform?.stop();
  });

  const call = (method: string, path: string, token: string, body?: unknown) => platform.call(method, path, { token, ...(body !== undefined ? { body } : {}) });
  const ids = (r: { body: any }) => (r.body.data.items as any[]).map((a) => a.id);

  async function raw(path: string, token: string) {
    const res = await fetch(`${platform.url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    return { res, bytes: Buffer.from(await res.arrayBuffer()) };
  }

  describe('/xiaohongshu/accounts: aliases of /platform-accounts restricted to Xiaohongshu', () => {
    it('connects a Xiaohongshu account without naming the platform, and lists only Xiaohongshu accounts', async () => {
      const connected = await call('POST', '/api/v1/xiaohongshu/accounts', alice.token, { credentials: { cookies: xhsCookies() }, display_name: '小红的号' });
      expect(connected.status, connected.text).to.equal(201);
      accountId = connected.body.data.id;
      expect(connected.body.data).to.have.keys('id', 'revision', 'position');
      // a Qidian account through the original route
      const qidian = await call('POST', '/api/v1/platform-accounts', alice.token, {
        platform: 'qidian',
        credentials: { cookies: 'ywkey=abc' },
        display_name: '起点号',
      });
      expect(qidian.status, qidian.text).to.equal(201);
      qidianAccountId = qidian.body.data.id;

      const original = await call('GET', `/api/v1/platform-accounts?after_position=${qidian.body.data.position}`, alice.token);
      expect(ids(original).sort()).to.deep.equal([accountId, qidianAccountId].sort());
      const alias = await call('GET', `/api/v1/xiaohongshu/accounts?after_position=${qidian.body.data.position}`, alice.token);
      expect(alias.status, alias.text).to.equal(200);
      expect(ids(alias)).to.deep.equal([accountId]);
      // the same rows as the original filtered by platform
      const filtered = await call('GET', '/api/v1/platform-accounts?platform=xiaohongshu', alice.token);
      expect(alias.body.data).to.deep.equal(filtered.body.data);
      expect(alias.body.data.items[0]).to.include({ platform: 'xiaohongshu', display_name: '小红的号', status: 'pending_verification', has_credentials: true });
      expect(JSON.stringify(alias.body)).to.not.include('web_session=');

      // the platform is the alias's: naming one is refused, as are bad credentials (issues under credentials)
      const named = await call('POST', '/api/v1/xiaohongshu/accounts', alice.token, {
        platform: 'qidian',
        credentials: { cookies: xhsCookies() },
        display_name: 'x',
      });
      expect(named.status, named.text).to.equal(422);
      const bad = await call('POST', '/api/v1/xiaohongshu/accounts', alice.token, { credentials: { cookies: 'a1=only' }, display_name: 'x' });
      expect(bad.status, bad.text).to.equal(422);
      expect(bad.body.error.details.issues[0].path[0]).to.equal('credentials');
      expect((await call('GET', '/api/v1/xiaohongshu/accounts', '')).status).to.equal(401);
    });

    it("reads, renames, verifies like the original; another platform's account (or another user's) is 404 on every alias", async () => {
      const one = await call('GET', `/api/v1/xiaohongshu/accounts/${accountId}`, alice.token);
      expect(one.status, one.text).to.equal(200);
      const same = await call('GET', `/api/v1/platform-accounts/${accountId}`, alice.token);
      expect(one.body.data).to.deep.equal(same.body.data);

      const renamed = await platform.call('PUT', `/api/v1/xiaohongshu/accounts/${accountId}`, { token: alice.token, body: { display_name: '小红的主号' } });
      expect(renamed.status, renamed.text).to.equal(200);
      const shown = await call('GET', `/api/v1/platform-accounts/${accountId}?after_position=${renamed.body.data.position}`, alice.token);
      expect(shown.body.data.display_name).to.equal('小红的主号');

      const verified = await call('POST', `/api/v1/xiaohongshu/accounts/${accountId}/verify`, alice.token);
      expect(verified.status, verified.text).to.equal(200);
      expect(verified.body.data).to.include({ verified: true, status: 'active' });
      expect(verified.body.data.platform_user_id).to.be.a('string');

      for (const [method, path, body] of [
        ['GET', `/api/v1/xiaohongshu/accounts/${qidianAccountId}`, undefined],
        ['PUT', `/api/v1/xiaohongshu/accounts/${qidianAccountId}`, { display_name: 'renamed' }],
        ['POST', `/api/v1/xiaohongshu/accounts/${qidianAccountId}/verify`, undefined],
        ['DELETE', `/api/v1/xiaohongshu/accounts/${qidianAccountId}`, undefined],
      ] as const) {
        const refused = await call(method, path, alice.token, body);
        expect(refused.status, `${method} ${path}: ${refused.text}`).to.equal(404);
        expect(refused.body.error.code).to.equal('NOT_FOUND');
      }
      // untouched: still there, still its name, on the original route
      const qidian = await call('GET', `/api/v1/platform-accounts/${qidianAccountId}`, alice.token);
      expect(qidian.body.data).to.include({ display_name: '起点号', status: 'pending_verification' });

      for (const [method, path] of [
        ['GET', `/api/v1/xiaohongshu/accounts/${accountId}`],
        ['POST', `/api/v1/xiaohongshu/accounts/${accountId}/verify`],
        ['DELETE', `/api/v1/xiaohongshu/accounts/${accountId}`],
      ] as const) {
        expect((await call(method, path, bob.token)).status, `${method} ${path} by bob`).to.equal(404);
      }
      expect((await call('GET', '/api/v1/xiaohongshu/accounts', bob.token)).body.data.items).to.deep.equal([]);
    });

    it('disconnects through the alias and gives the account_limit slot back', async () => {
      // free holds one Xiaohongshu account: a second is refused until one is disconnected
      const second = await call('POST', '/api/v1/xiaohongshu/accounts', alice.token, { credentials: { cookies: xhsCookies() }, display_name: '第二个号' });
      expect(second.status, second.text).to.equal(429);
      expect(second.body.error.details.feature).to.equal('account_limit');
      const spare = await call('POST', '/api/v1/platform-accounts', bob.token, {
        platform: 'xiaohongshu',
        credentials: { cookies: xhsCookies() },
        display_name: 'bob的号',
      });
      expect(spare.status, spare.text).to.equal(201);
      const gone = await call('DELETE', `/api/v1/xiaohongshu/accounts/${spare.body.data.id}`, bob.token);
      expect(gone.status, gone.text).to.equal(200);
      const listed = await call('GET', `/api/v1/xiaohongshu/accounts?status=disconnected&after_position=${gone.body.data.position}`, bob.token);
      expect(listed.body.data.items.map((a: any) => [a.id, a.status])).to.deep.equal([[spare.body.data.id, 'disconnected']]);
      const again = await call('POST', '/api/v1/xiaohongshu/accounts', bob.token, { credentials: { cookies: xhsCookies() }, display_name: 'bob的新号' });
      expect(again.status, again.text).to.equal(201);
    });

    it('is in the OpenAPI document, each alias saying which route it aliases', async () => {
      const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
      // a router's root route is documented with or without its trailing slash
      const paths = Object.fromEntries(
        Object.entries(doc.paths as Record<string, Record<string, { description: string }>>).map(([k, v]) => [k.replace(/(.)\/$/, '$1'), v]),
      );
      const expected: [string, string, string][] = [
        ['/api/v1/xiaohongshu/accounts', 'get', 'GET /api/v1/platform-accounts?platform=xiaohongshu'],
        ['/api/v1/xiaohongshu/accounts', 'post', 'POST /api/v1/platform-accounts'],
        ['/api/v1/xiaohongshu/accounts/{id}', 'put', 'PUT /api/v1/platform-accounts/{id}'],
        ['/api/v1/xiaohongshu/accounts/{id}', 'delete', 'DELETE /api/v1/platform-accounts/{id}'],
        ['/api/v1/xiaohongshu/accounts/{id}/verify', 'post', 'POST /api/v1/platform-accounts/{id}/verify'],
      ];
      for (const [path, method, original] of expected) {
        expect(paths[path]?.[method]?.description, `${method} ${path}`).to.include(`Alias of \`${original}\``);
      }
      expect(paths['/api/v1/xiaohongshu/contents/collect']?.post).to.be.an('object');
      expect(paths['/api/v1/xiaohongshu/analytics/export']?.get).to.be.an('object');
    });
  });

  describe('POST /xiaohongshu/contents/collect: a one-off run through the execution pipeline', () => {
    const keywordRun = (maxItems: number) => ({
      config: { mode: 'keyword', keyword: platform.sites.manifest.xiaohongshu.keyword, maxItems },
      platform_account_id: accountId,
    });
    const untilAdmitted = (executionId: string) =>
      waitFor(
        `admission of ${executionId}`,
        async () => {
          const events = await platform.events(workflowExecutionStream(executionId));
          return ofType(events, 'ProxyAssigned').length + ofType(events, 'ExecutionRejected').length > 0;
        },
        30_000,
        100,
      );

    it('collects through the worker and a proxy; the notes land in /xiaohongshu/contents', async () => {
      const worker = await platform.startWorker();
      try {
        const requested = await call('POST', '/api/v1/xiaohongshu/contents/collect', alice.token, keywordRun(10));
        expect(requested.status, requested.text).to.equal(202);
        collectionId = requested.body.data.execution_id;
        expect(requested.body.data).to.include.keys('revision', 'position');
        let shown: any;
        await waitFor(
          'the one-off run completed',
          async () => {
            shown = await call('GET', `/api/v1/workflows/executions/${collectionId}`, alice.token);
            return shown.body?.data?.status === 'completed';
          },
          90_000,
          200,
        );
        expect(shown.body.data).to.include({
          id: collectionId,
          workflow_id: collectionId,
          trigger: 'one_off',
          type: 'xiaohongshu.notes',
          platform_account_id: accountId,
          item_count: 10,
        });
        expect(shown.body.data.proxy_id).to.be.a('string');
        const events = await platform.events(workflowExecutionStream(collectionId));
        expect(events.map((e) => e.type)).to.include.members([
          'ExecutionRequested',
          'ProxyAssigned',
          'ExecutionStarted',
          'ItemsCollected',
          'ExecutionCompleted',
        ]);
        // the traffic went through the local proxy
        expect(platform.proxies.proxies.some((p) => p.requests.length > 0)).to.equal(true);

        let contents: any;
        await waitFor(
          'the notes in the content query',
          async () => {
            contents = await call('GET', `/api/v1/xiaohongshu/contents?workflow_id=${collectionId}&per_page=100`, alice.token);
            return contents.body?.data?.pagination?.total === 10;
          },
          20_000,
          100,
        );
        const all = await call('GET', '/api/v1/xiaohongshu/contents?per_page=100', alice.token);
        expect(ids(all).sort()).to.deep.equal(ids(contents).sort());
        expect(all.body.data.items[0].workflow_ids).to.deep.equal([collectionId]);
        expect((await call('GET', '/api/v1/xiaohongshu/contents', bob.token)).body.data.pagination.total).to.equal(0);
        expect((await call('GET', `/api/v1/workflows/executions/${collectionId}`, bob.token)).status).to.equal(404);
      } finally {
        await worker.stop({ timeoutMs: 2_000 });
      }
    });

    it("counts each run against today's daily_api_calls and refuses one that no longer fits: 429 QUOTA_EXCEEDED", async () => {
      // free: 50 calls a day; a run of n notes by keyword is ceil(n / 20) listing pages + n detail calls. The first used 11.
      const second = await call('POST', '/api/v1/xiaohongshu/contents/collect', alice.token, keywordRun(20));
      expect(second.status, second.text).to.equal(202);
      await untilAdmitted(second.body.data.execution_id);
      const usage = (await platform.events(subscriptionUsageAggregate.streamName(dailyUsageId(alice.userId, 'xiaohongshu', todayDay())))).filter(
        (e) => e.type === 'UsageRecorded',
      );
      expect(usage.map((e) => (e.data as { amount: number }).amount)).to.deep.equal([11, 21]);

      // 32 used: 21 more would pass 50
      const refused = await call('POST', '/api/v1/xiaohongshu/contents/collect', alice.token, keywordRun(20));
      expect(refused.status, refused.text).to.equal(429);
      expect(refused.body.error.code).to.equal('QUOTA_EXCEEDED');
      expect(refused.body.error.details).to.include({ feature: 'daily_api_calls', limit: 50, used: 32, requested: 21, remaining: 18, plan: 'free' });
      expect(refused.body.error.details.subscription_id).to.be.a('string');
      expect(Date.parse(refused.body.error.details.resets_at)).to.be.greaterThan(Date.now());
      const retryAfter = Number(
        (
          await fetch(`${platform.url}/api/v1/xiaohongshu/contents/collect`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${alice.token}`, 'Content-Type': 'application/json' },
            body: JSON.stringify(keywordRun(20)),
          })
        ).headers.get('retry-after'),
      );
      expect(retryAfter).to.be.within(1, DAY / 1000);

      // a smaller run still fits (16 → 48)
      const small = await call('POST', '/api/v1/xiaohongshu/contents/collect', alice.token, keywordRun(15));
      expect(small.status, small.text).to.equal(202);
      await untilAdmitted(small.body.data.execution_id);
      // a run bigger than a whole day's calls is refused by the plan check alone
      const huge = await call('POST', '/api/v1/xiaohongshu/contents/collect', alice.token, keywordRun(100));
      expect(huge.status, huge.text).to.equal(429);
      expect(huge.body.error.details).to.include({ feature: 'daily_api_calls', limit: 50 });
      // the refused requests recorded no run: only the three accepted ones exist
      await waitFor(
        'the three runs in the read model',
        async () => {
          const [row] = await platform.knex('workflow_executions').where({ owner_id: alice.userId, trigger: 'one_off' }).count({ n: '*' });
          return Number(row!.n) === 3;
        },
        10_000,
        100,
      );
    });

    it('checks the request like a workflow: config, plan features, the account', async () => {
      const post = (body: unknown, token = alice.token) => call('POST', '/api/v1/xiaohongshu/contents/collect', token, body);
      const badConfig = await post({ config: { mode: 'keyword', keyword: '', maxItems: 0 }, platform_account_id: accountId });
      expect(badConfig.status, badConfig.text).to.equal(422);
      expect(badConfig.body.error.details.issues.every((i: any) => i.path[0] === 'config')).to.equal(true);
      expect((await post({ config: { mode: 'keyword', keyword: 'x', maxItems: 1 } })).status, 'no account').to.equal(422);
      expect((await post({ type: 'qidian.rankings', config: {}, platform_account_id: accountId })).status, 'a Qidian type').to.equal(422);
      // private messages need private_messaging (not in free)
      const messages = await post({ type: 'xiaohongshu.messages', config: { maxConversations: 5 }, platform_account_id: accountId });
      expect(messages.status, messages.text).to.equal(403);
      expect(messages.body.error.details.feature).to.equal('private_messaging');
      // someone else's account is unknown; a Qidian account is not a Xiaohongshu one
      expect((await post({ config: { mode: 'keyword', keyword: 'x', maxItems: 1 }, platform_account_id: accountId }, bob.token)).status).to.equal(404);
      const qidian = await post({ config: { mode: 'keyword', keyword: 'x', maxItems: 1 }, platform_account_id: qidianAccountId });
      expect(qidian.status, qidian.text).to.equal(422);
      expect(qidian.body.error.details.issues[0].path).to.deep.equal(['platform_account_id']);
      expect((await call('POST', '/api/v1/xiaohongshu/contents/collect', '', { config: {} })).status).to.equal(401);
    });

    it('a one-off run can be cancelled like any execution', async () => {
      const bobAccount = ids(await call('GET', '/api/v1/xiaohongshu/accounts', bob.token))[0];
      expect((await call('POST', `/api/v1/xiaohongshu/accounts/${bobAccount}/verify`, bob.token)).body.data.status).to.equal('active');
      const run = await call('POST', '/api/v1/xiaohongshu/contents/collect', bob.token, {
        config: { mode: 'user', userId: platform.sites.manifest.xiaohongshu.userId, maxItems: 3 },
        platform_account_id: bobAccount,
      });
      expect(run.status, run.text).to.equal(202);
      const cancelled = await call('POST', `/api/v1/workflows/executions/${run.body.data.execution_id}/cancel`, bob.token);
      expect(cancelled.status, cancelled.text).to.equal(200);
      expect((await call('POST', `/api/v1/workflows/executions/${run.body.data.execution_id}/cancel`, alice.token)).status).to.equal(404);
    });
  });

  describe('GET /xiaohongshu/analytics/export: the report as xlsx and pdf', () => {
    it('needs data_analytics: 403 on free, as an envelope before any byte', async () => {
      for (const format of ['xlsx', 'pdf']) {
        const refused = await call('GET', `/api/v1/xiaohongshu/analytics/export?format=${format}`, alice.token);
        expect(refused.status, refused.text).to.equal(403);
        expect(refused.body.error.details).to.include({ feature: 'data_analytics', plan: 'free' });
      }
      expect((await call('GET', '/api/v1/xiaohongshu/analytics/export?format=csv', alice.token)).status).to.equal(422);
      expect((await call('GET', '/api/v1/xiaohongshu/analytics/export', alice.token)).status).to.equal(422);
      expect((await call('GET', '/api/v1/xiaohongshu/analytics/export?format=pdf', '')).status).to.equal(401);
    });

    it('on pro: an xlsx workbook with the summary, the trends per day and the top notes (parsed back)', async () => {
      await grantPlan(platform.store, alice.userId, 'xiaohongshu', 'pro');
      const overview = await call('GET', '/api/v1/xiaohongshu/analytics/overview', alice.token);
      expect(overview.status, overview.text).to.equal(200);
      const top = await call('GET', '/api/v1/xiaohongshu/contents?sort=likes&order=desc&per_page=5', alice.token);

      const { res, bytes } = await raw('/api/v1/xiaohongshu/analytics/export?format=xlsx&days=7&top=5', alice.token);
      expect(res.status, bytes.toString()).to.equal(200);
      expect(res.headers.get('content-type')).to.equal('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
      expect(res.headers.get('content-disposition')).to.match(/^attachment; filename="xiaohongshu-report-\d{8}-\d{6}\.xlsx"$/);
      const workbook = new ExcelJS.Workbook();
      await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
      expect(workbook.worksheets.map((s) => s.name)).to.deep.equal(['概览 Summary', '每日趋势 Trends', '热门笔记 Top notes']);

      const summary = workbook.getWorksheet('概览 Summary')!;
      const cellOf = (label: string) => {
        let found: unknown;
        summary.eachRow((row) => {
          if (row.getCell(1).value === label) found = row.getCell(2).value;
        });
        return found;
      };
      expect(cellOf('笔记数 Notes')).to.equal(overview.body.data.totals.notes);
      expect(cellOf('点赞 Likes')).to.equal(overview.body.data.totals.likes);
      expect(cellOf('天数 Days')).to.equal(7);

      const trends = workbook.getWorksheet('每日趋势 Trends')!;
      expect(trends.rowCount).to.equal(8);
      const days = [2, 3, 4, 5, 6, 7, 8].map((r) => trends.getRow(r).getCell(1).value);
      expect(days[6]).to.equal(todayDay());
      const collected = [2, 3, 4, 5, 6, 7, 8].reduce((s, r) => s + Number(trends.getRow(r).getCell(2).value), 0);
      expect(collected).to.be.greaterThan(0);

      const notes = workbook.getWorksheet('热门笔记 Top notes')!;
      expect(notes.rowCount).to.equal(6);
      const noteIds = [2, 3, 4, 5, 6].map((r) => notes.getRow(r).getCell(2).value);
      expect(noteIds).to.deep.equal(ids(top));
      expect(notes.getRow(2).getCell(3).value).to.equal(top.body.data.items[0].title);
    });

    it('on pro: a readable PDF report (title, period, key figures, trends, top notes)', async () => {
      const { res, bytes } = await raw('/api/v1/xiaohongshu/analytics/export?format=pdf&days=30', alice.token);
      expect(res.status, bytes.toString()).to.equal(200);
      expect(res.headers.get('content-type')).to.equal('application/pdf');
      expect(res.headers.get('content-disposition')).to.match(/^attachment; filename="xiaohongshu-report-\d{8}-\d{6}\.pdf"$/);
      expect(bytes.subarray(0, 5).toString('latin1')).to.equal('%PDF-');
      const pdf = await getDocumentProxy(new Uint8Array(bytes));
      const { totalPages, text } = await extractText(pdf, { mergePages: true });
      expect(totalPages).to.be.within(2, 4); // 30 trend rows carry it onto a second page
      expect(text).to.include('小红书数据报告');
      expect(text).to.include('关键指标 Key figures');
      expect(text).to.include('每日趋势 Daily trends');
      expect(text).to.include('热门笔记 Top notes');
      expect(text).to.include(todayDay());
      const top = await call('GET', '/api/v1/xiaohongshu/contents?sort=likes&order=desc&per_page=1', alice.token);
      const title = (top.body.data.items[0].title as string)
        // biome-ignore lint/suspicious/noMisleadingCharacterClass: each pictograph and selector is removed on its own
        .replace(/[\p{Extended_Pictographic}\u{FE0F}]/gu, '')
        .trim()
        .slice(0, 8);
      expect(text.replace(/\s+/g, '')).to.include(title.replace(/\s+/g, ''));

      // Bob (free) still gets the refusal; on pro he gets a report of nothing of Alice's
      expect((await call('GET', '/api/v1/xiaohongshu/analytics/export?format=pdf', bob.token)).status).to.equal(403);
      await grantPlan(platform.store, bob.userId, 'xiaohongshu', 'pro');
      const theirs = await raw('/api/v1/xiaohongshu/analytics/export?format=xlsx', bob.token);
      expect(theirs.res.status).to.equal(200);
      const workbook = new ExcelJS.Workbook();
      await workbook.xlsx.load(theirs.bytes as unknown as ArrayBuffer);
      expect(workbook.getWorksheet('热门笔记 Top notes')!.rowCount).to.equal(1);
    });

    it("after the upgrade the one-off collection has pro's daily quota", async () => {
      const run = await call('POST', '/api/v1/xiaohongshu/contents/collect', alice.token, keywordRunOf(20));
      expect(run.status, run.text).to.equal(202);
    });
  });

  function keywordRunOf(maxItems: number) {
    return { config: { mode: 'keyword', keyword: platform.sites.manifest.xiaohongshu.keyword, maxItems }, platform_account_id: accountId };
  }

  function todayDay(): string {
    return new Intl.DateTimeFormat('en-CA', { timeZone: platform.config.QUOTA_TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
      new Date(),
    );
  }
});
