import { z } from 'zod';
import type { SealedSecret } from '../core/sealed-secret.js';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';
import { OBSERVATION_SOURCES, type ObservationSource } from '../proxy-health/events.js';

/**
 * The Proxy aggregate's events, stream `proxy-{proxyId}`: its
 * lifecycle only (registered, failed, recovered, banned, unbanned,
 * retired). The health observations live in day streams
 * (`proxy_health-{proxyId}_{YYYYMMDD}`, ../proxy-health). Times are
 * ISO-8601 strings. Every event names its proxy.
 */

export { OBSERVATION_SOURCES, type ObservationSource };

export const PROXY_PROTOCOLS = ['http', 'https', 'socks5'] as const;
export type ProxyProtocol = (typeof PROXY_PROTOCOLS)[number];

/**
 * The proxy's username and password are sealed together (e.g. `user:password`,
 * see core/sealed-secret.ts): the username alone already identifies a paid
 * account at the provider.
 */
export type { SealedSecret };

/** Where and what the proxy is: fixed at registration. */
export interface ProxyEndpoint {
  proxyId: string;
  host: string;
  port: number;
  protocol: ProxyProtocol;
  /** null for a proxy without authentication */
  credentials: SealedSecret | null;
  /** ISO 3166-1 alpha-2, upper case */
  country: string | null;
  region: string | null;
  provider: string | null;
  /** the admin who registered it */
  registeredBy: string;
}

export interface ProxyRegisteredData extends ProxyEndpoint {
  registeredAt: string;
}

/** The proxy stopped working: leases skip it; running executions move away. */
export interface ProxyFailedData {
  proxyId: string;
  /** the observation that made it fail */
  source: ObservationSource;
  reason: string;
  consecutiveFailures: number;
  /** the time of that observation */
  failedAt: string;
}

/** A failed proxy passed enough checks in a row to be leased again. */
export interface ProxyRecoveredData {
  proxyId: string;
  consecutiveSuccesses: number;
  recoveredAt: string;
}

/**
 * The platform blocks this proxy: leases for that platform skip it until
 * `until` (null: until unbanned). A later ban of the same platform replaces
 * the earlier one.
 */
export interface ProxyBannedData {
  proxyId: string;
  platform: string;
  reason: string;
  until: string | null;
  bannedAt: string;
}

/** An operator lifted a platform's ban before its end (or an open-ended one). */
export interface ProxyUnbannedData {
  proxyId: string;
  platform: string;
  unbannedBy: string;
  unbannedAt: string;
}

/** Taken out of the pool for good. Final. */
export interface ProxyRetiredData {
  proxyId: string;
  reason: string | null;
  retiredBy: string;
  retiredAt: string;
}

export type ProxyEvent =
  | DomainEvent<'ProxyRegistered', ProxyRegisteredData>
  | DomainEvent<'ProxyFailed', ProxyFailedData>
  | DomainEvent<'ProxyRecovered', ProxyRecoveredData>
  | DomainEvent<'ProxyBanned', ProxyBannedData>
  | DomainEvent<'ProxyUnbanned', ProxyUnbannedData>
  | DomainEvent<'ProxyRetired', ProxyRetiredData>;

export type ProxyEventType = ProxyEvent['type'];

// ---------------------------------------------------------------- decoding

const sealed = z.object({ keyId: z.string(), iv: z.string(), tag: z.string(), ciphertext: z.string() });

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const proxyEvents = eventCodec<ProxyEvent>({
  ProxyRegistered: {
    schema: z.object({
      proxyId: z.string(),
      host: z.string(),
      port: z.number().int(),
      protocol: z.enum(PROXY_PROTOCOLS),
      credentials: sealed.nullable(),
      country: z.string().nullable(),
      region: z.string().nullable(),
      provider: z.string().nullable(),
      registeredBy: z.string(),
      registeredAt: z.string(),
    }),
  },
  ProxyFailed: {
    schema: z.object({
      proxyId: z.string(),
      source: z.enum(OBSERVATION_SOURCES),
      reason: z.string(),
      consecutiveFailures: z.number().int(),
      failedAt: z.string(),
    }),
  },
  ProxyRecovered: { schema: z.object({ proxyId: z.string(), consecutiveSuccesses: z.number().int(), recoveredAt: z.string() }) },
  ProxyBanned: {
    schema: z.object({ proxyId: z.string(), platform: z.string(), reason: z.string(), until: z.string().nullable(), bannedAt: z.string() }),
  },
  ProxyUnbanned: { schema: z.object({ proxyId: z.string(), platform: z.string(), unbannedBy: z.string(), unbannedAt: z.string() }) },
  ProxyRetired: { schema: z.object({ proxyId: z.string(), reason: z.string().nullable(), retiredBy: z.string(), retiredAt: z.string() }) },
});
