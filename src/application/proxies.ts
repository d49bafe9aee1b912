import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import type { SecretBox } from './ports/secret-box.js';
import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load, type HandleResult } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { proxyAggregate, type ProxyEvent, type ProxyProtocol, type ProxyState, type SealedSecret } from '../write-model/proxy/index.js';
import { recordObservation, type ObservationOutcome } from './proxy-observations.js';

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
  const result = await handle(
    deps.store,
    proxyAggregate,
    proxyId,
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

/**
 * Refuses a proxy the pool has already: one not retired with the same host,
 * port, protocol and username (none counts as one username) is the same
 * exit, and twice in the pool it would only be leased twice as often.
 * CONFLICT, details.reason duplicate_proxy. The read model names the
 * candidates, so a registration it does not show yet is not seen (the
 * route runs the check and the registration in turns per endpoint); each
 * candidate's stream says whether it is still in the pool and, its sealed
 * credentials opened, under which username (the read model keeps none).
 */
export async function refuseDuplicateProxy(
  deps: { store: EventStore; knex: Knex; secretBox: SecretBox },
  input: Pick<RegisterProxyInput, 'host' | 'port' | 'protocol' | 'username'>,
): Promise<void> {
  const username = input.username ?? null;
  const candidates = (await deps
    .knex('proxies')
    .where({ host: input.host.toLowerCase(), port: input.port, protocol: input.protocol })
    .whereNot('status', 'retired')
    .orderBy('registered_at')
    .select('id')) as { id: string }[];
  for (const { id } of candidates) {
    const { state } = await load(deps.store, proxyAggregate, id);
    if (state.status === 'none' || state.status === 'retired' || !state.endpoint) continue;
    if (usernameOf(deps.secretBox, id, state.endpoint.credentials) !== username) continue;
    throw new DomainError('CONFLICT', `the pool has this proxy already (${id}: the same host, port, protocol and username); retire it to register it anew`, {
      reason: 'duplicate_proxy',
      proxy_id: id,
    });
  }
}

/** The username sealed in a proxy's credentials; null without any, undefined when the box no longer opens (not comparable). */
function usernameOf(secretBox: SecretBox, proxyId: string, credentials: SealedSecret | null): string | null | undefined {
  if (credentials === null) return null;
  try {
    const secret = secretBox.decrypt(credentials, proxyId);
    // the username cannot hold ':' (proxyCredentialsSecret)
    return secret.slice(0, secret.indexOf(':'));
  } catch {
    return undefined;
  }
}

export interface HealthCheckInput {
  proxyId: string;
  ok: boolean;
  latencyMs?: number | null;
  error?: string | null;
}

export type HealthCheckOutcome = ObservationOutcome;

const thresholdsOf = (deps: ProxyDeps) => deps.thresholds ?? DEFAULT_HEALTH_THRESHOLDS;

/**
 * Records one probe result with the configured thresholds (see
 * proxy-observations.ts: the day stream, then the judgement on the proxy).
 * The result is timed on arrival.
 */
export async function recordHealthCheck(deps: ProxyDeps, input: HealthCheckInput): Promise<HealthCheckOutcome> {
  return recordObservation(
    { store: deps.store, context: deps.context, thresholds: thresholdsOf(deps), at: clock(deps), timedOnArrival: true },
    { proxyId: input.proxyId, source: 'probe', ok: input.ok, latencyMs: input.latencyMs ?? null, error: input.error ?? null },
  );
}

export interface ProxyFailureInput {
  proxyId: string;
  reason: string;
  /** the platform the failed job was for */
  platform?: string | null;
  jobId?: string | null;
}

/**
 * A job failed through the proxy: a failure observation (source `job`)
 * counting towards the same threshold as probes. Timed by the caller's clock.
 */
export async function reportProxyFailure(deps: ProxyDeps, input: ProxyFailureInput): Promise<HealthCheckOutcome> {
  return recordObservation(
    { store: deps.store, context: deps.context, thresholds: thresholdsOf(deps), at: clock(deps) },
    { proxyId: input.proxyId, source: 'job', ok: false, error: input.reason, platform: input.platform ?? null, jobId: input.jobId ?? null },
  );
}

/** An explicit check failed (an admin's test, or the provider says it is gone): fails a healthy proxy at once. */
export async function failProxy(deps: ProxyDeps, input: { proxyId: string; reason: string; latencyMs?: number | null }): Promise<HealthCheckOutcome> {
  return recordObservation(
    { store: deps.store, context: deps.context, thresholds: thresholdsOf(deps), at: clock(deps) },
    { proxyId: input.proxyId, source: 'explicit', ok: false, error: input.reason, latencyMs: input.latencyMs ?? null },
  );
}

export async function banProxy(deps: ProxyDeps, input: { proxyId: string; platform: string; reason: string; until?: string | null }): Promise<ProxyResult> {
  return handle(
    deps.store,
    proxyAggregate,
    input.proxyId,
    { type: 'BanProxy', proxyId: input.proxyId, platform: input.platform, reason: input.reason, until: input.until ?? null, now: clock(deps).toISOString() },
    { context: deps.context },
  );
}

export async function unbanProxy(deps: ProxyDeps, input: { proxyId: string; platform: string; by: string }): Promise<ProxyResult> {
  return handle(
    deps.store,
    proxyAggregate,
    input.proxyId,
    { type: 'UnbanProxy', proxyId: input.proxyId, platform: input.platform, unbannedBy: input.by, now: clock(deps).toISOString() },
    { context: deps.context },
  );
}

/** expectedRevision: the admin's If-Match (the proxy's ETag); a stale one is refused, a repeat included. */
export async function retireProxy(
  deps: ProxyDeps,
  input: { proxyId: string; reason?: string | null; by: string; expectedRevision?: bigint | undefined },
): Promise<ProxyResult> {
  return handle(
    deps.store,
    proxyAggregate,
    input.proxyId,
    { type: 'RetireProxy', proxyId: input.proxyId, reason: input.reason ?? null, retiredBy: input.by, now: clock(deps).toISOString() },
    { context: deps.context, ...(input.expectedRevision !== undefined ? { expectedRevision: input.expectedRevision } : {}) },
  );
}
