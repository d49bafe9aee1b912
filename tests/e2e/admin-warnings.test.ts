import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Browser } from 'playwright';
import { fastAppendStatement } from '../../src/adapters/event-store/postgres/append.js';
import { createAdmin } from '../../src/cli/create-admin.js';
import { TOKENS } from '../../src/tokens.js';
import { launchChromium } from '../support/chromium.js';
import { startPlatform, type Platform } from '../support/platform.js';

const OPS_TOKEN = 'ops-token-for-the-tests-0123456789abcdef';
const ADMIN = { email: 'horizon-admin@example.test', password: 'admin password 123' };

/**
 * With OPS_TOKEN set (as production requires) /readyz is closed to the
 * console, so GET /api/v1/admin/warnings answers the readiness warnings to
 * an admin: an append left open holds back $all delivery for more than 5 s,
 * and an admin sees it there and in the console's Projections view, while
 * /readyz without the token is 401.
 */
describe('admin API (e2e): the horizon warning on /api/v1/admin/warnings behind the ops token', function () {
  this.timeout(120_000);
  let platform: Platform;
  let admin: string;
  let browser: Browser | undefined;

  before(async () => {
    platform = await startPlatform({ proxies: 0, config: { OPS_TOKEN } });
    await createAdmin({ store: platform.store, passwordHasher: platform.container.get(TOKENS.PasswordHasher) }, ADMIN);
    const login = await platform.call('POST', '/api/v1/auth/login', { body: ADMIN });
    expect(login.status, login.text).to.equal(200);
    admin = login.body.data.access_token;
  });
  after(async () => {
    await browser?.close();
    await platform?.stop();
  });

  const warningsOf = () => platform.call('GET', '/api/v1/admin/warnings', { token: admin });
  const readyz = (token?: string) => fetch(`${platform.url}/readyz`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});

  it('answers no warnings while nothing holds delivery back; the projections stay a list', async () => {
    const res = await warningsOf();
    expect(res.status, res.text).to.equal(200);
    expect(res.body.data.warnings).to.deep.equal([]);
    const projections = await platform.call('GET', '/api/v1/admin/projections', { token: admin });
    expect(projections.body.data.map((p: { base: string }) => p.base)).to.include('users');
  });

  it('declares the warnings in the OpenAPI document, and the Location of a rebuild', async () => {
    const doc = await platform.call('GET', '/api/v1/openapi.json');
    const answer = doc.body.paths['/api/v1/admin/warnings'].get.responses['200'].content['application/json'].schema;
    expect(answer.properties.data.properties.warnings).to.deep.include({ type: 'array' });
    expect(answer.properties.data.required).to.include.members(['warnings']);
    const rebuild = doc.body.paths['/api/v1/admin/projections/{name}/rebuild'].post;
    expect(rebuild.description).to.contain('Location: /api/v1/admin/rebuilds/{job_id}');
  });

  it('names the transaction holding back $all, as /readyz does with the token, while /readyz without it is 401; the console shows it', async () => {
    const database = new URL(platform.config.DATABASE_URL).pathname.slice(1);
    // an append left open: only transactions that append hold back delivery
    const blocker = new pg.Client({ connectionString: platform.config.DATABASE_URL, application_name: 'admin-projections-blocker' });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(fastAppendStatement(`horizon-open-${randomUUID()}`, [{ id: randomUUID(), type: 'LeftOpen', data: {} }], 'any'));
      const { rows } = await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await platform.store.append(`horizon-${randomUUID()}`, [{ id: randomUUID(), type: 'HeldForTheConsole', data: {} }]);
      await new Promise((resolve) => setTimeout(resolve, 5_300));

      const res = await warningsOf();
      expect(res.status, res.text).to.equal(200);
      const warnings = res.body.data.warnings as string[];
      expect(warnings, JSON.stringify(res.body.data)).to.have.length(1);
      expect(warnings[0]).to.include(`pid ${rows[0]!.pid}`).and.to.include('admin-projections-blocker').and.to.include(`database ${database}`);

      const closed = await readyz();
      expect(closed.status).to.equal(401);
      expect(((await closed.json()) as { error: { code: string } }).error.code).to.equal('UNAUTHENTICATED');
      const opened = await readyz(OPS_TOKEN);
      expect(opened.status).to.equal(200);
      const ready = (await opened.json()) as { data: { warnings?: string[] } };
      // the same line, give or take the transaction's age in seconds
      const withoutAge = (w: string) => w.replace(/open for \d+ s/, 'open for N s');
      expect(ready.data.warnings?.map(withoutAge)).to.deep.equal(warnings.map(withoutAge));

      browser = await launchChromium();
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${platform.url}/console/`);
      await page.fill('#login-email', ADMIN.email);
      await page.fill('#login-password', ADMIN.password);
      await page.click('#login-submit');
      await page.waitForSelector('[data-nav=projections]:visible');
      await page.click('[data-nav=projections]');
      await page.waitForSelector('[data-testid=projections] tr[data-projection]');
      const shown = await page.locator('[data-testid=horizon-warning]').allTextContents();
      expect(shown.map(withoutAge)).to.deep.equal(warnings.map(withoutAge));
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }

    const after = await warningsOf();
    expect(after.body.data.warnings, 'the blocker has ended').to.deep.equal([]);
  });
});
