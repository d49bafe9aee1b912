import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { membershipClaimStream, organizationStream } from '../../src/write-model/organization/index.js';
import { joinOrganization, membershipsSettle, registerMember, type Member } from '../support/members.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait-for.js';

/**
 * docs/organizations.md read as a new user would, checked over real HTTP:
 * the places where the running API and the page disagreed, and the
 * promises the page makes about strangers and refusals.
 */
describe('organizations: what docs/organizations.md promises (e2e)', function () {
  this.timeout(120_000);
  let platform: Platform;
  let sink: SmtpSink;
  let worker: RunningWorker | undefined;
  let owner: Member;
  let ann: Member;
  let stranger: Member;
  let orgId: string;

  const call = (method: string, path: string, user: Member, body?: unknown): Promise<Reply> =>
    platform.call(method, path, { token: user.token, ...(body !== undefined ? { body } : {}) });
  const invite = (email: string, roles: string[] = ['operator']) => call('POST', `/api/v1/organizations/${orgId}/invitations`, owner, { email, roles });
  /** the tokens of every invitation link mailed to `email` */
  const tokensMailedTo = (email: string): string[] =>
    sink.messages.filter((m) => m.envelope.to.includes(email)).map((m) => decodeURIComponent(/invitation=([^\s&"<]+)/.exec(m.parsed.text ?? '')?.[1] ?? ''));
  /** runs `act` while the projector is stopped: the read model does not see what it writes */
  async function withReadModelBehind<T>(act: () => Promise<T>): Promise<T> {
    await platform.stopConsumers();
    try {
      return await act();
    } finally {
      platform.startConsumers();
    }
  }

  before(async () => {
    sink = await new SmtpSink().start();
    platform = await startPlatform({ proxies: 0, config: { SMTP_URL: sink.url, PUBLIC_WEB_URL: 'https://app.example.test' } });
    worker = await startWorker(platform.container, { workerName: `org-review-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    [owner, ann, stranger] = await Promise.all([registerMember(platform, 'owner'), registerMember(platform, 'ann'), registerMember(platform, 'stranger')]);
    const founded = await call('POST', '/api/v1/organizations', owner, { name: 'Review Co' });
    expect(founded.status, founded.text).to.equal(201);
    orgId = founded.body.data.id;
    await joinOrganization(platform, sink, { organizationId: orgId, inviter: owner, user: ann, roles: ['admin'] });
    await membershipsSettle();
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sink?.stop();
  });

  it('a second invitation to the organization one is in already is 409 already_member, and the membership stands', async () => {
    const bea = await registerMember(platform, 'bea');
    // two invitations to one address: the already_invited check reads the read model, which is behind here
    await withReadModelBehind(async () => {
      for (const roles of [['operator'], ['analyst']]) expect((await invite(bea.email, roles)).status).to.equal(201);
    });
    await waitFor('both invitation mails', async () => tokensMailedTo(bea.email).length === 2, 20_000, 50);
    const [first, second] = tokensMailedTo(bea.email) as [string, string];
    const joined = await call('POST', '/api/v1/invitations/accept', bea, { token: first });
    expect(joined.status, joined.text).to.equal(200);
    const claimBefore = (await platform.events(membershipClaimStream(bea.userId))).length;

    const again = await call('POST', '/api/v1/invitations/accept', bea, { token: second });
    expect(again.status, again.text).to.equal(409);
    expect(again.body.error.details.reason).to.equal('already_member');
    // the refusal wrote nothing: bea's one organization is still hers
    expect((await platform.events(membershipClaimStream(bea.userId))).length).to.equal(claimBefore);
    expect((await call('GET', '/api/v1/organizations', bea)).body.data.items.map((o: { id: string }) => o.id)).to.deep.equal([orgId]);
    await membershipsSettle();
    const secondOrg = await call('POST', '/api/v1/organizations', bea, { name: 'Bea & Co' });
    expect(secondOrg.status, secondOrg.text).to.equal(403);
    expect((await call('GET', `/api/v1/organizations/${orgId}/members`, bea)).status).to.equal(200);
  });

  it('"revoke it to send a new one": a new invitation goes out at once after a revocation or a decline', async () => {
    const cy = await registerMember(platform, 'cy');
    const sent = await invite(cy.email);
    expect(sent.status, sent.text).to.equal(201);
    // the read model has the pending invitation
    await call('GET', `/api/v1/organizations/${orgId}/invitations?after_position=${sent.body.data.position}`, owner);
    const refused = await invite(cy.email);
    expect(refused.status, refused.text).to.equal(409);
    expect(refused.body.error.details).to.include({ reason: 'already_invited', invitation_id: sent.body.data.id });

    const resent = await withReadModelBehind(async () => {
      const revoked = await call('DELETE', `/api/v1/organizations/${orgId}/invitations/${sent.body.data.id}`, owner);
      expect(revoked.status, revoked.text).to.equal(200);
      return invite(cy.email);
    });
    expect(resent.status, resent.text).to.equal(201);

    await call('GET', `/api/v1/organizations/${orgId}/invitations?after_position=${resent.body.data.position}`, owner);
    const declinedThenInvited = await withReadModelBehind(async () => {
      const declined = await call('POST', `/api/v1/invitations/${resent.body.data.id}/decline`, cy);
      expect(declined.status, declined.text).to.equal(200);
      return invite(cy.email);
    });
    expect(declinedThenInvited.status, declinedThenInvited.text).to.equal(201);
  });

  it('only the owner removes a member holding the owner role; an admin is 403 owner_only and writes nothing', async () => {
    const dan = await registerMember(platform, 'dan');
    await joinOrganization(platform, sink, { organizationId: orgId, inviter: owner, user: dan, roles: ['operator'] });
    const coOwner = await call('PATCH', `/api/v1/organizations/${orgId}/members/${dan.userId}`, owner, { roles: ['owner'] });
    expect(coOwner.status, coOwner.text).to.equal(200);
    await membershipsSettle();
    const before = (await platform.events(organizationStream(orgId))).length;
    const byAdmin = await call('DELETE', `/api/v1/organizations/${orgId}/members/${dan.userId}`, ann);
    expect(byAdmin.status, byAdmin.text).to.equal(403);
    expect(byAdmin.body.error.details.reason).to.equal('owner_only');
    expect((await platform.events(organizationStream(orgId))).length).to.equal(before);
    // as revoking the role is: the admin may not, the owner may
    expect((await call('PATCH', `/api/v1/organizations/${orgId}/members/${dan.userId}`, ann, { roles: ['operator'] })).body.error.details.reason).to.equal(
      'owner_only',
    );
    const byOwner = await call('DELETE', `/api/v1/organizations/${orgId}/members/${dan.userId}`, owner);
    expect(byOwner.status, byOwner.text).to.equal(200);
  });

  it("the organization's invitations: the owner and admins list them all, a member who may not invite lists only their own (none)", async () => {
    const olly = await registerMember(platform, 'olly');
    await joinOrganization(platform, sink, { organizationId: orgId, inviter: owner, user: olly, roles: ['operator'] });
    const sent = await invite(`listed-${randomUUID().slice(0, 8)}@example.test`);
    expect(sent.status, sent.text).to.equal(201);
    const list = (user: Member) => call('GET', `/api/v1/organizations/${orgId}/invitations?after_position=${sent.body.data.position}`, user);
    const byAdmin = await list(ann);
    expect(byAdmin.status, byAdmin.text).to.equal(200);
    expect(byAdmin.body.data.items.map((i: { id: string }) => i.id)).to.include(sent.body.data.id);
    const byOperator = await list(olly);
    expect(byOperator.status, byOperator.text).to.equal(200);
    expect(byOperator.body.data.items).to.deep.equal([]);
    expect(byOperator.body.data.pagination.total).to.equal(0);
  });

  it('a user in no organization: 404 where every signed-in user holds the permission, 403 role where only members do', async () => {
    for (const [method, path] of [
      ['GET', `/api/v1/organizations/${orgId}`],
      ['GET', `/api/v1/organizations/${orgId}/invitations`],
      ['POST', `/api/v1/organizations/${orgId}/leave`],
    ] as const) {
      const r = await call(method, path, stranger);
      expect(r.status, `${method} ${path}: ${r.text}`).to.equal(404);
    }
    for (const path of [`/api/v1/organizations/${orgId}/members`, `/api/v1/organizations/${orgId}/roles`]) {
      const r = await call('GET', path, stranger);
      expect(r.status, `${path}: ${r.text}`).to.equal(403);
      expect(r.body.error.details.reason).to.equal('role');
    }
  });

  it('handing on the ownership: an admin is refused by the policy (403 role), as the route describes', async () => {
    const r = await call('POST', `/api/v1/organizations/${orgId}/ownership`, ann, { user_id: ann.userId });
    expect(r.status, r.text).to.equal(403);
    expect(r.body.error.details.reason).to.equal('role');
    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
    expect(doc.paths['/api/v1/organizations/{id}/ownership'].post.description).to.match(/details\.reason role\b/);
  });
});
