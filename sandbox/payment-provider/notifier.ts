/**
 * Delivers a provider's asynchronous notification to the merchant and keeps
 * trying on the provider's schedule until the merchant acknowledges it:
 *
 * - Alipay: the answer text `success` stops it; otherwise again after
 *   4m, 10m, 10m, 1h, 2h, 6h, 15h (8 notifications in about 25 hours);
 * - WeChat Pay: HTTP 200/204 stops it; otherwise again after 15s, 15s, 30s,
 *   3m, 10m, 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h (about 24 hours).
 *
 * `timeScale` shrinks the schedule (tests: 0.001 turns 4 minutes into 240 ms).
 * `resolve` stands in for DNS: a notify URL's host can be mapped to the
 * address the merchant really listens on (a test API on a random port).
 * Each attempt builds its request anew (fresh notify_time / timestamp and
 * signature, as the providers do).
 */

export const ALIPAY_RETRY_MS = [4, 10, 10, 60, 120, 360, 900].map((m) => m * 60_000);
export const WECHAT_RETRY_MS = [15_000, 15_000, 30_000, ...[3, 10, 20, 30, 30, 30, 60, 180, 180, 180, 360, 360].map((m) => m * 60_000)];

export interface Delivery {
  provider: 'alipay' | 'wechat';
  kind: string;
  /** the merchant's notify URL as given in the order / refund */
  url: string;
  attempt: number;
  /** the HTTP status, or 0 when the merchant could not be reached */
  status: number;
  answer: string;
  acknowledged: boolean;
  at: string;
  /** what was sent, as sent (a test may replay it) */
  request: { headers: Record<string, string>; body: string };
}

export interface NotifierOptions {
  timeScale: number;
  resolve: Map<string, string>;
  log?: (line: string) => void;
}

export type BuildRequest = () => { headers: Record<string, string>; body: string };

export class Notifier {
  readonly deliveries: Delivery[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: NotifierOptions) {}

  /** Where the notification really goes: the URL with its origin replaced when `resolve` maps its host. */
  target(url: string): string {
    const parsed = new URL(url);
    const mapped = this.options.resolve.get(parsed.host) ?? this.options.resolve.get(parsed.hostname);
    if (!mapped) return url;
    const to = new URL(mapped);
    return `${to.origin}${parsed.pathname}${parsed.search}`;
  }

  /** Starts delivering (the first attempt at once); `onAcknowledged` is called once acknowledged. */
  notify(input: { provider: 'alipay' | 'wechat'; kind: string; url: string; build: BuildRequest; onAcknowledged?: () => void }): void {
    const schedule = input.provider === 'alipay' ? ALIPAY_RETRY_MS : WECHAT_RETRY_MS;
    const attempt = (n: number) => {
      if (this.stopped) return;
      const run = this.deliver(input, n).then((acknowledged) => {
        if (acknowledged) return input.onAcknowledged?.();
        const delay = schedule[n - 1];
        if (delay === undefined || this.stopped) return;
        const timer = setTimeout(
          () => {
            this.timers.delete(timer);
            attempt(n + 1);
          },
          Math.max(1, Math.round(delay * this.options.timeScale)),
        );
        timer.unref();
        this.timers.add(timer);
      });
      this.inFlight.add(run);
      void run.finally(() => this.inFlight.delete(run));
    };
    attempt(1);
  }

  private async deliver(input: { provider: 'alipay' | 'wechat'; kind: string; url: string; build: BuildRequest }, attempt: number): Promise<boolean> {
    const { headers, body } = input.build();
    let status = 0;
    let answer = '';
    try {
      const res = await fetch(this.target(input.url), { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
      status = res.status;
      answer = (await res.text()).slice(0, 500);
    } catch (error) {
      answer = `unreachable: ${(error as Error).message}`;
    }
    const acknowledged = input.provider === 'alipay' ? status === 200 && answer.trim() === 'success' : status === 200 || status === 204;
    this.deliveries.push({
      provider: input.provider,
      kind: input.kind,
      url: input.url,
      attempt,
      status,
      answer,
      acknowledged,
      at: new Date().toISOString(),
      request: { headers, body },
    });
    this.options.log?.(
      `${input.provider} ${input.kind} notification #${attempt} → ${status} ${acknowledged ? 'acknowledged' : `not acknowledged (${answer.slice(0, 80)})`}`,
    );
    return acknowledged;
  }

  /** Stops retrying; waits for deliveries in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }
}
