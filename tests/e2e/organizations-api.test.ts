import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { hashToken } from '../../src/application/opaque-tokens.js';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { SCHEMA_VERSION } from '../../src/write-model/core/event-codec.js';
import { invitationStream, organizationStream } from '../../src/write-model/organization/index.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { mailedInvitationToken, registerMember } from '../support/members.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Organizations end to end over real HTTP: the API, the projector's
 * organizations-v1 consumer, the worker's mail queue and a real SMTP sink
 * the invitation links are read from. Every refusal is checked to have
 * written nothing.
 */
describe('organizations: found, invite by mail, accept, roles, custom roles, removal (e2e)', function () {
  this.timeout(120_000);
  let platform: Platform;
  let sink: SmtpSink;
  let worker: RunningWorker | undefined;
  const seen: string[] = [];
  interface Account {
    userId: string;
    token: string;
    email: string;
  }
  let owner: Account;
  let ann: Account;
  let bob: Account;
  let cy: Account;
  let eve: Account;
  let orgId: string;
  let editorRole: string;
  let cyToken: string;

  const call = async (method: string, path: string, user?: Account, body?: unknown): Promise<Reply> => {
    const reply = await platform.call(method, path, { ...(user ? { token: user.token } : {}), ...(body !== undefined ? { body } : {}) });
    seen.push(reply.text);
    return reply;
  };
  const streamLength = async (stream: string) => (await platform.events(stream)).length;
  /** a refusal with this status and code, after which the streams named have not moved */
  async function refused(status: number, code: string, run: () => Promise<Reply>, streams: string[] = [organizationStream(orgId)]): Promise<Reply> {
    const before = await Promise.all(streams.map(streamLength));
    const reply = await run();
    expect(reply.status, reply.text).to.equal(status);
    expect(reply.body.error.code, reply.text).to.equal(code);
    expect(reply.body.error.message).to.be.a('string').and.not.equal('');
    expect(await Promise.all(streams.map(streamLength)), 'nothing written').to.deep.equal(before);
    return reply;
  }
  const account = (name: string): Promise<Account> => registerMember(platform, name);
  /** the token of the invitation link mailed to `email` */
  async function mailedToken(email: string): Promise<string> {
    const mail = await sink.waitForMessage((m) => m.envelope.to.includes(email), 20_000);
    expect(mail.parsed.text).to.include('Acme');
    return mailedInvitationToken(sink, email);
  }
  const invite = (by: Account, email: string, roles: string[], team?: string) =>
    call('POST', `/api/v1/organizations/${orgId}/invitations`, by, { email, roles, ...(team !== undefined ? { team } : {}) });

  before(async () => {
    sink = await new SmtpSink().start();
    platform = await startPlatform({ proxies: 0, config: { SMTP_URL: sink.url, PUBLIC_WEB_URL: 'https://app.example.test' } });
    worker = await startWorker(platform.container, { workerName: `org-mail-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    [owner, ann, bob, cy, eve] = (await Promise.all(['owner', 'ann', 'bob', 'cy', 'eve'].map(account))) as [Account, Account, Account, Account, Account];
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sink?.stop();
  });

  it('founds an organization; the founder is its owner; a second one is refused', async () => {
    const r = await call('POST', '/api/v1/organizations', owner, { name: '  Acme  ' });
    expect(r.status, r.text).to.equal(201);
    orgId = r.body.data.id;
    const shown = await call('GET', `/api/v1/organizations/${orgId}`, owner);
    expect(shown.status, shown.text).to.equal(200);
    expect(shown.body.data).to.include({ id: orgId, name: 'Acme', owner_id: owner.userId, mfa_required: false, member_count: 1 });
    expect(shown.body.data.my_roles).to.deep.equal(['owner']);
    const again = await refused(409, 'CONFLICT', () => call('POST', '/api/v1/organizations', owner, { name: 'Acme 2' }));
    expect(again.body.error.message).to.match(/member of an organization already/);
    const mine = await call('GET', '/api/v1/organizations', owner);
    expect(mine.body.data.items.map((o: any) => o.id)).to.deep.equal([orgId]);
    const alias = await call('GET', '/api/v1/customers/enterprises', owner);
    expect(alias.body.data).to.deep.equal(mine.body.data);
    expect((await call('GET', '/api/v1/organizations', eve)).body.data.items).to.deep.equal([]);
  });

  it('defines a custom role; refuses bad grants with 422', async () => {
    const r = await call('POST', `/api/v1/organizations/${orgId}/roles`, owner, {
      name: 'Editor',
      grants: { 'publishing.articles.*': 'team', 'reports.*.view': 'own' },
    });
    expect(r.status, r.text).to.equal(201);
    editorRole = r.body.data.id;
    for (const grants of [{ 'platform.users.view': 'organization' }, { 'collection.nothing.view': 'own' }, {}, { 'collection.workflows.view': 'all' }]) {
      await refused(422, 'VALIDATION_ERROR', () => call('POST', `/api/v1/organizations/${orgId}/roles`, owner, { name: 'Bad', grants }));
    }
    await refused(409, 'CONFLICT', () =>
      call('POST', `/api/v1/organizations/${orgId}/roles`, owner, { name: 'editor', grants: { 'collection.*.view': 'own' } }),
    );
    await refused(422, 'VALIDATION_ERROR', () =>
      call('POST', `/api/v1/organizations/${orgId}/roles`, owner, { name: 'x'.repeat(65), grants: { 'collection.*.view': 'own' } }),
    );
    // a POST repeated under its Idempotency-Key answers the first answer and defines nothing more
    const keyed = async () => {
      const res = await fetch(`${platform.url}/api/v1/organizations/${orgId}/roles`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${owner.token}`, 'Content-Type': 'application/json', 'Idempotency-Key': `role-${orgId}` },
        body: JSON.stringify({ name: 'Auditor', grants: { 'reports.*.view': 'organization' } }),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const first = await keyed();
    const repeat = await keyed();
    expect(first.status).to.equal(201);
    expect(repeat.body.data.id).to.equal(first.body.data.id);
    const definedEvents = (await platform.events(organizationStream(orgId))).filter((e) => e.type === 'CustomRoleDefined');
    expect(definedEvents).to.have.length(2);
    const roles = await call('GET', `/api/v1/organizations/${orgId}/roles?after_position=${repeat.body.data.position}`, owner);
    expect(roles.status, roles.text).to.equal(200);
    const byId = Object.fromEntries(roles.body.data.items.map((x: any) => [x.id, x]));
    expect(byId.owner).to.include({ built_in: true });
    expect(byId.operator.grants['collection.*.*']).to.equal('own');
    expect(byId[editorRole]).to.deep.equal({
      id: editorRole,
      name: 'Editor',
      built_in: false,
      grants: { 'publishing.articles.*': 'team', 'reports.*.view': 'own' },
    });
    expect(byId[first.body.data.id]).to.include({ name: 'Auditor', built_in: false });
  });

  it('invites three users by mail; they accept with the mailed link', async () => {
    const sent = [
      await invite(owner, ann.email, ['operator'], 'north'),
      await invite(owner, bob.email.toUpperCase(), ['analyst', editorRole]),
      await invite(owner, cy.email, ['operator']),
    ];
    for (const r of sent) {
      expect(r.status, r.text).to.equal(201);
      expect(r.body.data.email).to.match(/^[a-z]\*+[a-z0-9]@example\.test$/);
    }
    const [annToken, bobToken] = [await mailedToken(ann.email), await mailedToken(bob.email)];
    cyToken = await mailedToken(cy.email);
    const mail = sink.messages.find((m) => m.envelope.to.includes(ann.email))!;
    expect(mail.parsed.text).to.include(`https://app.example.test/invitations/accept?invitation=${encodeURIComponent(annToken)}`);

    // what the invited see before answering
    const pending = await call('GET', `/api/v1/invitations?after_position=${sent[0]!.body.data.position}`, ann);
    expect(pending.body.data.items).to.have.length(1);
    expect(pending.body.data.items[0]).to.include({ organization_id: orgId, organization_name: 'Acme', status: 'pending', team: 'north' });

    // someone else's link, a made-up one: refused, nothing written
    const other = await refused(403, 'PERMISSION_DENIED', () => call('POST', '/api/v1/invitations/accept', eve, { token: annToken }), [
      organizationStream(orgId),
      invitationStream(sent[0]!.body.data.id),
    ]);
    expect(other.body.error.message).to.match(/sent to .*not to your account's email/);
    await refused(404, 'NOT_FOUND', () => call('POST', '/api/v1/invitations/accept', ann, { token: `${randomUUID()}.guess` }));
    await refused(404, 'NOT_FOUND', () => call('POST', '/api/v1/invitations/accept', ann, { token: annToken.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) }));

    const joined = await call('POST', '/api/v1/invitations/accept', ann, { token: annToken });
    expect(joined.status, joined.text).to.equal(200);
    expect(joined.body.data).to.include({ organization_id: orgId, team: 'north' });
    expect(joined.body.data.roles).to.deep.equal(['operator']);
    const again = await call('POST', '/api/v1/invitations/accept', ann, { token: annToken });
    expect(again.status, again.text).to.equal(200);
    expect((await call('POST', '/api/v1/invitations/accept', bob, { token: bobToken })).status).to.equal(200);
    const last = await call('POST', '/api/v1/invitations/accept', cy, { token: cyToken });
    expect(last.status, last.text).to.equal(200);

    const members = await call('GET', `/api/v1/organizations/${orgId}/members?after_position=${last.body.data.position}`, owner);
    expect(members.status, members.text).to.equal(200);
    expect(members.body.data.pagination.total).to.equal(4);
    const byUser = Object.fromEntries(members.body.data.items.map((m: any) => [m.user_id, m]));
    expect(byUser[bob.userId].roles).to.deep.equal(['analyst', editorRole]);
    expect(byUser[ann.userId]).to.include({ team: 'north', display_name: 'ann' });
    const operators = await call('GET', `/api/v1/organizations/${orgId}/members?role=operator`, owner);
    expect(operators.body.data.items.map((m: any) => m.user_id).sort()).to.deep.equal([ann.userId, cy.userId].sort());
    const north = await call('GET', `/api/v1/organizations/${orgId}/members?team=north`, ann);
    expect(north.body.data.items.map((m: any) => m.user_id)).to.deep.equal([ann.userId]);
    const sending = await call('GET', '/api/v1/customers/sending', ann);
    expect(sending.body.data.pagination.total).to.equal(4);
    const aliasMembers = await call('GET', `/api/v1/customers/enterprises/${orgId}/sending`, owner);
    expect(aliasMembers.body.data.pagination.total).to.equal(4);
  });

  it('refuses an expired, a revoked, a declined and a reused invitation with clear 409s', async () => {
    const dan = await account('dan');
    // an invitation sent long ago (its week is over)
    const invitationId = randomUUID();
    const token = `${invitationId}.an-old-secret-token`;
    await platform.store.append(
      invitationStream(invitationId),
      [
        {
          id: randomUUID(),
          type: 'InvitationSent',
          data: {
            invitationId,
            organizationId: orgId,
            emailHash: hashToken(dan.email),
            emailMasked: 'd*n@example.test',
            roles: ['operator'],
            team: null,
            invitedBy: owner.userId,
            expiresAt: '2026-01-08T00:00:00.000Z',
            tokenHash: hashToken(token),
            sentAt: '2026-01-01T00:00:00.000Z',
          },
          metadata: { [SCHEMA_VERSION]: 1 },
        },
      ],
      'no_stream',
    );
    const expired = await refused(409, 'CONFLICT', () => call('POST', '/api/v1/invitations/accept', dan, { token }), [
      organizationStream(orgId),
      invitationStream(invitationId),
    ]);
    expect(expired.body.error.details.reason).to.equal('expired');
    expect(expired.body.error.message).to.match(/expired/);

    const revokedInvite = await invite(owner, dan.email, ['analyst']);
    const revokedToken = await mailedToken(dan.email);
    // the same address again while that one is pending: one invitation, one mail (the read model is asked, once it has the first)
    await call('GET', `/api/v1/organizations/${orgId}/invitations?after_position=${revokedInvite.body.data.position}`, owner);
    const twice = await refused(409, 'CONFLICT', () => invite(owner, dan.email.toUpperCase(), ['operator']));
    expect(twice.body.error.details).to.include({ reason: 'already_invited', invitation_id: revokedInvite.body.data.id });
    // an operator may not revoke (the access policy's 403); the owner may
    await refused(403, 'PERMISSION_DENIED', () => call('DELETE', `/api/v1/organizations/${orgId}/invitations/${revokedInvite.body.data.id}`, ann), [
      invitationStream(revokedInvite.body.data.id),
    ]);
    const revoke = await call('DELETE', `/api/v1/organizations/${orgId}/invitations/${revokedInvite.body.data.id}`, owner);
    expect(revoke.status, revoke.text).to.equal(200);
    const r = await refused(409, 'CONFLICT', () => call('POST', '/api/v1/invitations/accept', dan, { token: revokedToken }));
    expect(r.body.error.details.reason).to.equal('revoked');

    const eveInvite = await invite(owner, eve.email, ['operator']);
    const eveToken = await mailedToken(eve.email);
    await refused(404, 'NOT_FOUND', () => call('POST', `/api/v1/invitations/${eveInvite.body.data.id}/decline`, dan));
    expect((await call('POST', `/api/v1/invitations/${eveInvite.body.data.id}/decline`, eve)).status).to.equal(200);
    expect((await call('POST', `/api/v1/invitations/${eveInvite.body.data.id}/decline`, eve)).status).to.equal(200);
    const declined = await refused(409, 'CONFLICT', () => call('POST', '/api/v1/invitations/accept', eve, { token: eveToken }));
    expect(declined.body.error.details.reason).to.equal('declined');

    const list = await call('GET', `/api/v1/organizations/${orgId}/invitations?status=revoked&after_position=${revoke.body.data.position}`, owner);
    expect(list.body.data.items.map((i: any) => i.id)).to.deep.equal([revokedInvite.body.data.id]);
    await refused(409, 'CONFLICT', () => call('DELETE', `/api/v1/organizations/${orgId}/invitations/${eveInvite.body.data.id}`, owner), [
      invitationStream(eveInvite.body.data.id),
    ]);
  });

  it('grants and revokes roles one event each, and keeps the owner rules', async () => {
    const before = await streamLength(organizationStream(orgId));
    const r = await call('PATCH', `/api/v1/organizations/${orgId}/members/${ann.userId}`, owner, { roles: ['admin', 'reviewer'], team: 'south' });
    expect(r.status, r.text).to.equal(200);
    expect(r.body.data).to.include({ user_id: ann.userId, team: 'south' });
    expect(r.body.data.granted).to.deep.equal(['admin', 'reviewer']);
    expect(r.body.data.revoked).to.deep.equal(['operator']);
    const events = (await platform.events(organizationStream(orgId))).slice(before);
    expect(events.map((e) => e.type)).to.deep.equal(['RoleRevoked', 'RoleGranted', 'RoleGranted', 'MemberTeamChanged']);
    const same = await call('PATCH', `/api/v1/organizations/${orgId}/members/${ann.userId}`, owner, { roles: ['reviewer', 'admin'] });
    expect(same.body.data).to.include({ revision: r.body.data.revision });
    expect(same.body.data.granted).to.deep.equal([]);

    // only the owner grants owner; the owner always holds it and can be neither removed nor transferred away by others
    const ownerOnly = await refused(403, 'PERMISSION_DENIED', () =>
      call('PATCH', `/api/v1/organizations/${orgId}/members/${cy.userId}`, ann, { roles: ['owner'] }),
    );
    expect(ownerOnly.body.error.details.reason).to.equal('owner_only');
    await refused(409, 'CONFLICT', () => call('PATCH', `/api/v1/organizations/${orgId}/members/${owner.userId}`, owner, { roles: ['admin'] }));
    const removeOwner = await refused(409, 'CONFLICT', () => call('DELETE', `/api/v1/organizations/${orgId}/members/${owner.userId}`, ann));
    expect(removeOwner.body.error.message).to.match(/transfer the ownership first/);
    await refused(409, 'CONFLICT', () => call('POST', `/api/v1/organizations/${orgId}/leave`, owner));
    await refused(403, 'PERMISSION_DENIED', () => call('POST', `/api/v1/organizations/${orgId}/ownership`, ann, { user_id: ann.userId }));
    await refused(422, 'VALIDATION_ERROR', () => call('PATCH', `/api/v1/organizations/${orgId}/members/${ann.userId}`, owner, { roles: ['superuser'] }));
    await refused(422, 'VALIDATION_ERROR', () =>
      call('PATCH', `/api/v1/organizations/${orgId}/members/${ann.userId}`, owner, { roles: Array.from({ length: 11 }, () => 'admin') }),
    );
    await refused(422, 'VALIDATION_ERROR', () => call('PATCH', `/api/v1/organizations/${orgId}/members/${ann.userId}`, owner, { team: 'x'.repeat(65) }));
    const one = await call('GET', `/api/v1/organizations/${orgId}/members/${ann.userId}`, owner);
    expect(one.body.data).to.include({ user_id: ann.userId, team: 'south' });
    expect(one.body.data.roles).to.deep.equal(['admin', 'reviewer']);
  });

  it('deleting a custom role revokes it from its holders; removing a member ends their membership', async () => {
    const del = await call('DELETE', `/api/v1/organizations/${orgId}/roles/${editorRole}`, owner);
    expect(del.status, del.text).to.equal(200);
    expect(del.body.data.revoked_from).to.deep.equal([bob.userId]);
    await refused(404, 'NOT_FOUND', () => call('DELETE', `/api/v1/organizations/${orgId}/roles/${editorRole}`, owner));
    const bobNow = await call('GET', `/api/v1/organizations/${orgId}/members/${bob.userId}`, bob);
    expect(bobNow.body.data.roles).to.deep.equal(['analyst']);

    const removed = await call('DELETE', `/api/v1/organizations/${orgId}/members/${cy.userId}`, ann);
    expect(removed.status, removed.text).to.equal(200);
    await refused(404, 'NOT_FOUND', () => call('GET', `/api/v1/organizations/${orgId}`, cy));
    expect((await call('GET', '/api/v1/organizations', cy)).body.data.items).to.deep.equal([]);
    await refused(404, 'NOT_FOUND', () => call('DELETE', `/api/v1/organizations/${orgId}/members/${cy.userId}`, ann));
    // the link they joined by is used up
    const reused = await refused(409, 'CONFLICT', () => call('POST', '/api/v1/invitations/accept', cy, { token: cyToken }));
    expect(reused.body.error.details.reason).to.equal('accepted');
    // free again: cy may found an organization of their own
    const own = await call('POST', '/api/v1/organizations', cy, { name: 'Cy & Co' });
    expect(own.status, own.text).to.equal(201);
  });

  it('answers clear errors to bad input and strangers, writing nothing', async () => {
    await refused(422, 'VALIDATION_ERROR', () => call('POST', '/api/v1/organizations', eve, { name: 'Evil\u0000Corp' }), []);
    await refused(422, 'VALIDATION_ERROR', () => call('POST', '/api/v1/organizations', eve, { name: '' }), []);
    await refused(422, 'VALIDATION_ERROR', () => call('PATCH', `/api/v1/organizations/${orgId}`, owner, { name: 'A\u0000B' }));
    await refused(422, 'VALIDATION_ERROR', () => call('PATCH', `/api/v1/organizations/${orgId}`, owner, {}));
    await refused(422, 'VALIDATION_ERROR', () => invite(owner, 'not-an-email', ['operator']));
    await refused(422, 'VALIDATION_ERROR', () => invite(owner, `x\u0000y@example.test`, ['operator']));
    await refused(422, 'VALIDATION_ERROR', () => invite(owner, 'z@example.test', ['owner']));
    await refused(409, 'CONFLICT', () => invite(owner, ann.email, ['operator']));
    await refused(404, 'NOT_FOUND', () => call('GET', `/api/v1/organizations/${randomUUID()}`, owner), []);
    await refused(404, 'NOT_FOUND', () => call('GET', `/api/v1/organizations/${orgId}`, eve));
    // a member of another organization holds these permissions there, not here
    await refused(404, 'NOT_FOUND', () => call('GET', `/api/v1/organizations/${orgId}/members`, cy));
    await refused(404, 'NOT_FOUND', () => invite(cy, 'z@example.test', ['operator']));
    await refused(404, 'NOT_FOUND', () => call('DELETE', `/api/v1/organizations/${orgId}/members/${bob.userId}`, cy));
    await refused(404, 'NOT_FOUND', () => call('PATCH', `/api/v1/organizations/${orgId}/members/${randomUUID()}`, owner, { team: 'x' }));
    await refused(404, 'NOT_FOUND', () => call('PATCH', `/api/v1/organizations/${orgId}/roles/${randomUUID()}`, owner, { name: 'x' }));
    await refused(404, 'NOT_FOUND', () => call('POST', `/api/v1/organizations/${orgId}/ownership`, owner, { user_id: randomUUID() }));
    await refused(404, 'NOT_FOUND', () => call('DELETE', `/api/v1/organizations/${orgId}/invitations/${randomUUID()}`, owner));
    await refused(404, 'NOT_FOUND', () => call('POST', `/api/v1/invitations/${randomUUID()}/decline`, eve), []);
    await refused(422, 'VALIDATION_ERROR', () => call('POST', '/api/v1/invitations/accept', eve, { token: '' }), []);
    await refused(422, 'VALIDATION_ERROR', () => call('GET', `/api/v1/organizations/${orgId}/members?per_page=1000`, owner));
    await refused(401, 'UNAUTHENTICATED', () => platform.call('GET', '/api/v1/organizations'), []);
  });

  it('renames, requires MFA, hands the ownership on; the former owner may then leave', async () => {
    // If-Match: the organization's ETag the change was decided on; a stale one is 412 and writes nothing
    const patch = (ifMatch: string, body: unknown) =>
      fetch(`${platform.url}/api/v1/organizations/${orgId}`, {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${owner.token}`, 'Content-Type': 'application/json', 'If-Match': ifMatch },
        body: JSON.stringify(body),
      });
    const etag = (await fetch(`${platform.url}/api/v1/organizations/${orgId}`, { headers: { Authorization: `Bearer ${owner.token}` } })).headers.get('etag')!;
    expect(etag).to.match(/^"\d+"$/);
    const before = await streamLength(organizationStream(orgId));
    expect((await patch('"0"', { name: 'Stale' })).status).to.equal(412);
    expect((await patch('garbage', { name: 'Stale' })).status).to.equal(400);
    expect(await streamLength(organizationStream(orgId))).to.equal(before);
    const matched = await patch(etag, { name: 'Acme Group' });
    expect(matched.status, await matched.clone().text()).to.equal(200);

    const patched = await call('PATCH', `/api/v1/organizations/${orgId}`, owner, { name: 'Acme Ltd' });
    expect(patched.status, patched.text).to.equal(200);
    expect(patched.body.data).to.include({ name: 'Acme Ltd', mfa_required: false });
    const moved = await call('POST', `/api/v1/organizations/${orgId}/ownership`, owner, { user_id: ann.userId });
    expect(moved.status, moved.text).to.equal(200);
    expect(moved.body.data.owner_id).to.equal(ann.userId);
    const left = await call('POST', `/api/v1/organizations/${orgId}/leave`, owner);
    expect(left.status, left.text).to.equal(200);
    expect((await call('GET', '/api/v1/organizations', owner)).body.data.items).to.deep.equal([]);
    const shown = await call('GET', `/api/v1/customers/enterprises/${orgId}`, ann);
    expect(shown.body.data).to.include({ owner_id: ann.userId, member_count: 2 });
    expect(shown.body.data.my_roles).to.include('owner');
    // last: from here on the members need a second factor (the access policy reads it from the membership)
    const mfa = await call('PATCH', `/api/v1/organizations/${orgId}`, ann, { mfa_required: true });
    expect(mfa.status, mfa.text).to.equal(200);
    expect(mfa.body.data).to.include({ mfa_required: true, owner_id: ann.userId });
    const events = await platform.events(organizationStream(orgId));
    expect(events.at(-1)?.type).to.equal('MfaRequirementChanged');
  });

  it('documents every route and its aliases, and never shows a token or an address in clear', async () => {
    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
    expect(doc.paths['/api/v1/organizations/{id}/members/{userId}']).to.have.keys(['get', 'patch', 'delete']);
    expect(doc.paths['/api/v1/customers/enterprises'].get.description).to.match(/^Alias of GET \/api\/v1\/organizations\b/);
    expect(doc.paths['/api/v1/customers/sending'].get.description).to.match(/^Alias of/);
    for (const message of sink.messages) {
      const token = /invitation=([^\s&"<]+)/.exec(message.parsed.text ?? '')?.[1];
      if (!token) continue;
      for (const text of seen) expect(text).to.not.include(decodeURIComponent(token));
    }
    const rows = await platform.knex('organization_invitations').where({ organization_id: orgId }).select('*');
    expect(rows.length).to.be.greaterThan(3);
    const addresses = [owner, ann, bob, cy, eve].map((a) => a.email);
    for (const row of rows) for (const address of addresses) expect(JSON.stringify(row).toLowerCase()).to.not.include(address);
    for (const row of rows)
      for (const event of await platform.events(invitationStream(row.id)))
        for (const address of addresses) expect(JSON.stringify(event.data).toLowerCase()).to.not.include(address);
  });

  it('the read model follows the organization', async () => {
    await waitFor(
      'the projection to catch up',
      async () => (await platform.knex('organizations').where({ id: orgId }).first())?.name === 'Acme Ltd',
      10_000,
      50,
    );
  });
});
