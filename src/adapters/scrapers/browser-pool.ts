import { chromium, type Browser, type BrowserContext, type LaunchOptions } from 'playwright';

/**
 * One shared Chromium for a worker process; every job gets a fresh
 * BrowserContext (its own cookies, cache, proxy and user agent) that is
 * always closed afterwards. The browser is launched on first use and again
 * after it crashed or was closed underneath us. At most `maxContexts` jobs
 * hold a context at once; the others wait their turn (FIFO).
 *
 * Cookies arrive here already decrypted by the worker and only ever live in
 * the context; nothing here logs them.
 */

export interface ContextProxy {
  /** `http://host:port` or `socks5://host:port` */
  server: string;
  username?: string;
  password?: string;
  /** hosts that skip the proxy; `<-loopback>` makes Chromium proxy 127.0.0.1 too (tests) */
  bypass?: string;
}

export interface ContextCookie {
  name: string;
  value: string;
  domain: string;
  path: string;
  expires?: number;
  httpOnly?: boolean;
  secure?: boolean;
  sameSite?: 'Strict' | 'Lax' | 'None';
}

export interface ContextOptions {
  proxy?: ContextProxy;
  userAgent?: string;
  cookies?: ContextCookie[];
  locale?: string;
  timezoneId?: string;
  /** default navigation / action timeout for pages of the context (ms) */
  timeoutMs?: number;
  /** resource types not loaded at all (saves proxy traffic), e.g. ['image', 'media', 'font'] */
  blockResourceTypes?: string[];
  /** when set, requests to other hosts are aborted (tests: nothing leaves 127.0.0.1) */
  allowHosts?: string[];
}

export interface BrowserPoolOptions {
  executablePath?: string;
  args?: string[];
  /** contexts open at once; further jobs wait */
  maxContexts?: number;
  /** how long a job may wait for a slot before it fails (ms); default: forever */
  acquireTimeoutMs?: number;
  launch?: (options: LaunchOptions) => Promise<Browser>;
}

export const DEFAULT_CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

export class BrowserPoolClosedError extends Error {
  override readonly name = 'BrowserPoolClosedError';
  constructor() {
    super('the browser pool is closed');
  }
}

/** A counting semaphore with FIFO waiters. */
class Semaphore {
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  constructor(private available: number) {}

  async acquire(timeoutMs?: number): Promise<void> {
    if (this.available > 0) {
      this.available--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject };
      this.waiters.push(waiter);
      if (timeoutMs !== undefined) {
        const timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`no browser context free within ${timeoutMs} ms`));
        }, timeoutMs);
        waiter.resolve = () => {
          clearTimeout(timer);
          resolve();
        };
      }
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next.resolve();
    else this.available++;
  }

  rejectAll(error: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(error);
  }
}

export class BrowserPool {
  private browser: Browser | null = null;
  private launching: Promise<Browser> | null = null;
  private readonly slots: Semaphore;
  private readonly open = new Set<BrowserContext>();
  private closed = false;
  /** jobs between acquiring a slot and releasing it */
  private running = 0;
  private launches = 0;
  private readonly options: Required<Pick<BrowserPoolOptions, 'executablePath' | 'args' | 'maxContexts'>> & BrowserPoolOptions;

  constructor(options: BrowserPoolOptions = {}) {
    this.options = {
      executablePath: '/usr/bin/chromium',
      args: DEFAULT_CHROMIUM_ARGS,
      maxContexts: 4,
      ...options,
    };
    this.slots = new Semaphore(this.options.maxContexts);
  }

  /** How many times a browser was launched (1 normally; more after crashes). */
  get launchCount(): number {
    return this.launches;
  }

  /** Contexts open right now. */
  get activeContexts(): number {
    return this.open.size;
  }

  /** Runs `fn` in a fresh context; the context is closed whatever `fn` does. */
  async withContext<T>(options: ContextOptions, fn: (context: BrowserContext) => Promise<T>): Promise<T> {
    if (this.closed) throw new BrowserPoolClosedError();
    await this.slots.acquire(this.options.acquireTimeoutMs);
    this.running++;
    let context: BrowserContext | null = null;
    try {
      if (this.closed) throw new BrowserPoolClosedError();
      const browser = await this.ensureBrowser();
      context = await browser.newContext({
        ...(options.proxy ? { proxy: { ...options.proxy } } : {}),
        ...(options.userAgent ? { userAgent: options.userAgent } : {}),
        locale: options.locale ?? 'zh-CN',
        timezoneId: options.timezoneId ?? 'Asia/Shanghai',
        viewport: { width: 1366, height: 900 },
      });
      this.open.add(context);
      if (options.timeoutMs !== undefined) context.setDefaultTimeout(options.timeoutMs);
      const blocked = new Set(options.blockResourceTypes ?? []);
      const allowed = options.allowHosts ? new Set(options.allowHosts) : null;
      if (blocked.size > 0 || allowed) {
        await context.route('**/*', (route) => {
          const request = route.request();
          let host = '';
          try {
            host = new URL(request.url()).hostname;
          } catch {
            // data: and the like
          }
          const refuse = blocked.has(request.resourceType()) || (allowed !== null && host !== '' && !allowed.has(host));
          return refuse ? route.abort('blockedbyclient') : route.continue();
        });
      }
      if (options.cookies?.length) await context.addCookies(options.cookies.map((c) => ({ ...c })));
      return await fn(context);
    } finally {
      if (context) {
        this.open.delete(context);
        await context.close().catch(() => undefined);
      }
      this.running--;
      this.slots.release();
    }
  }

  /** Graceful shutdown: no new jobs, waits for running ones (up to timeoutMs), then closes the browser. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.slots.rejectAll(new BrowserPoolClosedError());
    const deadline = Date.now() + timeoutMs;
    while (this.running > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await Promise.all([...this.open].map((c) => c.close().catch(() => undefined)));
    const browser = this.browser ?? (await this.launching?.catch(() => null)) ?? null;
    this.browser = null;
    await browser?.close().catch(() => undefined);
  }

  private async ensureBrowser(): Promise<Browser> {
    if (this.browser?.isConnected()) return this.browser;
    this.browser = null;
    this.launching ??= (async () => {
      try {
        const launch = this.options.launch ?? ((o: LaunchOptions) => chromium.launch(o));
        // the process owns its signals (stopOnSignal, npm run demo) and closes the browser last itself:
        // Playwright's own handlers would close it at the first Ctrl-C and exit(130) before jobs are released
        const browser = await launch({
          executablePath: this.options.executablePath,
          args: this.options.args,
          handleSIGINT: false,
          handleSIGTERM: false,
          handleSIGHUP: false,
        });
        this.launches++;
        browser.on('disconnected', () => {
          if (this.browser === browser) this.browser = null;
        });
        this.browser = browser;
        return browser;
      } finally {
        this.launching = null;
      }
    })();
    return this.launching;
  }
}
