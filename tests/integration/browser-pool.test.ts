import { expect } from 'chai';
import { Server as ProxyServer } from 'proxy-chain';
import { BrowserPool, BrowserPoolClosedError } from '../../src/adapters/scrapers/browser-pool.js';
import { startFixtureSites, type FixtureSites } from '../support/fixture-sites.js';

describe('BrowserPool (real Chromium)', function () {
  this.timeout(30_000);
  let sites: FixtureSites;
  let pool: BrowserPool;

  before(async () => {
    sites = await startFixtureSites();
  });
  after(async () => {
    await sites?.close();
  });
  beforeEach(() => {
    pool = new BrowserPool({ maxContexts: 2 });
    sites.requests.length = 0;
  });
  afterEach(async () => {
    await pool.close();
  });

  const page = () => `${sites.urls.qidianWeb}/book/1010868264/`;

  it('one browser, a fresh context per job with its own cookies and user agent, always closed', async () => {
    const cookie = (value: string) => [{ name: 'web_session', value, domain: '127.0.0.1', path: '/' }];
    const seen = await Promise.all(
      ['a', 'b', 'c'].map((v) =>
        pool.withContext({ userAgent: `UA-${v}`, cookies: cookie(v), locale: 'zh-CN' }, async (context) => {
          const p = await context.newPage();
          await p.goto(page());
          return { cookies: (await context.cookies()).map((c) => c.value), lang: await p.evaluate('navigator.language') };
        }),
      ),
    );
    expect(seen.map((s) => s.cookies)).to.deep.equal([['a'], ['b'], ['c']]);
    expect(seen[0]!.lang).to.equal('zh-CN');
    expect(
      sites.requests
        .filter((r) => r.path.startsWith('/book/'))
        .map((r) => `${r.userAgent}:${r.cookies['web_session']}`)
        .sort(),
    ).to.deep.equal(['UA-a:a', 'UA-b:b', 'UA-c:c']);
    expect(pool.launchCount).to.equal(1);
    expect(pool.activeContexts).to.equal(0);
    // other hosts and blocked resource types never leave the browser
    const outside = await pool.withContext({ allowHosts: ['127.0.0.1'], blockResourceTypes: ['image'] }, async (context) => {
      const p = await context.newPage();
      await p.goto(page());
      const external = await p.evaluate("fetch('http://bookcover.yuewen.com/x.webp').then(() => 'fetched', () => 'blocked')");
      const image = await p.evaluate(
        `new Promise((r) => { const i = new Image(); i.onload = () => r('loaded'); i.onerror = () => r('blocked'); i.src = '${sites.origin}/qidian/www/x.png'; })`,
      );
      return { external, image };
    });
    expect(outside).to.deep.equal({ external: 'blocked', image: 'blocked' });
    expect(sites.requests.some((r) => r.path === '/x.png')).to.equal(false);
    const failed = await pool
      .withContext({}, async () => {
        throw new Error('job failed');
      })
      .catch((e: Error) => e.message);
    expect(failed).to.equal('job failed');
    expect(pool.activeContexts).to.equal(0);
  });

  it('never more than maxContexts at once', async () => {
    let now = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        pool.withContext({}, async () => {
          now++;
          peak = Math.max(peak, now);
          await new Promise((r) => setTimeout(r, 100));
          now--;
        }),
      ),
    );
    expect(peak).to.equal(2);
  });

  it('goes through the leased proxy with its credentials', async () => {
    const seen: { user: string; password: string; host: string }[] = [];
    const proxy = new ProxyServer({
      port: 0,
      host: '127.0.0.1',
      prepareRequestFunction: ({ username, password, hostname }) => {
        seen.push({ user: username, password, host: hostname });
        return { requestAuthentication: username !== 'lease-1' || password !== 's3cret' };
      },
    });
    await proxy.listen();
    try {
      const status = await pool.withContext(
        { proxy: { server: `http://127.0.0.1:${proxy.port}`, username: 'lease-1', password: 's3cret', bypass: '<-loopback>' } },
        async (context) => {
          const p = await context.newPage();
          return (await p.goto(page()))?.status();
        },
      );
      expect(status).to.equal(200);
      expect(seen.some((s) => s.user === 'lease-1' && s.password === 's3cret')).to.equal(true);
      expect(sites.requests).to.have.length.greaterThan(0);
    } finally {
      await proxy.close(true);
    }
  });

  it('relaunches the browser after it crashed', async () => {
    let browser: import('playwright').Browser | null = null;
    await pool.withContext({}, async (context) => {
      browser = context.browser();
    });
    await (browser as unknown as import('playwright').Browser).close(); // as if it crashed
    const title = await pool.withContext({}, async (context) => {
      const p = await context.newPage();
      await p.goto(page());
      return p.title();
    });
    expect(title).to.contain('诡秘之主');
    expect(pool.launchCount).to.equal(2);
  });

  it('close() waits for running jobs, then refuses new ones', async () => {
    let finished = false;
    const running = pool.withContext({}, async () => {
      await new Promise((r) => setTimeout(r, 200));
      finished = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    await pool.close();
    await running;
    expect(finished).to.equal(true);
    const refused = await pool.withContext({}, async () => 1).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(BrowserPoolClosedError);
  });
});
