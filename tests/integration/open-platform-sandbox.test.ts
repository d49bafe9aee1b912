import { expect } from 'chai';
import { startOpenPlatformSandbox, type OpenPlatformSandbox } from '../../sandbox/open-platform/server.js';
import { loadConfig } from '../../src/config.js';
import { oauthPlatform, oauthPlatforms } from '../../src/platforms/open-platform/clients.js';
import { authorizeUrl, exchangeCode, fetchPlatformUser, OAuthError, refreshTokens } from '../../src/platforms/open-platform/oauth-client.js';
import { newPkceVerifier, OP_HEADERS, signedRequestHeaders, verifyResponse } from '../../src/platforms/open-platform/signature.js';
import { OpenPlatformUnavailableError, type OpenPlatformClient } from '../../src/platforms/open-platform/transport.js';
import { consent } from '../support/open-platform-consent.js';

const REDIRECT_BASE = 'http://collector-api.test';

/**
 * The open platform sandbox speaks OAuth 2.0 (RFC 6749 + PKCE, RFC 7636) and
 * the signature protocol as our client expects, and refuses what a real
 * platform refuses: used or expired codes, a wrong verifier, a wrong client,
 * a rotated refresh token used again, bad / stale / replayed signatures.
 * Our client, in turn, refuses unsigned and forged answers.
 */
describe('open platform sandbox: OAuth 2.0 and signatures', function () {
  this.timeout(30_000);
  let sandbox: OpenPlatformSandbox;
  let clients: Record<string, OpenPlatformClient>;

  before(async () => {
    sandbox = await startOpenPlatformSandbox({ redirectBaseUrl: REDIRECT_BASE, codeTtlSeconds: 1 });
    const config = loadConfig({ NODE_ENV: 'test', ...sandbox.env() });
    clients = Object.fromEntries(oauthPlatforms(config).map((c) => [c.platform, c]));
  });
  after(() => sandbox?.close());
  afterEach(() => {
    sandbox.faults.tamperResponses = false;
    sandbox.faults.unsignedResponses = false;
    sandbox.setAccessTokenTtl(7200);
  });

  /** authorize → consent → the code our callback would get */
  async function codeFor(client: OpenPlatformClient, options: { user?: string; verifier?: string | null } = {}) {
    const verifier = options.verifier === undefined ? (client.pkce ? newPkceVerifier() : null) : options.verifier;
    const back = await consent(authorizeUrl(client, { state: 'st-123', codeVerifier: verifier ?? newPkceVerifier() }), { user: options.user ?? 'alice' });
    expect(back.origin + back.pathname).to.equal(client.redirectUri);
    expect(back.searchParams.get('state')).to.equal('st-123');
    const code = back.searchParams.get('code');
    expect(code, back.toString()).to.be.a('string');
    return { code: code!, verifier };
  }

  const oauthCode = async (work: Promise<unknown>) => {
    try {
      await work;
    } catch (error) {
      expect(error).to.be.instanceOf(OAuthError);
      return (error as OAuthError).code;
    }
    throw new Error('expected an OAuthError');
  };

  it('offers the three platforms from config, with PKCE where the platform takes it', () => {
    expect(Object.keys(clients)).to.deep.equal(['baidu', 'sohu', 'netease']);
    expect([clients.baidu!.pkce, clients.sohu!.pkce, clients.netease!.pkce]).to.deep.equal([true, false, true]);
    const only = loadConfig({ NODE_ENV: 'test', ...sandbox.env({ platforms: ['sohu'] }) });
    expect(oauthPlatforms(only).map((c) => c.platform)).to.deep.equal(['sohu']);
    expect(oauthPlatform(only, 'baidu')).to.equal(undefined);
  });

  it('authorize: an unknown client or redirect URI is an error page, never a redirect; other errors redirect with the state', async () => {
    const good = new URL(authorizeUrl(clients.baidu!, { state: 's1', codeVerifier: newPkceVerifier() }));
    const variant = (change: (u: URL) => void) => {
      const u = new URL(good);
      change(u);
      return fetch(u, { redirect: 'manual' });
    };
    const unknownClient = await variant((u) => u.searchParams.set('client_id', 'someone-else'));
    expect(unknownClient.status).to.equal(400);
    expect(unknownClient.headers.get('location')).to.equal(null);
    const otherRedirect = await variant((u) => u.searchParams.set('redirect_uri', `${REDIRECT_BASE}/api/v1/platform-accounts/oauth/baidu/callback/x`));
    expect(otherRedirect.status).to.equal(400);
    expect(otherRedirect.headers.get('location')).to.equal(null);

    const noPkce = await variant((u) => {
      u.searchParams.delete('code_challenge');
      u.searchParams.delete('code_challenge_method');
    });
    expect(noPkce.status).to.equal(302);
    const to = new URL(noPkce.headers.get('location')!);
    expect(to.searchParams.get('error')).to.equal('invalid_request');
    expect(to.searchParams.get('state')).to.equal('s1');
    const plain = new URL((await variant((u) => u.searchParams.set('code_challenge_method', 'plain'))).headers.get('location')!);
    expect(plain.searchParams.get('error')).to.equal('invalid_request');
    const scope = new URL((await variant((u) => u.searchParams.set('scope', 'basic admin'))).headers.get('location')!);
    expect(scope.searchParams.get('error')).to.equal('invalid_scope');
    const type = new URL((await variant((u) => u.searchParams.set('response_type', 'token'))).headers.get('location')!);
    expect(type.searchParams.get('error')).to.equal('unsupported_response_type');
  });

  it('consent denied: back to the redirect URI with error=access_denied and the state', async () => {
    const back = await consent(authorizeUrl(clients.sohu!, { state: 'deny-me', codeVerifier: null }), { approve: false });
    expect(back.searchParams.get('error')).to.equal('access_denied');
    expect(back.searchParams.get('state')).to.equal('deny-me');
    expect(back.searchParams.get('code')).to.equal(null);
  });

  it('a code gives tokens once: used again it is invalid_grant, and what it gave is revoked', async () => {
    const { code, verifier } = await codeFor(clients.baidu!);
    const tokens = await exchangeCode(clients.baidu!, { code, codeVerifier: verifier });
    expect(tokens.tokenType).to.equal('Bearer');
    expect(tokens.scope).to.equal('basic publish');
    expect(tokens.expiresIn).to.equal(7200);
    const me = await fetchPlatformUser(clients.baidu!, tokens.accessToken);
    expect(me).to.deep.equal({ platformUserId: 'bd_4f1a9c20', nickname: '百度·小安' });

    expect(await oauthCode(exchangeCode(clients.baidu!, { code, codeVerifier: verifier }))).to.equal('invalid_grant');
    expect(await oauthCode(fetchPlatformUser(clients.baidu!, tokens.accessToken))).to.equal('invalid_token');
    expect(await oauthCode(refreshTokens(clients.baidu!, tokens.refreshToken))).to.equal('invalid_grant');
  });

  it('PKCE: a wrong verifier is invalid_grant, a missing one invalid_request (baidu, netease); sohu takes none', async () => {
    const wrong = await codeFor(clients.netease!);
    expect(await oauthCode(exchangeCode(clients.netease!, { code: wrong.code, codeVerifier: newPkceVerifier() }))).to.equal('invalid_grant');
    // the code was spent on the failed attempt
    expect(await oauthCode(exchangeCode(clients.netease!, { code: wrong.code, codeVerifier: wrong.verifier }))).to.equal('invalid_grant');

    const missing = await codeFor(clients.baidu!);
    expect(await oauthCode(exchangeCode(clients.baidu!, { code: missing.code, codeVerifier: null }))).to.equal('invalid_request');

    const sohu = await codeFor(clients.sohu!, { user: 'bob' });
    const tokens = await exchangeCode(clients.sohu!, { code: sohu.code, codeVerifier: null });
    expect((await fetchPlatformUser(clients.sohu!, tokens.accessToken)).platformUserId).to.equal('sh_56473829');
  });

  it('codes expire (here after 1 s) and are bound to their redirect URI', async () => {
    const late = await codeFor(clients.sohu!);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await oauthCode(exchangeCode(clients.sohu!, { code: late.code, codeVerifier: null }))).to.equal('invalid_grant');

    const moved = await codeFor(clients.sohu!);
    const elsewhere = { ...clients.sohu!, redirectUri: `${REDIRECT_BASE}/elsewhere` };
    expect(await oauthCode(exchangeCode(elsewhere, { code: moved.code, codeVerifier: null }))).to.equal('invalid_grant');
  });

  it('client authentication is HTTP Basic: a wrong secret is 401 invalid_client (RFC 6749 §5.2)', async () => {
    const { code, verifier } = await codeFor(clients.baidu!);
    const wrong = { ...clients.baidu!, clientSecret: 'not-the-secret-at-all' };
    const error = await exchangeCode(wrong, { code, codeVerifier: verifier }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(OAuthError);
    expect(error).to.include({ code: 'invalid_client', status: 401 });

    // the raw answer: JSON error, no-store, WWW-Authenticate
    const raw = await fetch(`${clients.baidu!.baseUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: clients.baidu!.redirectUri, client_id: clients.baidu!.clientId }),
    });
    expect(raw.status).to.equal(401);
    expect(raw.headers.get('www-authenticate')).to.match(/^Basic/);
    expect(raw.headers.get('cache-control')).to.equal('no-store');
    expect(await raw.json()).to.have.property('error', 'invalid_client');

    const unsupported = await fetch(`${clients.baidu!.baseUrl}/oauth/token`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${clients.baidu!.clientId}:${clients.baidu!.clientSecret}`).toString('base64')}`,
      },
      body: 'grant_type=password&username=a&password=b',
    });
    expect(unsupported.status).to.equal(400);
    expect(await unsupported.json()).to.have.property('error', 'unsupported_grant_type');
  });

  it('refresh tokens rotate: the old one used again is invalid_grant and takes the whole grant down', async () => {
    const { code, verifier } = await codeFor(clients.netease!);
    const first = await exchangeCode(clients.netease!, { code, codeVerifier: verifier });
    const second = await refreshTokens(clients.netease!, first.refreshToken);
    expect(second.refreshToken).to.not.equal(first.refreshToken);
    expect(second.accessToken).to.not.equal(first.accessToken);
    expect((await fetchPlatformUser(clients.netease!, second.accessToken)).platformUserId).to.equal('ne_a81c33f0');

    expect(await oauthCode(refreshTokens(clients.netease!, first.refreshToken))).to.equal('invalid_grant');
    // a stolen copy was used: the newest tokens go too
    expect(await oauthCode(refreshTokens(clients.netease!, second.refreshToken))).to.equal('invalid_grant');
    expect(await oauthCode(fetchPlatformUser(clients.netease!, second.accessToken))).to.equal('invalid_token');
  });

  it('revoking a user’s refresh tokens (test control) makes the next refresh invalid_grant', async () => {
    const { code, verifier } = await codeFor(clients.baidu!, { user: 'bob' });
    const tokens = await exchangeCode(clients.baidu!, { code, codeVerifier: verifier });
    expect(sandbox.revokeRefreshTokens('baidu', 'bd_77e0b213')).to.be.greaterThan(0);
    expect(await oauthCode(refreshTokens(clients.baidu!, tokens.refreshToken))).to.equal('invalid_grant');
  });

  it('access tokens expire after the configured lifetime', async () => {
    sandbox.setAccessTokenTtl(1);
    const { code } = await codeFor(clients.sohu!);
    const tokens = await exchangeCode(clients.sohu!, { code, codeVerifier: null });
    expect(tokens.expiresIn).to.equal(1);
    await fetchPlatformUser(clients.sohu!, tokens.accessToken);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await oauthCode(fetchPlatformUser(clients.sohu!, tokens.accessToken))).to.equal('invalid_token');
  });

  describe('request signatures (HMAC-SHA256 with the app secret)', () => {
    let accessToken: string;
    before(async () => {
      const { code } = await codeFor(clients.sohu!);
      accessToken = (await exchangeCode(clients.sohu!, { code, codeVerifier: null })).accessToken;
    });
    const userinfo = (headers: Record<string, string>) =>
      fetch(`${clients.sohu!.baseUrl}/api/userinfo`, { headers: { Authorization: `Bearer ${accessToken}`, ...headers } });
    const signed = (secret = clients.sohu!.clientSecret, at = new Date()) =>
      signedRequestHeaders(clients.sohu!.clientId, secret, 'GET', '/sohu/api/userinfo', '', at);
    const errorOf = async (r: Response) => ((await r.json()) as { error: string }).error;

    it('a good signature passes; the same request again is replayed_request', async () => {
      const headers = signed();
      const ok = await userinfo(headers);
      expect(ok.status).to.equal(200);
      const again = await userinfo(headers);
      expect(again.status).to.equal(400);
      expect(await errorOf(again)).to.equal('replayed_request');
    });

    it('unsigned, signed with another secret, or over another body: invalid_signature', async () => {
      const none = await userinfo({});
      expect([none.status, await errorOf(none)]).to.deep.equal([400, 'invalid_signature']);
      const other = await userinfo(signed('another-secret-of-some-length'));
      expect([other.status, await errorOf(other)]).to.deep.equal([400, 'invalid_signature']);
      const headers = signedRequestHeaders(clients.sohu!.clientId, clients.sohu!.clientSecret, 'POST', '/sohu/api/posts', '{"title":"a"}');
      const tampered = await fetch(`${clients.sohu!.baseUrl}/api/posts`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json', ...headers },
        body: '{"title":"b"}',
      });
      expect([tampered.status, await errorOf(tampered)]).to.deep.equal([400, 'invalid_signature']);
    });

    it('a timestamp more than 300 s away is stale_request', async () => {
      const stale = await userinfo(signed(undefined, new Date(Date.now() - 301_000)));
      expect([stale.status, await errorOf(stale)]).to.deep.equal([400, 'stale_request']);
    });

    it('answers are signed with the platform key and bound to the request nonce', async () => {
      const headers = signed();
      const r = await userinfo(headers);
      const body = await r.text();
      const parts = {
        status: r.status,
        timestamp: r.headers.get(OP_HEADERS.timestamp)!,
        nonce: r.headers.get(OP_HEADERS.nonce)!,
        requestNonce: headers[OP_HEADERS.nonce]!,
        body,
      };
      const signature = r.headers.get(OP_HEADERS.signature)!;
      expect(verifyResponse(sandbox.publicKeys.sohu, parts, signature)).to.equal(true);
      expect(verifyResponse(sandbox.publicKeys.sohu, { ...parts, requestNonce: 'another-request-nonce' }, signature)).to.equal(false);
      expect(verifyResponse(sandbox.publicKeys.baidu, parts, signature)).to.equal(false);
    });

    it('our client refuses unsigned and forged answers', async () => {
      sandbox.faults.unsignedResponses = true;
      const unsigned = await fetchPlatformUser(clients.sohu!, accessToken).catch((e: unknown) => e);
      expect(unsigned).to.be.instanceOf(OpenPlatformUnavailableError);
      expect(unsigned).to.include({ problem: 'bad_signature' });
      sandbox.faults.unsignedResponses = false;
      sandbox.faults.tamperResponses = true;
      const forged = await fetchPlatformUser(clients.sohu!, accessToken).catch((e: unknown) => e);
      expect(forged).to.be.instanceOf(OpenPlatformUnavailableError);
      expect(forged).to.include({ problem: 'bad_signature' });
      // signed by another platform's key
      sandbox.faults.tamperResponses = false;
      const wrongKey = await fetchPlatformUser({ ...clients.sohu!, publicKey: sandbox.publicKeys.netease }, accessToken).catch((e: unknown) => e);
      expect(wrongKey).to.be.instanceOf(OpenPlatformUnavailableError);
    });
  });
});
