import { expect } from 'chai';
import { startOpenPlatformSandbox, type OpenPlatformSandbox } from '../../sandbox/open-platform/server.js';
import { consent } from '../support/open-platform-consent.js';
import { startPlatform, type Platform } from '../support/platform.js';

const PUBLIC_BASE = 'http://collector-api.test';

/**
 * Publications past daily_publications, paid from the balance (overage), over
 * HTTP: the account bound through the open platform sandbox's OAuth, the
 * balance a credit limit an operator set, the charge's source the
 * publication's PublicationRequested.
 */
describe('ledger: publications past the quota charged to the balance (e2e)', function () {
  this.timeout(120_000);
  let sandbox: OpenPlatformSandbox;
  let platform: Platform;
  let user: { userId: string; token: string };
  let account: string;
  let admin: string;

  before(async () => {
    sandbox = await startOpenPlatformSandbox({ redirectBaseUrl: PUBLIC_BASE });
    platform = await startPlatform({ proxies: 1, config: sandbox.env() });
    user = await platform.signUp('ledger-publisher');
    admin = await platform.adminToken();
    platform.startConsumers();
    const start = await fetch(`${platform.url}/api/v1/platform-accounts/oauth/baidu/authorize`, {
      headers: { Authorization: `Bearer ${user.token}` },
      redirect: 'manual',
    });
    expect(start.status).to.equal(302);
    const back = await consent(start.headers.get('location')!, { user: 'alice' });
    const bound = await platform.call('GET', `${back.pathname}${back.search}`);
    expect(bound.status, bound.text).to.equal(200);
    account = bound.body.data.account.id;
  });
  after(async () => {
    await platform?.stop();
    await sandbox?.close();
  });

  it('opted in: past the 5 a day each publication costs 50 cents while the credit covers it, then 429 with why', async () => {
    const created = await platform.call('POST', '/api/v1/articles', { token: user.token, body: { title: '余额发布', body: '正文', tags: [] } });
    expect(created.status, created.text).to.equal(201);
    const article = created.body.data.id;
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const publish = () => platform.call('POST', `/api/v1/articles/${article}/publish`, { token: user.token, body: { account_ids: [account], at } });
    for (let i = 0; i < 5; i++) expect((await publish()).status).to.equal(202);
    // not opted in yet: refused as ever
    const refused = await publish();
    expect(refused.status).to.equal(429);
    expect(refused.body.error.details.overage).to.equal(undefined);

    expect(
      (
        await platform.call('PUT', `/api/v1/admin/ledger/user/${user.userId}/credit-limit`, {
          token: admin,
          body: { credit_limit_cents: 100, reason: 'trial' },
        })
      ).status,
    ).to.equal(200);
    expect((await platform.call('PUT', '/api/v1/ledger/settings', { token: user.token, body: { overage: true } })).status).to.equal(200);
    const paid = [await publish(), await publish()];
    expect(paid.map((r) => r.status)).to.deep.equal([202, 202]);
    const over = await publish();
    expect(over.status, over.text).to.equal(429);
    expect(over.body.error.details).to.deep.include({
      feature: 'daily_publications',
      overage: { refused: 'insufficient_balance', amount_cents: 50, available_cents: 0 },
    });

    let postings: { items: { source_event_id: string; source_stream: string; amount_cents: number; item: string }[] } = { items: [] };
    for (let i = 0; i < 100 && postings.items.length < 2; i++) {
      postings = (await platform.call('GET', '/api/v1/ledger/postings?kind=charge', { token: user.token })).body.data;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(postings.items).to.have.length(2);
    for (const [i, r] of paid.entries()) {
      const id = r.body.data.publications[0].id;
      const requested = (await platform.events(`publication-${id}`))[0]!;
      expect(requested.type).to.equal('PublicationRequested');
      const charge = postings.items.find((p) => p.source_stream === `publication-${id}`);
      expect(charge, `charge of publication ${i}`).to.include({ source_event_id: requested.id, amount_cents: -50, item: 'publication' });
    }
    const balance = (await platform.call('GET', '/api/v1/ledger', { token: user.token })).body.data;
    expect(balance).to.include({ balance_cents: -100, credit_limit_cents: 100, available_cents: 0, overage: true });
  });
});
