import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPosition, parsePosition } from '../../src/event-store/position.js';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { platformAccountAggregate } from '../../src/write-model/platform-account/decider.js';
import { subscriptionStream } from '../../src/write-model/subscription/decider.js';
import { collectedRun, noteItems, sampleNote } from '../support/collected.js';
import { joinOrganization, membershipsSettle, registerMember, type Member } from '../support/members.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait-for.js';
import { grantPlan } from '../support/plans.js';

const NOTES_CONFIG = { mode: 'keyword', keyword: '咖啡', maxItems: 20 };
/** A 1×1 PNG. */
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4830000000049454e44ae426082',
  'hex',
);

/**
 * Resources the organization owns itself, over HTTP: made with
 * `owner: "organization"` by a member whose scope is organization-wide, they
 * carry the organization's id as owner, count on its subscription, are
 * reached by organization-wide scopes only, and stay when their maker leaves.
 */
describe('resources the organization owns (e2e)', function () {
  this.timeout(90_000);
  let platform: Platform;
  let sink: SmtpSink;
  let worker: RunningWorker | undefined;
  let owner: Member;
  let admin: Member;
  let operator: Member;
  let analyst: Member;
  let outsider: Member;
  let organizationId = '';

  const call = (method: string, path: string, user: Member, body?: unknown): Promise<Reply> =>
    platform.call(method, `/api/v1${path}`, { token: user.token, ...(body !== undefined ? { body } : {}) });
  const created = (r: Reply): string => {
    expect(r.status, r.text).to.equal(201);
    return r.body.data.id as string;
  };
  const connect = (user: Member, name: string, owner?: 'me' | 'organization') =>
    call('POST', '/platform-accounts', user, {
      platform: 'xiaohongshu',
      credentials: { cookies: `a1=${randomBytes(8).toString('hex')}; web_session=${randomBytes(8).toString('hex')}` },
      display_name: name,
      ...(owner ? { owner } : {}),
    });
  const newWorkflow = (user: Member, name: string, extra: Record<string, unknown> = {}) =>
    call('POST', '/workflows', user, { name, type: 'xiaohongshu.notes', config: NOTES_CONFIG, ...extra });

  async function onPlan(plan: 'free' | 'enterprise'): Promise<void> {
    await grantPlan(platform.store, organizationId, 'xiaohongshu', plan);
  }

  before(async () => {
    sink = await new SmtpSink().start();
    platform = await startPlatform({
      proxies: 0,
      config: { SMTP_URL: sink.url, PUBLIC_WEB_URL: 'https://app.example.test', MEDIA_STORAGE_URL: `file:${join(tmpdir(), `org-media-${randomUUID()}`)}` },
    });
    worker = await startWorker(platform.container, { workerName: `org-owned-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    [owner, admin, operator, analyst, outsider] = (await Promise.all(
      ['owner', 'admin', 'operator', 'analyst', 'outsider'].map((name) => registerMember(platform, name)),
    )) as [Member, Member, Member, Member, Member];
    organizationId = created(await call('POST', '/organizations', owner, { name: 'Holders' }));
    await Promise.all([
      joinOrganization(platform, sink, { organizationId, inviter: owner, user: admin, roles: ['admin'] }),
      joinOrganization(platform, sink, { organizationId, inviter: owner, user: operator, roles: ['operator'], team: 'north' }),
      joinOrganization(platform, sink, { organizationId, inviter: owner, user: analyst, roles: ['analyst'] }),
    ]);
    await membershipsSettle();
    await waitFor(
      'the organization’s free plan',
      async () => (await platform.events(subscriptionStream(organizationId, 'xiaohongshu'))).length > 0,
      20_000,
      100,
    );
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sink?.stop();
  });

  it("an account the organization owns takes the organization's slot, and gives it back when disconnected", async () => {
    // the free plan holds one account: the organization's own takes it
    const connected = await connect(admin, '机构号', 'organization');
    const accountId = created(connected);
    const shown = await call('GET', `/platform-accounts/${accountId}?after_position=${connected.body.data.position}`, admin);
    expect(shown.status, shown.text).to.equal(200);
    expect(shown.body.data.owner_id).to.equal(organizationId);
    const full = await connect(owner, '我的号');
    expect(full.status, full.text).to.equal(429);
    expect(full.body.error.details.feature).to.equal('account_limit');
    // disconnected, its slot is the organization's again
    const gone = await call('DELETE', `/platform-accounts/${accountId}`, owner);
    expect(gone.status, gone.text).to.equal(200);
    const mine = created(await connect(owner, '我的号'));
    expect((await call('DELETE', `/platform-accounts/${mine}`, owner)).status).to.equal(200);
  });

  it("refuses to make the organization's resources without an organization-wide scope or outside an organization, writing nothing", async () => {
    const before = await platform.store.readAll({ direction: 'backwards', maxCount: 1 });
    const narrow = await newWorkflow(operator, 'not mine to give', { owner: 'organization' });
    expect(narrow.status, narrow.text).to.equal(403);
    expect(narrow.body.error.code).to.equal('PERMISSION_DENIED');
    expect(narrow.body.error.details).to.include({ reason: 'organization_scope', scope: 'own', permission: 'collection.workflows.create' });
    const outside = await newWorkflow(outsider, 'no organization', { owner: 'organization' });
    expect(outside.status, outside.text).to.equal(422);
    expect(outside.body.error.details.issues[0].path).to.deep.equal(['owner']);
    const odd = await newWorkflow(admin, 'odd owner', { owner: 'team' });
    expect(odd.status, odd.text).to.equal(422);
    // other consumers may append meanwhile: nothing of a workflow or a reservation
    const since = await platform.store.readAll({ fromPosition: before[0]!.position, maxCount: 1_000 });
    expect(since.map((e) => e.type)).not.to.include('WorkflowCreated');
    expect(since.map((e) => e.type)).not.to.include('ResourceReserved');
  });

  describe('on the enterprise plan', () => {
    let orgAccount = '';
    let orgWorkflow = '';
    let adminsWorkflow = '';
    let lureArticle = '';

    before(async () => {
      await onPlan('enterprise');
      orgAccount = created(await connect(admin, '机构号', 'organization'));
    });

    it('a workflow the organization owns runs on its account only, and the organization-wide scopes alone reach it', async () => {
      const own = created(await connect(admin, '管理员的号'));
      const withMemberAccount = await newWorkflow(admin, 'wrong account', { owner: 'organization', platform_account_id: own });
      expect(withMemberAccount.status, withMemberAccount.text).to.equal(404);
      orgWorkflow = created(await newWorkflow(admin, '机构的采集', { owner: 'organization', platform_account_id: orgAccount }));
      const madeOwn = await newWorkflow(admin, '管理员自己的采集');
      adminsWorkflow = created(madeOwn);

      // another member's read: it waits for the admin's writes only when told where they are
      const got = await call('GET', `/workflows/${orgWorkflow}?after_position=${madeOwn.body.data.position}`, owner);
      expect(got.status, got.text).to.equal(200);
      expect(got.body.data).to.include({ owner_id: organizationId, platform_account_id: orgAccount });
      expect((await call('GET', `/workflows/${orgWorkflow}`, analyst)).status).to.equal(200);
      // an operator's scope is their team's, an outsider's their own: neither reaches it
      expect((await call('GET', `/workflows/${orgWorkflow}`, operator)).status).to.equal(404);
      expect((await call('GET', `/workflows/${orgWorkflow}`, outsider)).status).to.equal(404);
      const listed = await call('GET', '/workflows?per_page=100', owner);
      expect(listed.body.data.items.map((w: { id: string }) => w.id)).to.include.members([orgWorkflow, adminsWorkflow]);
      const operators = await call('GET', '/workflows?per_page=100', operator);
      expect(operators.body.data.items.map((w: { id: string }) => w.id)).not.to.include(orgWorkflow);
    });

    it("its runs are admitted on the organization's subscription", async () => {
      // its account verified (as a worker records it)
      await handle(
        platform.store,
        platformAccountAggregate,
        orgAccount,
        {
          type: 'VerifyAccount',
          accountId: orgAccount,
          requestedBy: null,
          outcome: { ok: true, platformUserId: 'xhs-org', nickname: '机构' },
          now: new Date().toISOString(),
        },
        { context: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' } },
      );
      const executed = await call('POST', `/workflows/${orgWorkflow}/execute`, owner);
      expect(executed.status, executed.text).to.equal(202);
      const executionId = executed.body.data.execution_id as string;
      // the dispatcher counts the run's API calls on the organization's day
      const since = parsePosition(executed.body.data.position);
      const counted = async () =>
        (await platform.store.readAll({ fromPosition: since, maxCount: 10_000 })).some(
          (e) => e.type === 'UsageRecorded' && (e.data as { userId?: string }).userId === organizationId,
        );
      await waitFor('the run counted on the organization’s day', counted, 20_000, 100);
      const rejected = (await platform.events(`workflow_execution-${executionId}`)).filter((e) => e.type === 'ExecutionRejected');
      expect(rejected).to.deep.equal([]);
      const run = await call('GET', `/workflows/executions/${executionId}?after_position=${executed.body.data.position}`, analyst);
      expect(run.status, run.text).to.equal(200);
      expect((await call('GET', `/workflows/executions/${executionId}`, operator)).status).to.equal(404);
    });

    it('what its runs collect is the organization’s: the analyst reads it, the operator does not', async () => {
      const noteId = randomBytes(12).toString('hex');
      const position = await collectedRun(platform.store, {
        ownerId: organizationId,
        site: 'xiaohongshu',
        workflowType: 'xiaohongshu.notes',
        items: noteItems([sampleNote(noteId, '机构收集的笔记', 5)]),
        workflowId: orgWorkflow,
        platformAccountId: orgAccount,
      });
      const after = formatPosition(position);
      const ids = async (user: Member) => {
        const r = await call('GET', `/xiaohongshu/contents?after_position=${after}&per_page=100`, user);
        expect(r.status, r.text).to.equal(200);
        return r.body.data.items.map((i: { id: string }) => i.id);
      };
      expect(await ids(analyst)).to.include(noteId);
      expect(await ids(owner)).to.include(noteId);
      expect(await ids(operator)).not.to.include(noteId);

      // the organization's copy is deleted by one whose collection.data.delete is organization-wide, asked for by name
      expect((await call('DELETE', `/xiaohongshu/contents/${noteId}`, owner)).status).to.equal(404);
      const narrow = await call('DELETE', `/xiaohongshu/contents/${noteId}?owner=organization`, operator);
      expect(narrow.status, narrow.text).to.equal(403);
      expect(narrow.body.error.details.reason).to.equal('organization_scope');
      const deleted = await call('DELETE', `/xiaohongshu/contents/${noteId}?owner=organization`, owner);
      expect(deleted.status, deleted.text).to.equal(200);
      const gone = await call('GET', `/xiaohongshu/contents?after_position=${deleted.body.data.position}&per_page=100`, analyst);
      expect(gone.body.data.items.map((i: { id: string }) => i.id)).not.to.include(noteId);
    });

    it('an article the organization owns names its images, is edited by another admin, and publishes through its accounts only', async () => {
      const upload = (user: Member, query: string): Promise<Reply> =>
        platform.call('POST', `/api/v1/media${query}`, { token: user.token, raw: PNG, type: 'image/png' });
      const orgImage = created(await upload(admin, '?owner=organization'));
      const myImage = created(await upload(admin, ''));
      const mixed = await call('POST', '/articles', admin, { title: '机构文章', body: '正文', image_media_ids: [myImage], owner: 'organization' });
      expect(mixed.status, mixed.text).to.equal(422);
      expect(mixed.body.error.details.issues[0].path).to.deep.equal(['image_media_ids', 0]);
      const articleId = created(
        await call('POST', '/articles', admin, { title: '机构文章', body: '正文', image_media_ids: [orgImage], owner: 'organization' }),
      );

      const revised = await call('PUT', `/articles/${articleId}`, owner, { title: '机构文章（改）', body: '新的正文', image_media_ids: [orgImage] });
      expect(revised.status, revised.text).to.equal(200);
      expect(revised.body.data.version).to.equal(2);
      const read = await call('GET', `/articles/${articleId}?after_position=${revised.body.data.position}`, admin);
      expect(read.body.data).to.include({ owner_id: organizationId, title: '机构文章（改）' });
      expect((await call('GET', `/articles/${articleId}`, operator)).status).to.equal(404);
      expect((await call('PUT', `/articles/${articleId}`, operator, { title: 'x', body: 'y' })).status).to.equal(404);
      // the images are listed by data scope: the owner's reaches the organization's and every member's, the operator's only their own
      const listed = async (member: Member) =>
        (await call('GET', `/media?per_page=100&after_position=${revised.body.data.position}`, member)).body.data.items.map((m: { id: string }) => m.id);
      expect(await listed(owner)).to.include.members([orgImage, myImage]);
      expect(await listed(operator)).not.to.include.members([orgImage]);

      // a member's account does not publish the organization's article
      const own = created(await connect(owner, '老板的号'));
      const published = await call('POST', `/articles/${articleId}/publish`, owner, { account_ids: [own] });
      expect(published.status, published.text).to.equal(404);
      expect(published.body.error.details.accountId).to.equal(own);
      lureArticle = created(
        await call('POST', '/articles', admin, { title: '机构活动', body: '想要试用装的朋友加微信领取', image_media_ids: [orgImage], owner: 'organization' }),
      );
    });

    it("the member who asked to publish the organization's article may not review it; another reviewer may", async () => {
      const adminToken = await platform.adminToken();
      const rule = await platform.call('POST', '/api/v1/review-rules', {
        token: adminToken,
        body: { scope: 'platform', kind: 'banned_phrase', name: '站外引流', phrases: ['加微信'], platforms: ['xiaohongshu'] },
      });
      expect(rule.status, rule.text).to.equal(201);
      const asked = await call('POST', `/articles/${lureArticle}/publish`, admin, { account_ids: [orgAccount] });
      expect(asked.status, asked.text).to.equal(202);
      const publicationId = asked.body.data.publications[0].id as string;
      let reviewId = '';
      await waitFor('the flagged publication in review', async () => {
        const r = await call('GET', `/publications/${publicationId}`, owner);
        reviewId = r.body?.data?.review?.review_id ?? '';
        return r.status === 200 && r.body.data.status === 'in_review' && reviewId !== '';
      });
      const refused = await call('POST', `/reviews/${reviewId}/claim`, admin);
      expect(refused.status, refused.text).to.equal(403);
      expect(refused.body.error.details.reason).to.equal('own_content');
      const claimed = await call('POST', `/reviews/${reviewId}/claim`, owner);
      expect(claimed.status, claimed.text).to.equal(200);
    });

    it('stays with the organization when its maker leaves; the maker takes their own', async () => {
      const left = await call('POST', `/organizations/${organizationId}/leave`, admin);
      expect(left.status, left.text).to.equal(200);
      await membershipsSettle();
      const owners = (await call('GET', '/workflows?per_page=100', owner)).body.data.items.map((w: { id: string }) => w.id);
      expect(owners).to.include(orgWorkflow);
      expect(owners).not.to.include(adminsWorkflow);
      const paused = await call('POST', `/workflows/${orgWorkflow}/pause`, owner);
      expect(paused.status, paused.text).to.equal(200);
      expect((await call('GET', `/workflows/${orgWorkflow}`, admin)).status).to.equal(404);
      expect((await call('GET', `/platform-accounts/${orgAccount}`, admin)).status).to.equal(404);
      expect((await call('GET', `/workflows/${adminsWorkflow}`, admin)).status).to.equal(200);
    });
  });
});
