import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Browser, Page } from 'playwright';
import { fastAppendStatement } from '../../src/adapters/event-store/postgres/append.js';
import { createAdmin } from '../../src/cli/create-admin.js';
import type { EventData } from '../../src/event-store/port.js';
import { TOKENS } from '../../src/tokens.js';
import { launchChromium } from '../support/chromium.js';
import { startPlatform, type Platform } from '../support/platform.js';

const ADMIN = { email: 'correlation-admin@example.test', password: 'admin password 123' };
/** more than one page of the route's default (100) and of the console's */
const EVENTS = 250;

interface Shown {
  id: string;
  position: string;
  data: { n?: number };
  metadata: Record<string, unknown>;
}

const positionOf = (text: string): [bigint, bigint] => {
  const [commit, prepare] = text.split('-');
  return [BigInt(commit!), BigInt(prepare!)];
};
const isBefore = (a: string, b: string): boolean => {
  const [ac, ap] = positionOf(a);
  const [bc, bp] = positionOf(b);
  return ac < bc || (ac === bc && ap < bp);
};

/**
 * GET /api/v1/admin/correlations/{id} answers a page at a time: `limit`
 * (1–1000, default 100) events after `from_position`, in $all order; a page
 * shorter than `limit` is the end. Paging on from each page's last position
 * gives every event of the correlation once, also while an append of it is
 * still in flight. The console's Correlation screen shows the first page and
 * loads the rest with Load more.
 */
describe('admin API (e2e): paging through a correlation', function () {
  this.timeout(120_000);
  let platform: Platform;
  let admin: string;
  let browser: Browser | undefined;
  const correlationId = `paging-${randomUUID()}`;
  const streams = [1, 2, 3, 4, 5].map((n) => `pagingprobe-${randomUUID()}-${n}`);

  const event = (correlation: string, n: number): EventData => ({
    id: randomUUID(),
    type: 'PagingProbe',
    data: { n },
    metadata: { $correlationId: correlation, $causationId: correlation, userId: 'test' },
  });

  /** The correlation's event ids in $all order, straight from the store's table. */
  async function expectedIds(): Promise<string[]> {
    const { rows } = await platform.knex.raw<{ rows: { event_id: string }[] }>(
      `SELECT event_id FROM es_events WHERE metadata->>'$correlationId' = ? ORDER BY transaction_id, global_position`,
      [correlationId],
    );
    return rows.map((r) => r.event_id);
  }

  /** A console tab with the admin signed in. */
  async function signedInConsole(browser: Browser): Promise<Page> {
    const tab = await (await browser.newContext({ viewport: { width: 1360, height: 900 } })).newPage();
    tab.on('pageerror', (error) => console.error('page error:', error.message));
    await tab.goto(`${platform.url}/console/`);
    await tab.fill('#login-email', ADMIN.email);
    await tab.fill('#login-password', ADMIN.password);
    await tab.click('#login-submit');
    await tab.waitForSelector('[data-nav=streams]:visible');
    return tab;
  }

  const page = (query: string) => platform.call('GET', `/api/v1/admin/correlations/${encodeURIComponent(correlationId)}${query}`, { token: admin });

  /** Every page from `from` on until a short one, checking each. */
  async function pageThrough(limit: number, from?: string): Promise<{ events: Shown[]; pages: number }> {
    const events: Shown[] = [];
    let cursor = from;
    for (let pages = 1; ; pages++) {
      const reply = await page(`?limit=${limit}${cursor ? `&from_position=${encodeURIComponent(cursor)}` : ''}`);
      expect(reply.status, reply.text).to.equal(200);
      const got = reply.body.data as Shown[];
      expect(got.length, `page ${pages}`).to.be.at.most(limit);
      events.push(...got);
      if (got.length < limit) return { events, pages };
      cursor = got.at(-1)!.position;
    }
  }

  before(async () => {
    platform = await startPlatform({ proxies: 0 });
    await createAdmin({ store: platform.store, passwordHasher: platform.container.get(TOKENS.PasswordHasher) }, ADMIN);
    const login = await platform.call('POST', '/api/v1/auth/login', { body: ADMIN });
    expect(login.status, login.text).to.equal(200);
    admin = login.body.data.access_token;

    // appends of 1 to 7 events (page boundaries fall inside one transaction), beside another correlation's events
    const other = `other-${randomUUID()}`;
    for (let n = 0, i = 0; n < EVENTS; i++) {
      const size = Math.min(1 + (i % 7), EVENTS - n);
      const batch = Array.from({ length: size }, (_, k) => event(correlationId, n + k));
      if (i % 3 === 0) batch.splice(1, 0, event(other, i));
      await platform.store.append(streams[i % streams.length]!, batch);
      n += size;
    }
  });
  after(async () => {
    await browser?.close();
    await platform?.stop();
  });

  it('pages through the whole correlation in $all order, each event once, a short page at the end', async () => {
    const expected = await expectedIds();
    expect(expected).to.have.length(EVENTS);
    // 250 = 35 × 7 + 5, 2 × 100 + 50, 5 × 50 (then an empty page), one page of 1000
    for (const [limit, pages] of [
      [7, 36],
      [100, 3],
      [50, 6],
      [1000, 1],
    ] as const) {
      const walked = await pageThrough(limit);
      expect(walked.pages, `limit ${limit}: pages`).to.equal(pages);
      expect(
        walked.events.map((e) => e.id),
        `limit ${limit}: in $all order, no gaps, no repeats`,
      ).to.deep.equal(expected);
      for (const e of walked.events) expect(e.metadata.$correlationId).to.equal(correlationId);
      for (let i = 1; i < walked.events.length; i++) expect(isBefore(walked.events[i - 1]!.position, walked.events[i]!.position)).to.equal(true);
    }

    const first = await page('');
    expect(first.status, first.text).to.equal(200);
    expect(
      first.body.data.map((e: Shown) => e.id),
      'default limit 100',
    ).to.deep.equal(expected.slice(0, 100));
    const last = (await page('?limit=1000')).body.data.at(-1).position as string;
    expect((await page(`?from_position=${last}`)).body.data, 'nothing after the last').to.deep.equal([]);
    expect((await page('?from_position=18446744073709551615-9223372036854775807')).body.data, 'the largest position').to.deep.equal([]);
    const nobody = await platform.call('GET', `/api/v1/admin/correlations/nobody-${randomUUID()}?limit=5`, { token: admin });
    expect(nobody.body.data).to.deep.equal([]);
  });

  it('refuses a bad limit or position with 422 naming it', async () => {
    const bad: [string, string][] = [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=-5', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=2.5', 'limit'],
      ['limit=', 'limit'],
      ['limit=1&limit=2', 'limit'],
      ['from_position=abc', 'from_position'],
      ['from_position=12', 'from_position'],
      ['from_position=1-2-3', 'from_position'],
      ['from_position=', 'from_position'],
      ['from_position=-1-5', 'from_position'],
      ['from_position=18446744073709551616-1', 'from_position'],
      ['from_position=99999999999999999999-1', 'from_position'],
      ['from_position=1-9223372036854775808', 'from_position'],
      ['from_position=1-1&from_position=2-2', 'from_position'],
    ];
    for (const [query, field] of bad) {
      const reply = await page(`?${query}`);
      expect(reply.status, `${query}: ${reply.text.slice(0, 300)}`).to.equal(422);
      expect(reply.body.error.code).to.equal('VALIDATION_ERROR');
      const issues = reply.body.error.details.issues as { in: string; path: string[]; message: string }[];
      expect(
        issues.map((i) => `${i.in}.${i.path.join('.')}`),
        query,
      ).to.include(`query.${field}`);
      expect(issues.find((i) => i.path[0] === field)!.message)
        .to.be.a('string')
        .and.not.equal('');
    }
    const doc = await platform.call('GET', '/api/v1/openapi.json');
    const params = doc.body.paths['/api/v1/admin/correlations/{correlationId}'].get.parameters as { name: string; in: string }[];
    expect(params.filter((p) => p.in === 'query').map((p) => p.name)).to.have.members(['from_position', 'limit']);
  });

  it('misses nothing an append still in flight commits before the last position shown', async () => {
    const seen = (await pageThrough(1000)).events;
    const cursor = seen.at(-1)!.position;
    // an append of the correlation left open (its transaction id is the lower), then one that commits at once
    const open = new pg.Client({ connectionString: platform.config.DATABASE_URL, application_name: 'correlation-paging-open-append' });
    await open.connect();
    let committed = false;
    try {
      await open.query('BEGIN');
      await open.query(fastAppendStatement(streams[0]!, [event(correlationId, EVENTS)], 'any'));
      await platform.store.append(streams[1]!, [event(correlationId, EVENTS + 1), event(correlationId, EVENTS + 2)]);

      const meanwhile = await pageThrough(100, cursor);
      expect(meanwhile.events, 'what lies beyond the append in flight waits for it').to.deep.equal([]);

      await open.query('COMMIT');
      committed = true;
    } finally {
      if (!committed) await open.query('ROLLBACK').catch(() => undefined);
      await open.end();
    }
    const rest = (await pageThrough(2, cursor)).events;
    const expected = await expectedIds();
    expect(expected).to.have.length(EVENTS + 3);
    expect([...seen, ...rest].map((e) => e.id)).to.deep.equal(expected);
    expect(rest.map((e) => e.data.n)).to.deep.equal([EVENTS, EVENTS + 1, EVENTS + 2]);
  });

  it('the console shows the first page and loads the rest with Load more', async () => {
    const expected = await expectedIds();
    const positions = (await pageThrough(1000)).events.map((e) => e.position);
    expect(positions).to.have.length(expected.length);

    browser = await launchChromium();
    const tab = await signedInConsole(browser);
    await tab.goto(`${platform.url}/console/#/correlation/${encodeURIComponent(correlationId)}`);
    await tab.waitForSelector('[data-testid=timeline] li');
    const items = tab.locator('[data-testid=timeline] li');
    expect(await items.count(), 'the first page').to.equal(100);
    expect(await tab.textContent('[data-testid=correlation-caption]')).to.contain('more to load');
    const more = tab.locator('[data-testid=correlation-more]');
    for (let shown = 100; await more.isVisible(); ) {
      await more.click();
      shown = Math.min(shown + 100, expected.length);
      await tab.waitForFunction((n) => document.querySelectorAll('[data-testid=timeline] li').length === n, shown);
      await tab.waitForFunction(() => !(document.querySelector('[data-testid=correlation-more]') as HTMLButtonElement).disabled);
    }
    expect(await items.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-position')))).to.deep.equal(positions);
    expect(await tab.textContent('[data-testid=correlation-caption]')).to.equal(`${expected.length} events in ${streams.length} streams`);
  });

  it("the console's stream screen shows 500 events and loads the rest with Load more", async () => {
    const stream = `pagingstream-${randomUUID()}`;
    for (let n = 0; n < 520; n += 130)
      await platform.store.append(
        stream,
        Array.from({ length: 130 }, (_, k) => event(`stream-${randomUUID()}`, n + k)),
      );
    browser ??= await launchChromium();
    const tab = await signedInConsole(browser);
    await tab.goto(`${platform.url}/console/#/stream/${encodeURIComponent(stream)}`);
    await tab.waitForSelector('[data-testid=events] tr[data-revision="0"]');
    const rows = tab.locator('[data-testid=events] tbody tr');
    expect(await rows.count(), 'the first page').to.equal(500);
    expect(await tab.textContent('[data-testid=stream-caption]')).to.equal('500 events, more to load');
    await tab.click('[data-testid=stream-more]');
    await tab.waitForFunction(() => document.querySelectorAll('[data-testid=events] tbody tr').length === 520);
    const revisions = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-revision')));
    expect(revisions).to.deep.equal(Array.from({ length: 520 }, (_, i) => String(i)));
    expect(await tab.textContent('[data-testid=stream-caption]')).to.equal('520 events');
    expect(await tab.isHidden('[data-testid=stream-more]')).to.equal(true);
  });
});
