import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { reviewAggregate, reviewStream } from '../../src/write-model/review/decider.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';

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
  interface User {
    userId: string;
    token: string;
    email: string;
  }
  let owner: User;
  let author: User;
  let reviewer: User;
  let otherOwner: User;
  let outsider: User;
  let orgId: string;

  const call = (method: string, path: string, user: User, body?: unknown): Promise<Reply> =>
    platform.call(method, `/api/v1${path}`, { token: user.token, ...(body !== undefined ? { body } : {}) });

  async function account(name: string): Promise<User> {
    const email = `${name}-${randomUUID().slice(0, 8)}@example.test`;
    const r = await platform.call('POST', '/api/v1/auth/register', { body: { email, password: 'correct horse battery', display_name: name } });
    expect(r.status, r.text).to.equal(201);
    const login = await platform.call('POST', '/api/v1/auth/login', { body: { email, password: 'correct horse battery' } });
    expect(login.status, login.text).to.equal(200);
    return { userId: login.body.data.user_id, token: login.body.data.access_token, email };
  }

  async function join(user: User, role: string): Promise<void> {
    const sent = await call('POST', `/organizations/${orgId}/invitations`, owner, { email: user.email, roles: [role] });
    expect(sent.status, sent.text).to.equal(201);
    const mail = await sink.waitForMessage((m) => m.envelope.to.includes(user.email), 20_000);
    const token = decodeURIComponent(/invitation=([^\s&"<]+)/.exec(mail.parsed.text ?? '')![1]!);
    const accepted = await call('POST', '/invitations/accept', user, { token });
    expect(accepted.status, accepted.text).to.equal(200);
  }

  /** A flagged publication's review, opened as pm-publications opens it. */
  async function openReview(ownerId: string): Promise<string> {
    const reviewId = randomUUID();
    await handle(
      platform.store,
      reviewAggregate,
      reviewId,
      {
        type: 'OpenReview',
        reviewId,
        publicationId: randomUUID(),
        articleId: randomUUID(),
        articleVersion: 1,
        ownerId,
        platform: 'xiaohongshu',
        region: 'CN',
        title: '新品试用',
        hits: [],
        content: { summary: null, body: '加微信领取试用装', tags: [] },
        now: new Date().toISOString(),
      },
      { context: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' } },
    );
    return reviewId;
  }

  const reviewEvents = async (reviewId: string) => (await platform.events(reviewStream(reviewId))).map((e) => e.type);

  before(async () => {
    sink = await new SmtpSink().start();
    platform = await startPlatform({ proxies: 0, config: { SMTP_URL: sink.url, PUBLIC_WEB_URL: 'https://app.example.test' } });
    platform.startConsumers();
    worker = await startWorker(platform.container, { workerName: `org-reviews-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    [owner, author, reviewer, otherOwner, outsider] = (await Promise.all(['owner', 'author', 'reviewer', 'other-owner', 'outsider'].map(account))) as [
      User,
      User,
      User,
      User,
      User,
    ];
    const founded = await call('POST', '/organizations', owner, { name: 'Reviewed' });
    expect(founded.status, founded.text).to.equal(201);
    orgId = founded.body.data.id as string;
    const other = await call('POST', '/organizations', otherOwner, { name: 'Elsewhere' });
    expect(other.status, other.text).to.equal(201);
    await Promise.all([join(author, 'operator'), join(reviewer, 'reviewer')]);
    // the policy's membership answers are kept a second per user
    await new Promise((resolve) => setTimeout(resolve, 1_100));
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
