/**
 * Probing proxies: a real request through each proxy to a target, timed.
 * The adapter is src/adapters/proxies/prober.ts (HTTP(S) CONNECT and
 * SOCKS5 through the proxy, the answer timed to its end).
 */

export type ProxyProtocol = 'http' | 'https' | 'socks5';

export interface ProbeProxy {
  protocol: ProxyProtocol;
  host: string;
  port: number;
  username?: string | null;
  password?: string | null;
}

export interface ProbeResult {
  ok: boolean;
  latencyMs: number | null;
  /** the target's status code, when it answered */
  status?: number;
  error?: string;
}

export interface ProbeOptions {
  timeoutMs?: number;
  /** skip the target's certificate check (self-signed test targets) */
  insecure?: boolean;
}

/** Many proxies probed at once, results in the input order. */
export interface ProxyProber {
  probeAll<P extends ProbeProxy>(
    proxies: readonly P[],
    target: string,
    options?: ProbeOptions & { concurrency?: number },
  ): Promise<{ proxy: P; result: ProbeResult }[]>;
}
