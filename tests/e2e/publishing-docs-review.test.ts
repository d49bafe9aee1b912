import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';
import { startOpenPlatformSandbox, type OpenPlatformSandbox } from '../../sandbox/open-platform/server.js';
import type { OpenPlatformId } from '../../src/platforms/open-platform/platforms.js';
import { formatPosition } from '../../src/event-store/position.js';
import { TOKENS } from '../../src/tokens.js';
import { articleAggregate } from '../../src/write-model/article/decider.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { mediaAggregate } from '../../src/write-model/media/decider.js';
import { consent } from '../support/open-platform-consent.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { grantPlan } from '../support/plans.js';
import { signedIn } from '../support/signed-in.js';
import { waitFor } from '../support/wait-for.js';

/** What the open platforms have registered as our redirect URIs (the test plays the browser). */
const PUBLIC_BASE = 'http://collector-api.test';
const RETURN_URL = 'https://app.collector.test/accounts/bound';

/** A PNG whose header says w×h (one tiny IDAT: image readers look at the header only). */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'latin1'), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(2))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A GIF's header: signature, logical screen w×h, no colour table, trailer. */
function gif(width: number, height: number): Buffer {
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(width, 0);
  screen.writeUInt16LE(height, 2);
  return Buffer.concat([Buffer.from('GIF89a', 'latin1'), screen, Buffer.from([0x3b])]);
}

/** A WebP (VP8X, the extended format) whose canvas is w×h. */
function webp(width: number, height: number): Buffer {
  const bytes = Buffer.alloc(30);
  bytes.write('RIFF', 0, 'latin1');
  bytes.writeUInt32LE(22, 4);
  bytes.write('WEBPVP8X', 8, 'latin1');
  bytes.writeUInt32LE(10, 16);
  bytes.writeUIntLE(width - 1, 24, 3);
  bytes.writeUIntLE(height - 1, 27, 3);
  return bytes;
}

type User = { userId: string; token: string };

/**
 * docs/publishing.md read by a new user, claim by claim, against the running
 * platform (the API, every projection and process manager, the deadline
 * sweeper; no worker, so nothing is posted) and the open platform sandbox
 * accounts are bound to through OAuth: images and their headers, the
 * articles' limits, the publish request's targets, times, quota and
 * Idempotency-Key, cancelling through a human review, the review rules'
 * limits and regions, a claim's expiry, and the OAuth callback's refusals.
 */
describe('publishing as documented: a new user review (e2e)', function () {
  this.timeout(60_000);
  let sandbox: OpenPlatformSandbox;
  let platform: Platform;
  let admin: string;

  before(async () => {
    sandbox = await startOpenPlatformSandbox({ redirectBaseUrl: PUBLIC_BASE });
    platform = await startPlatform({ proxies: 0, config: { ...sandbox.env() } });
    admin = await platform.adminToken();
    // the platform's rule the flagged articles below meet (as 加V信, 加v信: matched case-insensitively)
    const rule = await api('POST', '/review-rules', admin, { body: { scope: 'platform', kind: 'banned_phrase', name: '引流', phrases: ['加V信'] } });
    expect(rule.status, rule.text).to.equal(201);
  });
  after(async () => {
    await platform?.stop();
    await sandbox?.close();
  });

  const api = (
    method: string,
    path: string,
    token: string | undefined,
    options: { body?: unknown; ifMatch?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply> => platform.call(method, `/api/v1${path}`, { ...(token ? { token } : {}), ...options });
  const issuePaths = (reply: Reply): string[] => reply.body.error.details.issues.map((i: { path: (string | number)[] }) => i.path.join('.'));
  const upload = (user: User, bytes: Buffer, type: string, headers: Record<string, string> = {}) =>
    platform.call('POST', '/api/v1/media', { token: user.token, raw: bytes, type, headers });
  const later = (ms = 3_600_000) => new Date(Date.now() + ms).toISOString();

  /** Binds the sandbox user `login` on platform `p` for `user`: authorize, consent, callback. */
  async function bind(user: User, p: OpenPlatformId, login = 'alice'): Promise<string> {
    const start = await platform.call('GET', `/api/v1/platform-accounts/oauth/${p}/authorize`, { token: user.token, redirect: 'manual' });
    expect(start.status, start.text).to.equal(302);
    const back = await consent(start.headers.get('location')!, { user: login });
    const bound = await platform.call('GET', `${back.pathname}${back.search}`);
    expect(bound.status, bound.text).to.equal(200);
    return bound.body.data.account.id as string;
  }

  async function article(user: User, content: Record<string, unknown> = {}): Promise<string> {
    const created = await api('POST', '/articles', user.token, { body: { title: '周末露营', body: '帐篷、睡袋、炉头。', ...content } });
    expect(created.status, created.text).to.equal(201);
    return created.body.data.id as string;
  }

  const publish = (user: User, articleId: string, body: unknown, headers: Record<string, string> = {}) =>
    api('POST', `/articles/${articleId}/publish`, user.token, { body, headers });

  /** The publication once `ok` holds for it (the projector moves it on). */
  async function until(user: User, id: string, ok: (p: any) => boolean, what: string): Promise<any> {
    let shown: any;
    await waitFor(
      `publication ${id} ${what}`,
      async () => {
        shown = (await api('GET', `/publications/${id}`, user.token)).body?.data;
        return shown !== undefined && ok(shown);
      },
      15_000,
      50,
    );
    return shown;
  }

  describe('media', () => {
    it('reads width and height from GIF and WebP headers too; a header claiming more pixels than any image has gives null, and the upload lists', async () => {
      const alice = await platform.signUp('media');
      const gifUp = await upload(alice, gif(320, 200), 'image/gif');
      expect(gifUp.status, gifUp.text).to.equal(201);
      expect(gifUp.body.data).to.include({ content_type: 'image/gif', width: 320, height: 200 });
      const webpUp = await upload(alice, webp(1080, 1440), 'image/webp');
      expect(webpUp.status, webpUp.text).to.equal(201);
      expect(webpUp.body.data).to.include({ content_type: 'image/webp', width: 1080, height: 1440 });
      // a header cut short says nothing: null, not a refusal, and never what lies in memory past the upload
      const cuts = await Promise.all(Array.from({ length: 40 }, () => upload(alice, Buffer.from('GIF89a', 'latin1'), 'image/gif')));
      expect(cuts.map((c) => c.status)).to.deep.equal(cuts.map(() => 201));
      expect(cuts.map((c) => [c.body.data.width, c.body.data.height])).to.deep.equal(cuts.map(() => [null, null]));

      // PNG allows at most 2^31 - 1 pixels a side: a header saying 3,000,000,000 does not say a size
      const huge = await upload(alice, png(3_000_000_000, 1), 'image/png');
      expect(huge.status, huge.text).to.equal(201);
      expect(huge.body.data).to.include({ width: null, height: 1 });
      const listed = await api('GET', `/media?per_page=100&after_position=${huge.body.data.position}`, alice.token);
      expect(listed.status, listed.text).to.equal(200);
      expect(listed.headers.get('x-projection-lag')).to.equal(null);
      const rows = listed.body.data.items.map((m: any) => [m.id, m.width, m.height]);
      expect(rows[0]).to.deep.equal([huge.body.data.id, null, 1]);
      expect(rows.slice(1)).to.have.deep.members([
        ...cuts.map((c) => [c.body.data.id, null, null]),
        [webpUp.body.data.id, 1080, 1440],
        [gifUp.body.data.id, 320, 200],
      ]);
      // and an upload recorded with such a size before the check (events stay as written) lists with its size unknown
      const recorded = randomUUID();
      const earlier = await handle(
        platform.store,
        mediaAggregate,
        recorded,
        {
          type: 'RecordMediaUpload',
          mediaId: recorded,
          ownerId: alice.userId,
          contentType: 'image/png',
          sizeBytes: 67,
          sha256: 'a'.repeat(64),
          storageKey: `media/${recorded.slice(0, 2)}/${recorded}`,
          width: 4_294_967_295,
          height: 3_000_000_000,
          now: new Date().toISOString(),
        },
        { context: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' } },
      );
      const relisted = await api('GET', `/media?per_page=1&after_position=${formatPosition(earlier.position!)}`, alice.token);
      expect(relisted.headers.get('x-projection-lag')).to.equal(null);
      expect(relisted.body.data.items.map((m: any) => [m.id, m.width, m.height])).to.deep.equal([[recorded, null, null]]);
      // nothing of it was parked by the read model
      const parked = await api('GET', '/admin/dead-letters?consumer=articles-v1', admin);
      expect(parked.status, parked.text).to.equal(200);
      expect(parked.body.data).to.deep.equal([]);
    });

    it("a reviewer reads anyone's image; an upload repeated under one Idempotency-Key is another upload", async () => {
      const author = await platform.signUp('uploader');
      const reviewer = await signedIn(
        { store: platform.store, passwordHasher: platform.container.get(TOKENS.PasswordHasher), accessTokens: platform.container.get(TOKENS.AccessTokens) },
        'reviewer',
      );
      const stranger = await platform.signUp('stranger');
      const first = await upload(author, png(4, 4), 'image/png', { 'Idempotency-Key': 'cover-upload' });
      const again = await upload(author, png(4, 4), 'image/png', { 'Idempotency-Key': 'cover-upload' });
      expect([first.status, again.status]).to.deep.equal([201, 201]);
      expect(again.body.data.id).to.not.equal(first.body.data.id);
      expect(again.body.data.sha256).to.equal(first.body.data.sha256);

      const byReviewer = await api('GET', `/media/${first.body.data.id}`, reviewer.token);
      expect(byReviewer.status, byReviewer.text).to.equal(200);
      expect(byReviewer.headers.get('content-type')).to.equal('image/png');
      expect(byReviewer.headers.get('etag')).to.equal(`"${first.body.data.sha256}"`);
      // several tags in If-None-Match: one of them matching is enough
      const notModified = await api('GET', `/media/${first.body.data.id}`, author.token, {
        headers: { 'If-None-Match': `"nope", "${first.body.data.sha256}"` },
      });
      expect(notModified.status).to.equal(304);
      expect((await api('GET', `/media/${first.body.data.id}`, stranger.token)).status).to.equal(404);
      // the reviewer may look, not delete
      expect((await api('DELETE', `/media/${first.body.data.id}`, reviewer.token)).status).to.equal(404);
    });
  });

  describe('articles', () => {
    it('takes every limit at its edge and refuses one past it, naming the field; duplicate images are refused', async () => {
      const alice = await platform.signUp('limits');
      const images: string[] = [];
      for (let i = 0; i < 19; i++) {
        const up = await upload(alice, png(1, i + 1), 'image/png');
        expect(up.status, up.text).to.equal(201);
        images.push(up.body.data.id);
      }
      const atEdge = {
        title: ` ${'题'.repeat(200)} `,
        body: 'b'.repeat(100_000),
        summary: 's'.repeat(500),
        tags: Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, '0')}${'t'.repeat(28)}`),
        image_media_ids: images.slice(0, 18),
      };
      const created = await api('POST', '/articles', alice.token, { body: atEdge });
      expect(created.status, created.text).to.equal(201);
      const shown = await api('GET', `/articles/${created.body.data.id}?after_position=${created.body.data.position}`, alice.token);
      expect(shown.body.data.title).to.equal('题'.repeat(200));
      expect(shown.body.data.image_count).to.equal(18);

      // lengths count characters (code points), as the document's maxLength: an emoji is one
      const emoji = await api('POST', '/articles', alice.token, { body: { ...atEdge, title: '😀'.repeat(200) } });
      expect(emoji.status, emoji.text.slice(0, 300)).to.equal(201);

      const past: [Record<string, unknown>, string][] = [
        [{ title: '题'.repeat(201) }, 'title'],
        [{ title: '😀'.repeat(201) }, 'title'],
        [{ body: 'b'.repeat(100_001) }, 'body'],
        [{ summary: 's'.repeat(501) }, 'summary'],
        [{ tags: ['t'.repeat(31)] }, 'tags.0'],
        [{ tags: [...atEdge.tags, 'one more'] }, 'tags'],
        [{ image_media_ids: images }, 'image_media_ids'],
        [{ image_media_ids: [images[0], images[1], images[0]] }, 'image_media_ids'],
      ];
      for (const [change, path] of past) {
        const refused = await api('POST', '/articles', alice.token, { body: { ...atEdge, ...change } });
        expect(refused.status, `${path}: ${refused.text.slice(0, 300)}`).to.equal(422);
        expect(refused.body.error.code).to.equal('VALIDATION_ERROR');
        expect(issuePaths(refused), path).to.include(path);
      }
    });

    it('keeps at most 500 versions: revisions racing at the limit write exactly the versions left, the others are 409 version_limit', async () => {
      const alice = await platform.signUp('versions');
      const id = await article(alice, { title: 'v1' });
      // versions 2-497 as the route writes them (ReviseArticle), without 496 round trips
      const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: alice.userId };
      for (let v = 2; v <= 497; v++) {
        const content = { title: `v${v}`, body: '', summary: null, tags: [], coverMediaId: null, imageMediaIds: [] };
        await handle(
          platform.store,
          articleAggregate,
          id,
          { type: 'ReviseArticle', articleId: id, requestedBy: alice.userId, ...content, now: new Date().toISOString() },
          { context },
        );
      }
      const racing = await Promise.all(
        Array.from({ length: 6 }, (_, i) => api('PUT', `/articles/${id}`, alice.token, { body: { title: `racer ${i}`, body: '' } })),
      );
      expect(
        racing.filter((r) => r.status === 200),
        racing.map((r) => r.text.slice(0, 200)).join('\n'),
      ).to.have.length(3);
      for (const r of racing.filter((x) => x.status !== 200)) {
        expect(r.status, r.text).to.equal(409);
        expect(r.body.error.details).to.include({ reason: 'version_limit' });
      }
      let newest: any;
      await waitFor('the 500th version listed', async () => {
        newest = (await api('GET', `/articles/${id}/versions?per_page=1`, alice.token)).body.data;
        return newest.pagination.total === 500;
      });
      expect(newest.items[0].version).to.equal(500);
    });
  });

  describe('POST /articles/{id}/publish and the publications', () => {
    it('refuses a target no publisher serves (422 under account_ids.{i}) and more than 20 targets, writing nothing', async () => {
      const alice = await platform.signUp('targets');
      const baidu = await bind(alice, 'baidu');
      const qidian = await api('POST', '/platform-accounts', alice.token, { body: { platform: 'qidian', credentials: {}, display_name: '起点号' } });
      expect(qidian.status, qidian.text).to.equal(201);
      const id = await article(alice);
      const refused = await publish(alice, id, { account_ids: [baidu, qidian.body.data.id] });
      expect(refused.status, refused.text).to.equal(422);
      expect(issuePaths(refused)).to.deep.equal(['account_ids.1']);
      const tooMany = await publish(alice, id, { account_ids: [baidu, ...Array.from({ length: 20 }, () => randomUUID())] });
      expect(tooMany.status, tooMany.text).to.equal(422);
      expect(issuePaths(tooMany)).to.deep.equal(['account_ids']);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await api('GET', '/publications', alice.token)).body.data.pagination.total).to.equal(0);
    });

    it('`at` at the edges: years 0001 and 9999, an impossible date and a time without a zone are 422; 89 days ahead schedules; a near one comes due and is pre-reviewed', async () => {
      const alice = await platform.signUp('at');
      const baidu = await bind(alice, 'baidu');
      const id = await article(alice);
      for (const at of [
        '0001-01-01T00:00:00Z',
        '9999-12-31T23:59:59Z',
        '2027-02-29T08:00:00+08:00',
        '2030-06-01T08:00:00',
        new Date(Date.now() - 1000).toISOString(),
      ]) {
        const r = await publish(alice, id, { account_ids: [baidu], at });
        expect(r.status, `${at}: ${r.text}`).to.equal(422);
        expect(issuePaths(r), at).to.deep.equal(['at']);
      }
      // a zone other than UTC is the same instant
      const far = new Date(Date.now() + 89 * 86_400_000);
      far.setUTCMilliseconds(0);
      const shifted = new Date(far.getTime() + 8 * 3_600_000).toISOString().replace('.000Z', '+08:00');
      const scheduled = await publish(alice, id, { account_ids: [baidu], at: shifted });
      expect(scheduled.status, scheduled.text).to.equal(202);
      expect(scheduled.body.data.publications[0]).to.include({ status: 'scheduled', scheduled_at: far.toISOString() });

      const soon = await publish(alice, id, { account_ids: [baidu], at: later(1_000), region: 'cn' });
      expect(soon.status, soon.text).to.equal(202);
      // what is reviewed and posted is the version as it was when asked: a revision (one the rules would flag), even
      // the article's deletion, before it comes due changes nothing of it
      const revised = await api('PUT', `/articles/${id}`, alice.token, { body: { title: '新标题：加V信', body: '' } });
      expect(revised.status, revised.text).to.equal(200);
      expect((await api('DELETE', `/articles/${id}`, alice.token)).status).to.equal(200);
      const due = await until(alice, soon.body.data.publications[0].id, (p) => p.status === 'queued', 'queued once due');
      expect(due).to.include({ title: '周末露营', article_version: 1 });
      expect(due.review).to.deep.equal({ pre_review: 'passed', hits: 0, review_id: null, status: null });
      expect(due.history.map((h: any) => [h.event, h.status])).to.deep.equal([
        ['PublicationRequested', 'scheduled'],
        ['PublicationDue', 'pending_review'],
        ['PreReviewPassed', 'pending_review'],
        ['PublicationQueued', 'queued'],
      ]);
      expect((await api('GET', `/publications/${scheduled.body.data.publications[0].id}`, alice.token)).body.data.status).to.equal('scheduled');
      // queued, it may still be cancelled (the job then posts nothing)
      const cancelled = await api('POST', `/publications/${due.id}/cancel`, alice.token);
      expect(cancelled.status, cancelled.text).to.equal(200);
      expect(cancelled.body.data).to.include({ status: 'cancelled' });
    });

    it('daily_publications: all or none, never passed by requests at once; a refusal says when it resets and tells the owner once', async () => {
      const dave = await platform.signUp('quota');
      const baidu = await bind(dave, 'baidu');
      const sohu = await bind(dave, 'sohu');
      const id = await article(dave);
      for (let i = 0; i < 4; i++) expect((await publish(dave, id, { account_ids: [baidu], at: later() })).status).to.equal(202);
      // two targets with one left: neither
      const both = await publish(dave, id, { account_ids: [baidu, sohu], at: later() });
      expect(both.status, both.text).to.equal(429);
      expect(both.body.error.code).to.equal('QUOTA_EXCEEDED');
      expect(both.body.error.details).to.include({ feature: 'daily_publications', limit: 5 });
      expect(Date.parse(both.body.error.details.resets_at)).to.be.greaterThan(Date.now());
      expect(Number(both.headers.get('retry-after'))).to.be.within(1, 86_400);
      // the last one, asked for six times at once: one gets it
      const racing = await Promise.all(Array.from({ length: 6 }, () => publish(dave, id, { account_ids: [sohu], at: later() })));
      expect(racing.map((r) => r.status).sort()).to.deep.equal([202, 429, 429, 429, 429, 429]);
      await waitFor('the five publications listed', async () => (await api('GET', '/publications', dave.token)).body.data.pagination.total >= 5);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const five = (await api('GET', '/publications', dave.token)).body.data;
      expect(five.pagination.total).to.equal(5);
      // a cancelled one is not given back
      expect((await api('POST', `/publications/${five.items[0].id}/cancel`, dave.token)).status).to.equal(200);
      expect((await publish(dave, id, { account_ids: [baidu], at: later() })).status).to.equal(429);
      // QuotaExceeded once a day: one quota_exceeded notification for all these refusals
      const told = async () =>
        ((await api('GET', '/notifications?per_page=100', dave.token)).body?.data?.items ?? []).filter((n: any) => n.kind === 'quota_exceeded');
      await waitFor('the quota_exceeded notification', async () => (await told()).length > 0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await told()).to.have.length(1);
    });

    it('honours Idempotency-Key: the repeat answers the same publications and counts nothing more', async () => {
      const erin = await platform.signUp('idempotent');
      const baidu = await bind(erin, 'baidu');
      const id = await article(erin);
      const at = later();
      const key = { 'Idempotency-Key': `publish-${id}` };
      const first = await publish(erin, id, { account_ids: [baidu], at }, key);
      const again = await publish(erin, id, { account_ids: [baidu], at }, key);
      expect([first.status, again.status]).to.deep.equal([202, 202]);
      expect(again.body.data).to.deep.equal(first.body.data);
      // four more fit the free plan's five: the repeat was not counted
      for (let i = 0; i < 4; i++) expect((await publish(erin, id, { account_ids: [baidu], at })).status).to.equal(202);
      expect((await publish(erin, id, { account_ids: [baidu], at })).status).to.equal(429);
    });

    it('a flagged publication waits for a human review; cancelled there, the review is withdrawn and nobody decides it', async () => {
      const frank = await platform.signUp('flagged');
      const other = await platform.signUp('other');
      const baidu = await bind(frank, 'baidu');
      const id = await article(frank, { title: '露营攻略', body: '想要清单的加v信' });
      const r = await publish(frank, id, { account_ids: [baidu] });
      expect(r.status, r.text).to.equal(202);
      const pid = r.body.data.publications[0].id as string;
      const waiting = await until(frank, pid, (p) => p.status === 'in_review', 'in review');
      expect(waiting.review).to.include({ pre_review: 'flagged', hits: 1, status: 'pending' });
      const reviewId = waiting.review.review_id as string;
      expect((await api('GET', `/publications/${pid}`, other.token)).status).to.equal(404);
      expect((await api('POST', `/publications/${pid}/cancel`, other.token)).status).to.equal(404);

      const cancelled = await api('POST', `/publications/${pid}/cancel`, frank.token);
      expect(cancelled.status, cancelled.text).to.equal(200);
      expect(cancelled.body.data).to.include({ id: pid, status: 'cancelled' });
      const after = await until(frank, pid, (p) => p.review.status === 'withdrawn', 'its review withdrawn');
      expect(after.status).to.equal('cancelled');
      const review = await api('GET', `/reviews/${reviewId}`, admin);
      expect(review.body.data.status).to.equal('withdrawn');
      for (const action of ['claim', 'approve']) {
        const refused = await api('POST', `/reviews/${reviewId}/${action}`, admin, { body: {} });
        expect(refused.status, refused.text).to.equal(409);
        expect(refused.body.error.details).to.include({ reason: 'withdrawn' });
      }
      const withdrawn = await api('GET', '/reviews?status=withdrawn', admin);
      expect(withdrawn.body.data.items.map((x: any) => x.id)).to.include(reviewId);
      expect((await api('GET', '/reviews?mine=true', frank.token)).body.data.items.map((x: any) => [x.id, x.status])).to.deep.equal([[reviewId, 'withdrawn']]);
    });

    it('a rejected review fails the publication review_rejected with the reviewer’s reason; cancelling it then is 409 ended', async () => {
      const grace = await platform.signUp('rejected');
      const sohu = await bind(grace, 'sohu');
      const id = await article(grace, { title: '加V信领清单', body: '正文' });
      const r = await publish(grace, id, { account_ids: [sohu] });
      const pid = r.body.data.publications[0].id as string;
      const waiting = await until(grace, pid, (p) => p.status === 'in_review', 'in review');
      const reviewId = waiting.review.review_id as string;
      expect((await api('POST', `/reviews/${reviewId}/claim`, admin)).status).to.equal(200);
      const rejected = await api('POST', `/reviews/${reviewId}/reject`, admin, { body: { comment: '含引流联系方式' } });
      expect(rejected.status, rejected.text).to.equal(200);
      const failed = await until(grace, pid, (p) => p.status === 'failed', 'failed');
      expect(failed.failure.code).to.equal('review_rejected');
      expect(failed.failure.reason).to.contain('含引流联系方式');
      expect(failed.review.status).to.equal('rejected');
      const cancel = await api('POST', `/publications/${pid}/cancel`, grace.token);
      expect(cancel.status, cancel.text).to.equal(409);
      expect(cancel.body.error.details).to.include({ reason: 'ended' });
      const unpublish = await api('POST', `/publications/${pid}/unpublish`, grace.token);
      expect(unpublish.status, unpublish.text).to.equal(409);
      expect(unpublish.body.error.details).to.include({ reason: 'not_published' });
    });

    it('the list pages and filters with AND; bad filters are 422', async () => {
      const hank = await platform.signUp('lists');
      const baidu = await bind(hank, 'baidu');
      const sohu = await bind(hank, 'sohu');
      const one = await article(hank, { title: '一' });
      const two = await article(hank, { title: '二' });
      const a = await publish(hank, one, { account_ids: [baidu, sohu], at: later() });
      const b = await publish(hank, two, { account_ids: [baidu], at: later() });
      expect([a.status, b.status]).to.deep.equal([202, 202]);
      const cancelled = await api('POST', `/publications/${a.body.data.publications[1].id}/cancel`, hank.token);
      const list = async (query: string) => {
        const r = await api('GET', `/publications?${query}&after_position=${cancelled.body.data.position}`, hank.token);
        expect(r.status, r.text).to.equal(200);
        return r.body.data;
      };
      const ids = async (query: string) => (await list(query)).items.map((p: any) => p.id);
      const [pa1, pa2] = a.body.data.publications.map((p: any) => p.id);
      const pb = b.body.data.publications[0].id;
      // newest first (the publications of one request were asked at the same time)
      const all = await ids('');
      expect(all[0]).to.equal(pb);
      expect(all.slice(1)).to.have.members([pa1, pa2]);
      expect(await ids(`article_id=${one}&platform=baidu`)).to.deep.equal([pa1]);
      expect(await ids(`account_id=${baidu}&status=scheduled`)).to.deep.equal([pb, pa1]);
      expect(await ids(`account_id=${baidu}&article_id=${two}`)).to.deep.equal([pb]);
      expect(await ids(`article_id=${two}&status=cancelled`)).to.deep.equal([]);
      expect(await ids('status=cancelled&platform=sohu')).to.deep.equal([pa2]);
      expect((await list('per_page=2&page=2')).pagination).to.deep.equal({ page: 2, per_page: 2, total: 3, total_pages: 2, has_next: false, has_prev: true });
      for (const bad of ['status=done', 'per_page=101', 'page=0', `platform=${'p'.repeat(51)}`]) {
        expect((await api('GET', `/publications?${bad}`, hank.token)).status, bad).to.equal(422);
      }
    });
  });

  describe('content review', () => {
    it('regions: the dry run without a region meets only rules without regions; a publication defaults to CN and its region is matched in any case', async () => {
      const rule = await api('POST', '/review-rules', admin, {
        body: { scope: 'platform', kind: 'banned_phrase', name: 'US only', phrases: ['freebie'], regions: ['us'], platforms: ['Baidu'] },
      });
      expect(rule.status, rule.text).to.equal(201);
      const shown = await api('GET', `/review-rules/${rule.body.data.id}`, admin);
      expect(shown.body.data).to.deep.include({ regions: ['US'], platforms: ['baidu'] });
      const ivy = await platform.signUp('regions');
      const dry = async (extra: Record<string, unknown>) =>
        (await api('POST', '/review-rules/test', ivy.token, { body: { platform: 'baidu', title: 'A freebie', body: '', ...extra } })).body.data.verdict;
      expect(await dry({})).to.equal('pass');
      expect(await dry({ region: 'CN' })).to.equal('pass');
      expect(await dry({ region: 'us' })).to.equal('flag');
      expect(await dry({ region: 'US', platform: 'sohu' })).to.equal('pass');

      const baidu = await bind(ivy, 'baidu');
      const id = await article(ivy, { title: 'A freebie' });
      const asCn = await publish(ivy, id, { account_ids: [baidu] });
      const asUs = await publish(ivy, id, { account_ids: [baidu], region: 'us' });
      const cn = await until(ivy, asCn.body.data.publications[0].id, (p) => p.status === 'queued', 'queued');
      expect(cn.region).to.equal('CN');
      const us = await until(ivy, asUs.body.data.publications[0].id, (p) => p.status === 'in_review', 'in review');
      expect(us.review.hits).to.equal(1);
      const removed = await api('DELETE', `/review-rules/${rule.body.data.id}`, admin);
      expect(removed.status, removed.text).to.equal(200);
    });

    it('a set holds at most 50,000 phrases, 20,000 a rule, 100 characters each: rules added at once never pass it', async () => {
      const tenant = await platform.signUp('phrases');
      await grantPlan(platform.store, tenant.userId, 'xiaohongshu', 'enterprise');
      const phrases = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i.toString(36)}`);
      const add = (name: string, list: string[]) =>
        api('POST', '/review-rules', tenant.token, { body: { scope: 'mine', kind: 'banned_phrase', name, phrases: list } });

      const long = await add('long', ['长'.repeat(101)]);
      expect(long.status, long.text.slice(0, 300)).to.equal(422);
      expect(issuePaths(long)).to.deep.equal(['phrases.0']);
      // a phrase of invisible characters only is blank: the pre-review drops them, it could never be found
      const invisible = await add('invisible', ['竞品', '\u200b\u200d', ' \ufeff\u00ad ']);
      expect(invisible.status, invisible.text.slice(0, 300)).to.equal(422);
      expect(issuePaths(invisible)).to.deep.equal(['phrases']);
      const many = await add('many', phrases('m', 20_001));
      expect(many.status, many.text.slice(0, 300)).to.equal(422);
      expect(issuePaths(many)).to.deep.equal(['phrases']);

      const racing = await Promise.all(['a', 'b', 'c'].map((p) => add(`set ${p}`, phrases(p, 20_000))));
      expect(racing.map((r) => r.status).sort(), racing.map((r) => r.text.slice(0, 200)).join('\n')).to.deep.equal([201, 201, 422]);
      const over = racing.find((r) => r.status === 422)!;
      expect(over.body.error.details).to.include({ limit: 50_000, count: 60_000 });
      expect(issuePaths(over)).to.deep.equal(['phrases']);
      const last = await add('to the limit', phrases('d', 10_000));
      expect(last.status, last.text.slice(0, 300)).to.equal(201);
      const listed = await api('GET', `/review-rules?scope=mine&after_position=${last.body.data.position}`, tenant.token);
      expect(listed.body.data.items.map((r: any) => r.phrase_count).reduce((a: number, b: number) => a + b, 0)).to.equal(50_000);
      const one = await add('one more', ['e']);
      expect(one.status, one.text.slice(0, 300)).to.equal(422);

      // the same rule again changes nothing; a removed one is 404 to a repeat
      const id = last.body.data.id as string;
      const same = await api('PUT', `/review-rules/${id}`, tenant.token, {
        body: { kind: 'banned_phrase', name: 'to the limit', phrases: phrases('d', 10_000) },
      });
      expect(same.status, same.text.slice(0, 300)).to.equal(200);
      expect(same.body.data).to.include({ position: null, revision: last.body.data.revision });
    });

    it('a claim held by another answers 409 with who holds it and until when (REVIEW_CLAIM_TTL_MINUTES)', async () => {
      const deps = {
        store: platform.store,
        passwordHasher: platform.container.get(TOKENS.PasswordHasher),
        accessTokens: platform.container.get(TOKENS.AccessTokens),
      };
      const first = await signedIn(deps, 'reviewer');
      const second = await signedIn(deps, 'reviewer');
      const judy = await platform.signUp('claimed');
      const sohu = await bind(judy, 'sohu');
      const id = await article(judy, { title: '加V信', body: '' });
      const r = await publish(judy, id, { account_ids: [sohu] });
      const waiting = await until(judy, r.body.data.publications[0].id, (p) => p.status === 'in_review', 'in review');
      const reviewId = waiting.review.review_id as string;
      const claimed = await api('POST', `/reviews/${reviewId}/claim`, first.token);
      expect(claimed.status, claimed.text).to.equal(200);
      const shown = await api('GET', `/reviews/${reviewId}?after_position=${claimed.body.data.position}`, first.token);
      const taken = await api('POST', `/reviews/${reviewId}/claim`, second.token);
      expect(taken.status, taken.text).to.equal(409);
      expect(taken.body.error.details).to.include({ reason: 'claimed', claimedBy: first.userId, claimedAt: shown.body.data.claimed_at });
      expect(Date.parse(taken.body.error.details.expiresAt) - Date.parse(shown.body.data.claimed_at)).to.equal(30 * 60_000);
      const release = await api('POST', `/reviews/${reviewId}/release`, second.token);
      expect(release.status, release.text).to.equal(409);
      expect(release.body.error.details).to.include({ reason: 'claimed', claimedBy: first.userId });

      // decided: the same decision again by its reviewer changes nothing; another reviewer's, or another decision, is 409
      const approved = await api('POST', `/reviews/${reviewId}/approve`, first.token, { body: { comment: '已核实' } });
      expect(approved.status, approved.text).to.equal(200);
      const repeat = await api('POST', `/reviews/${reviewId}/approve`, first.token, { body: { comment: '已核实' } });
      expect(repeat.status, repeat.text).to.equal(200);
      expect(repeat.body.data).to.include({ status: 'approved', position: null, revision: approved.body.data.revision });
      for (const [token, action, body] of [
        [second.token, 'approve', {}],
        [first.token, 'reject', { comment: '改主意了' }],
      ] as const) {
        const late = await api('POST', `/reviews/${reviewId}/${action}`, token, { body });
        expect(late.status, late.text).to.equal(409);
        expect(late.body.error.details).to.include({ status: 'approved' });
      }
      await until(judy, r.body.data.publications[0].id, (p) => p.status === 'queued' && p.review.status === 'approved', 'queued once approved');
    });
  });

  describe('accounts bound by OAuth', () => {
    /** A fresh state for `platform`: the authorization URL's, as an app asking for JSON gets it. */
    async function stateFor(user: User, p: OpenPlatformId): Promise<{ url: URL; state: string }> {
      const started = await api('GET', `/platform-accounts/oauth/${p}/authorize?redirect=false`, user.token);
      expect(started.status, started.text).to.equal(200);
      const url = new URL(started.body.data.authorize_url);
      return { url, state: url.searchParams.get('state')! };
    }
    const callback = (p: string, query: Record<string, string>) =>
      platform.call('GET', `/api/v1/platform-accounts/oauth/${p}/callback?${new URLSearchParams(query)}`, { redirect: 'manual' });

    it("spends the state, then answers the platform's refusal: an error other than access_denied 400 OAUTH_PLATFORM_ERROR, a refused code 400, no token endpoint 502", async () => {
      const kate = await platform.signUp('oauth-errors');
      const { state } = await stateFor(kate, 'baidu');
      const failed = await callback('baidu', { state, error: 'server_error', error_description: 'try later' });
      expect(failed.status, failed.text).to.equal(400);
      expect(failed.body.error.code).to.equal('OAUTH_PLATFORM_ERROR');
      const spent = await callback('baidu', { state, error: 'server_error' });
      expect(spent.status, spent.text).to.equal(409);
      expect(spent.body.error.code).to.equal('OAUTH_STATE_USED');

      const neither = await callback('baidu', { state: (await stateFor(kate, 'baidu')).state });
      expect(neither.status, neither.text).to.equal(400);
      expect(neither.body.error.code).to.equal('OAUTH_PLATFORM_ERROR');

      const refused = await callback('netease', { state: (await stateFor(kate, 'netease')).state, code: 'not-a-code-the-platform-gave' });
      expect(refused.status, refused.text).to.equal(400);
      expect(refused.body.error.code).to.equal('OAUTH_GRANT_REFUSED');

      const start = await stateFor(kate, 'sohu');
      const back = await consent(start.url.toString(), { user: 'bob' });
      sandbox.faults.tokenEndpointDown = true;
      try {
        const down = await platform.call('GET', `${back.pathname}${back.search}`);
        expect(down.status, down.text).to.equal(502);
        expect(down.body.error.code).to.equal('UPSTREAM_UNAVAILABLE');
      } finally {
        sandbox.faults.tokenEndpointDown = false;
      }
      const accounts = await api('GET', '/platform-accounts', kate.token);
      expect(accounts.body.data.items).to.deep.equal([]);
    });

    it('an OAuth account takes no credentials (PUT 422 under credentials, verify 409); its label changes and it disconnects as any account', async () => {
      const leo = await platform.signUp('oauth-account');
      const baidu = await bind(leo, 'baidu');
      // refused whole: the label sent with the credentials is not written either
      const put = await api('PUT', `/platform-accounts/${baidu}`, leo.token, {
        body: { display_name: '改名', credentials: { cookies: 'a1=x; web_session=y' } },
      });
      expect(put.status, put.text).to.equal(422);
      expect(issuePaths(put)).to.deep.equal(['credentials']);
      expect(put.body.error.details.issues[0].message).to.match(/OAuth/);
      expect((await platform.events(`platform_account-${baidu}`)).map((e) => e.type)).to.deep.equal(['OAuthAccountBound']);
      const verify = await api('POST', `/platform-accounts/${baidu}/verify`, leo.token);
      expect(verify.status, verify.text).to.equal(409);
      const renamed = await api('PUT', `/platform-accounts/${baidu}`, leo.token, { body: { display_name: '百家号' } });
      expect(renamed.status, renamed.text).to.equal(200);
      // authorized again: the same account, its label kept
      const start = await platform.call('GET', '/api/v1/platform-accounts/oauth/baidu/authorize', { token: leo.token, redirect: 'manual' });
      const back = await consent(start.headers.get('location')!, { user: 'alice' });
      const rebound = await platform.call('GET', `${back.pathname}${back.search}`);
      expect(rebound.status, rebound.text).to.equal(200);
      expect(rebound.body.data).to.deep.include({ rebound: true });
      expect(rebound.body.data.account).to.include({ id: baidu, display_name: '百家号', status: 'active' });
      const listed = await api('GET', `/platform-accounts?platform=baidu&after_position=${rebound.body.data.position}`, leo.token);
      expect(listed.body.data.items.map((a: any) => [a.id, a.display_name, a.binding])).to.deep.equal([[baidu, '百家号', 'oauth']]);
      // a cookie account's credentials that do not fit its platform: refused whole as well
      const qidian = await api('POST', '/platform-accounts', leo.token, { body: { platform: 'qidian', credentials: {}, display_name: '起点号' } });
      expect(qidian.status, qidian.text).to.equal(201);
      const misfit = await api('PUT', `/platform-accounts/${qidian.body.data.id}`, leo.token, {
        body: { display_name: '新名字', credentials: { token: 'x' } },
      });
      expect(misfit.status, misfit.text).to.equal(422);
      expect(issuePaths(misfit)).to.deep.equal(['credentials']);
      expect((await platform.events(`platform_account-${qidian.body.data.id}`)).map((e) => e.type)).to.not.include('PlatformAccountRenamed');
      const gone = await api('DELETE', `/platform-accounts/${baidu}`, leo.token);
      expect(gone.status, gone.text).to.equal(200);
      // the next binding after a disconnect is a new account
      const again = await bind(leo, 'baidu');
      expect(again).to.not.equal(baidu);
    });

    describe('with OAUTH_RETURN_URL', () => {
      let returning: Platform;
      before(async () => {
        returning = await startPlatform({ proxies: 0, config: { ...sandbox.env(), OAUTH_RETURN_URL: RETURN_URL } });
      });
      after(async () => {
        await returning?.stop();
      });

      it('sends the browser back there: bound, rebound, or the refusal after the state was accepted; a bad state stays a 400', async () => {
        const mia = await returning.signUp('returning');
        const listed = await returning.call('GET', '/api/v1/platform-accounts/oauth/platforms', { token: mia.token });
        expect(listed.body.data.items[0]).to.deep.equal({
          platform: 'baidu',
          display_name: listed.body.data.items[0].display_name,
          pkce: true,
          scopes: ['basic', 'publish'],
          authorize_path: '/api/v1/platform-accounts/oauth/baidu/authorize',
        });
        const round = async (options: { approve?: boolean } = {}) => {
          const start = await returning.call('GET', '/api/v1/platform-accounts/oauth/baidu/authorize', { token: mia.token, redirect: 'manual' });
          const back = await consent(start.headers.get('location')!, { user: 'alice', ...options });
          const answer = await returning.call('GET', `${back.pathname}${back.search}`, { redirect: 'manual' });
          expect(answer.status, answer.text).to.equal(302);
          expect(answer.headers.get('cache-control')).to.equal('no-store');
          const to = new URL(answer.headers.get('location')!);
          expect(`${to.origin}${to.pathname}`).to.equal(RETURN_URL);
          return { back, to: Object.fromEntries(to.searchParams) };
        };
        const first = await round();
        expect(first.to).to.deep.include({ platform: 'baidu', status: 'bound' });
        const second = await round();
        expect(second.to).to.deep.equal({ platform: 'baidu', account_id: first.to.account_id, status: 'rebound' });
        const denied = await round({ approve: false });
        expect(denied.to).to.deep.equal({ platform: 'baidu', error: 'OAUTH_ACCESS_DENIED' });
        // a state spent or forged: no redirect, the error itself
        const replay = await returning.call('GET', `${first.back.pathname}${first.back.search}`, { redirect: 'manual' });
        expect(replay.status, replay.text).to.equal(409);
        expect(replay.body.error.code).to.equal('OAUTH_STATE_USED');
        const forged = await returning.call('GET', '/api/v1/platform-accounts/oauth/baidu/callback?state=forged&code=x', { redirect: 'manual' });
        expect(forged.status, forged.text).to.equal(400);
        expect(forged.body.error.code).to.equal('OAUTH_STATE_INVALID');
      });
    });
  });
});
