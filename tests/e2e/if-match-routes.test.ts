import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt, randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { apiKeyStream } from '../../src/write-model/api-key/index.js';
import { mediaStream } from '../../src/write-model/media/decider.js';
import { novelAlertStream } from '../../src/write-model/novel-alert/decider.js';
import { novelTrackingStream } from '../../src/write-model/novel-tracking/decider.js';
import { invitationStream, organizationStream } from '../../src/write-model/organization/index.js';
import { proxyStream } from '../../src/write-model/proxy/decider.js';
import { keywordWatchStream } from '../../src/write-model/qidian-keyword/decider.js';
import { reviewRuleSetStream } from '../../src/write-model/review-rules/decider.js';
import { smsKeywordStream } from '../../src/write-model/sms-keyword/decider.js';
import { userStream } from '../../src/write-model/user/index.js';
import type { SmsSandbox } from '../../sandbox/sms-provider/server.js';
import { joinOrganization, registerMember, TEST_PASSWORD, type Member } from '../support/members.js';
import { grantPlan } from '../support/plans.js';
import type { CallOptions, Platform, Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { startSmsPlatform, type SmsPlatform } from '../support/sms-platform.js';
import { waitFor } from '../support/wait-for.js';

/**
 * If-Match on the routes that change one aggregate (docs/http-api.md): a
 * stale revision is 412 PRECONDITION_FAILED and writes nothing; the current
 * one succeeds; a repeated DELETE still answers 200 with position null
 * without If-Match (or with the current revision), 412 with a stale one. One
 * platform (the SMS sandbox for the phone routes, an SMTP sink for an
 * invitation), users shared across the cases.
 */
describe('If-Match on single-aggregate routes (e2e)', function () {
  this.timeout(180_000);
  let sms: SmsPlatform;
  let sandbox: SmsSandbox;
  let platform: Platform;
  let sink: SmtpSink;
  let mailWorker: RunningWorker | undefined;
  let mediaRoot: string;
  let alice: { userId: string; token: string };
  let bob: Member;
  let carol: Member;
  let olga: Member;
  let max: Member;
  let admin: string;

  before(async () => {
    sink = await new SmtpSink().start();
    mediaRoot = await mkdtemp(join(tmpdir(), 'if-match-media-'));
    sms = await startSmsPlatform({ name: 'if-match', config: { SMTP_URL: sink.url, MEDIA_STORAGE_URL: `file:${mediaRoot}` } });
    ({ sandbox, platform } = sms);
    mailWorker = await startWorker(platform.container, { workerName: `if-match-mail-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    [bob, carol, olga, max] = (await Promise.all(['bob', 'carol', 'olga', 'max'].map((name) => registerMember(platform, name)))) as [
      Member,
      Member,
      Member,
      Member,
    ];
    // alice's plan has everything the routes below need: own review rules, keywords, API keys, unlimited trackings and alerts
    alice = await platform.signUp('alice');
    await grantPlan(platform.store, alice.userId, 'qidian', 'enterprise');
    admin = await platform.adminToken();
  });
  after(async () => {
    await mailWorker?.stop({ timeoutMs: 2_000 });
    await sms?.stop();
    await sink?.stop();
    if (mediaRoot) await rm(mediaRoot, { recursive: true, force: true });
  });

  async function call(
    method: string,
    path: string,
    options: Omit<CallOptions, 'ifMatch'> & { token: string; ifMatch?: string | bigint },
  ): Promise<Reply & { etag: string | null }> {
    const { ifMatch } = options;
    const reply = await platform.call(method, path, { ...options, ifMatch: typeof ifMatch === 'bigint' ? `"${ifMatch}"` : ifMatch });
    return { ...reply, etag: reply.headers.get('etag') };
  }

  const streamLength = async (stream: string): Promise<number> => (await platform.events(stream)).length;
  const revisionOf = (reply: Reply): bigint => BigInt(reply.body.data.revision);
  const etagOf = (reply: { etag: string | null }): bigint => BigInt(/^"(\d+)"$/.exec(reply.etag ?? '')![1]!);

  /** `run` (with a stale If-Match) is 412 PRECONDITION_FAILED, and `stream` has not moved. */
  async function refusedAsStale(stream: string, run: () => Promise<Reply>): Promise<void> {
    const before = await streamLength(stream);
    const reply = await run();
    expect(reply.status, reply.text).to.equal(412);
    expect(reply.body.error.code).to.equal('PRECONDITION_FAILED');
    expect(await streamLength(stream), 'nothing written').to.equal(before);
  }

  /** `run` answers 200 with position null and writes nothing (a repeat). */
  async function repeatedAsNoop(stream: string, run: () => Promise<Reply>): Promise<void> {
    const before = await streamLength(stream);
    const reply = await run();
    expect(reply.status, reply.text).to.equal(200);
    expect(reply.body.data.position).to.equal(null);
    expect(await streamLength(stream), 'nothing written').to.equal(before);
  }

  /**
   * The DELETE at `path` under the If-Match convention: stale → 412, current → 200; the repeat
   * without If-Match or with the revision it answered is 200 with position null, with the older one 412.
   */
  async function deleteHonoursIfMatch(stream: string, path: string, token: string, current: bigint): Promise<Reply> {
    await refusedAsStale(stream, () => call('DELETE', path, { token, ifMatch: current + 7n }));
    const done = await call('DELETE', path, { token, ifMatch: current });
    expect(done.status, done.text).to.equal(200);
    expect(done.body.data.position).to.be.a('string');
    const after = revisionOf(done);
    await repeatedAsNoop(stream, () => call('DELETE', path, { token }));
    await repeatedAsNoop(stream, () => call('DELETE', path, { token, ifMatch: after }));
    await refusedAsStale(stream, () => call('DELETE', path, { token, ifMatch: current }));
    return done;
  }

  describe('media', () => {
    // a 1×1 GIF
    const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

    it('DELETE /media/{id}: a stale If-Match is 412 and the image stays; the upload revision deletes it; a malformed one is 400', async () => {
      const uploaded = await call('POST', '/api/v1/media', { token: alice.token, raw: GIF, type: 'image/gif' });
      expect(uploaded.status, uploaded.text).to.equal(201);
      const id = uploaded.body.data.id as string;
      const path = `/api/v1/media/${id}`;
      const malformed = await call('DELETE', path, { token: alice.token, ifMatch: 'W/"0"' });
      expect(malformed.status, malformed.text).to.equal(400);
      expect(malformed.body.error.code).to.equal('INVALID_IF_MATCH');
      await refusedAsStale(mediaStream(id), () => call('DELETE', path, { token: alice.token, ifMatch: revisionOf(uploaded) + 1n }));
      expect((await call('GET', path, { token: alice.token })).status).to.equal(200);
      const deleted = await call('DELETE', path, { token: alice.token, ifMatch: revisionOf(uploaded) });
      expect(deleted.status, deleted.text).to.equal(200);
      expect((await call('GET', path, { token: alice.token })).status).to.equal(404);
      // the repeat stays 404, whatever If-Match says
      expect((await call('DELETE', path, { token: alice.token })).status).to.equal(404);
    });
  });

  describe('proxies', () => {
    it('DELETE /proxies/{id} (admin): takes the ETag of GET; stale is 412 and the proxy stays active', async () => {
      const registered = await call('POST', '/api/v1/proxies', {
        token: admin,
        body: { host: `if-match-${randomUUID().slice(0, 8)}.test`, port: 8080, protocol: 'http' },
      });
      expect(registered.status, registered.text).to.equal(201);
      const id = registered.body.data.id as string;
      const shown = await call('GET', `/api/v1/proxies/${id}?after_position=${registered.body.data.position}`, { token: admin });
      expect(shown.status, shown.text).to.equal(200);
      const retired = await deleteHonoursIfMatch(proxyStream(id), `/api/v1/proxies/${id}`, admin, etagOf(shown));
      const after = await call('GET', `/api/v1/proxies/${id}?after_position=${retired.body.data.position}`, { token: admin });
      expect(after.body.data.status).to.equal('retired');
    });
  });

  describe('review rules', () => {
    it('PUT and DELETE /review-rules/{id}: the rule set revision (GET ETag); stale is 412 and the rule stays as it was', async () => {
      const rule = { kind: 'banned_phrase', name: 'if-match rule', phrases: ['forbidden'] };
      const added = await call('POST', '/api/v1/review-rules', { token: alice.token, body: { scope: 'mine', ...rule } });
      expect(added.status, added.text).to.equal(201);
      const id = added.body.data.id as string;
      const stream = reviewRuleSetStream(alice.userId);
      const path = `/api/v1/review-rules/${id}`;
      const shown = await call('GET', path, { token: alice.token });
      expect(etagOf(shown)).to.equal(revisionOf(added));

      await refusedAsStale(stream, () => call('PUT', path, { token: alice.token, ifMatch: revisionOf(added) + 1n, body: { ...rule, phrases: ['other'] } }));
      expect((await call('GET', path, { token: alice.token })).body.data.phrases).to.deep.equal(['forbidden']);
      const changed = await call('PUT', path, { token: alice.token, ifMatch: etagOf(shown), body: { ...rule, phrases: ['other'] } });
      expect(changed.status, changed.text).to.equal(200);
      expect((await call('GET', path, { token: alice.token })).body.data.phrases).to.deep.equal(['other']);
      // the same rule again, at the revision it is at: nothing to write
      await repeatedAsNoop(stream, () => call('PUT', path, { token: alice.token, ifMatch: revisionOf(changed), body: { ...rule, phrases: ['other'] } }));

      await refusedAsStale(stream, () => call('DELETE', path, { token: alice.token, ifMatch: revisionOf(added) }));
      expect((await call('GET', path, { token: alice.token })).status).to.equal(200);
      const removed = await call('DELETE', path, { token: alice.token, ifMatch: revisionOf(changed) });
      expect(removed.status, removed.text).to.equal(200);
      expect((await call('GET', path, { token: alice.token })).status).to.equal(404);
    });
  });

  describe('qidian', () => {
    it('DELETE /qidian/trackings/{id}: stale is 412 and the novel stays tracked; the repeat stays 200 with position null', async () => {
      const tracked = await call('POST', '/api/v1/qidian/trackings', { token: alice.token, body: { novel_id: '7001' } });
      expect(tracked.status, tracked.text).to.equal(201);
      const id = tracked.body.data.id as string;
      await deleteHonoursIfMatch(novelTrackingStream(id), `/api/v1/qidian/trackings/${id}`, alice.token, revisionOf(tracked));
    });

    it('DELETE /qidian/alerts/{id}: stale is 412 and the alert stays; the repeat stays 200 with position null', async () => {
      const tracked = await call('POST', '/api/v1/qidian/trackings', { token: alice.token, body: { novel_id: '7002' } });
      expect(tracked.status, tracked.text).to.equal(201);
      const created = await call('POST', '/api/v1/qidian/alerts', { token: alice.token, body: { novel_id: '7002', kind: 'update' } });
      expect(created.status, created.text).to.equal(201);
      const id = created.body.data.id as string;
      await refusedAsStale(novelAlertStream(id), () =>
        call('DELETE', `/api/v1/qidian/alerts/${id}`, { token: alice.token, ifMatch: revisionOf(created) + 1n }),
      );
      expect((await call('GET', `/api/v1/qidian/alerts/${id}`, { token: alice.token })).body.data.status).to.equal('active');
      await deleteHonoursIfMatch(novelAlertStream(id), `/api/v1/qidian/alerts/${id}`, alice.token, revisionOf(created));
    });

    it('DELETE /qidian/keywords/{id}: stale is 412 and the keyword stays watched; the repeat stays 200 with position null', async () => {
      const watched = await call('POST', '/api/v1/qidian/keywords', { token: alice.token, body: { keyword: `修仙${randomInt(1_000_000)}` } });
      expect(watched.status, watched.text).to.equal(201);
      const id = watched.body.data.id as string;
      await deleteHonoursIfMatch(keywordWatchStream(id), `/api/v1/qidian/keywords/${id}`, alice.token, revisionOf(watched));
    });
  });

  describe('API keys', () => {
    it("DELETE /users/api-keys/{id}: stale is 412 and the key still works; another user's key stays 404 whatever If-Match says", async () => {
      const created = await call('POST', '/api/v1/users/api-keys', { token: alice.token, body: { name: 'if-match', scopes: ['read'] } });
      expect(created.status, created.text).to.equal(201);
      const id = created.body.data.id as string;
      const key = created.body.data.key as string;
      const path = `/api/v1/users/api-keys/${id}`;
      const notBobs = await call('DELETE', path, { token: bob.token, ifMatch: revisionOf(created) + 3n });
      expect(notBobs.status, notBobs.text).to.equal(404);
      await refusedAsStale(apiKeyStream(id), () => call('DELETE', path, { token: alice.token, ifMatch: revisionOf(created) + 1n }));
      expect((await call('GET', '/api/v1/qidian/trackings', { token: key })).status).to.equal(200);
      await deleteHonoursIfMatch(apiKeyStream(id), path, alice.token, revisionOf(created));
      await waitFor('the revoked key refused', async () => (await call('GET', '/api/v1/qidian/trackings', { token: key })).status === 401);
    });
  });

  describe('SMS keywords', () => {
    it('DELETE /sms/keywords/{keyword}: stale is 412 and the keyword stays ours; not ours stays 404 whatever If-Match says', async () => {
      const keyword = `IFM${randomInt(1_000_000_000)}`;
      const reserved = await call('POST', '/api/v1/sms/keywords', { token: alice.token, body: { keyword } });
      expect(reserved.status, reserved.text).to.equal(201);
      const path = `/api/v1/sms/keywords/${keyword}`;
      const notBobs = await call('DELETE', path, { token: bob.token, ifMatch: revisionOf(reserved) + 3n });
      expect(notBobs.status, notBobs.text).to.equal(404);
      await refusedAsStale(smsKeywordStream(keyword), () => call('DELETE', path, { token: alice.token, ifMatch: revisionOf(reserved) + 1n }));
      const released = await call('DELETE', path, { token: alice.token, ifMatch: revisionOf(reserved) });
      expect(released.status, released.text).to.equal(200);
      // released: another may take it now; the repeat stays 404
      expect((await call('DELETE', path, { token: alice.token })).status).to.equal(404);
      expect((await call('POST', '/api/v1/sms/keywords', { token: bob.token, body: { keyword } })).status).to.equal(201);
    });
  });

  describe('organizations', () => {
    let orgId: string;
    /** bob's own organization: he owns it, and is a stranger to olga's */
    let bobsOrgId: string;

    before(async () => {
      const founded = await call('POST', '/api/v1/organizations', { token: olga.token, body: { name: 'If-Match Ltd' } });
      expect(founded.status, founded.text).to.equal(201);
      orgId = founded.body.data.id;
      const bobs = await call('POST', '/api/v1/organizations', { token: bob.token, body: { name: 'Bob & Co' } });
      expect(bobs.status, bobs.text).to.equal(201);
      bobsOrgId = bobs.body.data.id;
    });
    const orgRevision = async (): Promise<bigint> => etagOf(await call('GET', `/api/v1/organizations/${orgId}`, { token: olga.token }));

    it("DELETE …/roles/{roleId}: the organization's revision; stale is 412 and the role stays; a stranger's stale If-Match is 404", async () => {
      const defined = await call('POST', `/api/v1/organizations/${orgId}/roles`, {
        token: olga.token,
        body: { name: 'Viewer', grants: { 'collection.*.view': 'own' } },
      });
      expect(defined.status, defined.text).to.equal(201);
      const path = `/api/v1/organizations/${orgId}/roles/${defined.body.data.id}`;
      const current = await orgRevision();
      const stranger = await call('DELETE', path, { token: bob.token, ifMatch: current + 5n });
      expect(stranger.status, stranger.text).to.equal(404);
      await refusedAsStale(organizationStream(orgId), () => call('DELETE', path, { token: olga.token, ifMatch: current - 1n }));
      const deleted = await call('DELETE', path, { token: olga.token, ifMatch: current });
      expect(deleted.status, deleted.text).to.equal(200);
      expect(revisionOf(deleted) > current, 'the role deleted').to.equal(true);
    });

    it("DELETE …/members/{userId}: the organization's revision; stale is 412 and the member stays", async () => {
      await joinOrganization(platform, sink, { organizationId: orgId, inviter: olga, user: max, roles: ['operator'] });
      const path = `/api/v1/organizations/${orgId}/members/${max.userId}`;
      const current = await orgRevision();
      await refusedAsStale(organizationStream(orgId), () => call('DELETE', path, { token: olga.token, ifMatch: current - 1n }));
      expect((await call('GET', path, { token: olga.token })).status).to.equal(200);
      const removed = await call('DELETE', path, { token: olga.token, ifMatch: current });
      expect(removed.status, removed.text).to.equal(200);
      expect((await call('GET', path, { token: olga.token })).status).to.equal(404);
    });

    it("DELETE …/invitations/{invitationId}: the invitation's revision; stale is 412; another organization's stays 404", async () => {
      const sent = await call('POST', `/api/v1/organizations/${orgId}/invitations`, {
        token: olga.token,
        body: { email: `invitee-${randomUUID().slice(0, 8)}@example.test`, roles: ['analyst'] },
      });
      expect(sent.status, sent.text).to.equal(201);
      const invitationId = sent.body.data.id as string;
      // an invitation of olga's is not one of bob's organization, whatever If-Match says
      const elsewhere = await call('DELETE', `/api/v1/organizations/${bobsOrgId}/invitations/${invitationId}`, {
        token: bob.token,
        ifMatch: revisionOf(sent) + 3n,
      });
      expect(elsewhere.status, elsewhere.text).to.equal(404);
      await deleteHonoursIfMatch(invitationStream(invitationId), `/api/v1/organizations/${orgId}/invitations/${invitationId}`, olga.token, revisionOf(sent));
    });
  });

  describe("the user's own stream: phone and second factors", () => {
    const PHONE = `+861380013${String(randomInt(10_000)).padStart(4, '0')}`;
    const stream = () => userStream(carol.userId);
    const phone = () => call('GET', '/api/v1/users/me/phone', { token: carol.token });
    const smsCount = () => [...sandbox.messages.values()].filter((m) => m.to === PHONE).length;

    it('PUT /users/me/phone: stale is 412 before a code is sent or counted; the current revision (GET ETag) sends it', async () => {
      const current = etagOf(await phone());
      await refusedAsStale(stream(), () => call('PUT', '/api/v1/users/me/phone', { token: carol.token, ifMatch: current + 1n, body: { phone: PHONE } }));
      // no resend pause was started by the refusal (SMS_CODE_RESEND_SECONDS: 60)
      const put = await call('PUT', '/api/v1/users/me/phone', { token: carol.token, ifMatch: current, body: { phone: PHONE } });
      expect(put.status, put.text).to.equal(202);
      await waitFor('the code SMS', () => smsCount() === 1, 30_000);
      const code = /\b(\d{6})\b/.exec([...sandbox.messages.values()].find((m) => m.to === PHONE)!.text)![1]!;
      const verified = await call('POST', '/api/v1/users/me/phone/verify', { token: carol.token, body: { code } });
      expect(verified.status, verified.text).to.equal(200);
    });

    it('DELETE /users/mfa/sms: stale is 412 before the password and SMS codes stay a factor; the repeat stays 200 with position null', async () => {
      const on = await call('POST', '/api/v1/users/mfa/sms', { token: carol.token, body: { password: TEST_PASSWORD } });
      expect(on.status, on.text).to.equal(200);
      expect(etagOf(await phone())).to.equal(revisionOf(on));
      await refusedAsStale(stream(), () =>
        call('DELETE', '/api/v1/users/mfa/sms', { token: carol.token, ifMatch: revisionOf(on) - 1n, body: { password: TEST_PASSWORD } }),
      );
      expect((await phone()).body.data.sms_mfa).to.equal(true);
      const path = '/api/v1/users/mfa/sms';
      const current = revisionOf(on);
      const body = { password: TEST_PASSWORD };
      const done = await call('DELETE', path, { token: carol.token, ifMatch: current, body });
      expect(done.status, done.text).to.equal(200);
      expect((await phone()).body.data.sms_mfa).to.equal(false);
      await repeatedAsNoop(stream(), () => call('DELETE', path, { token: carol.token, body }));
      await repeatedAsNoop(stream(), () => call('DELETE', path, { token: carol.token, ifMatch: revisionOf(done), body }));
      await refusedAsStale(stream(), () => call('DELETE', path, { token: carol.token, ifMatch: current, body }));
    });

    it('DELETE /users/me/phone: stale is 412 and the number stays; a malformed If-Match is 400', async () => {
      const current = etagOf(await phone());
      const malformed = await call('DELETE', '/api/v1/users/me/phone', { token: carol.token, ifMatch: '*' });
      expect(malformed.status, malformed.text).to.equal(400);
      expect(malformed.body.error.code).to.equal('INVALID_IF_MATCH');
      await refusedAsStale(stream(), () => call('DELETE', '/api/v1/users/me/phone', { token: carol.token, ifMatch: current - 1n }));
      expect((await phone()).body.data.number).to.equal(PHONE);
      await deleteHonoursIfMatch(stream(), '/api/v1/users/me/phone', carol.token, current);
      expect((await phone()).body.data.number).to.equal(null);
    });

    it('DELETE /users/mfa/totp: stale is 412 before the code is spent (the same code then turns TOTP off)', async () => {
      const started = await call('POST', '/api/v1/users/mfa/totp', { token: carol.token });
      expect(started.status, started.text).to.equal(200);
      const totp = new TOTP({ secret: Secret.fromBase32(started.body.data.secret), algorithm: 'SHA1', digits: 6, period: 30 });
      const confirmed = await call('POST', '/api/v1/users/mfa/totp/confirm', { token: carol.token, body: { code: totp.generate() } });
      expect(confirmed.status, confirmed.text).to.equal(200);
      // the next step's code: the confirmation spent this step's
      const code = totp.generate({ timestamp: Date.now() + 30_000 });
      const current = revisionOf(confirmed);
      const body = { password: TEST_PASSWORD, code };
      await refusedAsStale(stream(), () => call('DELETE', '/api/v1/users/mfa/totp', { token: carol.token, ifMatch: current - 1n, body }));
      const off = await call('DELETE', '/api/v1/users/mfa/totp', { token: carol.token, ifMatch: current, body });
      expect(off.status, off.text).to.equal(200);
      expect(off.body.data.position).to.be.a('string');
      const profile = await call('GET', `/api/v1/users/profile?after_position=${off.body.data.position}`, { token: carol.token });
      expect(profile.body.data.mfa.totp).to.equal('off');
      // off already: no code is checked, nothing is written
      await repeatedAsNoop(stream(), () => call('DELETE', '/api/v1/users/mfa/totp', { token: carol.token, body }));
      await repeatedAsNoop(stream(), () => call('DELETE', '/api/v1/users/mfa/totp', { token: carol.token, ifMatch: revisionOf(off), body }));
      await refusedAsStale(stream(), () => call('DELETE', '/api/v1/users/mfa/totp', { token: carol.token, ifMatch: current, body }));
    });
  });
});
