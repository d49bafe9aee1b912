import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright';
import { createAdmin } from '../../src/cli/create-admin.js';
import { TOKENS } from '../../src/tokens.js';
import { userStream } from '../../src/write-model/user/decider.js';
import { launchChromium } from '../support/chromium.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';

const SHOTS = 'test-results/console';
const ADMIN = { email: 'console-admin@example.test', password: 'admin password 123' };
const USER = { email: 'carol@example.test', password: 'correct horse battery' };
/** the projection the test rebuilds from the console */
const REBUILD_BASE = process.env.CONSOLE_REBUILD_PROJECTION ?? 'subscriptions';

/**
 * The console in a real browser (Debian's Chromium through Playwright)
 * against the whole platform: an admin signs in, opens a user's stream,
 * follows the registration's correlation id to the free subscriptions, looks
 * at the state at an earlier revision, rebuilds a projection and sees it
 * finish, and opens the queue dashboard; a non-admin is refused. Each screen
 * is saved to test-results/console/<name>.png.
 */
describe('console (e2e, Chromium): /console', function () {
  this.timeout(180_000);
  let platform: Platform;
  let browser: Browser;
  let carolId: string;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    platform = await startPlatform({ proxies: 0 });
    await createAdmin({ store: platform.store, passwordHasher: platform.container.get(TOKENS.PasswordHasher) }, ADMIN);
    const registered = await platform.call('POST', '/api/v1/auth/register', { body: { ...USER, display_name: 'Carol' } });
    expect(registered.status, registered.text).to.equal(201);
    const login = await platform.call('POST', '/api/v1/auth/login', { body: USER });
    carolId = login.body.data.user_id;
    // a second event in carol's user stream (logins live in session streams): the state-at-revision walk below needs one
    const renamed = await platform.call('PUT', '/api/v1/users/profile', { token: login.body.data.access_token, body: { display_name: 'Carol C.' } });
    expect(renamed.status, renamed.text).to.equal(200);
    await waitFor(
      "carol's free plans",
      async () => (await platform.call('GET', '/api/v1/subscriptions', { token: login.body.data.access_token })).body?.data?.items?.length === 2,
      20_000,
      50,
    );

    // the worker process's queues (its maintenance queue runs the rebuild the console starts)
    await platform.startWorker('console');

    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await platform?.stop();
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error('page error:', error.message));
    return page;
  }
  const shot = (page: Page, name: string) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

  async function signIn(page: Page, who: { email: string; password: string }) {
    await page.goto(`${platform.url}/console/`);
    await page.fill('#login-email', who.email);
    await page.fill('#login-password', who.password);
    await page.click('#login-submit');
  }

  it('refuses a non-admin, and the queue dashboard without a console session', async () => {
    const page = await newPage();
    try {
      const direct = await page.goto(`${platform.url}/console/queues/`);
      expect(direct?.status(), 'no console session').to.equal(401);

      await signIn(page, USER);
      await page.waitForSelector('#login-error:not([hidden])');
      expect(await page.textContent('#login-error')).to.contain('administrators only');
      expect(await page.isHidden('#nav')).to.equal(true);
      await shot(page, 'refused');
      // no cookie was set, so the dashboard stays closed
      expect((await page.goto(`${platform.url}/console/queues/`))?.status()).to.equal(401);
    } finally {
      await page.context().close();
    }
  });

  it('an admin browses streams, follows a correlation id, views an earlier state, opens the queues and rebuilds a projection', async () => {
    const page = await newPage();
    try {
      await page.goto(`${platform.url}/console/`);
      await page.waitForSelector('#login:not([hidden])');
      await shot(page, 'login');
      await signIn(page, ADMIN);

      // streams: categories and the stream list
      await page.waitForSelector('[data-testid=categories] [data-category=user]');
      await page.click('[data-testid=categories] [data-category=user]');
      const stream = userStream(carolId);
      await page.waitForSelector(`[data-testid=streams] [data-stream="${stream}"]`);
      await shot(page, 'streams');

      // a user's stream: events with data and metadata
      await page.click(`[data-testid=streams] [data-stream="${stream}"]`);
      await page.waitForSelector('[data-testid=events] tr[data-revision="0"]');
      expect(await page.textContent('[data-testid=stream-name]')).to.equal(stream);
      const first = page.locator('[data-testid=events] tr[data-revision="0"]');
      expect(await first.getAttribute('data-type')).to.equal('UserRegistered');
      await first.locator('summary').click();
      await first.locator('pre.json').first().waitFor();
      expect(await first.locator('pre.json').nth(1).textContent()).to.contain('$correlationId');
      await shot(page, 'stream');

      // the registration's correlation id, across aggregates, to the free subscriptions
      const correlationId = await first.locator('[data-correlation]').getAttribute('data-correlation');
      await first.locator('[data-correlation]').click();
      await page.waitForSelector('[data-testid=timeline] li[data-type=SubscriptionStarted]');
      const types = await page.locator('[data-testid=timeline] li').evaluateAll((items) => items.map((li) => li.getAttribute('data-type')));
      expect(types).to.include('UserRegistered');
      expect(types.filter((t) => t === 'SubscriptionStarted')).to.have.length(2);
      expect(types.indexOf('UserRegistered')).to.be.below(types.indexOf('SubscriptionStarted'));
      const streams = await page.locator('[data-testid=timeline] li').evaluateAll((items) => items.map((li) => li.getAttribute('data-stream')));
      expect(streams.filter((s) => s?.startsWith('subscription-'))).to.have.length(2);
      expect(page.url()).to.contain(encodeURIComponent(correlationId!));
      await shot(page, 'correlation');

      // state at an earlier revision, beside the event that made it
      await page.click(`[data-testid=timeline] li[data-type=UserRegistered] a[href^="#/stream/"]`);
      await page.waitForSelector('[data-testid=events] tr[data-revision="1"]');
      const latest = await page.locator('[data-testid=events] tbody tr').count();
      await page.click('[data-testid=events] tr[data-revision="1"] [data-state-at]');
      await page.waitForSelector('[data-testid=state-caption]');
      expect(await page.textContent('[data-testid=state-caption]')).to.contain(`Revision 1 of ${latest - 1}`);
      await page.click('[data-testid=prev-revision]');
      await page.locator('[data-testid=state-caption]', { hasText: /^Revision 0 of / }).waitFor();
      expect(await page.textContent('[data-testid=state-event-type]')).to.equal('UserRegistered');
      expect(await page.textContent('[data-testid=state-json]')).to.contain(carolId);
      await shot(page, 'state');

      // the queues: counts, and bull-board under /console/queues (the console session cookie opens it)
      await page.click('[data-nav=queues]');
      await page.waitForSelector('[data-testid=queues] tr[data-queue=maintenance]');
      const board = page.frameLocator('[data-testid=queue-board]');
      await board.getByText('maintenance').first().waitFor({ timeout: 30_000 });
      await page.waitForTimeout(500);
      await shot(page, 'queues');
      const cookies = await page.context().cookies();
      const session = cookies.find((c) => c.name === 'collector_console');
      expect(session).to.include({ httpOnly: true, sameSite: 'Strict', path: '/console' });
      // the dashboard's actions ride on the session too, from the console's own origin only
      const pause = await page.request.put(`${platform.url}/console/queues/api/queues/workflow-tick/pause`, { headers: { Origin: platform.url } });
      expect(pause.status(), await pause.text()).to.equal(200);
      const queuesNow = (await page.request.get(`${platform.url}/console/queues/api/queues`)).ok();
      expect(queuesNow).to.equal(true);
      const resume = await page.request.put(`${platform.url}/console/queues/api/queues/workflow-tick/resume`, { headers: { Origin: platform.url } });
      expect(resume.status()).to.equal(200);
      const forged = await page.request.put(`${platform.url}/console/queues/api/queues/workflow-tick/pause`, { headers: { Origin: 'https://evil.example' } });
      expect(forged.status(), 'a cross-origin write').to.equal(403);
      // the admin JSON API does not take the cookie: it wants the bearer token
      expect((await page.request.get(`${platform.url}/api/v1/admin/categories`)).status()).to.equal(401);

      // projections: status with lag, and a rebuild with live progress to the end
      await page.click('[data-nav=projections]');
      await page.waitForSelector('[data-testid=projections] tr[data-projection]');
      const name = await page
        .locator('[data-testid=projections] tr[data-projection]')
        .evaluateAll((rows, base) => rows.map((r) => r.getAttribute('data-projection')!).find((n) => n.replace(/-v\d+$/, '') === base), REBUILD_BASE);
      expect(name, `a ${REBUILD_BASE} projection`).to.be.a('string');
      await shot(page, 'projections');
      await page.click(`[data-rebuild="${name}"]`);
      const status = page.locator(`[data-testid="rebuild-status-${name}"]`);
      await waitFor('the rebuild to finish', async () => /rebuilt|failed/.test((await status.textContent()) ?? ''), 90_000, 100);
      expect(await status.textContent()).to.contain('rebuilt: done');
      expect(await page.locator(`tr[data-projection="${name}"] .rebuild-status`).first().textContent()).to.contain('done');
      await shot(page, 'rebuild');

      // signing out ends the console session: the dashboard is closed again
      await page.click('#sign-out');
      await page.waitForSelector('#login:not([hidden])');
      expect((await page.goto(`${platform.url}/console/queues/`))?.status()).to.equal(401);
    } finally {
      await page.context().close();
    }
  });

  it('serves only the console files, with their types, and no traversal', async () => {
    const index = await fetch(`${platform.url}/console/`);
    expect(index.status).to.equal(200);
    expect(index.headers.get('content-type')).to.match(/^text\/html/);
    expect(index.headers.get('content-security-policy')).to.contain("script-src 'self'");
    const js = await fetch(`${platform.url}/console/app.js`);
    expect(js.headers.get('content-type')).to.match(/^text\/javascript/);
    const css = await fetch(`${platform.url}/console/styles.css`);
    expect(css.headers.get('content-type')).to.match(/^text\/css/);
    const bare = await fetch(`${platform.url}/console`, { redirect: 'manual' });
    expect(bare.status).to.equal(302);
    for (const path of [
      '/console/../api-app.ts',
      '/console/%2e%2e/api-app.ts',
      '/console/..%2fapi-app.ts',
      '/console/%2e%2e%2f%2e%2e%2fpackage.json',
      '/console/nope.js',
      '/console/app.js/',
    ]) {
      const r = await fetch(`${platform.url}${path}`);
      expect(r.status, path).to.equal(404);
    }
    expect((await fetch(`${platform.url}/console/app.js`, { method: 'POST' })).status).to.equal(405);
    // a session needs an admin's bearer token; the scheme is named in any case, as on every route
    expect((await fetch(`${platform.url}/console/session`, { method: 'POST' })).status).to.equal(401);
    const login = await platform.call('POST', '/api/v1/auth/login', { body: ADMIN });
    const lower = await fetch(`${platform.url}/console/session`, { method: 'POST', headers: { Authorization: `bearer ${login.body.data.access_token}` } });
    expect(lower.status, await lower.text()).to.equal(201);
  });
});
