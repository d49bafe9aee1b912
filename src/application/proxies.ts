import { randomUUID } from 'node:crypto';
import type { SecretBox } from '../adapters/crypto/secret-box.js';
import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handleCommand, loadState, type HandleResult } from '../write-model/core/command-handler.js';
import { proxyDecider, proxyStream, type ProxyEvent, type ProxyProtocol, type ProxyState } from '../write-model/proxy/index.js';

/**
 * The proxy pool's orchestration for the admin API (and, later, the
 * scheduled prober): sealing credentials before a command, the thresholds
 * the health decisions use, and a clock that keeps probe results in order.
 */

/** When a proxy fails and recovers (config PROXY_FAILURE_THRESHOLD / PROXY_RECOVERY_THRESHOLD). */
export interface HealthThresholds {
  /** consecutive failures that fail a healthy proxy */
  failure: number;
  /** consecutive successful probes that recover a failed proxy */
  recovery: number;
}

export const DEFAULT_HEALTH_THRESHOLDS: HealthThresholds = { failure: 3, recovery: 2 };

export interface ProxyDeps {
  store: EventStore;
  context: CommandContext;
  /** the clock (tests) */
  now?: () => Date;
  thresholds?: HealthThresholds;
}

export type ProxyResult = HandleResult<ProxyState, ProxyEvent>;

const clock = (deps: ProxyDeps) => deps.now?.() ?? new Date();

/**
 * What gets sealed: `username:password` as one secret, bound to the proxy id
 * (a box copied to another proxy's events does not open). A username cannot
 * hold `:`, as in HTTP Basic auth.
 */
export function proxyCredentialsSecret(username: string, password: string | null): string {
  return `${username}:${password ?? ''}`;
}

export interface RegisterProxyInput {
  host: string;
  port: number;
  protocol: ProxyProtocol;
  username?: string | null;
  password?: string | null;
  country?: string | null;
  region?: string | null;
  provider?: string | null;
  registeredBy: string;
  /** default: a new UUID */
  proxyId?: string;
}

/** Registers a proxy; the credentials are sealed here and never leave in clear. */
export async function registerProxy(deps: ProxyDeps & { secretBox: SecretBox }, input: RegisterProxyInput): Promise<ProxyResult & { proxyId: string }> {
  const proxyId = input.proxyId ?? randomUUID();
  const username = input.username ?? null;
  const credentials = username === null ? null : deps.secretBox.encrypt(proxyCredentialsSecret(username, input.password ?? null), proxyId);
  const result = await handleCommand(
    deps.store,
    proxyStream(proxyId),
    proxyDecider,
    {
      type: 'RegisterProxy',
      proxyId,
      host: input.host,
      port: input.port,
      protocol: input.protocol,
      credentials,
      country: input.country ?? null,
      region: input.region ?? null,
      provider: input.provider ?? null,
      registeredBy: input.registeredBy,
      now: clock(deps).toISOString(),
    },
    { context: deps.context },
  );
  return { ...result, proxyId };
}

export interface HealthCheckInput {
  proxyId: string;
  ok: boolean;
  latencyMs?: number | null;
  error?: string | null;
}

export interface HealthCheckOutcome extends ProxyResult {
  /** false: dropped as a repeat (an observation not after the last one) */
  recorded: boolean;
  failed: boolean;
  recovered: boolean;
}

/**
 * Records one probe result with the configured thresholds. The result is
 * timed on arrival; two arriving within the same millisecond would look like
 * a repeat to the aggregate, so the time is kept just after the last one.
 */
export async function recordHealthCheck(deps: ProxyDeps, input: HealthCheckInput): Promise<HealthCheckOutcome> {
  const stream = proxyStream(input.proxyId);
  const { state } = await loadState(deps.store, stream, proxyDecider);
  let at = clock(deps).getTime();
  if (state.lastCheckedAt !== null) at = Math.max(at, Date.parse(state.lastCheckedAt) + 1);
  const result = await handleCommand(
    deps.store,
    stream,
    proxyDecider,
    {
      type: 'RecordHealthCheck',
      proxyId: input.proxyId,
      ok: input.ok,
      latencyMs: input.latencyMs ?? null,
      error: input.error ?? null,
      failureThreshold: (deps.thresholds ?? DEFAULT_HEALTH_THRESHOLDS).failure,
      recoveryThreshold: (deps.thresholds ?? DEFAULT_HEALTH_THRESHOLDS).recovery,
      now: new Date(at).toISOString(),
    },
    { context: deps.context },
  );
  const types = new Set(result.events.map((e) => e.type));
  return { ...result, recorded: types.has('ProxyHealthChecked'), failed: types.has('ProxyFailed'), recovered: types.has('ProxyRecovered') };
}

export async function banProxy(deps: ProxyDeps, input: { proxyId: string; platform: string; reason: string; until?: string | null }): Promise<ProxyResult> {
  return handleCommand(
    deps.store,
    proxyStream(input.proxyId),
    proxyDecider,
    { type: 'BanProxy', proxyId: input.proxyId, platform: input.platform, reason: input.reason, until: input.until ?? null, now: clock(deps).toISOString() },
    { context: deps.context },
  );
}

export async function unbanProxy(deps: ProxyDeps, input: { proxyId: string; platform: string; by: string }): Promise<ProxyResult> {
  return handleCommand(
    deps.store,
    proxyStream(input.proxyId),
    proxyDecider,
    { type: 'UnbanProxy', proxyId: input.proxyId, platform: input.platform, unbannedBy: input.by, now: clock(deps).toISOString() },
    { context: deps.context },
  );
}

export async function retireProxy(deps: ProxyDeps, input: { proxyId: string; reason?: string | null; by: string }): Promise<ProxyResult> {
  return handleCommand(
    deps.store,
    proxyStream(input.proxyId),
    proxyDecider,
    { type: 'RetireProxy', proxyId: input.proxyId, reason: input.reason ?? null, retiredBy: input.by, now: clock(deps).toISOString() },
    { context: deps.context },
  );
}
