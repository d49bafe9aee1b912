import { expect } from 'chai';
import type { Knex } from 'knex';
import { novelTrackingId } from '../../src/application/novel-trackings.js';
import { watchlistWorkflowId } from '../../src/application/qidian-watchlist.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import type { RunningWorker } from '../../src/main/worker.js';
import { createQidianAlerts, QIDIAN_ALERTS } from '../../src/process-managers/qidian-alerts.js';
import type { PlanCode } from '../../src/write-model/subscription/plans.js';
import { workflowExecutionStream } from '../../src/write-model/workflow-execution/decider.js';
import { workflowStream } from '../../src/write-model/workflow/decider.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';
import { grantPlan } from '../support/plans.js';

const ofType = (events: RecordedEvent[], type: string) => events.filter((e) => e.type === type);

/**
 * The Qidian plan features made real, on the whole platform (API over a
 * socket, projections and process managers, the worker with Chromium
 * through a local proxy, the sandbox sites):
 * - tracking a novel leads to its collection by the user's watch list (the
 *   `qidian.watchlist` workflow pm-qidian-watchlist keeps, at the plan's
 *   data_collection_frequency) — no workflow written by the user;
 * - novel_tracking_limit counts tracked novels and workflows' novels as one
 *   list (each novel once);
 * - keyword watches (custom_keywords) are searched by the watch list and a
 *   newly found book is a `keyword_match` notification;
 * - novel alert rules hold alert_notifications units and fire `novel_alert`
 *   notifications once per triggering change.
 */
describe('qidian watch list, trackings limit, keywords and alerts (e2e, worker and sandbox sites)', function () {
  this.timeout(240_000);
  let platform: Platform;
  let admin: string;
  let worker: RunningWorker | undefined;

  before(async () => {
    platform = await startPlatform({ proxies: 1 });
    admin = await platform.adminToken();
    const p = platform.proxies.proxies[0]!;
    const r = await platform.call('POST', '/api/v1/proxies', {
      token: admin,
      body: { host: p.host, port: p.port, protocol: 'http', username: p.username, password: p.password, country: 'CN', region: 'shanghai', provider: 'local' },
    });
    expect(r.status, r.text).to.equal(201);
    worker = await platform.startWorker();
  });
  after(async () => {
    await platform?.stop();
  });

  const knex = (): Knex => platform.knex;

  async function changePlan(userId: string, plan: PlanCode): Promise<void> {
    await grantPlan(platform.store, userId, 'qidian', plan);
  }

  async function track(token: string, novelId: string): Promise<{ status: number; body: any; text: string }> {
    return platform.call('POST', '/api/v1/qidian/trackings', { token, body: { novel_id: novelId } });
  }

  /** The executions of a workflow as its streams hold them (ExecutionRequested), oldest first. */
  async function executionsOf(workflowId: string): Promise<{ id: string; config: any; done: boolean; items: number }[]> {
    const rows = await knex()('workflow_executions').where({ workflow_id: workflowId }).orderBy('requested_at').select('id');
    const out = [];
    for (const { id } of rows as { id: string }[]) {
      const events = await platform.events(workflowExecutionStream(id));
      const requested = ofType(events, 'ExecutionRequested')[0];
      out.push({
        id,
        config: (requested?.data as any)?.config,
        done: ofType(events, 'ExecutionCompleted').length > 0,
        items: ofType(events, 'ItemsCollected').reduce((n, e) => n + (e.data as any).items.length, 0),
      });
    }
    return out;
  }

  async function notificationsOf(token: string, kind: string): Promise<any[]> {
    const r = await platform.call('GET', '/api/v1/notifications?per_page=100', { token });
    expect(r.status, r.text).to.equal(200);
    return (r.body.data.items as any[]).filter((n) => n.kind === kind);
  }

  it("tracking a novel collects it through the worker, at the plan's frequency, with no workflow written by the user", async () => {
    const alice = await platform.signUp('alice');
    const first = await track(alice.token, '1036370336');
    expect(first.status, first.text).to.equal(201);

    // the watch list: created by pm-qidian-watchlist, scheduled daily (free), run at once by its first tick
    const workflowId = watchlistWorkflowId(alice.userId);
    await waitFor(
      'the watch list workflow',
      async () => ofType(await platform.events(workflowStream(workflowId)), 'WorkflowScheduled').length > 0,
      20_000,
      100,
    );
    const created = ofType(await platform.events(workflowStream(workflowId)), 'WorkflowCreated')[0]!.data as any;
    expect(created).to.include({ ownerId: alice.userId, type: 'qidian.watchlist', platform: 'qidian' });
    expect(created.config).to.deep.equal({});
    expect((ofType(await platform.events(workflowStream(workflowId)), 'WorkflowScheduled')[0]!.data as any).schedule).to.deep.equal({
      kind: 'interval',
      every: 'daily',
    });

    await waitFor('the first watch-list run to complete', async () => (await executionsOf(workflowId)).some((e) => e.done), 90_000, 200);
    const [run] = await executionsOf(workflowId);
    expect(run!.config).to.deep.equal({ novelIds: ['1036370336'] });
    expect(run!.items).to.equal(1);
    expect(platform.sites.hits('qidian', 'www', '/book/1036370336').length).to.be.greaterThan(0);
    await waitFor(
      'the snapshot in the read model',
      async () => {
        const data = await platform.call('GET', '/api/v1/qidian/novels/1036370336/data', { token: alice.token });
        return data.status === 200 && data.body.data.latest?.title === '深海余烬';
      },
      20_000,
      100,
    );

    // a second tracking joins the next run (here: the owner's "collect now")
    expect((await track(alice.token, '1041637443')).status).to.equal(201);
    await waitFor(
      'the second tracking in the watch list',
      async () => (await knex()('pm_qidian_watchlist').where({ user_id: alice.userId, active: true })).length === 2,
      20_000,
      50,
    );
    const now = await platform.call('POST', `/api/v1/workflows/${workflowId}/execute`, { token: alice.token });
    expect(now.status, now.text).to.equal(202);
    await waitFor(
      'the manual run to complete',
      async () => (await executionsOf(workflowId)).find((e) => e.id === now.body.data.execution_id)?.done === true,
      90_000,
      200,
    );
    const manual = (await executionsOf(workflowId)).find((e) => e.id === now.body.data.execution_id)!;
    expect(manual.config).to.deep.equal({ novelIds: ['1036370336', '1041637443'] });
    expect(manual.items).to.equal(2);

    // the platform's workflow: not the owner's to change, delete or create
    expect((await platform.call('PUT', `/api/v1/workflows/${workflowId}`, { token: alice.token, body: { name: 'mine' } })).status).to.equal(409);
    expect((await platform.call('DELETE', `/api/v1/workflows/${workflowId}`, { token: alice.token })).status).to.equal(409);
    expect(
      (await platform.call('POST', '/api/v1/workflows', { token: alice.token, body: { name: 'x', type: 'qidian.watchlist', config: {} } })).status,
    ).to.equal(422);

    // an upgrade moves it to the new plan's frequency
    await changePlan(alice.userId, 'basic');
    await waitFor(
      'the watch list rescheduled hourly',
      async () => {
        const scheduled = ofType(await platform.events(workflowStream(workflowId)), 'WorkflowScheduled');
        return (scheduled.at(-1)?.data as any)?.schedule?.every === 'hourly';
      },
      20_000,
      100,
    );
  });

  it('keywords: gated by custom_keywords; the watch list searches them, and a newly found book is a notification', async () => {
    const dave = await platform.signUp('dave');
    const refused = await platform.call('POST', '/api/v1/qidian/keywords', { token: dave.token, body: { keyword: '深海' } });
    expect(refused.status, refused.text).to.equal(403);
    expect(refused.body.error.details).to.include({ feature: 'custom_keywords' });
    expect((await platform.call('GET', '/api/v1/qidian/keywords', { token: dave.token })).status).to.equal(403);

    await changePlan(dave.userId, 'basic');
    const watched = await platform.call('POST', '/api/v1/qidian/keywords', { token: dave.token, body: { keyword: ' 深海 ' } });
    expect(watched.status, watched.text).to.equal(201);
    expect(watched.body.data.keyword).to.equal('深海');
    expect((await platform.call('POST', '/api/v1/qidian/keywords', { token: dave.token, body: { keyword: '深海' } })).status).to.equal(409);
    const list = await platform.call('GET', `/api/v1/qidian/keywords?after_position=${watched.body.data.position}`, { token: dave.token });
    expect(list.body.data.items.map((k: any) => k.keyword)).to.deep.equal(['深海']);

    // the watch list comes with the first keyword, and its first run searches it: the baseline, nothing new yet
    const workflowId = watchlistWorkflowId(dave.userId);
    await waitFor('the first keyword run', async () => (await executionsOf(workflowId)).some((e) => e.done), 90_000, 200);
    const [first] = await executionsOf(workflowId);
    expect(first!.config).to.deep.equal({ keywords: ['深海'] });
    expect(first!.items).to.equal(1);
    expect(platform.sites.hits('qidian', 'www', `/so/${encodeURIComponent('深海')}.html`).length).to.be.greaterThan(0);
    await waitFor('the baseline recorded', async () => (await knex()('pm_qidian_keyword_seen').where({ user_id: dave.userId })).length === 1, 20_000, 50);
    expect(await notificationsOf(dave.token, 'keyword_match')).to.deep.equal([]);

    // a new book matching the keyword appears on the site
    platform.sites.manifest.qidian.books.push({ id: '1099000002', name: '深海新书', chapters: 3, author: '新作者' });
    try {
      const now = await platform.call('POST', `/api/v1/workflows/${workflowId}/execute`, { token: dave.token });
      expect(now.status, now.text).to.equal(202);
      await waitFor('the keyword_match notification', async () => (await notificationsOf(dave.token, 'keyword_match')).length > 0, 90_000, 200);
      const [n] = await notificationsOf(dave.token, 'keyword_match');
      expect(n.data).to.include({ keyword: '深海', novelId: '1099000002', novelTitle: '深海新书', author: '新作者' });
      expect(n.title).to.contain('深海新书');
      // collected again: no second notification for the same book
      const again = await platform.call('POST', `/api/v1/workflows/${workflowId}/execute`, { token: dave.token });
      await waitFor(
        'the repeat run',
        async () => (await executionsOf(workflowId)).find((e) => e.id === again.body.data.execution_id)?.done === true,
        90_000,
        200,
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await notificationsOf(dave.token, 'keyword_match')).to.have.length(1);
    } finally {
      platform.sites.manifest.qidian.books.pop();
    }

    // unwatching: the watch list's next runs leave the keyword out
    expect((await platform.call('DELETE', `/api/v1/qidian/keywords/${watched.body.data.id}`, { token: dave.token })).status).to.equal(200);
  });

  it("novel_tracking_limit counts trackings and workflows' novels as one list, each novel once", async () => {
    const bob = await platform.signUp('bob');
    const novel = (n: number) => String(1_100_000_000 + n);
    for (let i = 1; i <= 9; i++) expect((await track(bob.token, novel(i))).status).to.equal(201);

    // one tracked + two new = 11 > 10 (free): refused, and nothing new tracked
    const over = await platform.call('POST', '/api/v1/workflows', {
      token: bob.token,
      body: { name: 'mine', type: 'qidian.novels', config: { novelIds: [novel(1), novel(21), novel(22)] } },
    });
    expect(over.status, over.text).to.equal(429);
    expect(over.body.error.details).to.include({ feature: 'novel_tracking_limit' });
    const { loadTracking } = await import('../../src/application/novel-trackings.js');
    // (the request tracked nothing it kept: a novel it tracked before the refusal was untracked again)
    expect((await loadTracking(platform.store, novelTrackingId(bob.userId, novel(21)))).state.status).to.not.equal('tracking');
    expect((await loadTracking(platform.store, novelTrackingId(bob.userId, novel(22)))).state.status).to.not.equal('tracking');

    // one tracked + one new = 10: the workflow is made, its new novel tracked
    const made = await platform.call('POST', '/api/v1/workflows', {
      token: bob.token,
      body: { name: 'mine', type: 'qidian.novels', config: { novelIds: [novel(1), novel(21)] } },
    });
    expect(made.status, made.text).to.equal(201);
    expect((await loadTracking(platform.store, novelTrackingId(bob.userId, novel(21)))).state.status).to.equal('tracking');
    const full = await track(bob.token, novel(30));
    expect(full.status, full.text).to.equal(429);
    // a workflow naming only tracked novels holds nothing more
    expect(
      (
        await platform.call('POST', '/api/v1/workflows', {
          token: bob.token,
          body: { name: 'again', type: 'qidian.novels', config: { novelIds: [novel(2), novel(21)] } },
        })
      ).status,
    ).to.equal(201);

    // untracking a novel a workflow names frees its unit; the workflow's runs leave it out
    const untracked = await platform.call('DELETE', `/api/v1/qidian/trackings/${novelTrackingId(bob.userId, novel(1))}`, { token: bob.token });
    expect(untracked.status, untracked.text).to.equal(200);
    expect((await track(bob.token, novel(30))).status).to.equal(201);
    const run = await platform.call('POST', `/api/v1/workflows/${made.body.data.id}/execute`, { token: bob.token });
    expect(run.status, run.text).to.equal(202);
    const requested = ofType(await platform.events(workflowExecutionStream(run.body.data.execution_id)), 'ExecutionRequested')[0]!;
    expect((requested.data as any).config).to.deep.equal({ novelIds: [novel(21)] });
    await waitFor(
      'the trackings in the read model',
      async () => {
        const list = await platform.call('GET', '/api/v1/qidian/trackings?per_page=50', { token: bob.token });
        return list.body?.data?.pagination?.total === 10;
      },
      20_000,
      100,
    );

    // the watch list of a user at their limit collects at most the limit, whatever else they name
    await waitFor('the watch list run', async () => (await executionsOf(watchlistWorkflowId(bob.userId))).length > 0, 30_000, 200);
    for (const e of await executionsOf(watchlistWorkflowId(bob.userId))) expect(e.config.novelIds.length).to.be.at.most(10);
  });

  it('alerts: on tracked novels only, one alert_notifications unit each, fired once per change', async () => {
    // results come through the workers' door here: the worker must not race them
    await worker?.stop({ timeoutMs: 2_000 });
    worker = undefined;
    const carol = await platform.signUp('carol');
    const NOVEL = '1099000001';
    const notTracked = await platform.call('POST', '/api/v1/qidian/alerts', { token: carol.token, body: { novel_id: NOVEL, kind: 'update' } });
    expect(notTracked.status, notTracked.text).to.equal(409);
    expect(notTracked.body.error.details).to.include({ reason: 'novel_not_tracked' });
    expect((await track(carol.token, NOVEL)).status).to.equal(201);
    expect(
      (await platform.call('POST', '/api/v1/qidian/alerts', { token: carol.token, body: { novel_id: NOVEL, kind: 'word_count_threshold' } })).status,
    ).to.equal(422);

    // free: one alert
    const firstAlert = await platform.call('POST', '/api/v1/qidian/alerts', { token: carol.token, body: { novel_id: NOVEL, kind: 'update' } });
    expect(firstAlert.status, firstAlert.text).to.equal(201);
    const second = await platform.call('POST', '/api/v1/qidian/alerts', { token: carol.token, body: { novel_id: NOVEL, kind: 'completion' } });
    expect(second.status, second.text).to.equal(429);
    expect(second.body.error.details).to.include({ feature: 'alert_notifications' });
    expect((await platform.call('DELETE', `/api/v1/qidian/alerts/${firstAlert.body.data.id}`, { token: carol.token })).status).to.equal(200);
    expect((await platform.call('GET', `/api/v1/qidian/alerts/${firstAlert.body.data.id}`, { token: carol.token })).status).to.equal(404);
    const update = await platform.call('POST', '/api/v1/qidian/alerts', { token: carol.token, body: { novel_id: NOVEL, kind: 'update' } });
    expect(update.status, update.text).to.equal(201);
    await changePlan(carol.userId, 'basic');
    const completion = await platform.call('POST', '/api/v1/qidian/alerts', { token: carol.token, body: { novel_id: NOVEL, kind: 'completion' } });
    expect(completion.status, completion.text).to.equal(201);
    const threshold = await platform.call('POST', '/api/v1/qidian/alerts', {
      token: carol.token,
      body: { novel_id: NOVEL, kind: 'word_count_threshold', words: 400_000 },
    });
    expect(threshold.status, threshold.text).to.equal(201);
    const changed = await platform.call('PUT', `/api/v1/qidian/alerts/${threshold.body.data.id}`, { token: carol.token, body: { words: 450_000 } });
    expect(changed.status, changed.text).to.equal(200);
    const listed = await platform.call('GET', `/api/v1/qidian/alerts?after_position=${changed.body.data.position}`, { token: carol.token });
    expect(listed.body.data.items.map((a: any) => [a.kind, a.words]).sort()).to.deep.equal(
      [
        ['completion', null],
        ['update', null],
        ['word_count_threshold', 450000],
      ].sort(),
    );
    // another user sees none of them
    const stranger = await platform.signUp('stranger');
    expect((await platform.call('GET', `/api/v1/qidian/alerts/${update.body.data.id}`, { token: stranger.token })).status).to.equal(404);
    expect((await platform.call('DELETE', `/api/v1/qidian/alerts/${update.body.data.id}`, { token: stranger.token })).status).to.equal(404);

    // snapshots collected by a run of a qidian.novels workflow, through the results door
    const wf = await platform.call('POST', '/api/v1/workflows', {
      token: carol.token,
      body: { name: 'alerts', type: 'qidian.novels', config: { novelIds: [NOVEL] } },
    });
    expect(wf.status, wf.text).to.equal(201);
    const t0 = Date.now() - 60_000;
    const snapshot = (minutes: number, chapters: number, wordCount: number, status: 'serializing' | 'completed') => ({
      novelId: NOVEL,
      title: '警报测试书',
      author: '作者',
      category: '玄幻',
      wordCount,
      chapters,
      status,
      stats: { clicks: null, recommendations: null, collections: null, monthlyTickets: null },
      capturedAt: new Date(t0 + minutes * 1000).toISOString(),
    });
    async function feed(item: ReturnType<typeof snapshot>): Promise<RecordedEvent> {
      const run = await platform.call('POST', `/api/v1/workflows/${wf.body.data.id}/execute`, { token: carol.token });
      expect(run.status, run.text).to.equal(202);
      const id = run.body.data.execution_id as string;
      const fed = await platform.call('POST', `/api/v1/workflows/executions/${id}/results`, {
        token: admin,
        body: { worker_id: 'test', batch_id: `b-${id}`, items: [item], done: true },
      });
      expect(fed.status, fed.text).to.equal(200);
      return ofType(await platform.events(workflowExecutionStream(id)), 'ItemsCollected')[0]!;
    }
    await feed(snapshot(1, 10, 300_000, 'serializing')); // the baseline
    await waitFor(
      'the baseline mark',
      async () => (await knex()('pm_qidian_novel_marks').where({ user_id: carol.userId, novel_id: NOVEL })).length === 1,
      20_000,
      50,
    );
    expect(await notificationsOf(carol.token, 'novel_alert')).to.deep.equal([]);

    const changeEvent = await feed(snapshot(2, 12, 460_000, 'completed'));
    await waitFor('three novel alerts', async () => (await notificationsOf(carol.token, 'novel_alert')).length === 3, 20_000, 100);
    const fired = await notificationsOf(carol.token, 'novel_alert');
    expect(fired.map((n) => n.data.trigger).sort()).to.deep.equal(['completion', 'update', 'word_count_threshold']);
    expect(fired.find((n) => n.data.trigger === 'update').data).to.include({ previousChapters: 10, chapters: 12, novelTitle: '警报测试书' });
    expect(fired.find((n) => n.data.trigger === 'word_count_threshold').data).to.include({ words: 450_000, wordCount: 460_000 });

    // the same figures again: nothing changed, nothing fires
    await feed(snapshot(3, 12, 460_000, 'completed'));
    await waitFor(
      'the mark moved on',
      async () => {
        const [m] = await knex()('pm_qidian_novel_marks').where({ user_id: carol.userId, novel_id: NOVEL });
        return new Date(m.captured_at).getTime() === t0 + 3000;
      },
      20_000,
      50,
    );
    expect(await notificationsOf(carol.token, 'novel_alert')).to.have.length(3);

    // a redelivery of the change (its mark put back as before it): the same notifications, nothing more
    await platform
      .knex('pm_qidian_novel_marks')
      .where({ user_id: carol.userId, novel_id: NOVEL })
      .update({ chapters: 10, word_count: 300_000, status: 'serializing', captured_at: new Date(t0 + 1000) });
    const pm = createQidianAlerts({ store: platform.store });
    expect(pm.name).to.equal(QIDIAN_ALERTS);
    await platform.knex.transaction((tx) => pm.handle([changeEvent], { tx, db: platform.knex }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await notificationsOf(carol.token, 'novel_alert')).to.have.length(3);

    // a deleted rule fires no more, and gives its unit back
    expect((await platform.call('DELETE', `/api/v1/qidian/alerts/${update.body.data.id}`, { token: carol.token })).status).to.equal(200);
    // a repeat answers as trackings and keywords do: nothing written; the alert stays gone
    const repeat = await platform.call('DELETE', `/api/v1/qidian/alerts/${update.body.data.id}`, { token: carol.token });
    expect(repeat.status, repeat.text).to.equal(200);
    expect(repeat.body.data.position).to.equal(null);
    expect((await platform.call('GET', `/api/v1/qidian/alerts/${update.body.data.id}`, { token: carol.token })).status).to.equal(404);
    expect((await platform.call('DELETE', `/api/v1/qidian/alerts/${update.body.data.id}`, { token: stranger.token })).status).to.equal(404);
  });
});
