import { expect } from 'chai';
import { createHmac, randomUUID } from 'node:crypto';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { joinOrganization, membershipsSettle, registerMember, type Member } from '../support/members.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Data scopes over real HTTP (docs/rbac.md): in one organization, an
 * analyst sees every member's workflows, an operator their team's (and
 * changes only their own), another team sees none of them, and an admin
 * pauses a member's workflow; outside the organization nothing is visible.
 */
describe('RBAC data scopes: whose workflows a member sees and changes (e2e)', function () {
  this.timeout(90_000);
  let platform: Platform;
  let sink: SmtpSink;
  let worker: RunningWorker | undefined;
  type User = Member;
  let owner: User;
  let north1: User;
  let north2: User;
  let south: User;
  let analyst: User;
  let outsider: User;
  let northFlow: string;
  let southFlow: string;
  let orgId: string;

  const call = (method: string, path: string, user: User, body?: unknown): Promise<Reply> =>
    platform.call(method, `/api/v1${path}`, { token: user.token, ...(body !== undefined ? { body } : {}) });

  async function createWorkflow(user: User, name: string): Promise<string> {
    let created: Reply | undefined;
    // the free plan arrives through the projector's process manager a moment after the registration
    await waitFor(
      `${name}: created`,
      async () => {
        created = await call('POST', '/workflows', user, {
          name,
          type: 'xiaohongshu.notes',
          config: { mode: 'keyword', keyword: '咖啡', maxItems: 20 },
          schedule: { kind: 'interval', every: 'daily' },
        });
        return created.status === 201;
      },
      20_000,
      200,
    );
    return created!.body.data.id;
  }

  const listed = async (user: User): Promise<string[]> => (await call('GET', '/workflows', user)).body.data.items.map((w: { id: string }) => w.id).sort();

  before(async () => {
    sink = await new SmtpSink().start();
    platform = await startPlatform({ proxies: 0, config: { SMTP_URL: sink.url, PUBLIC_WEB_URL: 'https://app.example.test' } });
    platform.startConsumers();
    worker = await startWorker(platform.container, { workerName: `scope-mail-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    [owner, north1, north2, south, analyst, outsider] = (await Promise.all(
      ['owner', 'north1', 'north2', 'south', 'analyst', 'outsider'].map((name) => registerMember(platform, name)),
    )) as [User, User, User, User, User, User];
    // made on their own free plans before they join (the organization's free plan holds one workflow): resources a member brings stay theirs
    northFlow = await createWorkflow(north1, 'north coffee');
    southFlow = await createWorkflow(south, 'south coffee');
    const founded = await call('POST', '/organizations', owner, { name: 'Scopes' });
    expect(founded.status, founded.text).to.equal(201);
    orgId = founded.body.data.id as string;
    const join = (user: User, role: string, team?: string) =>
      joinOrganization(platform, sink, { organizationId: orgId, inviter: owner, user, roles: [role], ...(team ? { team } : {}) });
    await Promise.all([join(north1, 'operator', 'north'), join(north2, 'operator', 'north'), join(south, 'operator', 'south'), join(analyst, 'analyst')]);
    await membershipsSettle();
    await waitFor('both in the read model', async () => (await listed(analyst)).length === 2, 10_000, 100);
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sink?.stop();
  });

  it("an analyst sees the organization's workflows, and changes none (403)", async () => {
    expect(await listed(analyst)).to.deep.equal([northFlow, southFlow].sort());
    expect((await call('GET', `/workflows/${southFlow}`, analyst)).status).to.equal(200);
    const refused = await call('POST', `/workflows/${northFlow}/pause`, analyst);
    expect(refused.status, refused.text).to.equal(403);
    expect(refused.body.error.details).to.include({ permission: 'collection.workflows.edit', reason: 'role' });
  });

  it("an operator sees their team's workflows but changes only their own; another team sees none of them", async () => {
    expect(await listed(north2)).to.deep.equal([northFlow]);
    expect((await call('GET', `/workflows/${northFlow}`, north2)).status).to.equal(200);
    expect((await call('POST', `/workflows/${northFlow}/pause`, north2)).status).to.equal(404);
    expect(await listed(south)).to.deep.equal([southFlow]);
    expect((await call('GET', `/workflows/${northFlow}`, south)).status).to.equal(404);
    expect((await call('GET', `/workflows/${northFlow}/executions`, south)).status).to.equal(404);
  });

  it("the owner pauses and resumes a member's workflow; the member sees it", async () => {
    const paused = await call('POST', `/workflows/${northFlow}/pause`, owner);
    expect(paused.status, paused.text).to.equal(200);
    const shown = await call('GET', `/workflows/${northFlow}?after_position=${paused.body.data.position}`, north1);
    expect(shown.body.data.status).to.equal('paused');
    const resumed = await call('POST', `/workflows/${northFlow}/resume`, owner);
    expect(resumed.status, resumed.text).to.equal(200);
  });

  it('an organization requiring MFA refuses a member without one (mfa_required) but lets them set it up, then lets them back', async () => {
    const strict = await call('PATCH', `/organizations/${orgId}`, owner, { mfa_required: true });
    expect(strict.status, strict.text).to.equal(200);
    const pause = () => new Promise((resolve) => setTimeout(resolve, 1_100));
    await pause(); // the membership answers are kept a second
    const refused = await call('GET', '/workflows', analyst);
    expect(refused.status, refused.text).to.equal(403);
    expect(refused.body.error.details).to.include({ permission: 'collection.workflows.view', reason: 'mfa_required' });
    expect(refused.body.error.message).to.include('/api/v1/users/mfa/totp');
    expect((await call('GET', `/organizations/${orgId}`, analyst)).status).to.equal(200);
    expect((await call('GET', '/users/profile', analyst)).status).to.equal(200);

    const started = await call('POST', '/users/mfa/totp', analyst);
    expect(started.status, started.text).to.be.oneOf([200, 201]);
    const confirmed = await call('POST', '/users/mfa/totp/confirm', analyst, { code: totp(started.body.data.secret) });
    expect(confirmed.status, confirmed.text).to.equal(200);
    await pause(); // the session's standing is kept a second
    expect((await call('GET', '/workflows', analyst)).status).to.equal(200);
  });

  it('outside the organization nothing of it is visible', async () => {
    expect(await listed(outsider)).to.deep.equal([]);
    expect((await call('GET', `/workflows/${northFlow}`, outsider)).status).to.equal(404);
    expect((await call('POST', `/workflows/${northFlow}/pause`, outsider)).status).to.equal(404);
  });
});

/** The RFC 6238 code of a base32 secret now (SHA-1, 6 digits, 30 s). */
function totp(secret: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => Number.parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}
