import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { formatPosition } from '../../src/event-store/position.js';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import type { XiaohongshuNote } from '../../src/platforms/xiaohongshu/items.js';
import { subscriptionStream } from '../../src/write-model/subscription/decider.js';
import type { CollectedItem } from '../../src/write-model/workflow-execution/index.js';
import { collectedRun, noteItems, qidianEntry, qidianSnapshot, sampleNote } from '../support/collected.js';
import { joinOrganization, membershipsSettle, registerMember, type Member } from '../support/members.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait-for.js';
import { grantPlan } from '../support/plans.js';

const hex24 = () => randomBytes(12).toString('hex');

/**
 * Collected Xiaohongshu notes by data scope, over HTTP: in one
 * organization an analyst reads every member's notes (a note two members
 * collected shows once, with the latest counts) and their analytics, an
 * operator their team's, and a user outside the organization none of them;
 * a deletion removes only the caller's own copy.
 */
describe('collected data by data scope: an organization’s Xiaohongshu notes (e2e)', function () {
  this.timeout(90_000);
  let platform: Platform;
  let sink: SmtpSink;
  let worker: RunningWorker | undefined;
  let owner: Member;
  let north: Member;
  let south: Member;
  let analyst: Member;
  let outsider: Member;
  let lastPosition = '';
  const notes = { shared: hex24(), northOnly: hex24(), southOnly: hex24(), outsiders: hex24() };

  const call = (method: string, path: string, user: Member): Promise<Reply> => platform.call(method, `/api/v1${path}`, { token: user.token });

  const note = sampleNote;

  /** One execution of a Xiaohongshu workflow of `ownerId` that collected `notes` (as the worker reports them). */
  const collect = (ownerId: string, notes: XiaohongshuNote[]) => collectItems(ownerId, 'xiaohongshu', 'xiaohongshu.notes', noteItems(notes));

  async function collectItems(ownerId: string, site: 'xiaohongshu' | 'qidian', workflowType: string, items: CollectedItem[]): Promise<void> {
    lastPosition = formatPosition(await collectedRun(platform.store, { ownerId, site, workflowType, items }));
  }

  const listed = async (user: Member): Promise<{ id: string; likes: number }[]> => {
    const r = await call('GET', `/xiaohongshu/contents?after_position=${lastPosition}&per_page=100`, user);
    expect(r.status, r.text).to.equal(200);
    return r.body.data.items.map((i: { id: string; likes: number }) => ({ id: i.id, likes: i.likes }));
  };
  const ids = async (user: Member) => (await listed(user)).map((n) => n.id).sort();

  before(async () => {
    sink = await new SmtpSink().start();
    platform = await startPlatform({ proxies: 0, config: { SMTP_URL: sink.url, PUBLIC_WEB_URL: 'https://app.example.test' } });
    worker = await startWorker(platform.container, { workerName: `xhs-scope-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    [owner, north, south, analyst, outsider] = (await Promise.all(
      ['owner', 'north', 'south', 'analyst', 'outsider'].map((name) => registerMember(platform, name)),
    )) as [Member, Member, Member, Member, Member];
    const founded = await platform.call('POST', '/api/v1/organizations', { token: owner.token, body: { name: 'Collectors' } });
    expect(founded.status, founded.text).to.equal(201);
    const organizationId = founded.body.data.id as string;
    await Promise.all([
      joinOrganization(platform, sink, { organizationId, inviter: owner, user: north, roles: ['operator'], team: 'north' }),
      joinOrganization(platform, sink, { organizationId, inviter: owner, user: south, roles: ['operator'], team: 'south' }),
      joinOrganization(platform, sink, { organizationId, inviter: owner, user: analyst, roles: ['analyst'] }),
    ]);
    await membershipsSettle();
    // the organization on a plan with the analytics (its free plan starts a moment after the founding)
    for (const service of ['xiaohongshu', 'qidian'] as const) {
      await waitFor(
        `the organization’s ${service} plan`,
        async () => (await platform.events(subscriptionStream(organizationId, service))).length > 0,
        20_000,
        100,
      );
      await grantPlan(platform.store, organizationId, service, 'enterprise');
    }
    // the shared note: south collected it first, north later with more likes
    await collect(south.userId, [note(notes.shared, '静安咖啡馆', 10), note(notes.southOnly, '徐汇面包店', 3)]);
    await collect(north.userId, [note(notes.shared, '静安咖啡馆', 25), note(notes.northOnly, '杨浦书店', 7)]);
    await collect(outsider.userId, [note(notes.outsiders, '外人的笔记', 99)]);
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sink?.stop();
  });

  it('an analyst reads every member’s notes, a note two collected once with its latest counts; the analytics count it once', async () => {
    const all = await listed(analyst);
    expect(all.map((n) => n.id).sort()).to.deep.equal([notes.shared, notes.northOnly, notes.southOnly].sort());
    expect(all.find((n) => n.id === notes.shared)!.likes).to.equal(25);
    const detail = await call('GET', `/xiaohongshu/contents/${notes.shared}`, analyst);
    expect(detail.status, detail.text).to.equal(200);
    // both members' collections are its history
    expect(detail.body.data.history.map((h: { likes: number }) => h.likes).sort((a: number, b: number) => a - b)).to.deep.equal([10, 25]);
    expect((await call('GET', `/xiaohongshu/contents/${notes.outsiders}`, analyst)).status).to.equal(404);
    // the organization's plan has the analytics: they count the shared note once
    const overview = await call('GET', '/xiaohongshu/analytics/overview', analyst);
    expect(overview.status, overview.text).to.equal(200);
    expect(overview.body.data.totals).to.include({ notes: 3, likes: 25 + 3 + 7 });
    const trends = await call('GET', '/xiaohongshu/analytics/trends?days=7', analyst);
    expect(trends.status, trends.text).to.equal(200);
    const series = trends.body.data.series as { notes_collected: number; new_notes: number }[];
    expect(series.reduce((n, d) => n + d.new_notes, 0)).to.equal(3);
    expect(series.at(-1)!.notes_collected).to.equal(3);
  });

  it('an operator reads their team’s notes and their own; outside the organization nothing of it is there', async () => {
    expect(await ids(north)).to.deep.equal([notes.shared, notes.northOnly].sort());
    expect(await ids(south)).to.deep.equal([notes.shared, notes.southOnly].sort());
    expect(await ids(outsider)).to.deep.equal([notes.outsiders]);
    expect((await call('GET', `/xiaohongshu/contents/${notes.northOnly}`, outsider)).status).to.equal(404);
    expect((await call('GET', `/xiaohongshu/contents/${notes.northOnly}`, south)).status).to.equal(404);
  });

  it('Qidian: a novel’s captures and a board’s day reach the analyst from every member, one per capture and rank; the outsider sees none', async () => {
    const novel = String(1_000_000_000 + Math.floor(Math.random() * 1_000_000));
    const earlier = new Date(Date.now() - 3_600_000).toISOString();
    const later = new Date(Date.now() - 60_000).toISOString();
    await collectItems(north.userId, 'qidian', 'qidian.novels', [qidianSnapshot(novel, earlier, 4_400_000, 1400, 1_100_000, 5000)]);
    await collectItems(south.userId, 'qidian', 'qidian.novels', [qidianSnapshot(novel, later, 4_460_000, 1400, 1_100_000, 5000)]);
    // the same board captured by both on the same day: one entry per rank, the later capture's
    await collectItems(north.userId, 'qidian', 'qidian.rankings', [
      qidianEntry('热销榜', 1, novel, '书1', '作者', earlier),
      qidianEntry('热销榜', 2, '1000000002', '书2', '作者', earlier),
    ]);
    await collectItems(south.userId, 'qidian', 'qidian.rankings', [
      qidianEntry('热销榜', 1, '1000000003', '书1', '作者', later),
      qidianEntry('热销榜', 2, novel, '书2', '作者', later),
    ]);

    const data = await call('GET', `/qidian/novels/${novel}/data?after_position=${lastPosition}`, analyst);
    expect(data.status, data.text).to.equal(200);
    expect(data.body.data.items.map((x: { word_count: number }) => x.word_count)).to.deep.equal([4_460_000, 4_400_000]);
    expect(data.body.data.latest.word_count).to.equal(4_460_000);
    // a member reads their team's (their own here); the outsider nothing
    const northData = await call('GET', `/qidian/novels/${novel}/data`, north);
    expect(northData.body.data.items.map((x: { word_count: number }) => x.word_count)).to.deep.equal([4_400_000]);
    expect((await call('GET', `/qidian/novels/${novel}/data`, outsider)).status).to.equal(404);

    const board = await call('GET', `/qidian/rankings/${encodeURIComponent('热销榜')}`, analyst);
    expect(board.status, board.text).to.equal(200);
    expect(board.body.data.items.map((e: { rank: number; novel_id: string }) => [e.rank, e.novel_id])).to.deep.equal([
      [1, '1000000003'],
      [2, novel],
    ]);
    expect(board.body.data.pagination.total).to.equal(2);

    // trackings are members' resources: the analyst lists north's, south (another team) does not see it
    const tracked = await platform.call('POST', '/api/v1/qidian/trackings', { token: north.token, body: { novel_id: novel } });
    expect(tracked.status, tracked.text).to.equal(201);
    const trackings = async (user: Member) =>
      (await call('GET', `/qidian/trackings?after_position=${tracked.body.data.position}`, user)).body.data.items.map(
        (t: { owner_id: string; novel_id: string }) => `${t.owner_id}:${t.novel_id}`,
      );
    expect(await trackings(analyst)).to.deep.equal([`${north.userId}:${novel}`]);
    expect(await trackings(south)).to.deep.equal([]);
    expect(await trackings(outsider)).to.deep.equal([]);

    // the analytics over every member's captures: the book once, the board's day one entry per rank
    const author = await call('GET', `/qidian/analytics/author/${encodeURIComponent('爱潜水的乌贼')}?days=2`, analyst);
    expect(author.status, author.text).to.equal(200);
    expect(author.body.data.totals).to.include({ books: 1, total_words: 4_460_000, word_growth: 60_000 });
    const northsAuthor = await call('GET', `/qidian/analytics/author/${encodeURIComponent('爱潜水的乌贼')}?days=2`, north);
    expect(northsAuthor.body.data.totals).to.include({ books: 1, total_words: 4_400_000, word_growth: 0 });
    expect((await call('GET', `/qidian/analytics/author/${encodeURIComponent('爱潜水的乌贼')}?days=2`, outsider)).status).to.be.oneOf([403, 404]);
    const market = await call('GET', `/qidian/analytics/market?days=2&board=${encodeURIComponent('热销榜')}`, analyst);
    expect(market.status, market.text).to.equal(200);
    expect(market.body.data.boards[0]).to.include({ ranking: '热销榜', entries_end: 2 });
    const peers = await call('GET', `/qidian/analytics/competitors/${novel}?days=2`, analyst);
    expect(peers.status, peers.text).to.equal(200);
    expect(peers.body.data.novel).to.include({ novel_id: novel, title: '诡秘之主' });
    expect((await call('GET', `/qidian/analytics/competitors/${novel}?days=2`, outsider)).status).to.be.oneOf([403, 404]);

    // alert rules: the analyst lists north's, south does not see it, and only north changes it
    const alert = await platform.call('POST', '/api/v1/qidian/alerts', { token: north.token, body: { novel_id: novel, kind: 'update' } });
    expect(alert.status, alert.text).to.equal(201);
    const alerts = async (user: Member) =>
      (await call('GET', `/qidian/alerts?after_position=${alert.body.data.position}`, user)).body.data.items.map(
        (a: { id: string; owner_id: string }) => `${a.owner_id}:${a.id}`,
      );
    expect(await alerts(analyst)).to.deep.equal([`${north.userId}:${alert.body.data.id}`]);
    expect(await alerts(south)).to.deep.equal([]);
    expect((await call('GET', `/qidian/alerts/${alert.body.data.id}`, analyst)).body.data.owner_id).to.equal(north.userId);
    expect((await call('DELETE', `/qidian/alerts/${alert.body.data.id}`, owner)).status).to.equal(404);
  });

  it('a deletion takes the caller’s own copy only: another member’s stays, and reaches the analyst', async () => {
    // the owner reads the member's note (organization scope) but has no copy of their own to delete
    expect((await call('GET', `/xiaohongshu/contents/${notes.northOnly}`, owner)).status).to.equal(200);
    expect((await call('DELETE', `/xiaohongshu/contents/${notes.northOnly}`, owner)).status).to.equal(404);
    // the analyst may not delete at all
    const refused = await call('DELETE', `/xiaohongshu/contents/${notes.shared}`, analyst);
    expect(refused.status, refused.text).to.equal(403);
    // north deletes their copy of the shared note: south's copy is what the others see now
    const deleted = await call('DELETE', `/xiaohongshu/contents/${notes.shared}`, north);
    expect(deleted.status, deleted.text).to.equal(200);
    lastPosition = deleted.body.data.position;
    expect(await ids(north)).to.deep.equal([notes.northOnly]);
    const shared = (await listed(analyst)).find((n) => n.id === notes.shared);
    expect(shared?.likes).to.equal(10);
  });
});
