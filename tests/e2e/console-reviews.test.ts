import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright';
import { createAdmin } from '../../src/cli/create-admin.js';
import { TOKENS } from '../../src/tokens.js';
import { launchChromium } from '../support/chromium.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';
import { hitsOfDryRun, openFlaggedReview } from '../support/reviews.js';

const SHOTS = 'test-results/console';
const ADMIN = { email: 'review-admin@example.test', password: 'admin password 123' };
const BODY = '周末去山里露营，装备清单如下：帐篷、睡袋。想要同款的加微信领取，或者电话 13812345678。';

/**
 * The console's review workbench in a real browser (Debian's Chromium
 * through Playwright) against the whole platform: an admin signs in, opens
 * the Reviews queue, opens a flagged article with its hits marked in the
 * text, claims it and approves it. Screens go to test-results/console/.
 */
describe('console (e2e, Chromium): the review workbench', function () {
  this.timeout(180_000);
  let platform: Platform;
  let browser: Browser;
  let reviewId: string;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    platform = await startPlatform({ proxies: 0 });
    await createAdmin({ store: platform.store, passwordHasher: platform.container.get(TOKENS.PasswordHasher) }, ADMIN);
    const author = await platform.signUp('author');
    const adminToken = (await platform.call('POST', '/api/v1/auth/login', { body: ADMIN })).body.data.access_token as string;
    for (const rule of [
      { scope: 'platform', kind: 'banned_phrase', name: '广告引流', phrases: ['加微信'] },
      { scope: 'platform', kind: 'contact', name: '联系方式' },
    ]) {
      const r = await platform.call('POST', '/api/v1/review-rules', { token: adminToken, body: rule });
      expect(r.status, r.text).to.equal(201);
    }
    const dry = await platform.call('POST', '/api/v1/review-rules/test', {
      token: author.token,
      body: { platform: 'xiaohongshu', region: 'CN', title: '露营装备清单', body: BODY, tags: ['露营'] },
    });
    expect(dry.body.data.verdict, dry.text).to.equal('flag');
    // the publication's review, opened as pm-publications opens it for flagged content
    reviewId = await openFlaggedReview(platform.store, {
      ownerId: author.userId,
      title: '露营装备清单',
      body: BODY,
      tags: ['露营'],
      hits: hitsOfDryRun(dry.body.data),
    });
    await waitFor(
      'the review in the read model',
      async () => (await platform.call('GET', `/api/v1/reviews/${reviewId}`, { token: adminToken })).status === 200,
      10_000,
      50,
    );
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await platform?.stop();
  });

  it('an admin opens the queue, reads the flagged article with its hits marked, claims it and approves it', async () => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error('page error:', error.message));
    try {
      await page.goto(`${platform.url}/console/`);
      await page.fill('#login-email', ADMIN.email);
      await page.fill('#login-password', ADMIN.password);
      await page.click('#login-submit');
      await page.waitForSelector('#nav:not([hidden])');

      await page.click('[data-nav=reviews]');
      await page.waitForSelector(`[data-testid=reviews] tr[data-review="${reviewId}"]`);
      await page.screenshot({ path: `${SHOTS}/reviews-queue.png`, fullPage: true });
      await page.click(`[data-testid=reviews] tr[data-review="${reviewId}"] a`);

      await page.waitForSelector('[data-testid=review-claim]');
      expect(await page.textContent('[data-testid=review-title]')).to.equal('露营装备清单');
      const marks = await page.locator('[data-field=body] mark.hit').allTextContents();
      expect(marks).to.deep.equal(['加微信', '13812345678']);
      expect(await page.locator('[data-testid=review-hits] li').count()).to.equal(2);
      await page.screenshot({ path: `${SHOTS}/review-item.png`, fullPage: true });

      await page.click('[data-testid=review-claim]');
      await page.waitForSelector('[data-testid=review-approve]');
      expect(await page.textContent('[data-testid=review-state]')).to.equal('claimed by me');
      await page.fill('[data-testid=review-comment]', '官方客服电话，已核实');
      await page.click('[data-testid=review-approve]');
      await page.waitForSelector('[data-testid=review-state]:text("approved")');
      await page.screenshot({ path: `${SHOTS}/review-approved.png`, fullPage: true });

      const events = await platform.events(`review-${reviewId}`);
      expect(events.map((e) => e.type)).to.deep.equal(['ReviewOpened', 'ReviewClaimed', 'ReviewApproved']);
      expect(events[2]!.data).to.include({ comment: '官方客服电话，已核实' });
    } finally {
      await context.close();
    }
  });

  it('a reviewer signs in to the review workbench only', async () => {
    const reviewer = await platform.signUp('reviewer');
    const adminToken = (await platform.call('POST', '/api/v1/auth/login', { body: ADMIN })).body.data.access_token as string;
    const changed = await platform.call('PUT', `/api/v1/admin/users/${reviewer.userId}/role`, { token: adminToken, body: { role: 'reviewer' } });
    expect(changed.status, changed.text).to.equal(200);
    const email = (await platform.call('GET', '/api/v1/users/profile', { token: reviewer.token })).body.data.email as string;
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    try {
      await page.goto(`${platform.url}/console/`);
      await page.fill('#login-email', email);
      await page.fill('#login-password', 'correct horse battery');
      await page.click('#login-submit');
      await page.waitForSelector('[data-testid=reviews], [data-testid=no-reviews]');
      expect(await page.isVisible('[data-nav=reviews]')).to.equal(true);
      expect(await page.isHidden('[data-nav=streams]')).to.equal(true);
      expect(await page.isHidden('[data-nav=queues]')).to.equal(true);
      // the queue dashboard stays for admins
      expect((await page.goto(`${platform.url}/console/queues/`))?.status()).to.equal(403);
    } finally {
      await context.close();
    }
  });
});
