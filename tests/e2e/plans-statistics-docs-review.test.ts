import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { reportsProcessor } from '../../src/adapters/queue/reports-queue.js';
import { addDays, quotaDay } from '../../src/application/quota-day.js';
import { waitForCheckpoint } from '../../src/consumers/checkpoints.js';
import { formatPosition, type Position } from '../../src/event-store/position.js';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { PAUSE_ON_QUOTA_EXCEEDED } from '../../src/process-managers/pause-on-quota-exceeded.js';
import { dailyUsageId, subscriptionUsageStream } from '../../src/write-model/subscription-usage/decider.js';
import { workflowStream } from '../../src/write-model/workflow/decider.js';
import { joinOrganization, membershipsSettle, registerMember, type Member } from '../support/members.js';
import { grantPlan } from '../support/plans.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait-for.js';

type User = { userId: string; token: string };

/**
 * docs/plans.md and docs/statistics.md read claim by claim as a new user
 * would, with the OpenAPI document beside them, each claim tried on the
 * running platform: the catalogue's values, the refusals of on/off and
 * counted features, a daily quota used over the consume route, the usage
 * periods, the statistics' defaults, periods and bad input, their data scope
 * in an organization, and the exports (API key scopes, the file, expiry).
 */
describe('plans and statistics, as their docs say (e2e review)', function () {
  this.timeout(90_000);
  let platform: Platform;
  let sink: SmtpSink;
  let worker: RunningWorker | undefined;
  let last: Position | undefined;

  const call = (method: string, path: string, token: string, body?: unknown): Promise<Reply> =>
    platform.call(method, `/api/v1${path}`, body === undefined ? { token } : { token, body });
  const caughtUp = () => `after_position=${formatPosition(last!)}`;
  const today = () => quotaDay(new Date(), platform.config.QUOTA_TIME_ZONE).day;

  /** An SMS to `country` of `segments`, requested and sent at `at` (as the SMS aggregate records them). */
  async function sms(ownerId: string, country: string, segments: number, at: Date): Promise<void> {
    const messageId = randomUUID();
    const t = at.toISOString();
    const data = { messageId, ownerId };
    const result = await platform.store.append(
      `sms_message-${messageId}`,
      [
        {
          id: randomUUID(),
          type: 'SmsRequested',
          data: {
            ...data,
            to: '+447700900123',
            country,
            callingCode: '44',
            text: 'hello',
            encoding: 'GSM-7',
            segments,
            unitPriceFen: 30,
            priceFen: 30 * segments,
            requestedAt: t,
          },
        },
        {
          id: randomUUID(),
          type: 'SmsSent',
          data: {
            ...data,
            providerMessageId: `SM-${messageId}`,
            senderNumber: null,
            providerPriceMicros: null,
            providerCurrency: null,
            sentAt: t,
            source: 'send',
            recordedAt: t,
          },
        },
      ],
      'no_stream',
    );
    last = result.position;
  }

  async function subscription(token: string, service: 'xiaohongshu' | 'qidian'): Promise<string> {
    const list = await call('GET', '/subscriptions', token);
    expect(list.status, list.text).to.equal(200);
    return (list.body.data.items as { id: string; service: string }[]).find((s) => s.service === service)!.id;
  }

  before(async () => {
    sink = await new SmtpSink().start();
    platform = await startPlatform({ proxies: 0, config: { SMTP_URL: sink.url, PUBLIC_WEB_URL: 'https://app.example.test' } });
    // mail (the invitations) and the reports queue (statistics exports); no scraping, no workflow ticks
    worker = await startWorker(platform.container, {
      workerName: `docs-review-${randomUUID().slice(0, 6)}`,
      processors: [mailProcessor(), reportsProcessor()],
    });
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sink?.stop();
  });

  // ---------------------------------------------------------------- docs/plans.md

  it("the catalogue: every value of the docs' tables, ∞ as -1, 27 features over the two services", async () => {
    const inf = -1;
    const documented: Record<string, Record<string, unknown[]>> = {
      xiaohongshu: {
        account_limit: [1, 5, 20, inf],
        daily_api_calls: [50, 500, 5000, inf],
        daily_publications: [5, 50, 300, 2000],
        content_collection: [true, true, true, true],
        private_messaging: [false, true, true, true],
        data_analytics: [false, false, true, true],
        export_formats: [['json'], ['json', 'excel'], ['json', 'excel', 'pdf'], ['json', 'excel', 'pdf', 'api']],
        data_retention_days: [7, 30, 90, 365],
        automation_workflows: [1, 3, 10, inf],
        advanced_filters: [false, true, true, true],
        ai_insights: [false, false, true, true],
        batch_operations: [false, false, true, true],
        custom_integration: [false, false, false, true],
        dedicated_support: [false, false, false, true],
      },
      qidian: {
        novel_tracking_limit: [10, 100, 1000, inf],
        ranking_access: [['热销榜'], ['热销榜', '收藏榜', '推荐榜'], 'all', 'all'],
        data_collection_frequency: ['daily', 'hourly', 'realtime', 'realtime'],
        author_info: [false, true, true, true],
        trend_analysis: [false, false, true, true],
        export_formats: [['json'], ['json', 'excel'], ['json', 'excel', 'pdf'], ['json', 'excel', 'pdf', 'api']],
        data_retention_days: [7, 30, 90, 365],
        alert_notifications: [1, 5, 20, inf],
        custom_keywords: [false, true, true, true],
        competitor_analysis: [false, false, true, true],
        market_insights: [false, false, true, true],
        custom_reports: [false, false, false, true],
        api_access: [false, false, false, true],
      },
    };
    let features = 0;
    for (const [service, table] of Object.entries(documented)) {
      const r = await platform.call('GET', `/api/v1/services/${service}/plans`);
      expect(r.status, r.text).to.equal(200);
      expect([...r.body.data.features].sort(), service).to.deep.equal(Object.keys(table).sort());
      features += r.body.data.features.length;
      const plans = r.body.data.plans as { code: string; features: Record<string, unknown> }[];
      expect(plans.map((p) => p.code)).to.deep.equal(['free', 'basic', 'pro', 'enterprise']);
      for (const [feature, values] of Object.entries(table)) {
        expect(
          plans.map((p) => p.features[feature]),
          `${service} ${feature}`,
        ).to.deep.equal(values);
      }
    }
    expect(features).to.equal(27);
  });

  it('on/off features: 403 PERMISSION_DENIED naming the feature and the caller’s plan, at each tier’s edge (basic: no data_analytics, no trend_analysis)', async () => {
    const free = await platform.signUp('gates-free');
    const basic = await platform.signUp('gates-basic');
    await grantPlan(platform.store, basic.userId, 'xiaohongshu', 'basic');
    await grantPlan(platform.store, basic.userId, 'qidian', 'basic');
    const refused = async (user: User, path: string, feature: string, plan: string) => {
      const r = await call('GET', path, user.token);
      expect(r.status, `${path}: ${r.text}`).to.equal(403);
      expect(r.body.error.code).to.equal('PERMISSION_DENIED');
      expect(r.body.error.details, path).to.include({ feature, plan });
      return r.body.error.details;
    };
    await refused(free, '/xiaohongshu/analytics/overview', 'data_analytics', 'free');
    await refused(free, '/xiaohongshu/analytics/insights', 'ai_insights', 'free');
    await refused(free, '/qidian/analytics/author/someone', 'author_info', 'free');
    await refused(free, '/qidian/novels/1010868264/trends', 'trend_analysis', 'free');
    await refused(free, '/qidian/analytics/market', 'market_insights', 'free');
    await refused(free, '/qidian/analytics/competitors/1010868264', 'competitor_analysis', 'free');
    await refused(free, '/qidian/keywords', 'custom_keywords', 'free');
    await refused(free, '/reports', 'custom_reports', 'free');
    const filters = await refused(free, '/xiaohongshu/contents?author=someone', 'advanced_filters', 'free');
    expect(filters.filters).to.deep.equal(['author']);
    const csv = await refused(free, '/xiaohongshu/contents/export?format=csv', 'export_formats', 'free');
    expect(csv).to.deep.include({ requires: 'excel', allowed: ['json'] });
    const board = await refused(free, '/qidian/rankings/yuepiao', 'ranking_access', 'free');
    expect(board).to.deep.include({ ranking: '月票榜', allowed: ['热销榜'] });

    // basic: a plan's value wins over its note (小红书基础版 has no data_analytics, 起点基础版 no trend_analysis)
    await refused(basic, '/xiaohongshu/analytics/overview', 'data_analytics', 'basic');
    await refused(basic, '/qidian/novels/1010868264/trends', 'trend_analysis', 'basic');
    expect((await refused(basic, '/qidian/rankings/yuepiao', 'ranking_access', 'basic')).allowed).to.deep.equal(['热销榜', '收藏榜', '推荐榜']);
    // and what basic includes goes past the gate: the author's page answers (nothing collected: 404), the filter lists
    expect((await call('GET', '/qidian/analytics/author/someone', basic.token)).status).to.equal(404);
    expect((await call('GET', '/qidian/rankings/collect', basic.token)).status).to.equal(200);
    expect((await call('GET', '/xiaohongshu/contents?author=someone', basic.token)).status).to.equal(200);

    // the decisions of the docs: keys and own review rules name every service's plan
    const key = await call('POST', '/users/api-keys', basic.token, { name: 'k', scopes: ['read'] });
    expect(key.status, key.text).to.equal(403);
    expect(key.body.error.details).to.deep.include({ feature: 'api_access', plans: { xiaohongshu: 'basic', qidian: 'basic' } });
    const rules = await call('GET', '/review-rules?scope=mine', basic.token);
    expect(rules.status, rules.text).to.equal(403);
    expect(rules.body.error.details).to.deep.include({ feature: 'review_rules', plans: { xiaohongshu: 'basic', qidian: 'basic' } });
  });

  it('resource limits: 429 with used = limit, resets_at null and no Retry-After; a downgrade below what is held is 409 naming it', async () => {
    const user = await platform.signUp('resources');
    const track = (novelId: string) => call('POST', '/qidian/trackings', user.token, { novel_id: novelId });
    const tracked: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await track(String(1_099_100_000 + i));
      expect(r.status, r.text).to.equal(201);
      tracked.push(r.body.data.id);
    }
    const over = await track('1099100010');
    expect(over.status, over.text).to.equal(429);
    expect(over.body.error.code).to.equal('QUOTA_EXCEEDED');
    expect(over.body.error.details).to.deep.equal({ feature: 'novel_tracking_limit', limit: 10, used: 10, resets_at: null });
    expect(over.headers.get('retry-after')).to.equal(null);

    const alert = await call('POST', '/qidian/alerts', user.token, { novel_id: '1099100000', kind: 'update' });
    expect(alert.status, alert.text).to.equal(201);
    const second = await call('POST', '/qidian/alerts', user.token, { novel_id: '1099100000', kind: 'completion' });
    expect(second.status, second.text).to.equal(429);
    expect(second.body.error.details).to.deep.equal({ feature: 'alert_notifications', limit: 1, used: 1, resets_at: null });
    expect(second.headers.get('retry-after')).to.equal(null);

    // basic holds 100: two more, then back to free is refused while 12 are held
    await grantPlan(platform.store, user.userId, 'qidian', 'basic');
    for (const novelId of ['1099100010', '1099100011']) expect((await track(novelId)).status).to.equal(201);
    const qidian = await subscription(user.token, 'qidian');
    const down = await call('PUT', `/subscriptions/${qidian}`, user.token, { plan: 'free' });
    expect(down.status, down.text).to.equal(409);
    expect(down.body.error.code).to.equal('CONFLICT');
    expect(down.body.error.details).to.deep.equal({ plan: 'free', violations: [{ feature: 'novel_tracking_limit', inUse: 12, limit: 10 }] });
    // released to 10: the downgrade is scheduled for the period's end, basic stays until then
    for (const id of tracked.slice(0, 2)) expect((await call('DELETE', `/qidian/trackings/${id}`, user.token)).status).to.equal(200);
    const scheduled = await call('PUT', `/subscriptions/${qidian}`, user.token, { plan: 'free' });
    expect(scheduled.status, scheduled.text).to.equal(200);
    const shown = await call('GET', `/subscriptions/${qidian}?after_position=${scheduled.body.data.position}`, user.token);
    expect(shown.body.data).to.include({ plan: 'basic', pending_downgrade: 'free' });
  });

  it('a daily counter is all or nothing: a use larger than what is left is refused whole, naming plan and subscription; bad input is 422', async () => {
    const user = await platform.signUp('counter');
    const xhs = await subscription(user.token, 'xiaohongshu');
    const consume = (body: unknown, id = xhs) => call('POST', `/subscriptions/${id}/consume`, user.token, body);
    expect((await consume({ feature: 'daily_api_calls', amount: 45 })).status).to.equal(200);
    const day = quotaDay(new Date(), platform.config.QUOTA_TIME_ZONE);
    const refused = await consume({ feature: 'daily_api_calls', amount: 10 });
    expect(refused.status, refused.text).to.equal(429);
    expect(refused.body.error.details).to.deep.equal({
      feature: 'daily_api_calls',
      limit: 50,
      used: 45,
      requested: 10,
      remaining: 5,
      plan: 'free',
      subscription_id: xhs,
      resets_at: day.resetsAt,
    });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).to.be.within(1, 86_400);
    // nothing of the 10 was counted: the 5 left still fit
    const rest = await consume({ feature: 'daily_api_calls', amount: 5 });
    expect(rest.status, rest.text).to.equal(200);
    expect(rest.body.data).to.include({ used_today: 50, remaining: 0 });

    for (const body of [
      { feature: 'daily_api_calls', amount: 0 },
      { feature: 'daily_api_calls', amount: 1.5 },
      { feature: 'daily_api_calls', amount: '1' },
      { feature: 'daily_api_calls', amount: 1_000_001 },
      { feature: 'account_limit' },
      { feature: 'nope' },
      { feature: 'daily_api_calls', extra: true },
    ]) {
      const r = await consume(body);
      expect(r.status, `${JSON.stringify(body)}: ${r.text}`).to.equal(422);
      expect(r.body.error.code).to.equal('VALIDATION_ERROR');
    }
    expect((await consume({ feature: 'daily_api_calls' }, randomUUID())).status).to.equal(404);
    // a subscription id is a UUID: anything else is refused before any lookup
    expect((await consume({ feature: 'daily_api_calls' }, 'no-such-subscription')).status).to.equal(422);
    const nul = await consume({ feature: 'daily_api_calls' }, '%00');
    expect(nul.status, nul.text).to.equal(422);
    expect(nul.body.error.details.issues[0]).to.include({ in: 'params', code: 'invalid_text' });
    // another user's subscription is 404 like an unknown one
    const stranger = await platform.signUp('counter-stranger');
    expect((await call('POST', `/subscriptions/${xhs}/consume`, stranger.token, { feature: 'daily_api_calls' })).status).to.equal(404);
  });

  it('daily_publications running out pauses no workflow; daily_api_calls running out pauses the scheduled ones', async () => {
    const user = await platform.signUp('no-pause');
    const created = await call('POST', '/workflows', user.token, {
      name: 'coffee',
      type: 'xiaohongshu.notes',
      config: { mode: 'keyword', keyword: '咖啡', maxItems: 20 },
      schedule: { kind: 'interval', every: 'daily' },
    });
    expect(created.status, created.text).to.equal(201);
    const workflowId = created.body.data.id as string;
    const xhs = await subscription(user.token, 'xiaohongshu');
    const usage = subscriptionUsageStream(dailyUsageId(user.userId, 'xiaohongshu', today()));
    const exceeded = async (feature: string) =>
      (await platform.events(usage)).find((e) => e.type === 'QuotaExceeded' && (e.data as { feature: string }).feature === feature);
    const paused = async () => (await platform.events(workflowStream(workflowId))).filter((e) => e.type === 'WorkflowPaused');

    expect((await call('POST', `/subscriptions/${xhs}/consume`, user.token, { feature: 'daily_publications', amount: 5 })).status).to.equal(200);
    const over = await call('POST', `/subscriptions/${xhs}/consume`, user.token, { feature: 'daily_publications' });
    expect(over.status, over.text).to.equal(429);
    expect(over.body.error.details).to.include({ feature: 'daily_publications', limit: 5, remaining: 0 });
    const publications = await exceeded('daily_publications');
    expect(publications, 'the refusal is recorded').to.not.equal(undefined);
    expect(await waitForCheckpoint(platform.knex, PAUSE_ON_QUOTA_EXCEEDED, publications!.position, 10_000)).to.equal(true);
    expect(await paused(), 'publications running out pauses nothing').to.have.length(0);

    // the contrast: the day's API calls running out pauses it until the reset
    expect((await call('POST', `/subscriptions/${xhs}/consume`, user.token, { feature: 'daily_api_calls', amount: 50 })).status).to.equal(200);
    expect((await call('POST', `/subscriptions/${xhs}/consume`, user.token, { feature: 'daily_api_calls' })).status).to.equal(429);
    await waitFor('the workflow paused for the quota', async () => (await paused()).length === 1, 10_000, 50);
    expect((await paused())[0]!.data).to.include({ reason: 'quota_exceeded' });
  });

  it('usage periods: from after to names from, 93 days is too long, and the last days of year 9999 are days like any', async () => {
    const user = await platform.signUp('usage');
    const xhs = await subscription(user.token, 'xiaohongshu');
    const usage = (query: string) => call('GET', `/subscriptions/${xhs}/usage?${query}`, user.token);
    const reversed = await usage('from=2026-01-02&to=2026-01-01');
    expect(reversed.status, reversed.text).to.equal(422);
    expect(reversed.body.error.details.issues[0].path).to.deep.equal(['from']);
    expect((await usage('from=2026-01-01&to=2026-04-02')).status).to.equal(200);
    const long = await usage('from=2026-01-01&to=2026-04-03');
    expect(long.status, long.text).to.equal(422);
    expect(long.body.error.details.issues[0].path).to.deep.equal(['to']);
    for (const query of ['from=2026-02-30', 'from=0000-01-01', 'to=2026-01-01T00:00:00Z', 'from=%00']) {
      const r = await usage(query);
      expect(r.status, `${query}: ${r.text}`).to.equal(422);
    }
    // two days, one day: never "longer than 92 days"
    const lastTwo = await usage('from=9999-12-30&to=9999-12-31');
    expect(lastTwo.status, lastTwo.text).to.equal(200);
    expect(lastTwo.body.data.days.map((d: { day: string }) => d.day)).to.deep.equal(['9999-12-30', '9999-12-31']);
    const lastOne = await usage('from=9999-12-31');
    expect(lastOne.status, lastOne.text).to.equal(200);
    expect(lastOne.body.data.days.map((d: { day: string }) => d.day)).to.deep.equal(['9999-12-31']);
  });

  // ---------------------------------------------------------------- docs/statistics.md

  it('GET /statistics: the last 30 days to today by default, every metric, by day; days counted in QUOTA_TIME_ZONE', async () => {
    const user = await platform.signUp('stats-defaults');
    const all = await call('GET', '/statistics', user.token);
    expect(all.status, all.text).to.equal(200);
    const to = today();
    const from = addDays(to, -29);
    expect(all.body.data).to.include({ from, to, granularity: 'day' });
    expect(all.body.data.group_by).to.deep.equal(['day']);
    expect(all.body.data.metrics).to.have.length(17);
    expect(Object.keys(all.body.data.totals)).to.deep.equal(all.body.data.metrics);
    expect(all.body.data.pagination).to.deep.equal({ page: 1, per_page: 20, total: 0, total_pages: 0, has_next: false, has_prev: false });
    // `to` alone: the 30 days up to it
    const toAlone = await call('GET', '/statistics?to=2026-03-31&metrics=sms_sent', user.token);
    expect(toAlone.body.data).to.include({ from: '2026-03-02', to: '2026-03-31' });
    // …none before the first day there is, not a refusal of a `from` nobody gave
    const early = await call('GET', '/statistics?to=0001-01-05&metrics=sms_sent', user.token);
    expect(early.status, early.text).to.equal(200);
    expect(early.body.data).to.include({ from: '0001-01-01', to: '0001-01-05' });

    // an SMS at 17:30 UTC is the next day in the statistics' time zone
    const at = new Date('2026-03-01T17:30:00Z');
    const local = quotaDay(at, platform.config.QUOTA_TIME_ZONE).day;
    expect(local, 'the time zone puts 17:30 UTC on another day').to.not.equal('2026-03-01');
    await sms(user.userId, 'JP', 3, at);
    const byDay = await call('GET', `/statistics?from=2026-03-01&to=2026-03-02&metrics=sms_segments&${caughtUp()}`, user.token);
    expect(byDay.status, byDay.text).to.equal(200);
    expect(byDay.body.data.items).to.deep.equal([{ day: local, metrics: { sms_segments: 3 } }]);
    // an empty group_by: one row of totals
    const totals = await call('GET', '/statistics?from=2026-03-01&to=2026-03-02&metrics=sms_segments,sms_sent&group_by=', user.token);
    expect(totals.body.data.items).to.deep.equal([{ metrics: { sms_segments: 3, sms_sent: 1 } }]);
    // a page past the end: no rows, the totals still
    const past = await call('GET', '/statistics?from=2026-03-01&to=2026-03-02&metrics=sms_segments&page=3', user.token);
    expect(past.body.data.items).to.deep.equal([]);
    expect(past.body.data.pagination).to.include({ page: 3, total: 1, has_prev: true, has_next: false });
    expect(past.body.data.totals).to.deep.equal({ sms_segments: 3 });
  });

  it('GET /statistics and /statistics/live: 366 days but not 367, and every bad query is 422 (query problems with details.allowed)', async () => {
    const user = await platform.signUp('stats-bad');
    expect((await call('GET', '/statistics?from=2025-01-01&to=2026-01-01&metrics=sms_sent', user.token)).status).to.equal(200);
    const bad = async (query: string, path: string, allowed: boolean, route = '/statistics') => {
      const r = await call('GET', `${route}?${query}`, user.token);
      expect(r.status, `${query}: ${r.text}`).to.equal(422);
      expect(r.body.error.code).to.equal('VALIDATION_ERROR');
      expect(r.body.error.details.issues[0].path, query).to.deep.equal([path]);
      expect(r.body.error.details.allowed !== undefined, `${query}: details.allowed`).to.equal(allowed);
      if (allowed) expect(r.body.error.details.allowed).to.have.keys('metrics', 'group_by', 'granularity');
    };
    await bad('from=2025-01-01&to=2026-01-02', 'to', true);
    await bad('metrics=sms_sent,sms_sent', 'metrics', true);
    await bad('group_by=day,day', 'group_by', true);
    await bad('metrics=', 'metrics', true);
    await bad('metrics=,', 'metrics', true);
    await bad('granularity=', 'granularity', true);
    await bad('from=2026-12-01T00:00:00Z', 'from', true);
    await bad('from=2026-12-01&to=2026-12-01%2B08:00', 'to', true);
    await bad('to=2026-12-01&from=2026-12-02', 'to', true);
    // repeated parameters, NUL, pages: the schema's refusals
    await bad('metrics=sms_sent&metrics=sms_delivered', 'metrics', false);
    await bad('group_by=day&group_by=country', 'group_by', false);
    await bad('metrics=sms_sent%00', 'metrics', false);
    await bad('per_page=0', 'per_page', false);
    await bad('per_page=101', 'per_page', false);
    await bad('page=0', 'page', false);
    await bad('page=1.5', 'page', false);
    await bad('after_position=latest', 'after_position', false);
    // the live view refuses the same metrics lists
    await bad('metrics=', 'metrics', true, '/statistics/live');
    await bad('metrics=sms_sent,sms_sent', 'metrics', true, '/statistics/live');
    await bad('metrics=sms_sent&metrics=sms_failed', 'metrics', false, '/statistics/live');
    const live = await call('GET', '/statistics/live', user.token);
    expect(live.status, live.text).to.equal(200);
    expect(live.body.data).to.include({ day: today(), time_zone: platform.config.QUOTA_TIME_ZONE });
    expect(Object.keys(live.body.data.today)).to.have.length(17);
    expect(live.body.data.hours).to.have.length(24);
  });

  it('the data scope: an organization’s owner, analyst and billing member see every member’s statistics, an operator their own; exports stay their requester’s', async () => {
    const [owner, billing, operator, analyst, outsider] = (await Promise.all(
      ['owner', 'billing', 'operator', 'analyst', 'outsider'].map((n) => registerMember(platform, n)),
    )) as [Member, Member, Member, Member, Member];
    const founded = await platform.call('POST', '/api/v1/organizations', { token: owner.token, body: { name: 'Statisticians' } });
    expect(founded.status, founded.text).to.equal(201);
    const organizationId = founded.body.data.id as string;
    await Promise.all([
      joinOrganization(platform, sink, { organizationId, inviter: owner, user: billing, roles: ['billing'] }),
      joinOrganization(platform, sink, { organizationId, inviter: owner, user: operator, roles: ['operator'], team: 'north' }),
      joinOrganization(platform, sink, { organizationId, inviter: owner, user: analyst, roles: ['analyst'] }),
    ]);
    await membershipsSettle();
    const at = new Date();
    const segments = new Map([
      [owner.userId, 1],
      [billing.userId, 2],
      [operator.userId, 4],
      [analyst.userId, 8],
      [outsider.userId, 16],
    ]);
    for (const [userId, n] of segments) await sms(userId, 'GB', n, at);
    const byUser = async (member: Member) => {
      const r = await call('GET', `/statistics?from=${today()}&to=${today()}&metrics=sms_segments&group_by=user,organization&${caughtUp()}`, member.token);
      expect(r.status, r.text).to.equal(200);
      return sorted(r.body.data.items as { user: string; organization: string | null; metrics: { sms_segments: number } }[]);
    };
    const sorted = <T extends { user: string }>(rows: T[]) => [...rows].sort((a, b) => (a.user < b.user ? -1 : 1));
    const members = sorted(
      [owner, billing, operator, analyst].map((m) => ({ user: m.userId, organization: organizationId, metrics: { sms_segments: segments.get(m.userId)! } })),
    );
    expect(await byUser(owner)).to.deep.equal(members);
    expect(await byUser(billing)).to.deep.equal(members);
    expect(await byUser(analyst)).to.deep.equal(members);
    expect(await byUser(operator)).to.deep.equal([{ user: operator.userId, organization: organizationId, metrics: { sms_segments: 4 } }]);
    expect(await byUser(outsider)).to.deep.equal([{ user: outsider.userId, organization: null, metrics: { sms_segments: 16 } }]);
    const live = await call('GET', `/statistics/live?metrics=sms_segments&${caughtUp()}`, billing.token);
    expect(live.body.data.today).to.deep.equal({ sms_segments: 15 });

    // exports need reports.reports.create: billing's roles do not have it; the owner's export covers the three
    const body = { from: today(), to: today(), metrics: ['sms_segments'], group_by: ['user'], format: 'csv' };
    const denied = await call('POST', '/statistics/exports', billing.token, body);
    expect(denied.status, denied.text).to.equal(403);
    expect(denied.body.error.details).to.include({ permission: 'reports.reports.create' });
    const asked = await call('POST', '/statistics/exports', owner.token, body);
    expect(asked.status, asked.text).to.equal(202);
    const exportId = asked.body.data.export_id as string;
    const shown = await call('GET', `/statistics/exports/${exportId}?after_position=${asked.body.data.position}`, owner.token);
    // the four members and the organization itself (what it owns counts as its own)
    expect(shown.body.data).to.include({ owners: 5 });
    // the requester's alone: an analyst, who reads reports organization-wide, finds neither it nor its file
    expect((await call('GET', `/statistics/exports/${exportId}`, analyst.token)).status).to.equal(404);
    expect((await call('GET', `/statistics/exports/${exportId}/file`, analyst.token)).status).to.equal(404);
    const theirs = await call('GET', '/statistics/exports', analyst.token);
    expect(theirs.body.data.items).to.deep.equal([]);
    // the operator and the billing member hold no reports permission at all
    expect((await call('GET', `/statistics/exports/${exportId}`, operator.token)).status).to.equal(403);
  });

  it('exports: body checks, the API key scopes, the file of one not made yet, a week-granularity csv and a totals row as GET answers, expiry', async () => {
    const user = await platform.signUp('exporter');
    await grantPlan(platform.store, user.userId, 'qidian', 'enterprise');
    await sms(user.userId, 'GB', 2, new Date('2026-11-03T02:00:00Z'));
    await sms(user.userId, 'JP', 5, new Date('2026-11-12T02:00:00Z'));
    await sms(user.userId, 'GB', 1, new Date('2026-11-13T02:00:00Z'));
    const base = {
      from: '2026-11-01',
      to: '2026-11-30',
      metrics: ['sms_sent', 'sms_segments'],
      group_by: ['day', 'country'],
      granularity: 'week',
      format: 'csv',
    };

    const { format: _format, ...noFormat } = base;
    for (const body of [noFormat, { ...base, format: 'pdf' }, { ...base, extra: 1 }, { ...base, metrics: 'sms_sent' }, { ...base, granularity: null }]) {
      const r = await call('POST', '/statistics/exports', user.token, body);
      expect(r.status, `${JSON.stringify(body)}: ${r.text}`).to.equal(422);
      expect(r.body.error.details, 'a body the schema refuses has no details.allowed').to.not.have.property('allowed');
    }
    for (const body of [
      { ...base, metrics: ['sms_sent', 'sms_sent'] },
      { ...base, group_by: ['day', 'day'] },
      { ...base, to: '2026-10-31' },
    ]) {
      const r = await call('POST', '/statistics/exports', user.token, body);
      expect(r.status, `${JSON.stringify(body)}: ${r.text}`).to.equal(422);
      expect(r.body.error.details.allowed, 'a query the statistics refuse names what is allowed').to.have.keys('metrics', 'group_by', 'granularity');
    }
    for (const id of ['not-a-uuid', '%00']) {
      const r = await call('GET', `/statistics/exports/${id}`, user.token);
      expect(r.status, `${id}: ${r.text}`).to.equal(422);
    }

    // API keys: `export` to ask for one and to download it, `read` for the rest
    const key = async (scopes: string[]) => {
      const r = await call('POST', '/users/api-keys', user.token, { name: scopes.join('+'), scopes });
      expect(r.status, r.text).to.equal(201);
      return r.body.data.key as string;
    };
    const reader = await key(['read']);
    const exporter = await key(['export']);
    const readerAsk = await call('POST', '/statistics/exports', reader, base);
    expect(readerAsk.status, readerAsk.text).to.equal(403);
    expect(readerAsk.body.error.details).to.include({ required_scope: 'export' });
    expect((await call('GET', '/statistics?metrics=sms_sent', exporter)).status).to.equal(403);
    expect((await call('GET', '/statistics?metrics=sms_sent', reader)).status).to.equal(200);

    // the worker is stopped a moment: the export stays pending, its file is 404
    await worker!.stop({ timeoutMs: 2_000 });
    worker = undefined;
    const asked = await call('POST', '/statistics/exports', exporter, base);
    expect(asked.status, asked.text).to.equal(202);
    const id = asked.body.data.export_id as string;
    expect(asked.headers.get('location')).to.equal(`/api/v1/statistics/exports/${id}`);
    expect(asked.body.data).to.include({ status: 'pending', revision: '0' });
    const pending = await call('GET', `/statistics/exports/${id}?after_position=${asked.body.data.position}`, reader);
    expect(pending.status, pending.text).to.equal(200);
    expect(pending.body.data).to.include({ status: 'pending', download_url: null, granularity: 'week', format: 'csv' });
    const notYet = await call('GET', `/statistics/exports/${id}/file`, exporter);
    expect(notYet.status, notYet.text).to.equal(404);
    expect((await call('GET', `/statistics/exports/${id}/file`, reader)).status, 'the file needs the export scope').to.equal(403);
    worker = await startWorker(platform.container, {
      workerName: `docs-review-${randomUUID().slice(0, 6)}`,
      processors: [mailProcessor(), reportsProcessor()],
    });

    const made = async (exportId: string) => {
      let shown: any;
      await waitFor(
        `export ${exportId} made`,
        async () => {
          shown = (await call('GET', `/statistics/exports/${exportId}`, user.token)).body?.data;
          return shown?.status === 'ready' || shown?.status === 'failed';
        },
        20_000,
        100,
      );
      expect(shown.status, JSON.stringify(shown)).to.equal('ready');
      const file = await platform.call('GET', shown.download_url, { token: exporter });
      expect(file.status, file.text).to.equal(200);
      expect(file.headers.get('content-type')).to.equal('text/csv; charset=utf-8');
      expect(file.headers.get('content-disposition')).to.match(/^attachment; filename="statistics-\d{8}-\d{6}\.csv"$/);
      return {
        shown,
        lines: file.text
          .replace(/^\uFEFF/, '')
          .trim()
          .split(/\r?\n/),
      };
    };
    const weekly = await made(id);
    const rows = await call('GET', '/statistics?from=2026-11-01&to=2026-11-30&metrics=sms_sent,sms_segments&group_by=day,country&granularity=week', user.token);
    const expected = (rows.body.data.items as { day: string; country: string; metrics: { sms_sent: number; sms_segments: number } }[]).map(
      (r) => `${r.day},${r.country},${r.metrics.sms_sent},${r.metrics.sms_segments}`,
    );
    // weeks start on Monday: 2026-11-03 is in the week of 2026-11-02, the 12th and 13th in the week of the 9th
    expect(expected).to.deep.equal(['2026-11-02,GB,1,2', '2026-11-09,GB,1,1', '2026-11-09,JP,1,5']);
    expect(weekly.lines).to.deep.equal(['day,country,sms_sent,sms_segments', ...expected]);
    expect(weekly.shown).to.include({ rows: 3, owners: 1 });

    const totals = await call('POST', '/statistics/exports', exporter, { ...base, group_by: [] });
    expect(totals.status, totals.text).to.equal(202);
    expect((await made(totals.body.data.export_id)).lines).to.deep.equal(['sms_sent,sms_segments', '3,8']);

    // once the file's time is up: expired, no link, no file
    await platform
      .knex('statistics_exports')
      .where({ id })
      .update({ expires_at: new Date(Date.now() - 1_000) });
    await platform
      .knex('report_files')
      .where({ run_id: id, report_id: 'statistics' })
      .update({ expires_at: new Date(Date.now() - 1_000) });
    const expired = await call('GET', `/statistics/exports/${id}`, user.token);
    expect(expired.body.data).to.include({ status: 'expired', download_url: null });
    expect((await call('GET', `/statistics/exports/${id}/file`, exporter)).status).to.equal(404);
    const listed = await call('GET', '/statistics/exports?per_page=1', user.token);
    expect(listed.body.data.items.map((e: { id: string }) => e.id)).to.deep.equal([totals.body.data.export_id]);
    expect(listed.body.data.pagination).to.include({ total: 2, total_pages: 2, has_next: true });
  });

  it('the OpenAPI document: every route of both docs, the file named as xlsx or csv', async () => {
    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
    const routes: [string, string][] = [
      ['get', '/api/v1/services'],
      ['get', '/api/v1/services/{service}/plans'],
      ['get', '/api/v1/subscriptions'],
      ['post', '/api/v1/subscriptions'],
      ['get', '/api/v1/subscriptions/{id}'],
      ['put', '/api/v1/subscriptions/{id}'],
      ['delete', '/api/v1/subscriptions/{id}'],
      ['get', '/api/v1/subscriptions/{id}/usage'],
      ['post', '/api/v1/subscriptions/{id}/consume'],
      ['get', '/api/v1/statistics'],
      ['get', '/api/v1/statistics/live'],
      ['post', '/api/v1/statistics/exports'],
      ['get', '/api/v1/statistics/exports'],
      ['get', '/api/v1/statistics/exports/{id}'],
      ['get', '/api/v1/statistics/exports/{id}/file'],
    ];
    for (const [method, path] of routes) expect(doc.paths[path]?.[method], `${method} ${path}`).to.be.an('object');
    expect(doc.paths['/api/v1/subscriptions/{id}/consume'].post.responses).to.include.keys('403', '404', '422', '429');
    const file = doc.paths['/api/v1/statistics/exports/{id}/file'].get;
    expect(Object.keys(file.responses['200'].content)).to.have.members(['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'text/csv']);
    expect(file.security).to.deep.include({ apiKeyAuth: ['export'] });
    const parameters = (doc.paths['/api/v1/statistics'].get.parameters as { name: string }[]).map((p) => p.name);
    expect(parameters).to.include.members(['from', 'to', 'metrics', 'group_by', 'granularity', 'page', 'per_page', 'after_position']);
  });
});
