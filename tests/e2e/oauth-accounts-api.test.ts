import { expect } from 'chai';
import { startOpenPlatformSandbox, type OpenPlatformSandbox } from '../../sandbox/open-platform/server.js';
import { openPublishingCredentials, PublishingCredentialsError } from '../../src/application/publishing-credentials.js';
import { deadlineActionsFromConfig } from '../../src/main/automation.js';
import { OpenPlatformUnavailableError } from '../../src/platforms/open-platform/transport.js';
import { openPlatformPublishers } from '../../src/platforms/open-platform/clients.js';
import type { OpenPlatformId } from '../../src/platforms/open-platform/platforms.js';
import { TOKENS } from '../../src/tokens.js';
import { consent } from '../support/open-platform-consent.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { userAggregate } from '../../src/write-model/user/decider.js';

/** What the platforms have registered as our redirect URIs: the browser comes back to this host (the test plays the browser). */
const PUBLIC_BASE = 'http://collector-api.test';

/**
 * Binding accounts on the open platforms end to end, every piece real: the
 * API, the projector's consumers (the platform-accounts read model, the
 * OAuth refresh schedule, pm-notify-user), the deadline sweeper, and the
 * open platform sandbox with its consent page driven over HTTP as a browser
 * would. Tokens are short-lived here (4 s, refreshed 2 s before expiry).
 */
describe('OAuth-bound platform accounts: authorize → consent → callback → listed, refreshed, invalidated (e2e)', function () {
  this.timeout(120_000);
  let sandbox: OpenPlatformSandbox;
  let platform: Platform;
  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };

  before(async () => {
    sandbox = await startOpenPlatformSandbox({ redirectBaseUrl: PUBLIC_BASE });
    platform = await startPlatform({ proxies: 1, config: { ...sandbox.env(), OAUTH_REFRESH_LEAD_SECONDS: '2' } });
    alice = await platform.signUp('alice');
    bob = await platform.signUp('bob');
  });
  after(async () => {
    await platform?.stop();
    await sandbox?.close();
  });

  async function get(path: string, options: { token?: string; accept?: string } = {}): Promise<Reply & { location: string | null }> {
    const reply = await platform.call('GET', path, {
      redirect: 'manual',
      ...(options.token ? { token: options.token } : {}),
      ...(options.accept ? { headers: { Accept: options.accept } } : {}),
    });
    return { ...reply, location: reply.headers.get('location') };
  }

  /** The user starts binding (302 to the platform), consents there as `login`, and the browser comes back to our callback. */
  async function authorizeAndConsent(user: { token: string }, p: OpenPlatformId, options: { login?: string; approve?: boolean } = {}) {
    const start = await get(`/api/v1/platform-accounts/oauth/${p}/authorize`, { token: user.token });
    expect(start.status, start.text).to.equal(302);
    expect(start.location).to.match(new RegExp(`^${sandbox.url}/${p}/oauth/authorize\\?`));
    const back = await consent(start.location!, { user: options.login ?? 'alice', ...(options.approve !== undefined ? { approve: options.approve } : {}) });
    expect(`${back.origin}${back.pathname}`).to.equal(`${PUBLIC_BASE}/api/v1/platform-accounts/oauth/${p}/callback`);
    return `${back.pathname}${back.search}`;
  }

  async function bind(user: { token: string }, p: OpenPlatformId, login = 'alice') {
    const callback = await authorizeAndConsent(user, p, { login });
    const bound = await get(callback);
    expect(bound.status, bound.text).to.equal(200);
    return { callback, bound: bound.body.data };
  }

  const accounts = async (user: { token: string }, query = '') =>
    (await platform.call('GET', `/api/v1/platform-accounts?per_page=100${query}`, { token: user.token })).body.data.items as any[];
  const stream = async (accountId: string) => platform.events(`platform_account-${accountId}`);

  it('lists the configured OAuth platforms (signed in only)', async () => {
    const listed = await platform.call('GET', '/api/v1/platform-accounts/oauth/platforms', { token: alice.token });
    expect(listed.status, listed.text).to.equal(200);
    expect(listed.body.data.items.map((p: any) => [p.platform, p.pkce])).to.deep.equal([
      ['baidu', true],
      ['sohu', false],
      ['netease', true],
    ]);
    expect((await platform.call('GET', '/api/v1/platform-accounts/oauth/platforms')).status).to.equal(401);
  });

  it('authorize: JSON on request, 404 for a platform not offered, 401 without a token', async () => {
    const json = await get('/api/v1/platform-accounts/oauth/sohu/authorize', { token: alice.token, accept: 'application/json' });
    expect(json.status, json.text).to.equal(200);
    expect(json.body.data.authorize_url).to.match(new RegExp(`^${sandbox.url}/sohu/oauth/authorize\\?`));
    const url = new URL(json.body.data.authorize_url);
    expect(url.searchParams.get('redirect_uri')).to.equal(`${PUBLIC_BASE}/api/v1/platform-accounts/oauth/sohu/callback`);
    expect(url.searchParams.get('code_challenge'), 'sohu takes no PKCE').to.equal(null);
    expect(Date.parse(json.body.data.expires_at) - Date.now()).to.be.within(9 * 60_000, 10 * 60_000);
    const noRedirect = await get('/api/v1/platform-accounts/oauth/baidu/authorize?redirect=false', { token: alice.token });
    expect(new URL(noRedirect.body.data.authorize_url).searchParams.get('code_challenge_method')).to.equal('S256');
    expect((await get('/api/v1/platform-accounts/oauth/weibo/authorize', { token: alice.token })).status).to.equal(404);
    expect((await get('/api/v1/platform-accounts/oauth/baidu/authorize')).status).to.equal(401);
  });

  let baiduAccount: string;

  it('binds: the callback answers the active account, which lists with binding oauth and never a token', async () => {
    const { bound } = await bind(alice, 'baidu');
    expect(bound.rebound).to.equal(false);
    expect(bound.account).to.include({ platform: 'baidu', platform_user_id: 'bd_4f1a9c20', display_name: '百度·小安', status: 'active', binding: 'oauth' });
    expect(bound.account.scope).to.equal('basic publish');
    baiduAccount = bound.account.id;

    const listed = await platform.call('GET', `/api/v1/platform-accounts?platform=baidu&after_position=${bound.position}`, { token: alice.token });
    expect(listed.status, listed.text).to.equal(200);
    const row = listed.body.data.items.find((a: any) => a.id === baiduAccount);
    expect(row).to.include({ platform: 'baidu', binding: 'oauth', status: 'active', nickname: '百度·小安', has_credentials: true });
    expect(Date.parse(row.token_expires_at)).to.be.greaterThan(Date.now());
    // tokens are at_… / rt_… on the sandbox; none in an answer or in the events (sealed)
    expect(listed.text).to.not.match(/\b(at|rt)_[A-Za-z0-9_-]{10,}/);
    expect(JSON.stringify((await stream(baiduAccount)).map((e) => e.data))).to.not.match(/\b(at|rt)_[A-Za-z0-9_-]{10,}/);
    expect(await accounts(bob)).to.have.length(0);
  });

  it('a replayed callback is refused (409), as are a forged state (400) and one for another platform (400)', async () => {
    const callback = await authorizeAndConsent(alice, 'sohu');
    expect((await get(callback)).status).to.equal(200);
    const replay = await get(callback);
    expect(replay.status, replay.text).to.equal(409);
    expect(replay.body.error.code).to.equal('OAUTH_STATE_USED');

    const url = new URL(callback, platform.url);
    const state = url.searchParams.get('state')!;
    url.searchParams.set('state', `${state.slice(0, -4)}AAAA`);
    const forged = await get(`${url.pathname}${url.search}`);
    expect(forged.status, forged.text).to.equal(400);
    expect(forged.body.error.code).to.equal('OAUTH_STATE_INVALID');

    const fresh = new URL(await authorizeAndConsent(alice, 'sohu'), platform.url);
    const elsewhere = await get(`/api/v1/platform-accounts/oauth/netease/callback${fresh.search}`);
    expect(elsewhere.status, elsewhere.text).to.equal(400);
    expect(elsewhere.body.error.code).to.equal('OAUTH_STATE_INVALID');
    expect((await get('/api/v1/platform-accounts/oauth/sohu/callback?code=x')).status).to.equal(422);
  });

  it('a denied consent is 403 OAUTH_ACCESS_DENIED and binds nothing', async () => {
    const before = (await accounts(bob)).length;
    const callback = await authorizeAndConsent(bob, 'netease', { approve: false });
    expect(new URL(callback, platform.url).searchParams.get('error')).to.equal('access_denied');
    const denied = await get(callback);
    expect(denied.status, denied.text).to.equal(403);
    expect(denied.body.error.code).to.equal('OAUTH_ACCESS_DENIED');
    expect(await accounts(bob)).to.have.length(before);
  });

  it('a user suspended between the consent and the callback binds nothing (403 PERMISSION_DENIED, reason suspended)', async () => {
    const carol = await platform.signUp('carol');
    const callback = await authorizeAndConsent(carol, 'netease');
    const now = new Date().toISOString();
    await handle(
      platform.store,
      userAggregate,
      carol.userId,
      { type: 'SuspendUser', userId: carol.userId, reason: 'abuse', now },
      { context: { correlationId: 'test', causationId: 'test', actor: 'test' } },
    );
    const refused = await get(callback);
    expect(refused.status, refused.text).to.equal(403);
    expect(refused.body.error).to.deep.include({ code: 'PERMISSION_DENIED', details: { reason: 'suspended' } });
    const bound = await platform.store.readAll({ filter: { eventTypes: ['OAuthAccountBound'] }, maxCount: 10_000 });
    expect(bound.filter((e) => (e.data as { ownerId?: string }).ownerId === carol.userId)).to.have.length(0);
  });

  it('binding the same platform user again re-authorizes the same account', async () => {
    const { bound } = await bind(alice, 'baidu');
    expect(bound.rebound).to.equal(true);
    expect(bound.account.id).to.equal(baiduAccount);
    const baidu = (await accounts(alice, '&platform=baidu')).filter((a) => a.platform_user_id === 'bd_4f1a9c20');
    expect(baidu).to.have.length(1);
    // another sandbox user of the same platform is another account
    const other = await bind(alice, 'baidu', 'bob');
    expect(other.bound.account.id).to.not.equal(baiduAccount);
  });

  it('opens the current access token for the publish job, and it publishes', async () => {
    const deps = { store: platform.store, secretBox: platform.container.get(TOKENS.SecretBox) };
    const opened = await openPublishingCredentials(deps, { accountId: baiduAccount, ownerId: alice.userId });
    expect(opened.platform).to.equal('baidu');
    expect(opened.credentials).to.include({ kind: 'oauth', platformUserId: 'bd_4f1a9c20' });
    const publisher = openPlatformPublishers(platform.config).find((p) => p.platform === 'baidu')!;
    const post = await publisher.publish(
      { accountId: baiduAccount, credentials: opened.credentials, proxyUrl: null },
      { clientToken: 'e2e-post-1', title: '标题', body: '正文', summary: null, tags: [], images: [] },
    );
    expect(sandbox.posts('baidu', { clientToken: 'e2e-post-1' }).map((p) => p.id)).to.deep.equal([post.postId]);
    const stranger = await openPublishingCredentials(deps, { accountId: baiduAccount, ownerId: bob.userId }).catch((e: unknown) => e);
    expect(stranger).to.be.instanceOf(PublishingCredentialsError);
    expect(stranger).to.include({ problem: 'not_found' });
  });

  it('a refresh the platform does not answer is left for the sweeper to retry: the account unchanged, the refresh token unspent', async () => {
    const { bound } = await bind(alice, 'sohu', 'bob');
    const accountId = bound.account.id as string;
    const refresh = deadlineActionsFromConfig(platform.store, platform.config)['platform_account.oauth_refresh'];
    const subjectId = `platform_account-${accountId}`;
    const deadline = {
      key: `platform_account.oauth_refresh:${subjectId}`,
      kind: 'platform_account.oauth_refresh' as const,
      subjectId,
      dueAt: bound.account.token_expires_at,
      attempts: 0,
      causeEventId: 'test',
      correlationId: 'test',
    };
    const context = { correlationId: 'test', causationId: 'test', actor: 'test' };
    // due: within OAUTH_REFRESH_LEAD_SECONDS (2 s) of the expiry
    const due = new Date(Date.parse(bound.account.token_expires_at) - 1_000);
    const before = (await stream(accountId)).length;
    sandbox.faults.tokenEndpointDown = true;
    try {
      const failed = await refresh(deadline, due, context).catch((e: unknown) => e);
      expect(failed, 'thrown: the sweeper postpones the row').to.be.instanceOf(OpenPlatformUnavailableError);
    } finally {
      sandbox.faults.tokenEndpointDown = false;
    }
    expect(await stream(accountId)).to.have.length(before);
    await refresh(deadline, due, context);
    const after = await stream(accountId);
    expect(after.map((e) => e.type).slice(before)).to.deep.equal(['OAuthTokensRefreshed']);
    // run again at the same time: the tokens are fresh, nothing is asked
    const calls = sandbox.tokenCalls.length;
    await refresh(deadline, due, context);
    expect(sandbox.tokenCalls.length).to.equal(calls);
    expect(await stream(accountId)).to.have.length(after.length);
  });

  it('refreshes tokens before they expire, once per lifetime; a revoked refresh token invalidates the account and tells the owner', async () => {
    sandbox.setAccessTokenTtl(4);
    const { bound } = await bind(bob, 'netease', 'bob');
    const accountId = bound.account.id as string;
    const firstExpiry = Date.parse(bound.account.token_expires_at);
    expect(firstExpiry - Date.now()).to.be.lessThan(5_000);

    // the access token would expire in 4 s; the refresh comes 2 s before
    await waitFor('two refreshes', async () => (await stream(accountId)).filter((e) => e.type === 'OAuthTokensRefreshed').length >= 2, 20_000, 100);
    const refreshes = sandbox.tokenCalls.filter((c) => c.platform === 'netease' && c.grantType === 'refresh_token');
    expect(
      refreshes.filter((c) => !c.ok),
      'no refresh token was used twice',
    ).to.deep.equal([]);
    let row: any;
    await waitFor(
      'the read model follows',
      async () => {
        row = (await accounts(bob)).find((a) => a.id === accountId);
        return Date.parse(row?.token_expires_at) > firstExpiry;
      },
      10_000,
      100,
    );
    expect(row).to.include({ status: 'active', binding: 'oauth' });
    // the refreshed token works on the platform
    const opened = await openPublishingCredentials(
      { store: platform.store, secretBox: platform.container.get(TOKENS.SecretBox) },
      { accountId, ownerId: bob.userId },
    );
    const publisher = openPlatformPublishers(platform.config).find((p) => p.platform === 'netease')!;
    expect(
      await publisher.findExisting({ accountId, credentials: opened.credentials, proxyUrl: null }, { clientToken: 'none' } as never, new Date(0)),
    ).to.equal(null);

    // the user withdraws the grant on the platform: the next refresh is invalid_grant
    expect(sandbox.revokeRefreshTokens('netease', 'ne_b92d44e1')).to.be.greaterThan(0);
    await waitFor(
      'the account invalidated',
      async () => {
        row = (await accounts(bob, '&status=invalid')).find((a) => a.id === accountId);
        return row !== undefined;
      },
      20_000,
      100,
    );
    expect(row).to.include({ status: 'invalid', last_invalidation_reason: 'credentials_expired', binding: 'oauth' });
    let notification: any;
    await waitFor(
      'the owner told',
      async () => {
        const listed = await platform.call('GET', '/api/v1/notifications?per_page=50', { token: bob.token });
        notification = (listed.body?.data?.items as any[] | undefined)?.find((n) => n.kind === 'account_invalidated');
        return notification !== undefined;
      },
      20_000,
      100,
    );
    expect(JSON.stringify(notification)).to.include(accountId);
    // nothing more is refreshed for it
    const calls = sandbox.tokenCalls.length;
    await new Promise((r) => setTimeout(r, 2_500));
    expect(sandbox.tokenCalls.slice(calls).filter((c) => c.platform === 'netease')).to.deep.equal([]);
    const invalid = await openPublishingCredentials(
      { store: platform.store, secretBox: platform.container.get(TOKENS.SecretBox) },
      { accountId, ownerId: bob.userId },
    ).catch((e: unknown) => e);
    expect(invalid).to.include({ problem: 'not_active' });

    // authorizing again brings it back
    sandbox.setAccessTokenTtl(7200);
    const again = await bind(bob, 'netease', 'bob');
    expect(again.bound).to.deep.include({ rebound: true });
    expect(again.bound.account).to.include({ id: accountId, status: 'active' });
  });
});
