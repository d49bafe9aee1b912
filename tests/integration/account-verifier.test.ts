import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAccountVerifiers, UpstreamUnavailableError, verifyCredentials, type AccountVerifiers } from '../../src/platforms/account-verifier.js';
import { startFixturePlatformServer, xhsId, type FixturePlatformServer } from '../support/fixture-platform-server.js';

async function refusal(work: Promise<unknown>): Promise<UpstreamUnavailableError> {
  try {
    await work;
  } catch (error) {
    expect(error).to.be.instanceOf(UpstreamUnavailableError);
    return error as UpstreamUnavailableError;
  }
  expect.fail('expected UpstreamUnavailableError');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('account verifiers over HTTP (fixture platform server)', function () {
  this.timeout(20_000);
  let fixture: FixturePlatformServer;
  let verifiers: AccountVerifiers;

  before(async () => {
    fixture = await startFixturePlatformServer();
    verifiers = createAccountVerifiers({ XIAOHONGSHU_API_URL: fixture.url, QIDIAN_WEB_URL: fixture.url }, { timeoutMs: 2_000 });
  });
  after(async () => fixture?.close());

  const xhsCookies = (session: string) => `a1=18c2f3e4a5b${session.slice(0, 4)}; webId=${xhsId()}; web_session=${session}`;

  describe('xiaohongshu (/api/sns/web/v2/user/me)', () => {
    it('a logged-in session is active with its user id and nickname; the cookie header and user agent are sent', async () => {
      const session = `040069${xhsId()}`;
      const user = { user_id: xhsId(), nickname: '小红薯ABCD' };
      fixture.xiaohongshu.sessions.set(session, user);
      const cookies = xhsCookies(session);
      const outcome = await verifyCredentials(verifiers, 'xiaohongshu', { cookies, userAgent: 'TestAgent/1.0' });
      expect(outcome).to.deep.equal({ ok: true, platformUserId: user.user_id, nickname: user.nickname });
      const seen = fixture.requests.filter((r) => r.path === '/api/sns/web/v2/user/me').at(-1);
      expect(seen).to.include({ cookie: cookies, userAgent: 'TestAgent/1.0' });
    });

    it('a guest answer (the web_session is not logged in) is credentials_expired', async () => {
      const outcome = await verifyCredentials(verifiers, 'xiaohongshu', { cookies: xhsCookies(`unknown${xhsId()}`) });
      expect(outcome).to.include({ ok: false, reason: 'credentials_expired' });
    });

    it('code -100 is credentials_expired, HTTP 461 is captcha', async () => {
      const expired = `exp${xhsId()}`;
      const captcha = `cap${xhsId()}`;
      fixture.xiaohongshu.expired.add(expired);
      fixture.xiaohongshu.captcha.add(captcha);
      const a = await verifyCredentials(verifiers, 'xiaohongshu', { cookies: xhsCookies(expired) });
      expect(a).to.deep.equal({ ok: false, reason: 'credentials_expired', detail: 'code -100 登录已过期' });
      const b = await verifyCredentials(verifiers, 'xiaohongshu', { cookies: xhsCookies(captcha) });
      expect(b).to.include({ ok: false, reason: 'captcha' });
      expect((b as { detail: string }).detail).to.equal('HTTP 461, verify type 102');
    });

    it('a frequency limit (300013) is not the account: unavailable, rate_limited', async () => {
      const limited = `lim${xhsId()}`;
      fixture.xiaohongshu.rateLimited.add(limited);
      const error = await refusal(verifyCredentials(verifiers, 'xiaohongshu', { cookies: xhsCookies(limited) }));
      expect(error.problem).to.equal('rate_limited');
    });

    it('stored credentials that no longer fit the schema are credentials_expired, without a request', async () => {
      const before = fixture.requests.length;
      const outcome = await verifyCredentials(verifiers, 'xiaohongshu', { cookies: 'a1=only' });
      expect(outcome).to.include({ ok: false, reason: 'credentials_expired' });
      expect(fixture.requests.length).to.equal(before);
    });
  });

  describe('qidian (home page)', () => {
    it('a logged-in page is active with the uid and the (entity-decoded) nickname', async () => {
      fixture.qidian.sessions.set('key-ok', { uid: '402158733', nickname: '书友 & 读者' });
      const outcome = await verifyCredentials(verifiers, 'qidian', { cookies: '_csrfToken=abc; ywguid=402158733; ywkey=key-ok' });
      expect(outcome).to.deep.equal({ ok: true, platformUserId: '402158733', nickname: '书友 & 读者' });
    });

    it('the login area is login_wall; no cookies at all is login_wall without a request', async () => {
      const a = await verifyCredentials(verifiers, 'qidian', { cookies: 'ywkey=stale' });
      expect(a).to.include({ ok: false, reason: 'login_wall' });
      const before = fixture.requests.length;
      const b = await verifyCredentials(verifiers, 'qidian', {});
      expect(b).to.include({ ok: false, reason: 'login_wall' });
      expect(fixture.requests.length).to.equal(before);
    });

    it('the 202 WAF shell is unavailable (blocked), not an invalidation', async () => {
      fixture.qidian.waf = true;
      try {
        const error = await refusal(verifyCredentials(verifiers, 'qidian', { cookies: 'ywkey=key-ok' }));
        expect(error.problem).to.equal('blocked');
      } finally {
        fixture.qidian.waf = false;
      }
    });
  });

  describe('no answer', () => {
    it('a closed port is unavailable (network)', async () => {
      const probe = createServer();
      const url = await listen(probe);
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      const closed = createAccountVerifiers({ XIAOHONGSHU_API_URL: url, QIDIAN_WEB_URL: url });
      const error = await refusal(verifyCredentials(closed, 'xiaohongshu', { cookies: xhsCookies(`s${xhsId()}`) }));
      expect(error.problem).to.equal('network');
      expect(error.message).to.not.include('web_session');
    });

    it('a platform that never answers is unavailable (timeout) after the timeout', async () => {
      const silent = createServer(() => undefined);
      const url = await listen(silent);
      try {
        const slow = createAccountVerifiers({ XIAOHONGSHU_API_URL: url, QIDIAN_WEB_URL: url }, { timeoutMs: 300 });
        const started = Date.now();
        const error = await refusal(verifyCredentials(slow, 'qidian', { cookies: 'ywkey=k' }));
        expect(error.problem).to.equal('timeout');
        expect(Date.now() - started).to.be.lessThan(5_000);
      } finally {
        silent.closeAllConnections();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });

    it('a 5xx is unavailable (bad_status); an unknown platform has no verifier', async () => {
      const broken = createServer((_req, res) => {
        res.writeHead(503);
        res.end('busy');
      });
      const url = await listen(broken);
      try {
        const v = createAccountVerifiers({ XIAOHONGSHU_API_URL: url, QIDIAN_WEB_URL: url });
        const error = await refusal(verifyCredentials(v, 'xiaohongshu', { cookies: xhsCookies(`s${xhsId()}`) }));
        expect(error.problem).to.equal('bad_status');
        await refusal(verifyCredentials(v, 'weibo', {}));
      } finally {
        await new Promise<void>((resolve) => broken.close(() => resolve()));
      }
    });
  });
});
