import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { joinOrganization, membershipsSettle, registerMember, type Member } from '../support/members.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The members list and the single member over real HTTP, by the caller's data
 * scope for organization.members.view (docs/organizations.md): custom roles
 * granting it at `own` and at `team` see themselves and their team, the
 * built-in roles granting it (organization scope) everyone; a member out of
 * scope is 404 like a non-member, and the totals count only what is shown.
 */
describe('organizations: the members a caller sees follow their data scope (e2e)', function () {
  this.timeout(120_000);
  let platform: Platform;
  let sink: SmtpSink;
  let worker: RunningWorker | undefined;
  let orgId: string;
  /** owner; ownN: members.view at own (north); teamN, teamS, loner: at team (north, south, no team); billN, billS: billing (north, south); op: operator (south) */
  const m = {} as Record<'owner' | 'ownN' | 'teamN' | 'billN' | 'teamS' | 'billS' | 'loner' | 'op' | 'stranger', Member>;

  const call = (method: string, path: string, user: Member, body?: unknown): Promise<Reply> =>
    platform.call(method, `/api/v1${path}`, { token: user.token, ...(body !== undefined ? { body } : {}) });
  /** the user ids of a members page, sorted, with its total */
  async function listed(user: Member, path = `/organizations/${orgId}/members`): Promise<{ ids: string[]; total: number }> {
    const r = await call('GET', path, user);
    expect(r.status, `${path}: ${r.text}`).to.equal(200);
    return { ids: r.body.data.items.map((i: { user_id: string }) => i.user_id).sort(), total: r.body.data.pagination.total };
  }
  const ids = (...names: (keyof typeof m)[]) => names.map((n) => m[n].userId).sort();
  const members = ['owner', 'ownN', 'teamN', 'billN', 'teamS', 'billS', 'loner', 'op'] as const;

  before(async () => {
    sink = await new SmtpSink().start();
    platform = await startPlatform({ proxies: 0, config: { SMTP_URL: sink.url, PUBLIC_WEB_URL: 'https://app.example.test' } });
    worker = await startWorker(platform.container, { workerName: `members-scope-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    // lower-case: the invitation mail is addressed to the normalised address
    const users = await Promise.all([...members, 'stranger'].map((name) => registerMember(platform, name.toLowerCase())));
    for (const [i, name] of [...members, 'stranger'].entries()) m[name as keyof typeof m] = users[i]!;
    const founded = await call('POST', '/organizations', m.owner, { name: 'Member Scopes' });
    expect(founded.status, founded.text).to.equal(201);
    orgId = founded.body.data.id;
    const role = async (name: string, scope: string): Promise<string> => {
      const r = await call('POST', `/organizations/${orgId}/roles`, m.owner, { name, grants: { 'organization.members.view': scope } });
      expect(r.status, r.text).to.equal(201);
      return r.body.data.id;
    };
    const ownRole = await role('members of my own', 'own');
    const teamRole = await role('members of my team', 'team');
    const join = (user: Member, roles: string[], team?: string) =>
      joinOrganization(platform, sink, { organizationId: orgId, inviter: m.owner, user, roles, ...(team ? { team } : {}) });
    await Promise.all([
      join(m.ownN, [ownRole], 'north'),
      join(m.teamN, [teamRole], 'north'),
      join(m.billN, ['billing'], 'north'),
      join(m.teamS, [teamRole], 'south'),
      join(m.billS, ['billing'], 'south'),
      join(m.loner, [teamRole]),
      join(m.op, ['operator'], 'south'),
    ]);
    await waitFor('every member in the read model', async () => (await listed(m.owner)).total === members.length, 20_000, 100);
    await membershipsSettle();
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sink?.stop();
  });

  /** whom each caller sees */
  const seen = () =>
    ({
      owner: ids(...members),
      op: ids(...members),
      ownN: ids('ownN'),
      teamN: ids('ownN', 'teamN', 'billN'),
      teamS: ids('teamS', 'billS', 'op'),
      loner: ids('loner'),
    }) as const;

  it('the list: organization scope every member, team the caller and their team, own the caller; the total counts only those', async () => {
    for (const [name, expected] of Object.entries(seen())) {
      const page = await listed(m[name as keyof typeof m]);
      expect(page.ids, name).to.deep.equal(expected);
      expect(page.total, name).to.equal(expected.length);
    }
  });

  it('pages, filters and the aliases stay within the scope', async () => {
    const second = await call('GET', `/organizations/${orgId}/members?per_page=2&page=2`, m.teamN);
    expect(second.status, second.text).to.equal(200);
    expect(second.body.data.items).to.have.length(1);
    expect(second.body.data.pagination).to.include({ total: 3, total_pages: 2, has_next: false });
    expect(await listed(m.teamN, `/organizations/${orgId}/members?role=billing`)).to.deep.equal({ ids: ids('billN'), total: 1 });
    expect(await listed(m.teamN, `/organizations/${orgId}/members?team=south`)).to.deep.equal({ ids: [], total: 0 });
    expect(await listed(m.ownN, `/organizations/${orgId}/members?team=north`)).to.deep.equal({ ids: ids('ownN'), total: 1 });
    expect(await listed(m.teamS, '/customers/sending')).to.deep.equal({ ids: seen().teamS, total: 3 });
    expect(await listed(m.ownN, `/customers/enterprises/${orgId}/sending`)).to.deep.equal({ ids: ids('ownN'), total: 1 });
    expect(await listed(m.op, '/customers/sending')).to.deep.equal({ ids: ids(...members), total: members.length });
  });

  it('one member: 200 within the scope, 404 outside it exactly as for a non-member', async () => {
    const one = (viewer: Member, userId: string) => call('GET', `/organizations/${orgId}/members/${userId}`, viewer);
    for (const [name, expected] of Object.entries(seen())) {
      const viewer = m[name as keyof typeof m];
      const nonMember = await one(viewer, m.stranger.userId);
      expect(nonMember.status, `${name}: ${nonMember.text}`).to.equal(404);
      for (const target of members) {
        const r = await one(viewer, m[target].userId);
        if (expected.includes(m[target].userId)) {
          expect(r.status, `${name} → ${target}: ${r.text}`).to.equal(200);
          expect(r.body.data.user_id).to.equal(m[target].userId);
        } else {
          expect(r.status, `${name} → ${target}: ${r.text}`).to.equal(404);
          // nothing tells a member out of scope from a stranger
          expect(r.body.error).to.deep.equal(JSON.parse(JSON.stringify(nonMember.body.error).replaceAll(m.stranger.userId, m[target].userId)));
        }
      }
    }
  });

  it('the built-in billing role holds no members.view: 403 role, as before', async () => {
    const r = await call('GET', `/organizations/${orgId}/members`, m.billN);
    expect(r.status, r.text).to.equal(403);
    expect(r.body.error.details).to.include({ permission: 'organization.members.view', reason: 'role' });
  });
});
