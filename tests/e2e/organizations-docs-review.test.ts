import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { invitationStream, membershipClaimStream, organizationStream } from '../../src/write-model/organization/index.js';
import { joinOrganization, mailedInvitationToken, membershipsSettle, registerMember, type Member } from '../support/members.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait-for.js';

/**
 * docs/organizations.md claim by claim, as a new user with only the page and
 * the OpenAPI document would check it: bad input of every kind, another
 * organization's ids, If-Match, repeats and the bounds under concurrent
 * requests. Every refusal is checked to have written nothing.
 */
describe('organizations: a new reader checks docs/organizations.md (e2e)', function () {
  this.timeout(90_000);
  let platform: Platform;
  let sink: SmtpSink;
  let worker: RunningWorker | undefined;
  let owner: Member;
  let ann: Member;
  let other: Member;
  let orgId: string;
  let otherOrgId: string;

  const call = (method: string, path: string, user: Member | undefined, body?: unknown, headers?: Record<string, string>): Promise<Reply> =>
    platform.call(method, path, { ...(user ? { token: user.token } : {}), ...(body !== undefined ? { body } : {}), ...(headers ? { headers } : {}) });
  const streamLength = async (stream: string) => (await platform.events(stream)).length;
  /** a refusal with this status and code, after which the streams named have not moved */
  async function refused(status: number, code: string, run: () => Promise<Reply>, streams: string[] = [organizationStream(orgId)]): Promise<Reply> {
    const before = await Promise.all(streams.map(streamLength));
    const reply = await run();
    expect(reply.status, reply.text).to.equal(status);
    expect(reply.body.error.code, reply.text).to.equal(code);
    expect(await Promise.all(streams.map(streamLength)), 'nothing written').to.deep.equal(before);
    return reply;
  }
  const invalid = async (field: string, run: () => Promise<Reply>, streams?: string[]) => {
    const reply = await refused(422, 'VALIDATION_ERROR', run, streams);
    expect(JSON.stringify(reply.body.error), reply.text).to.include(field);
    return reply;
  };
  const org = (path = '') => `/api/v1/organizations/${orgId}${path}`;

  before(async () => {
    sink = await new SmtpSink().start();
    platform = await startPlatform({ proxies: 0, config: { SMTP_URL: sink.url, PUBLIC_WEB_URL: 'https://app.example.test' } });
    worker = await startWorker(platform.container, { workerName: `org-docs-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    [owner, ann, other] = await Promise.all([registerMember(platform, 'owner'), registerMember(platform, 'ann'), registerMember(platform, 'other')]);
    const [mine, theirs] = await Promise.all([
      call('POST', '/api/v1/organizations', owner, { name: 'Docs Co' }),
      call('POST', '/api/v1/organizations', other, { name: 'Other Co' }),
    ]);
    expect(mine.status, mine.text).to.equal(201);
    expect(theirs.status, theirs.text).to.equal(201);
    orgId = mine.body.data.id;
    otherOrgId = theirs.body.data.id;
    await joinOrganization(platform, sink, { organizationId: orgId, inviter: owner, user: ann, roles: ['operator'] });
    await membershipsSettle();
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sink?.stop();
  });

  it('names made only of invisible characters are no names: 422, nothing written', async () => {
    const blank = '\u200b\u2060\ufeff';
    const fresh = await registerMember(platform, 'fresh');
    await invalid('name', () => call('POST', '/api/v1/organizations', fresh, { name: blank }), [membershipClaimStream(fresh.userId)]);
    await invalid('name', () => call('PATCH', org(), owner, { name: blank }));
    await invalid('team', () => call('PATCH', org(`/members/${ann.userId}`), owner, { team: blank }));
    await invalid('name', () => call('POST', org('/roles'), owner, { name: blank, grants: { 'reports.*.view': 'own' } }));
    await invalid('team', () => call('POST', org('/invitations'), owner, { email: `t-${randomUUID().slice(0, 6)}@example.test`, roles: [], team: blank }));
  });

  it("a custom role may not take a built-in name or another role's name hidden behind invisible characters: 409 name", async () => {
    const hidden = await refused(409, 'CONFLICT', () => call('POST', org('/roles'), owner, { name: 'Ad\u200bmin', grants: { 'reports.*.view': 'own' } }));
    expect(hidden.body.error.details.field).to.equal('name');
    const made = await call('POST', org('/roles'), owner, { name: 'Auditor', grants: { 'reports.*.view': 'own' } });
    expect(made.status, made.text).to.equal(201);
    const twin = await refused(409, 'CONFLICT', () => call('POST', org('/roles'), owner, { name: 'AUDI\u00adTOR', grants: { 'reports.*.view': 'team' } }));
    expect(twin.body.error.details.field).to.equal('name');
    const second = await call('POST', org('/roles'), owner, { name: 'Viewer', grants: { 'reports.*.view': 'own' } });
    expect(second.status, second.text).to.equal(201);
    const renamed = await refused(409, 'CONFLICT', () => call('PATCH', org(`/roles/${second.body.data.id}`), owner, { name: '\u200bauditor' }));
    expect(renamed.body.error.details.field).to.equal('name');
  });

  it('wrong types and oversized values are 422 naming the field', async () => {
    await invalid('mfa_required', () => call('PATCH', org(), owner, { mfa_required: 'yes' }));
    await invalid('name', () => call('PATCH', org(), owner, { name: 'x'.repeat(101) }));
    await invalid('team', () => call('PATCH', org(`/members/${ann.userId}`), owner, { team: 't'.repeat(65) }));
    await invalid('roles', () => call('PATCH', org(`/members/${ann.userId}`), owner, { roles: 'admin' }));
    await invalid('roles', () => call('PATCH', org(`/members/${ann.userId}`), owner, { roles: Array.from({ length: 11 }, () => 'operator') }));
    await invalid('grants', () => call('POST', org('/roles'), owner, { name: 'Arr', grants: ['reports.*.view'] }));
    await invalid('grants', () => call('POST', org('/roles'), owner, { name: 'Wild', grants: { '*.*.*': 'own' } }));
    await invalid('grants', () => call('POST', org('/roles'), owner, { name: 'Plat', grants: { 'platform.*.*': 'organization' } }));
    await invalid('grants', () => call('POST', org('/roles'), owner, { name: 'Nul', grants: { 'reports.*.view\u0000': 'own' } }));
    await invalid('user_id', () => call('POST', org('/ownership'), owner, { user_id: 42 }));
    await invalid('roles', () => call('POST', org('/invitations'), owner, { email: 'typed@example.test', roles: 'operator' }));
    await invalid('status', () => call('GET', '/api/v1/invitations?status=bogus', owner), []);
    await invalid('status', () => call('GET', org('/invitations?status=bogus'), owner), []);
    await invalid('page', () => call('GET', '/api/v1/organizations?page=0', owner), []);
  });

  it("another organization's ids are 404 here (or an unknown role: 422), and nothing is written", async () => {
    const theirRole = await call('POST', `/api/v1/organizations/${otherOrgId}/roles`, other, { name: 'Theirs', grants: { 'reports.*.view': 'own' } });
    expect(theirRole.status, theirRole.text).to.equal(201);
    const theirInvite = await call('POST', `/api/v1/organizations/${otherOrgId}/invitations`, other, { email: 'x@example.test', roles: ['analyst'] });
    expect(theirInvite.status, theirInvite.text).to.equal(201);
    const both = [organizationStream(orgId), organizationStream(otherOrgId), invitationStream(theirInvite.body.data.id)];
    await refused(404, 'NOT_FOUND', () => call('PATCH', org(`/roles/${theirRole.body.data.id}`), owner, { name: 'Mine now' }), both);
    await refused(404, 'NOT_FOUND', () => call('DELETE', org(`/roles/${theirRole.body.data.id}`), owner), both);
    await refused(404, 'NOT_FOUND', () => call('DELETE', org(`/invitations/${theirInvite.body.data.id}`), owner), both);
    await refused(404, 'NOT_FOUND', () => call('GET', org(`/members/${other.userId}`), owner), both);
    await refused(404, 'NOT_FOUND', () => call('PATCH', org(`/members/${other.userId}`), owner, { team: 'x' }), both);
    await refused(404, 'NOT_FOUND', () => call('DELETE', org(`/members/${other.userId}`), owner), both);
    await refused(404, 'NOT_FOUND', () => call('POST', org('/ownership'), owner, { user_id: other.userId }), both);
    await invalid('roles', () => call('PATCH', org(`/members/${ann.userId}`), owner, { roles: [theirRole.body.data.id] }), both);
    await invalid('roles', () => call('POST', org('/invitations'), owner, { email: 'y@example.test', roles: [theirRole.body.data.id] }), both);
    // and the other way round: the other owner reaches nothing of this organization
    await refused(404, 'NOT_FOUND', () => call('GET', org('/roles'), other), both);
    await refused(404, 'NOT_FOUND', () => call('PATCH', org(), other, { name: 'Taken' }), both);
    // an invitation addressed to someone else is 404 to decline
    await refused(404, 'NOT_FOUND', () => call('POST', `/api/v1/invitations/${theirInvite.body.data.id}/decline`, ann), both);
  });

  it('If-Match: a stale revision is 412 and writes nothing; a revocation repeated with its If-Match is 412, without it 200 position null', async () => {
    const bea = await registerMember(platform, 'bea');
    await joinOrganization(platform, sink, { organizationId: orgId, inviter: owner, user: bea, roles: ['analyst'] });
    await refused(412, 'PRECONDITION_FAILED', () => call('DELETE', org(`/members/${bea.userId}`), owner, undefined, { 'If-Match': '"1"' }));
    await refused(412, 'PRECONDITION_FAILED', () => call('PATCH', org(`/members/${bea.userId}`), owner, { team: 'red' }, { 'If-Match': '"1"' }));
    const sent = await call('POST', org('/invitations'), owner, { email: `rev-${randomUUID().slice(0, 6)}@example.test`, roles: ['analyst'] });
    expect(sent.status, sent.text).to.equal(201);
    const ifMatch = { 'If-Match': `"${sent.body.data.revision}"` };
    const inv = invitationStream(sent.body.data.id);
    const revoked = await call('DELETE', org(`/invitations/${sent.body.data.id}`), owner, undefined, ifMatch);
    expect(revoked.status, revoked.text).to.equal(200);
    await refused(412, 'PRECONDITION_FAILED', () => call('DELETE', org(`/invitations/${sent.body.data.id}`), owner, undefined, ifMatch), [inv]);
    const again = await call('DELETE', org(`/invitations/${sent.body.data.id}`), owner);
    expect(again.status, again.text).to.equal(200);
    expect(again.body.data.position).to.equal(null);
    const current = await call('GET', org(), owner);
    const removed = await call('DELETE', org(`/members/${bea.userId}`), owner, undefined, { 'If-Match': current.headers.get('etag') as string });
    expect(removed.status, removed.text).to.equal(200);
  });

  it('accepting: another address is 403 other_email, a deleted custom role is left out, a repeat (even concurrent) is the same answer', async () => {
    const role = await call('POST', org('/roles'), owner, { name: `Temp ${randomUUID().slice(0, 4)}`, grants: { 'reports.*.view': 'own' } });
    expect(role.status, role.text).to.equal(201);
    const cal = await registerMember(platform, 'cal');
    const sent = await call('POST', org('/invitations'), owner, {
      email: `  ${cal.email.toUpperCase()} `,
      roles: ['analyst', role.body.data.id],
      team: 'blue',
    });
    expect(sent.status, sent.text).to.equal(201);
    const token = await mailedInvitationToken(sink, cal.email);
    const wrong = await refused(403, 'PERMISSION_DENIED', () => call('POST', '/api/v1/invitations/accept', other, { token }), [
      organizationStream(orgId),
      invitationStream(sent.body.data.id),
      membershipClaimStream(other.userId),
    ]);
    expect(wrong.body.error.details.reason).to.equal('other_email');
    await invalid('token', () => call('POST', '/api/v1/invitations/accept', cal, { token: `${token}\u0000` }));
    await refused(404, 'NOT_FOUND', () => call('POST', '/api/v1/invitations/accept', cal, { token: `${randomUUID()}.nothing` }));
    const deleted = await call('DELETE', org(`/roles/${role.body.data.id}`), owner);
    expect(deleted.status, deleted.text).to.equal(200);
    const accepts = await Promise.all(Array.from({ length: 4 }, () => call('POST', '/api/v1/invitations/accept', cal, { token })));
    expect(
      accepts.map((r) => r.status),
      accepts.map((r) => r.text).join('\n'),
    ).to.deep.equal([200, 200, 200, 200]);
    const added = (await platform.events(organizationStream(orgId))).filter(
      (e) => e.type === 'MemberAdded' && (e.data as { userId: string }).userId === cal.userId,
    );
    expect(added).to.have.length(1);
    // the membership's claim stands: no concurrent repeat gave it back
    expect((await platform.events(membershipClaimStream(cal.userId))).map((e) => e.type)).to.deep.equal(['MembershipClaimed']);
    const member = await call('GET', org(`/members/${cal.userId}`), owner);
    expect(member.status, member.text).to.equal(200);
    expect(member.body.data).to.include({ team: 'blue' });
    expect(member.body.data.roles).to.deep.equal(['analyst']);
    // the address of a member, however it is typed, is 409 already_member
    const twice = await refused(409, 'CONFLICT', () => call('POST', org('/invitations'), owner, { email: ` ${cal.email.toUpperCase()}`, roles: ['analyst'] }));
    expect(twice.body.error.details.reason).to.equal('already_member');
  });

  it('accepting one invitation several times at once: every answer is the membership, which keeps its claim', async () => {
    const users = await Promise.all(['gus', 'hal', 'ida', 'jo', 'kim'].map((n) => registerMember(platform, n)));
    await Promise.all(
      users.map(async (user) => {
        const sent = await call('POST', org('/invitations'), owner, { email: user.email, roles: ['analyst'] });
        expect(sent.status, sent.text).to.equal(201);
        const token = await mailedInvitationToken(sink, user.email);
        const accepts = await Promise.all(Array.from({ length: 6 }, () => call('POST', '/api/v1/invitations/accept', user, { token })));
        expect(
          accepts.map((r) => r.status),
          accepts.map((r) => r.text).join('\n'),
        ).to.deep.equal([200, 200, 200, 200, 200, 200]);
        expect((await platform.events(membershipClaimStream(user.userId))).map((e) => e.type)).to.deep.equal(['MembershipClaimed']);
      }),
    );
    await membershipsSettle();
    // still members: none of them may found an organization of their own
    for (const user of users) expect((await call('POST', '/api/v1/organizations', user, { name: 'Second' })).status).to.equal(403);
  });

  it('a member of another organization accepting is 409 already_in_organization, both memberships untouched', async () => {
    const sent = await call('POST', `/api/v1/organizations/${otherOrgId}/invitations`, other, { email: ann.email, roles: ['analyst'] });
    expect(sent.status, sent.text).to.equal(201);
    // ann's second invitation mail: the first one was to this organization
    const mailedToAnn = () => sink.messages.filter((m) => m.envelope.to.includes(ann.email));
    await waitFor('the second invitation mail', async () => mailedToAnn().length === 2, 20_000, 50);
    const token = decodeURIComponent(/invitation=([^\s&"<]+)/.exec(mailedToAnn()[1]!.parsed.text ?? '')![1]!);
    expect(token.startsWith(`${sent.body.data.id}.`)).to.equal(true);
    const streams = [organizationStream(orgId), organizationStream(otherOrgId), membershipClaimStream(ann.userId), invitationStream(sent.body.data.id)];
    const reply = await refused(409, 'CONFLICT', () => call('POST', '/api/v1/invitations/accept', ann, { token }), streams);
    expect(reply.body.error.details.reason).to.equal('already_in_organization');
  });

  it('roles: a repeated role is one role; the owner handing on to themselves changes nothing or is refused, never a 500', async () => {
    const dup = await call('PATCH', org(`/members/${ann.userId}`), owner, { roles: ['operator', 'operator', 'analyst'] });
    expect(dup.status, dup.text).to.be.oneOf([200, 422]);
    const me = await call('GET', org(`/members/${ann.userId}`), owner);
    expect(new Set(me.body.data.roles).size, me.text).to.equal(me.body.data.roles.length);
    const self = await call('POST', org('/ownership'), owner, { user_id: owner.userId });
    expect(self.status, self.text).to.be.oneOf([200, 409, 422]);
    const after = await call('GET', org(), owner);
    expect(after.body.data.owner_id).to.equal(owner.userId);
    expect(after.body.data.my_roles).to.include('owner');
  });

  it('query and path text: NUL bytes and oversized values are 422, never a 500', async () => {
    for (const q of ['team=%00', 'role=%00', `team=${'t'.repeat(65)}`, 'per_page=abc']) {
      const reply = await call('GET', org(`/members?${q}`), owner);
      expect(reply.status, `${q}: ${reply.text}`).to.equal(422);
    }
    expect((await call('GET', org('/invitations?page=-1'), owner)).status).to.equal(422);
    expect((await call('GET', '/api/v1/organizations/a%00b', owner)).status).to.be.oneOf([404, 422]);
    await invalid('email', () => call('POST', org('/invitations'), owner, { email: `${'a'.repeat(300)}@example.test`, roles: [] }));
    await invalid('team', () => call('POST', org('/invitations'), owner, { email: 'nul-team@example.test', roles: [], team: 'a\u0000b' }));
    await invalid('grants', () => call('PATCH', org(`/roles/${randomUUID()}`), owner, { grants: {} }));
    const builtIn = await call('PATCH', org('/roles/admin'), owner, { name: 'Boss' });
    expect(builtIn.status, builtIn.text).to.be.oneOf([404, 422]);
    const builtInDelete = await call('DELETE', org('/roles/admin'), owner);
    expect(builtInDelete.status, builtInDelete.text).to.be.oneOf([404, 422]);
  });

  it('If-Match on the other organization changes: stale is 412 and writes nothing', async () => {
    const role = await call('POST', org('/roles'), owner, { name: `Stale ${randomUUID().slice(0, 4)}`, grants: { 'reports.*.view': 'own' } });
    expect(role.status, role.text).to.equal(201);
    await refused(412, 'PRECONDITION_FAILED', () => call('DELETE', org(`/roles/${role.body.data.id}`), owner, undefined, { 'If-Match': '"1"' }));
    await refused(412, 'PRECONDITION_FAILED', () => call('PATCH', org(`/roles/${role.body.data.id}`), owner, { name: 'Newer' }, { 'If-Match': '"1"' }));
    await refused(412, 'PRECONDITION_FAILED', () => call('POST', org('/ownership'), owner, { user_id: ann.userId }, { 'If-Match': '"1"' }));
    await refused(412, 'PRECONDITION_FAILED', () => call('POST', org('/leave'), ann, undefined, { 'If-Match': '"1"' }));
    await refused(412, 'PRECONDITION_FAILED', () => call('PATCH', org(), owner, { name: 'Stale Co' }, { 'If-Match': '"1"' }));
  });

  it('concurrent repeats: declines answer 200 with one write; removals of one member remove them once', async () => {
    const dee = await registerMember(platform, 'dee');
    const sent = await call('POST', org('/invitations'), owner, { email: dee.email, roles: ['analyst'] });
    expect(sent.status, sent.text).to.equal(201);
    const declines = await Promise.all(Array.from({ length: 4 }, () => call('POST', `/api/v1/invitations/${sent.body.data.id}/decline`, dee)));
    expect(
      declines.map((r) => r.status),
      declines.map((r) => r.text).join('\n'),
    ).to.deep.equal([200, 200, 200, 200]);
    expect(declines.filter((r) => r.body.data.position !== null)).to.have.length(1);
    expect(await streamLength(invitationStream(sent.body.data.id))).to.equal(2);

    const eli = await registerMember(platform, 'eli');
    await joinOrganization(platform, sink, { organizationId: orgId, inviter: owner, user: eli, roles: ['analyst'] });
    const removals = await Promise.all(Array.from({ length: 4 }, () => call('DELETE', org(`/members/${eli.userId}`), owner)));
    const statuses = removals.map((r) => r.status).sort();
    expect(statuses, removals.map((r) => r.text).join('\n')).to.deep.equal([200, 404, 404, 404]);
    const events = await platform.events(organizationStream(orgId));
    expect(events.filter((e) => e.type === 'MemberRemoved' && (e.data as { userId: string }).userId === eli.userId)).to.have.length(1);
    const claim = await platform.events(membershipClaimStream(eli.userId));
    expect(claim.map((e) => e.type)).to.deep.equal(['MembershipClaimed', 'MembershipReleased']);
  });

  it('an owner without a second factor who requires one can no longer change the organization, turning it off included', async () => {
    const mo = await registerMember(platform, 'mo');
    const founded = await call('POST', '/api/v1/organizations', mo, { name: 'Mo Co' });
    expect(founded.status, founded.text).to.equal(201);
    const moOrg = founded.body.data.id;
    const on = await call('PATCH', `/api/v1/organizations/${moOrg}`, mo, { mfa_required: true });
    expect(on.status, on.text).to.equal(200);
    const streams = [organizationStream(moOrg)];
    for (const run of [
      () => call('PATCH', `/api/v1/organizations/${moOrg}`, mo, { mfa_required: false }),
      () => call('POST', `/api/v1/organizations/${moOrg}/invitations`, mo, { email: 'mfa@example.test', roles: [] }),
      () => call('POST', `/api/v1/organizations/${moOrg}/roles`, mo, { name: 'Nope', grants: { 'reports.*.view': 'own' } }),
    ]) {
      const reply = await refused(403, 'PERMISSION_DENIED', run, streams);
      expect(reply.body.error.details.reason).to.equal('mfa_required');
    }
    const shown = await call('GET', `/api/v1/organizations/${moOrg}`, mo);
    expect(shown.status, shown.text).to.equal(200);
    expect(shown.body.data.mfa_required).to.equal(true);
  });

  it('at most 200 pending invitations, even for invitations sent at the same instant: the next is 409 with details.limit; an already_invited refusal names its expiry', async () => {
    const pat = await registerMember(platform, 'pat');
    const founded = await call('POST', '/api/v1/organizations', pat, { name: 'Pat Co' });
    expect(founded.status, founded.text).to.equal(201);
    const patOrg = founded.body.data.id;
    const invite = (n: number) =>
      call('POST', `/api/v1/organizations/${patOrg}/invitations`, pat, { email: `p${n}-${patOrg.slice(0, 6)}@example.test`, roles: [] });
    for (let i = 0; i < 190; i += 20) {
      const batch = await Promise.all(Array.from({ length: Math.min(20, 190 - i) }, (_, j) => invite(i + j)));
      for (const r of batch) expect(r.status, r.text).to.equal(201);
    }
    // the last ten places, asked for twenty times at once
    const rush = await Promise.all(Array.from({ length: 20 }, (_, j) => invite(190 + j)));
    expect(
      rush.filter((r) => r.status === 201),
      'accepted',
    ).to.have.length(10);
    for (const r of rush.filter((r) => r.status !== 201)) {
      expect(r.status, r.text).to.equal(409);
      expect(r.body.error.details.limit, r.text).to.equal(200);
    }
    const last = rush.filter((r) => r.status === 201).at(-1)!;
    const listed = await call('GET', `/api/v1/organizations/${patOrg}/invitations?per_page=1&after_position=${last.body.data.position}`, pat);
    expect(listed.body.data.total ?? listed.body.data.pagination?.total, listed.text).to.equal(200);
    const over = await call('POST', `/api/v1/organizations/${patOrg}/invitations`, pat, { email: `over-${patOrg.slice(0, 6)}@example.test`, roles: [] });
    expect(over.status, over.text).to.equal(409);
    expect(over.body.error.details.limit).to.equal(200);
    const again = await call('POST', `/api/v1/organizations/${patOrg}/invitations`, pat, { email: `p0-${patOrg.slice(0, 6)}@example.test`, roles: [] });
    expect(again.status, again.text).to.equal(409);
    expect(again.body.error.details).to.include.keys('invitation_id', 'expires_at');
    expect(again.body.error.details.reason).to.equal('already_invited');
  });

  it('one address invited several times at once: one invitation, every other answer 409 already_invited', async () => {
    const email = `twice-${randomUUID().slice(0, 6)}@example.test`;
    const answers = await Promise.all(Array.from({ length: 6 }, () => call('POST', org('/invitations'), owner, { email, roles: [] })));
    const sent = answers.filter((r) => r.status === 201);
    expect(sent, answers.map((r) => r.text).join('\n')).to.have.length(1);
    for (const r of answers.filter((r) => r.status !== 201)) {
      expect(r.status, r.text).to.equal(409);
      expect(r.body.error.details.reason, r.text).to.equal('already_invited');
      expect(r.body.error.details.invitation_id, r.text).to.equal(sent[0]!.body.data.id);
    }
  });

  it('one organization per user, even for concurrent foundings; a keyed repeat answers the first founding', async () => {
    const zed = await registerMember(platform, 'zed');
    const replies = await Promise.all(Array.from({ length: 5 }, (_, i) => call('POST', '/api/v1/organizations', zed, { name: `Zed ${i}` })));
    expect(replies.map((r) => r.status).sort(), replies.map((r) => r.text).join('\n')).to.deep.equal([201, 409, 409, 409, 409]);
    const yan = await registerMember(platform, 'yan');
    const headers = { 'Idempotency-Key': `found-${yan.userId}` };
    const first = await call('POST', '/api/v1/organizations', yan, { name: 'Yan Co' }, headers);
    const repeat = await call('POST', '/api/v1/organizations', yan, { name: 'Yan Co' }, headers);
    expect(first.status, first.text).to.equal(201);
    expect(repeat.status, repeat.text).to.equal(201);
    expect(repeat.body.data.id).to.equal(first.body.data.id);
  });

  it('at most 50 custom roles, even when the last ones are defined at the same instant', async () => {
    const grantsOf = { 'reports.*.view': 'own' };
    const roles = await call('GET', org('/roles'), owner);
    const have = roles.body.data.items.filter((r: { built_in: boolean }) => !r.built_in).length;
    for (let i = have; i < 48; i++) {
      const r = await call('POST', org('/roles'), owner, { name: `Filler ${i}`, grants: grantsOf });
      expect(r.status, r.text).to.equal(201);
    }
    const race = await Promise.all(Array.from({ length: 6 }, (_, i) => call('POST', org('/roles'), owner, { name: `Racer ${i}`, grants: grantsOf })));
    const statuses = race.map((r) => r.status).sort();
    expect(statuses, race.map((r) => r.text).join('\n')).to.deep.equal([201, 201, 409, 409, 409, 409]);
    for (const r of race.filter((x) => x.status === 409)) expect(r.body.error.details.limit).to.equal(50);
    const events = await platform.events(organizationStream(orgId));
    const live = events.filter((e) => e.type === 'CustomRoleDefined').length - events.filter((e) => e.type === 'CustomRoleDeleted').length;
    expect(live).to.equal(50);
  });
});
