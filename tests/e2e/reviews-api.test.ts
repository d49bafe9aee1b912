import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { ReviewHit } from '../../src/write-model/review/events.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';
import { hitsOfDryRun, openFlaggedReview } from '../support/reviews.js';
import { grantPlan } from '../support/plans.js';

type User = { userId: string; token: string };

/**
 * Content review over HTTP against the whole platform: an admin keeps the
 * platform's rules, an author checks a text with the dry run (hits with their
 * places), a flagged publication's review is opened (with the aggregate, as
 * pm-publications does), reviewers claim and decide it, the author is told;
 * the permission refusals on the way; an enterprise tenant's own rule set.
 */
describe('content review: /api/v1/review-rules and /api/v1/reviews (e2e)', function () {
  this.timeout(120_000);
  let platform: Platform;
  let admin: string;
  let author: User;
  let alice: User;
  let bob: User;
  let outsider: User;
  const _context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const call = (method: string, path: string, token: string, body?: unknown): Promise<Reply> =>
    platform.call(method, path, body === undefined ? { token } : { token, body });

  async function makeReviewer(name: string): Promise<User> {
    const user = await platform.signUp(name);
    const changed = await call('PUT', `/api/v1/admin/users/${user.userId}/role`, admin, { role: 'reviewer' });
    expect(changed.status, changed.text).to.equal(200);
    // the role counts from the next request (the session's standing is cached a second)
    await waitFor(`${name} is a reviewer`, async () => (await call('GET', '/api/v1/reviews', user.token)).status === 200, 10_000, 100);
    return user;
  }

  async function onEnterprise(userId: string): Promise<void> {
    await grantPlan(platform.store, userId, 'xiaohongshu', 'enterprise');
  }

  const openReview = (ownerId: string, body: string, hits: ReviewHit[]) =>
    openFlaggedReview(platform.store, { ownerId, title: '周末露营装备', body, tags: ['露营'], hits });

  const dryRun = (token: string, body: string, extra: Record<string, unknown> = {}) =>
    call('POST', '/api/v1/review-rules/test', token, { platform: 'xiaohongshu', region: 'CN', title: '周末露营装备', body, tags: ['露营'], ...extra });

  const hitsOf = (r: Reply): ReviewHit[] => hitsOfDryRun(r.body.data);

  before(async () => {
    platform = await startPlatform({ proxies: 0 });
    admin = await platform.adminToken();
    [author, outsider] = await Promise.all([platform.signUp('author'), platform.signUp('outsider')]);
    alice = await makeReviewer('alice');
    bob = await makeReviewer('bob');
  });
  after(async () => {
    await platform?.stop();
  });

  const BODY = '装备清单在这里。想要同款的加微信领取优惠，或者打 138-1234-5678。远离网络赌博！';
  let adsRuleId: string;

  it('an admin keeps the platform rules; a reviewer reads them; others are refused (403)', async () => {
    const ads = await call('POST', '/api/v1/review-rules', admin, {
      scope: 'platform',
      kind: 'banned_phrase',
      name: '广告引流',
      phrases: ['加微信', '免费领取'],
    });
    expect(ads.status, ads.text).to.equal(201);
    adsRuleId = ads.body.data.id;
    expect(ads.body.data.scope).to.equal('platform');
    let lastPosition = ads.body.data.position as string;
    for (const rule of [
      { scope: 'platform', kind: 'red_line', name: '赌博', phrases: ['赌博', '博彩'], category: 'gambling' },
      { scope: 'platform', kind: 'contact', name: '联系方式', params: { contact_types: ['mobile', 'wechat'] } },
      { scope: 'platform', kind: 'link', name: '站外链接', params: { allowed_domains: ['xiaohongshu.com'] }, platforms: ['xiaohongshu'] },
    ]) {
      const r = await call('POST', '/api/v1/review-rules', admin, rule);
      expect(r.status, r.text).to.equal(201);
      lastPosition = r.body.data.position;
    }
    const badRule = await call('POST', '/api/v1/review-rules', admin, { scope: 'platform', kind: 'red_line', name: 'no category', phrases: ['x'] });
    expect(badRule.status, badRule.text).to.equal(422);

    const byReviewer = await call('POST', '/api/v1/review-rules', alice.token, { scope: 'platform', kind: 'banned_phrase', name: 'x', phrases: ['x'] });
    expect(byReviewer.status, byReviewer.text).to.equal(403);
    expect(byReviewer.body.error.details).to.include({ reason: 'admin_role' });

    const listed = await call('GET', `/api/v1/review-rules?scope=platform&after_position=${lastPosition}`, alice.token);
    expect(listed.status, listed.text).to.equal(200);
    expect(listed.body.data.items.map((r: any) => r.name)).to.include.members(['广告引流', '赌博', '联系方式', '站外链接']);
    const one = await call('GET', `/api/v1/review-rules/${adsRuleId}`, alice.token);
    expect(one.body.data).to.include({ id: adsRuleId, kind: 'banned_phrase', scope: 'platform' });
    expect(one.body.data.phrases).to.deep.equal(['加微信', '免费领取']);

    const peek = await call('GET', '/api/v1/review-rules?scope=platform', outsider.token);
    expect(peek.status, peek.text).to.equal(403);
    expect(peek.body.error.details).to.include({ reason: 'reviewer_role' });
    expect((await call('GET', `/api/v1/review-rules/${adsRuleId}`, outsider.token)).status).to.equal(404);
  });

  it('the dry run finds every hit with its place in the text; a clean text passes; an edit counts at once', async () => {
    const flagged = await dryRun(author.token, BODY);
    expect(flagged.status, flagged.text).to.equal(200);
    expect(flagged.body.data.verdict).to.equal('flag');
    const hits = flagged.body.data.hits as any[];
    expect(hits.map((h) => `${h.kind}:${h.match}`)).to.deep.equal(['banned_phrase:加微信', 'contact:138-1234-5678', 'red_line:赌博']);
    for (const h of hits) expect(BODY.slice(h.start, h.end)).to.equal(h.match);
    expect(hits[2]).to.include({ category: 'gambling', field: 'body', rule_name: '赌博' });

    const clean = await dryRun(author.token, '装备清单：帐篷、睡袋、炉头。详见 https://www.xiaohongshu.com/explore');
    expect(clean.body.data).to.deep.equal({ verdict: 'pass', hits: [] });

    const changed = await call('PUT', `/api/v1/review-rules/${adsRuleId}`, admin, {
      kind: 'banned_phrase',
      name: '广告引流',
      phrases: ['加微信', '免费领取', '帐篷'],
    });
    expect(changed.status, changed.text).to.equal(200);
    const again = await dryRun(author.token, '装备清单：帐篷、睡袋、炉头。');
    expect(again.body.data.hits.map((h: any) => h.match)).to.deep.equal(['帐篷']);
    const kindChange = await call('PUT', `/api/v1/review-rules/${adsRuleId}`, admin, { kind: 'link', name: '广告引流' });
    expect(kindChange.status, kindChange.text).to.equal(422);
  });

  it('the queue: reviewers claim and decide, a claim held by another is 409, the author hears of the decision', async () => {
    const hits = hitsOf(await dryRun(author.token, BODY));
    const reviewId = await openReview(author.userId, BODY, hits);

    // the queue is for reviewers; the author sees their own
    const refused = await call('GET', '/api/v1/reviews', outsider.token);
    expect(refused.status, refused.text).to.equal(403);
    expect(refused.body.error.details).to.include({ reason: 'reviewer_role' });
    let queue: Reply | undefined;
    await waitFor(
      'the review in the queue',
      async () => {
        queue = await call('GET', '/api/v1/reviews?platform=xiaohongshu', alice.token);
        return queue.body?.data?.items?.some((r: any) => r.id === reviewId);
      },
      10_000,
      50,
    );
    const queued = queue!.body.data.items.find((r: any) => r.id === reviewId);
    expect(queued).to.include({ status: 'open', owner_id: author.userId, hit_count: 3, claimed_by: null, title: '周末露营装备' });
    expect(queued.waited_seconds).to.be.at.least(0);
    const mine = await call('GET', '/api/v1/reviews?mine=true', author.token);
    expect(mine.body.data.items.map((r: any) => r.id)).to.deep.equal([reviewId]);
    const shown = await call('GET', `/api/v1/reviews/${reviewId}`, alice.token);
    expect(shown.body.data.content.body).to.equal(BODY);
    expect(shown.body.data.hits.map((h: any) => BODY.slice(h.start, h.end))).to.deep.equal(['加微信', '138-1234-5678', '赌博']);
    expect((await call('GET', `/api/v1/reviews/${reviewId}`, author.token)).status).to.equal(200);
    expect((await call('GET', `/api/v1/reviews/${reviewId}`, outsider.token)).status).to.equal(404);

    // only reviewers act; the one holding the claim decides
    const notReviewer = await call('POST', `/api/v1/reviews/${reviewId}/claim`, outsider.token);
    expect(notReviewer.status, notReviewer.text).to.equal(403);
    const approveUnclaimed = await call('POST', `/api/v1/reviews/${reviewId}/approve`, alice.token, {});
    expect(approveUnclaimed.status, approveUnclaimed.text).to.equal(409);
    expect(approveUnclaimed.body.error.details).to.include({ reason: 'not_claimed' });
    const claimed = await call('POST', `/api/v1/reviews/${reviewId}/claim`, alice.token);
    expect(claimed.status, claimed.text).to.equal(200);
    expect(claimed.body.data).to.include({ status: 'open', claimed_by: alice.userId });
    const again = await call('POST', `/api/v1/reviews/${reviewId}/claim`, alice.token);
    expect(again.status, again.text).to.equal(200);
    const taken = await call('POST', `/api/v1/reviews/${reviewId}/claim`, bob.token);
    expect(taken.status, taken.text).to.equal(409);
    expect(taken.body.error.details).to.include({ reason: 'claimed', claimedBy: alice.userId });
    const noComment = await call('POST', `/api/v1/reviews/${reviewId}/reject`, alice.token, {});
    expect(noComment.status, noComment.text).to.equal(422);
    const blank = await call('POST', `/api/v1/reviews/${reviewId}/reject`, alice.token, { comment: '   ' });
    expect(blank.status, blank.text).to.equal(422);
    const byBob = await call('POST', `/api/v1/reviews/${reviewId}/approve`, bob.token, {});
    expect(byBob.status, byBob.text).to.equal(409);

    const approved = await call('POST', `/api/v1/reviews/${reviewId}/approve`, alice.token, { comment: '联系方式已核实为官方客服' });
    expect(approved.status, approved.text).to.equal(200);
    expect(approved.body.data.status).to.equal('approved');
    const repeat = await call('POST', `/api/v1/reviews/${reviewId}/approve`, alice.token, { comment: '联系方式已核实为官方客服' });
    expect(repeat.status, repeat.text).to.equal(200);
    const late = await call('POST', `/api/v1/reviews/${reviewId}/reject`, alice.token, { comment: 'changed my mind' });
    expect(late.status, late.text).to.equal(409);

    const decided = await call('GET', `/api/v1/reviews/${reviewId}?after_position=${approved.body.data.position}`, alice.token);
    expect(decided.body.data).to.include({ status: 'approved', decided_by: alice.userId, comment: '联系方式已核实为官方客服' });
    let notification: any;
    await waitFor(
      "the author's review_approved notification",
      async () => {
        const r = await call('GET', '/api/v1/notifications', author.token);
        notification = r.body?.data?.items?.find((n: any) => n.kind === 'review_approved');
        return notification !== undefined;
      },
      15_000,
      100,
    );
    expect(notification.title).to.contain('周末露营装备');
    expect(notification.body).to.contain('联系方式已核实为官方客服');
  });

  it('a reviewer cannot review their own content; a rejection tells the author why; a release frees the claim', async () => {
    const reviewId = await openReview(bob.userId, BODY, hitsOf(await dryRun(bob.token, BODY)));
    const own = await call('POST', `/api/v1/reviews/${reviewId}/claim`, bob.token);
    expect(own.status, own.text).to.equal(403);
    expect(own.body.error.details).to.include({ reason: 'own_content' });

    expect((await call('POST', `/api/v1/reviews/${reviewId}/claim`, alice.token)).status).to.equal(200);
    const released = await call('POST', `/api/v1/reviews/${reviewId}/release`, alice.token);
    expect(released.body.data).to.include({ claimed_by: null });
    expect((await call('POST', `/api/v1/reviews/${reviewId}/claim`, alice.token)).status).to.equal(200);
    const rejected = await call('POST', `/api/v1/reviews/${reviewId}/reject`, alice.token, { comment: '含私人联系方式，请删除后重新发布' });
    expect(rejected.status, rejected.text).to.equal(200);
    expect(rejected.body.data.status).to.equal('rejected');
    await waitFor(
      "bob's review_rejected notification",
      async () => {
        const r = await call('GET', '/api/v1/notifications', bob.token);
        return r.body?.data?.items?.some((n: any) => n.kind === 'review_rejected' && n.body.includes('含私人联系方式'));
      },
      15_000,
      100,
    );
    const queue = await call('GET', `/api/v1/reviews?status=rejected&after_position=${rejected.body.data.position}`, alice.token);
    expect(queue.body.data.items.map((r: any) => r.id)).to.include(reviewId);
  });

  it('an enterprise tenant keeps their own rule set, applied to their content only; other plans are refused (403)', async () => {
    const refused = await call('POST', '/api/v1/review-rules', author.token, { scope: 'mine', kind: 'banned_phrase', name: '竞品', phrases: ['竞品'] });
    expect(refused.status, refused.text).to.equal(403);
    expect(refused.body.error.details).to.include({ feature: 'review_rules' });
    expect((await call('GET', '/api/v1/review-rules?scope=mine', author.token)).status).to.equal(403);

    const tenant = await platform.signUp('tenant');
    await onEnterprise(tenant.userId);
    const created = await call('POST', '/api/v1/review-rules', tenant.token, { scope: 'mine', kind: 'banned_phrase', name: '竞品', phrases: ['竞品牌'] });
    expect(created.status, created.text).to.equal(201);
    const ruleId = created.body.data.id as string;
    expect(created.body.data.scope).to.equal('mine');
    const listed = await call('GET', `/api/v1/review-rules?scope=mine&after_position=${created.body.data.position}`, tenant.token);
    expect(listed.body.data.items.map((r: any) => r.id)).to.deep.equal([ruleId]);
    expect(listed.body.data.items[0]).to.include({ phrase_count: 1, scope: 'mine' });

    const text = '和竞品牌对比，我们的帐篷更轻。';
    const own = await dryRun(tenant.token, text);
    expect(own.body.data.hits.map((h: any) => `${h.rule_id}:${h.match}`)).to.deep.equal([`${ruleId}:竞品牌`, `${adsRuleId}:帐篷`]);
    const others = await dryRun(author.token, text);
    expect(others.body.data.hits.map((h: any) => h.match)).to.deep.equal(['帐篷']);

    // nobody else reaches the tenant's rule
    expect((await call('GET', `/api/v1/review-rules/${ruleId}`, author.token)).status).to.equal(404);
    expect((await call('PUT', `/api/v1/review-rules/${ruleId}`, admin, { kind: 'banned_phrase', name: 'x', phrases: ['x'] })).status).to.equal(404);

    const disabled = await call('PUT', `/api/v1/review-rules/${ruleId}`, tenant.token, {
      kind: 'banned_phrase',
      name: '竞品',
      phrases: ['竞品牌'],
      enabled: false,
    });
    expect(disabled.status, disabled.text).to.equal(200);
    expect((await dryRun(tenant.token, text)).body.data.hits.map((h: any) => h.match)).to.deep.equal(['帐篷']);
    const removed = await call('DELETE', `/api/v1/review-rules/${ruleId}`, tenant.token);
    expect(removed.status, removed.text).to.equal(200);
    expect((await call('DELETE', `/api/v1/review-rules/${ruleId}`, tenant.token)).status).to.equal(404);
    const after = await call('GET', `/api/v1/review-rules?scope=mine&after_position=${removed.body.data.position}`, tenant.token);
    expect(after.body.data.items).to.deep.equal([]);
  });
});
