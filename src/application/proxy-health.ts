import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { SecretBox } from './ports/secret-box.js';
import type { ProbeProxy, ProbeResult, ProxyProber } from './ports/proxy-prober.js';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { load } from '../write-model/core/command-handler.js';
import { proxyAggregate } from '../write-model/proxy/index.js';
import { recordHealthCheck, type HealthThresholds } from './proxies.js';

/**
 * One round of proxy health checks: every proxy that is not
 * retired gets a real HTTP request through it to `target` (prober.ts), and
 * the result is recorded as an observation in the proxy's day stream with
 * the configured thresholds (proxy-observations.ts), so enough failures in
 * a row fail the proxy (ProxyFailed, which moves its executions away) and
 * enough successes recover it.
 *
 * The list comes from the proxies read model; the endpoint and sealed
 * credentials from each proxy's stream (the read model has no credentials).
 * Credentials are opened here, for the probe only (context = proxy id, as
 * registerProxy sealed them), and never logged or returned. A box that does
 * not open counts as a failed probe: no worker could use the proxy either.
 */

export interface ProxyHealthDeps {
  store: EventStore;
  /** reads the `proxies` table */
  knex: Knex;
  secretBox: SecretBox;
  /** config PROXY_FAILURE_THRESHOLD / PROXY_RECOVERY_THRESHOLD */
  thresholds: HealthThresholds;
  /** config PROXY_HEALTH_TARGET_URL */
  target: string;
  /** sends the probes (src/adapters/proxies/prober.ts httpProxyProber) */
  prober: ProxyProber;
  timeoutMs?: number;
  /** probes at once (default 10) */
  concurrency?: number;
  /** accept a self-signed https target (tests) */
  insecure?: boolean;
  now?: () => Date;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export interface ProxyHealthRound {
  /** only these proxies (still only non-retired ones) */
  proxyIds?: string[];
  target?: string;
  timeoutMs?: number;
  /** who asked, for the events' metadata; default: a new correlation */
  context?: CommandContext;
}

export interface ProxyHealthResult {
  proxyId: string;
  ok: boolean;
  latencyMs: number | null;
  error: string | null;
  /** this check failed the proxy / recovered it */
  failed: boolean;
  recovered: boolean;
}

export interface ProxyHealthReport {
  checked: number;
  ok: number;
  results: ProxyHealthResult[];
}

interface Target extends ProbeProxy {
  proxyId: string;
  /** why it cannot be probed (credentials do not open) */
  unusable?: string;
}

function splitCredentials(secret: string): { username: string; password: string } {
  const colon = secret.indexOf(':'); // the username cannot hold ':' (proxyCredentialsSecret)
  return colon < 0 ? { username: secret, password: '' } : { username: secret.slice(0, colon), password: secret.slice(colon + 1) };
}

async function targets(deps: ProxyHealthDeps, proxyIds: string[] | undefined): Promise<Target[]> {
  // named proxies are taken from their streams alone (one just registered may not be in the read model yet)
  const ids = proxyIds ?? ((await deps.knex('proxies').whereNot('status', 'retired').orderBy('id').select('id')) as { id: string }[]).map((r) => r.id);
  const out: Target[] = [];
  for (const id of ids) {
    const { state } = await load(deps.store, proxyAggregate, id);
    // the stream is the truth: the read model may not show a retirement yet
    if (state.status === 'none' || state.status === 'retired' || !state.endpoint) continue;
    const { host, port, protocol, credentials } = state.endpoint;
    const target: Target = { proxyId: id, host, port, protocol };
    if (credentials) {
      try {
        Object.assign(target, splitCredentials(deps.secretBox.decrypt(credentials, id)));
      } catch (error) {
        target.unusable = `credentials cannot be opened (key ${credentials.keyId})`;
        deps.logger?.warn({ proxyId: id, err: error instanceof Error ? error.name : 'error' }, 'proxy credentials cannot be opened');
      }
    }
    out.push(target);
  }
  return out;
}

export async function runProxyHealthChecks(deps: ProxyHealthDeps, round: ProxyHealthRound = {}): Promise<ProxyHealthReport> {
  const all = await targets(deps, round.proxyIds);
  const probed = await deps.prober.probeAll(
    all.filter((t) => !t.unusable),
    round.target ?? deps.target,
    { timeoutMs: round.timeoutMs ?? deps.timeoutMs ?? 10_000, concurrency: deps.concurrency ?? 10, insecure: deps.insecure ?? false },
  );
  const outcomes = [
    ...all.filter((t) => t.unusable).map((t) => ({ proxyId: t.proxyId, ok: false, latencyMs: null, error: t.unusable! })),
    ...probed.map(({ proxy, result }) => healthCheckOf(proxy.proxyId, result)),
  ];
  const id = randomUUID();
  const context = round.context ?? { correlationId: id, causationId: id, actor: 'system:proxy-health' };
  const results: ProxyHealthResult[] = [];
  for (const outcome of outcomes) {
    try {
      const recorded = await recordHealthCheck({ store: deps.store, context, thresholds: deps.thresholds, ...(deps.now ? { now: deps.now } : {}) }, outcome);
      results.push({ ...outcome, failed: recorded.failed, recovered: recorded.recovered });
    } catch (error) {
      // one proxy retired meanwhile (CONFLICT) must not cost the others their checks
      deps.logger?.warn({ proxyId: outcome.proxyId, err: error }, 'proxy health check not recorded');
    }
  }
  if (results.some((r) => r.failed || r.recovered)) {
    deps.logger?.info(
      { failed: results.filter((r) => r.failed).map((r) => r.proxyId), recovered: results.filter((r) => r.recovered).map((r) => r.proxyId) },
      'proxy health changed',
    );
  }
  return { checked: results.length, ok: results.filter((r) => r.ok).length, results };
}

/** A probe's result as the health check records it (recordHealthCheck): a success always has a latency (0 when unmeasured). */
export function healthCheckOf(proxyId: string, result: ProbeResult): { proxyId: string; ok: boolean; latencyMs: number | null; error: string | null } {
  return {
    proxyId,
    ok: result.ok,
    latencyMs: result.ok ? (result.latencyMs ?? 0) : result.latencyMs,
    error: result.ok ? null : (result.error ?? 'probe failed'),
  };
}
