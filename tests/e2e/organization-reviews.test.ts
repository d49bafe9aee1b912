import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { reviewStream } from '../../src/write-model/review/decider.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { openFlaggedReview } from '../support/reviews.js';
import { joinOrganization, membershipsSettle, registerMember, type Member } from '../support/members.js';

/**
 * An organization's own reviewers over real HTTP: the `reviewer` role
 * (publishing.reviews.approve, organization-wide) claims and decides the
 * reviews of its members' content; a review of another organization's
 * content is not found for it; an operator, a user outside any
 * organization and the author themselves cannot decide (403).
 */
describe('organization reviewers decide the reviews of their organization’s content (e2e)', function () {
  this.timeout(90_000);
  let platform: Platform;
  let sink: SmtpSink;
  let worker: RunningWorker | undefined;
  let owner: Member;
  let author: Member;
  let reviewer: Member;
  let otherOwner: Member;
  let outsider: Member;
  let orgId: string;

  const call = (method: string, path: string, user: Member, body?: unknown): Promise<Reply> =>
    platform.call(method, `/api/v1${path}`, { token: user.token, ...(body !== undefined ? { body } : {}) });

  const openReview = (ownerId: string) => openFlaggedReview(platform.store, { ownerId, title: '新品试用', body: '加微信领取试用装' });

  const reviewEvents = async (reviewId: string) => (await platform.events(reviewStream(reviewId))).map((e) => e.type);

  before(async () => {
    sink = await new SmtpSink().start();
    platform = await startPlatform({ proxies: 0, config: { SMTP_URL: sink.url, PUBLIC_WEB_URL: 'https://app.example.test' } });
    platform.startConsumers();
    worker = await startWorker(platform.container, { workerName: `org-reviews-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    [owner, author, reviewer, otherOwner, outsider] = (await Promise.all(
      ['owner', 'author', 'reviewer', 'other-owner', 'outsider'].map((name) => registerMember(platform, name)),
    )) as [Member, Member, Member, Member, Member];
    const founded = await call('POST', '/organizations', owner, { name: 'Reviewed' });
    expect(founded.status, founded.text).to.equal(201);
    orgId = founded.body.data.id as string;
    const other = await call('POST', '/organizations', otherOwner, { name: 'Elsewhere' });
    expect(other.status, other.text).to.equal(201);
    await Promise.all(
      (
        [
          [author, 'operator'],
          [reviewer, 'reviewer'],
        ] as const
      ).map(([user, role]) => joinOrganization(platform, sink, { organizationId: orgId, inviter: owner, user, roles: [role] })),
    );
    await membershipsSettle();
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sink?.stop();
  });

  it('the reviewer claims and approves a member’s review; nobody outside the organization reaches it', async () => {
    const reviewId = await openReview(author.userId);

    // another organization's owner may decide their own members' reviews, not this one: not found
    const elsewhere = await call('POST', `/reviews/${reviewId}/claim`, otherOwner);
    expect(elsewhere.status, elsewhere.text).to.equal(404);
    // the author's role (operator) and a user outside any organization decide nothing
    for (const user of [author, outsider]) {
      const refused = await call('POST', `/reviews/${reviewId}/claim`, user);
      expect(refused.status, refused.text).to.equal(403);
      expect(refused.body.error.details).to.include({ permission: 'publishing.reviews.approve', reason: 'role' });
    }
    expect(await reviewEvents(reviewId)).to.deep.equal(['ReviewOpened']);

    const claimed = await call('POST', `/reviews/${reviewId}/claim`, reviewer);
    expect(claimed.status, claimed.text).to.equal(200);
    expect(claimed.body.data).to.include({ status: 'open', claimed_by: reviewer.userId });
    const approved = await call('POST', `/reviews/${reviewId}/approve`, reviewer, { comment: '本公司的活动，放行' });
    expect(approved.status, approved.text).to.equal(200);
    expect(approved.body.data.status).to.equal('approved');
    expect(await reviewEvents(reviewId)).to.deep.equal(['ReviewOpened', 'ReviewClaimed', 'ReviewApproved']);

    // the reviewer sees it among the organization's reviews
    const mine = await call('GET', `/reviews?mine=true&status=approved&after_position=${approved.body.data.position}`, reviewer);
    expect(mine.status, mine.text).to.equal(200);
    expect(mine.body.data.items.map((r: { id: string }) => r.id)).to.include(reviewId);
  });

  it('an organization reviewer never decides their own content; the owner decides the organization’s, and rejects with a reason', async () => {
    const own = await openReview(reviewer.userId);
    const refused = await call('POST', `/reviews/${own}/claim`, reviewer);
    expect(refused.status, refused.text).to.equal(403);
    expect(refused.body.error.details).to.include({ reason: 'own_content' });

    const ownersClaim = await call('POST', `/reviews/${own}/claim`, owner);
    expect(ownersClaim.status, ownersClaim.text).to.equal(200);
    const noReason = await call('POST', `/reviews/${own}/reject`, owner, { comment: ' ' });
    expect(noReason.status, noReason.text).to.equal(422);
    const rejected = await call('POST', `/reviews/${own}/reject`, owner, { comment: '引流内容，请删除联系方式' });
    expect(rejected.status, rejected.text).to.equal(200);
    expect(rejected.body.data.status).to.equal('rejected');
    // an unknown review is not found, for anyone who may decide
    expect((await call('POST', `/reviews/${randomUUID()}/claim`, reviewer)).status).to.equal(404);
  });
});
