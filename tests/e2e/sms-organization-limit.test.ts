import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { generateSmsCredentials, generateSmsProviderKeys, smsPlatformEnv } from '../../sandbox/sms-provider/keys.js';
import { startSmsSandbox, type SmsSandbox } from '../../sandbox/sms-provider/server.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { joinOrganization, membershipsSettle, registerMember, type Member } from '../support/members.js';

/**
 * The per-organization SMS send limit over HTTP
 * (SMS_SENDS_PER_ORGANIZATION_PER_MINUTE): the members of one organization
 * share one window — past it any member's send is 429 RATE_LIMITED with
 * `per: organization` and Retry-After, and nothing is recorded — while a
 * user outside it keeps a window of their own.
 */
describe('sms: the per-organization send limit (e2e)', function () {
  this.timeout(90_000);
  const credentials = generateSmsCredentials();
  const keys = generateSmsProviderKeys();
  let sandbox: SmsSandbox;
  let sink: SmtpSink;
  let platform: Platform;
  let worker: RunningWorker | undefined;
  let owner: Member;
  let member: Member;
  let outsider: Member;

  const call = (method: string, path: string, user: Member, body?: unknown): Promise<Reply> =>
    platform.call(method, `/api/v1${path}`, { token: user.token, ...(body !== undefined ? { body } : {}) });
  const send = (user: Member, text: string) => call('POST', '/sms/messages', user, { to: '+8613800138000', text });

  before(async () => {
    sink = await new SmtpSink().start();
    sandbox = await startSmsSandbox({ accounts: [credentials], keys, settings: { receiptDelayMs: 50 } });
    platform = await startPlatform({
      proxies: 0,
      config: {
        ...smsPlatformEnv({ credentials, keys, sandboxUrl: sandbox.url, callbackBaseUrl: 'http://sms-limit.test' }),
        SMTP_URL: sink.url,
        PUBLIC_WEB_URL: 'https://app.example.test',
        SMS_SENDS_PER_USER_PER_MINUTE: '100',
        SMS_SENDS_PER_ORGANIZATION_PER_MINUTE: '3',
        SMS_CHARGE_LEDGER: 'false',
      },
    });
    worker = await startWorker(platform.container, { workerName: `sms-limit-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    [owner, member, outsider] = (await Promise.all(['owner', 'member', 'outsider'].map((name) => registerMember(platform, name)))) as [Member, Member, Member];
    const founded = await call('POST', '/organizations', owner, { name: 'Senders' });
    expect(founded.status, founded.text).to.equal(201);
    await joinOrganization(platform, sink, { organizationId: founded.body.data.id, inviter: owner, user: member, roles: ['operator'] });
    await membershipsSettle();
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sandbox?.stop();
    await sink?.stop();
  });

  it('the members share one window: past it any member is refused 429 per organization, a user outside keeps their own', async () => {
    // a minute's window may turn over mid-test: start right after one begins
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 200));

    for (const [user, text] of [
      [owner, 'one'],
      [member, 'two'],
      [owner, 'three'],
    ] as const) {
      const sent = await send(user, text);
      expect(sent.status, sent.text).to.equal(202);
    }
    const requested = async () => Number((await platform.knex('es_events').where({ event_type: 'SmsRequested' }).count({ n: '*' }).first())?.n);
    const before = await requested();
    for (const user of [member, owner]) {
      const refused = await send(user, 'four');
      expect(refused.status, refused.text).to.equal(429);
      expect(refused.body.error.code).to.equal('RATE_LIMITED');
      expect(refused.body.error.details).to.include({ per: 'organization', limit: 3, window_seconds: 60 });
      expect(refused.body.error.details.retry_after_seconds).to.be.within(1, 60);
    }
    const raw = await fetch(`${platform.url}/api/v1/sms/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${member.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ to: '+8613800138000', text: 'five' }),
    });
    expect(raw.status).to.equal(429);
    expect(Number(raw.headers.get('retry-after'))).to.be.within(1, 60);
    expect(await requested()).to.equal(before);

    // outside the organization: a window of one's own
    for (const text of ['a', 'b', 'c']) expect((await send(outsider, text)).status).to.equal(202);
    const fourth = await send(outsider, 'd');
    expect(fourth.status, fourth.text).to.equal(429);
    expect(fourth.body.error.details).to.include({ per: 'user', limit: 3 });
  });
});
