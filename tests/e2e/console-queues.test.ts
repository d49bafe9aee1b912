import { expect } from 'chai';
import { Queue } from 'bullmq';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright';
import { closeServer, listen } from '../../src/adapters/http/server.js';
import { createApiApp } from '../../src/api-app.js';
import { createAdmin } from '../../src/cli/create-admin.js';
import { LockKeeper } from '../../src/consumers/lock-keeper.js';
import { startQueueBlockageDetector } from '../../src/main/queue-blockage.js';
import { TOKENS } from '../../src/tokens.js';
import { launchChromium } from '../support/chromium.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';

const SHOTS = 'test-results/console';
const ADMIN = { email: 'queues-admin@example.test', password: 'admin password 123' };
const OTHER_ADMIN = { email: 'queues-admin-2@example.test', password: 'admin password 456' };
const QUEUE = 'reports';
const today = () => new Date().toISOString().slice(0, 10).replaceAll('-', '');

/**
 * The Queues view of the console in a real browser (Debian's Chromium
 * through Playwright) against the whole platform, with the blockage
 * detector running as the projector runs it (QUEUE_BLOCKAGE_SECONDS=2):
 * live stats reach the page within a second of each sample; jobs that wait
 * on a queue no worker serves raise the blockage alert in the page and a
 * queue_blocked notification for every admin; the operator pauses and
 * resumes the queue from the console and the interventions are recorded;
 * removing the jobs clears the alert. Screens go to test-results/console/.
 */
describe('console (e2e, Chromium): the live queue monitor', function () {
  this.timeout(180_000);
  let platform: Platform;
  let browser: Browser;
  let detector: { stop(): Promise<void> };
  let locks: LockKeeper;
  let reports: Queue;
  let adminToken: string;
  let otherToken: string;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    platform = await startPlatform({ proxies: 0, config: { QUEUE_BLOCKAGE_SECONDS: '2' } });
    const hasher = platform.container.get(TOKENS.PasswordHasher);
    await createAdmin({ store: platform.store, passwordHasher: hasher }, ADMIN);
    await createAdmin({ store: platform.store, passwordHasher: hasher }, OTHER_ADMIN);
    adminToken = (await platform.call('POST', '/api/v1/auth/login', { body: ADMIN })).body.data.access_token;
    otherToken = (await platform.call('POST', '/api/v1/auth/login', { body: OTHER_ADMIN })).body.data.access_token;
    // the detector as a projector runs it: behind its advisory lock
    locks = new LockKeeper(platform.config.DATABASE_URL, { applicationName: 'console-queues e2e' });
    detector = startQueueBlockageDetector({
      config: platform.config,
      store: platform.store,
      redis: platform.container.get(TOKENS.Redis),
      locks,
      logger: platform.container.get(TOKENS.Logger),
    });
    // a producer on the reports queue; no worker serves it in this platform
    reports = new Queue(QUEUE, { connection: { url: platform.config.REDIS_URL }, prefix: platform.config.QUEUE_PREFIX });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await detector?.stop();
    await locks?.close();
    await reports?.close();
    await platform?.stop();
  });

  async function signIn(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error('page error:', error.message));
    await page.goto(`${platform.url}/console/`);
    await page.fill('#login-email', ADMIN.email);
    await page.fill('#login-password', ADMIN.password);
    await page.click('#login-submit');
    await page.waitForSelector('#nav:not([hidden])');
    return page;
  }

  const row = (page: Page) => page.locator(`[data-testid=queues] tr[data-queue="${QUEUE}"]`);
  const waitingShown = async (page: Page) => Number(await row(page).locator('[data-count=waiting]').textContent());

  it('shows every queue live, each sample within a second; blocked jobs raise the alert and notify every admin; pause and resume from the console are recorded', async () => {
    const page = await signIn();
    try {
      await page.click('[data-nav=queues]');
      await page.waitForSelector('[data-testid=queue-live-status]:text("live")');
      for (const name of ['scrape', 'workflow-tick', 'proxy-health', 'mail', 'message-send', 'reports', 'publish', 'maintenance']) {
        await page.waitForSelector(`[data-testid=queues] tr[data-queue="${name}"]`);
      }

      // every stats update: from the sample (server) to the page, measured in the page
      const table = page.locator('[data-testid=queues]');
      const samples = new Map<string, number>();
      const until = Date.now() + 6_000;
      while (Date.now() < until) {
        const at = await table.getAttribute('data-sample-at');
        const latency = await table.getAttribute('data-latency-ms');
        if (at && latency && (await table.getAttribute('data-updates')) !== null) samples.set(at, Number(latency));
        await page.waitForTimeout(50);
      }
      const latencies = [...samples.values()].sort((a, b) => a - b);
      const times = [...samples.keys()].map((t) => Date.parse(t)).sort((a, b) => a - b);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      console.log(
        `      stats updates: ${latencies.length} in 6 s; sample → console ${latencies[0]}–${latencies.at(-1)} ms (median ${latencies[Math.floor(latencies.length / 2)]} ms); ` +
          `between samples ${Math.min(...gaps)}–${Math.max(...gaps)} ms`,
      );
      expect(latencies.length, 'an update about every second').to.be.at.least(4);
      expect(latencies.at(-1), 'a stats update reaches the console within 1 s').to.be.below(1000);
      expect(Math.max(...gaps), 'one sample a second').to.be.below(1600);

      // jobs that no worker takes: in the table by the next sample, then blocked after QUEUE_BLOCKAGE_SECONDS
      const added = Date.now();
      await reports.addBulk([1, 2, 3].map((n) => ({ name: 'stuck', data: { n }, opts: { jobId: `stuck-${n}` } })));
      await waitFor('the jobs in the console', async () => (await waitingShown(page)) === 3, 5_000, 20);
      const shownAfter = Date.now() - added;
      console.log(`      3 jobs added → shown in the console after ${shownAfter} ms (one sample a second)`);
      expect(shownAfter).to.be.below(2000);

      await page.waitForSelector(`[data-testid=queue-alerts] [data-alert-queue="${QUEUE}"]`, { timeout: 15_000 });
      expect(await row(page).getAttribute('data-blocked')).to.equal('true');
      expect(await page.textContent(`[data-alert-queue="${QUEUE}"]`)).to.contain(`Queue ${QUEUE} is blocked`);
      expect(await page.textContent('[data-testid=queue-detector]')).to.contain('after 2 s');
      await page.screenshot({ path: `${SHOTS}/queues-blocked.png`, fullPage: true });

      const alerts = (await platform.events(`queue_alert-${QUEUE}_${today()}`)).map((e) => ({ type: e.type, data: e.data as Record<string, unknown> }));
      expect(alerts.map((e) => e.type)).to.deep.equal(['QueueBlockageDetected']);
      expect(alerts[0]!.data).to.include({ queue: QUEUE, waiting: 3, paused: false, thresholdSeconds: 2 });

      // every admin is told (in the app; the mail is queued)
      for (const token of [adminToken, otherToken]) {
        await waitFor(
          'the queue_blocked notification',
          async () => {
            const r = await platform.call('GET', '/api/v1/notifications', { token });
            return r.body?.data?.items?.some((n: any) => n.kind === 'queue_blocked' && n.title.includes(`Queue ${QUEUE} is blocked`)) === true;
          },
          15_000,
          100,
        );
      }

      // the operator pauses the queue, then resumes it, from the console
      await page.click(`[data-testid="queue-pause-${QUEUE}"]`);
      await page.waitForSelector(`[data-testid=queues] tr[data-queue="${QUEUE}"][data-paused=true]`);
      expect(await page.textContent('[data-testid=queue-action-note]')).to.contain('QueuePaused');
      expect(await reports.isPaused()).to.equal(true);
      await page.screenshot({ path: `${SHOTS}/queues-paused.png`, fullPage: true });
      await page.click(`[data-testid="queue-resume-${QUEUE}"]`);
      await page.waitForSelector(`[data-testid=queues] tr[data-queue="${QUEUE}"][data-paused=false]`);
      expect(await page.textContent('[data-testid=queue-action-note]')).to.contain('QueueResumed');
      expect(await reports.isPaused()).to.equal(false);

      const adminId = (await platform.call('GET', '/api/v1/users/profile', { token: adminToken })).body.data.id as string;
      const interventions = await platform.events(`queue_intervention-${QUEUE}_${today()}`);
      expect(interventions.map((e) => e.type)).to.deep.equal(['QueuePaused', 'QueueResumed']);
      expect(interventions.map((e) => (e.data as { operator: string }).operator)).to.deep.equal([adminId, adminId]);

      // the jobs go (removed through the admin API): the queue moved, the alert clears in the page and in the stream
      for (const n of [1, 2, 3]) {
        const removed = await platform.call('DELETE', `/api/v1/admin/queues/${QUEUE}/jobs/stuck-${n}`, { token: adminToken });
        expect(removed.status, removed.text).to.equal(200);
        expect(removed.body.data).to.include({ changed: true, event: 'JobRemoved', previous_state: 'waiting' });
      }
      await page.waitForSelector(`[data-testid=queue-alerts] [data-alert-queue="${QUEUE}"]`, { state: 'detached', timeout: 15_000 });
      expect(await row(page).getAttribute('data-blocked')).to.equal('false');
      await page.screenshot({ path: `${SHOTS}/queues-cleared.png`, fullPage: true });
      await waitFor('the clearing recorded', async () => (await platform.events(`queue_alert-${QUEUE}_${today()}`)).length === 2, 10_000, 100);
      expect((await platform.events(`queue_alert-${QUEUE}_${today()}`)).map((e) => e.type)).to.deep.equal(['QueueBlockageDetected', 'QueueBlockageCleared']);
      expect((await platform.events(`queue_intervention-${QUEUE}_${today()}`)).map((e) => e.type)).to.deep.equal([
        'QueuePaused',
        'QueueResumed',
        'JobRemoved',
        'JobRemoved',
        'JobRemoved',
      ]);
    } finally {
      await page.context().close();
    }
  });

  it('the admin API: JSON snapshot, 404 / 409, admins only, documented as an event stream', async () => {
    const stats = await platform.call('GET', '/api/v1/admin/queues/stats', { token: adminToken });
    expect(stats.status, stats.text).to.equal(200);
    expect(stats.body.data.queues.map((q: any) => q.name)).to.include.members(['scrape', 'mail', QUEUE, 'maintenance']);
    await waitFor(
      'the detector reporting',
      async () => (await platform.call('GET', '/api/v1/admin/queues/stats', { token: adminToken })).body.data.detector.running === true,
      10_000,
      100,
    );

    expect((await platform.call('POST', '/api/v1/admin/queues/nope/pause', { token: adminToken })).status).to.equal(404);
    expect((await platform.call('POST', `/api/v1/admin/queues/${QUEUE}/jobs/missing/retry`, { token: adminToken })).status).to.equal(404);
    await reports.add('later', {}, { jobId: 'later-1', delay: 600_000 });
    const wrong = await platform.call('POST', `/api/v1/admin/queues/${QUEUE}/jobs/later-1/retry`, { token: adminToken });
    expect(wrong.status, wrong.text).to.equal(409);
    expect(wrong.body.error.code).to.equal('CONFLICT');
    const promoted = await platform.call('POST', `/api/v1/admin/queues/${QUEUE}/jobs/later-1/promote`, { token: adminToken });
    expect(promoted.status, promoted.text).to.equal(200);
    expect(promoted.body.data).to.include({ event: 'JobPromoted', previous_state: 'delayed' });
    const again = await platform.call('POST', `/api/v1/admin/queues/${QUEUE}/resume`, { token: adminToken });
    expect(again.body.data).to.include({ changed: false, event: null });

    const user = await platform.signUp('queue-watcher');
    expect((await platform.call('GET', '/api/v1/admin/queues/stats', { token: user.token })).status).to.equal(403);
    const live = await fetch(`${platform.url}/api/v1/admin/queues/live`, { headers: { Authorization: `Bearer ${user.token}` } });
    expect(live.status).to.equal(403);

    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
    expect(Object.keys(doc.paths['/api/v1/admin/queues/live'].get.responses['200'].content)).to.deep.equal(['text/event-stream']);
    for (const path of ['/api/v1/admin/queues/{name}/pause', '/api/v1/admin/queues/{name}/resume', '/api/v1/admin/queues/{name}/retry-failed']) {
      expect(doc.paths[path].post, path).to.be.an('object');
    }
    expect(doc.paths['/api/v1/admin/queues/{name}/jobs/{id}'].delete.responses).to.have.property('409');
  });

  it('the event stream: text/event-stream with stats events, ends when the client goes and when the server shuts down', async () => {
    // an api of its own, to shut down while a stream is open
    const app = createApiApp(platform.container);
    const server = await listen(app.callback(), '127.0.0.1', 0);
    try {
      const res = await fetch(`${server.url}/api/v1/admin/queues/live`, { headers: { Authorization: `Bearer ${adminToken}` } });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/event-stream/);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!text.includes('event: stats')) text += (await reader.read()).value ?? '';
      const data = JSON.parse(/event: stats\nid: [^\n]*\ndata: ([^\n]*)\n/.exec(text)![1]!);
      expect(data.queues.map((q: any) => q.name)).to.include(QUEUE);

      // a client that goes is let go: its subscription ends
      const stats = async () =>
        (await (await fetch(`${server.url}/api/v1/admin/queues/stats`, { headers: { Authorization: `Bearer ${adminToken}` } })).json()).data;
      expect((await stats()).live_streams).to.equal(1);
      const leaving = new AbortController();
      const second = await fetch(`${server.url}/api/v1/admin/queues/live`, { headers: { Authorization: `Bearer ${adminToken}` }, signal: leaving.signal });
      expect(second.status).to.equal(200);
      await waitFor('two live streams', async () => (await stats()).live_streams === 2, 5_000, 50);
      leaving.abort();
      await waitFor('the client that left let go', async () => (await stats()).live_streams === 1, 5_000, 50);

      // shutdown: the stream says so and ends, and the server closes at once
      const started = Date.now();
      app.emit('closing');
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      expect(text).to.contain('event: end');
      const streamEnded = Date.now() - started;
      expect(streamEnded, 'the stream ends at once').to.be.below(1000);
      // nothing holds the server open any more (idle keep-alive connections go as the client lets them)
      await closeServer(server.server);
      console.log(`      shutdown: the live stream ended after ${streamEnded} ms, the server closed after ${Date.now() - started} ms`);
    } finally {
      server.server.closeAllConnections();
    }
  });
});
