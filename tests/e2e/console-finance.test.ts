import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright';
import { overageCharger } from '../../src/application/ledger/overage.js';
import { createAdmin } from '../../src/cli/create-admin.js';
import { TOKENS } from '../../src/tokens.js';
import { launchChromium } from '../support/chromium.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';

const SHOTS = 'test-results/console';
const ADMIN = { email: 'finance-admin@example.test', password: 'admin password 123' };

/**
 * The console's Finance view in a real browser (Debian's Chromium through
 * Playwright): charges to a customer's prepaid balance show as revenue of
 * their month, beside what the platform's uses cost and the profit, with a
 * totals row; another range and grouping by day come from the form, and a
 * range the API refuses shows its error. Screens go to test-results/console/.
 */
describe('console (e2e, Chromium): finance, revenue against cost', function () {
  this.timeout(180_000);
  let platform: Platform;
  let browser: Browser;
  let adminToken: string;
  const today = () => new Intl.DateTimeFormat('en-CA', { timeZone: platform.config.QUOTA_TIME_ZONE }).format(new Date());

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    platform = await startPlatform({ proxies: 0 });
    await createAdmin({ store: platform.store, passwordHasher: platform.container.get(TOKENS.PasswordHasher) }, ADMIN);
    adminToken = (await platform.call('POST', '/api/v1/auth/login', { body: ADMIN })).body.data.access_token as string;
    // a customer on credit (no top-up) who opted into overage: two publications past the quota, 50 cents each
    const customer = await platform.signUp('finance-customer');
    const limit = await platform.call('PUT', `/api/v1/admin/ledger/user/${customer.userId}/credit-limit`, {
      token: adminToken,
      body: { credit_limit_cents: 1_000, reason: 'trial terms' },
    });
    expect(limit.status, limit.text).to.equal(200);
    expect((await platform.call('PUT', '/api/v1/ledger/settings', { token: customer.token, body: { overage: true } })).status).to.equal(200);
    const charged = await overageCharger(
      platform.store,
      platform.container.get(TOKENS.LedgerCharges),
    )({
      userId: customer.userId,
      item: 'publication',
      quantity: 2,
      sourceEventId: randomUUID(),
      sourceStream: 'publication-x',
      reason: 'publications past daily_publications',
    });
    expect(charged).to.deep.include({ ok: true, amountCents: 100 });
    const day = today();
    await waitFor(
      'the charge in finance-v1',
      async () =>
        (await platform.call('GET', `/api/v1/admin/finance/profit?from=${day}&to=${day}`, { token: adminToken })).body?.data?.totals?.ledger_charges_cents ===
        100,
      20_000,
      100,
    );
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await platform?.stop();
  });

  it('shows the month’s charges as revenue with cost and profit, a day range on request, and the API’s refusal of a reversed range', async () => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      await page.goto(`${platform.url}/console/`);
      await page.fill('#login-email', ADMIN.email);
      await page.fill('#login-password', ADMIN.password);
      await page.click('#login-submit');
      await page.waitForSelector('#nav:not([hidden])');

      await page.click('[data-nav=finance]');
      const month = today().slice(0, 7);
      await page.waitForSelector(`[data-testid=finance] tbody tr[data-period="${month}"]`);
      const row = `[data-testid=finance] tbody tr[data-period="${month}"]`;
      expect(await page.textContent(`${row} td[data-col=ledger_charges_cents]`)).to.equal('¥1.00');
      expect(await page.textContent(`${row} td[data-col=revenue_cents]`)).to.equal('¥1.00');
      expect(await page.textContent(`${row} td[data-col=profit_cents]`)).to.equal('¥1.00');
      expect(await page.textContent('[data-testid=finance] tfoot td[data-col=revenue_cents]')).to.equal('¥1.00');
      await page.screenshot({ path: `${SHOTS}/finance-months.png`, fullPage: true });

      // today alone, by day
      await page.fill('[data-testid=finance-from]', today());
      await page.fill('[data-testid=finance-to]', today());
      await page.selectOption('[data-testid=finance-group]', 'day');
      await page.click('form.toolbar button[type=submit]');
      await page.waitForSelector(`[data-testid=finance] tbody tr[data-period="${today()}"]`);
      expect(await page.locator('[data-testid=finance] tbody tr').count()).to.equal(1);
      expect(page.url()).to.include('group_by=day');

      // a reversed range: the API's 422, shown
      await page.goto(`${platform.url}/console/#/finance?from=${today()}&to=2020-01-01&group_by=month`);
      await page.waitForSelector('text=from must not be after to');
      await page.screenshot({ path: `${SHOTS}/finance-refused.png`, fullPage: true });
      expect(pageErrors).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });
});
