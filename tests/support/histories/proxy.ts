import fc from 'fast-check';
import type { SealedSecret } from '../../../src/write-model/core/sealed-secret.js';
import { proxyAggregate, type ObservationSource, type ProxyCommand, type RegisterProxy } from '../../../src/write-model/proxy/index.js';
import { historySource, sequence } from './harness.js';

const later = (now: string, minutes: number) => new Date(Date.parse(now) + minutes * 60_000).toISOString();

/** username:password sealed (a retried registration seals it again: another box, same presence). */
const BOXES: readonly SealedSecret[] = [
  { keyId: 'k1', iv: 'aXZpdml2aXZpdml2', tag: 'dGFndGFndGFndGFn', ciphertext: 'dXNlcjpwYXNz' },
  { keyId: 'k1', iv: 'b3RoZXJpdm90aGVy', tag: 'b3RoZXJ0YWdvdGhl', ciphertext: 'dXNlcjpwYXNzMg==' },
];

/** The proxy as the admin registers it, and the variations a repeat may bring (case of host and country, another box: no-ops; the rest CONFLICT or refused). */
const REGISTRATIONS: readonly Omit<RegisterProxy, 'now'>[] = [
  {
    type: 'RegisterProxy',
    proxyId: 'p1',
    host: 'Proxy-1.Example.net',
    port: 8080,
    protocol: 'http',
    credentials: BOXES[0]!,
    country: 'cn',
    region: 'Shanghai',
    provider: 'acme',
    registeredBy: 'admin1',
  },
  {
    type: 'RegisterProxy',
    proxyId: 'p1',
    host: 'proxy-1.example.net',
    port: 8080,
    protocol: 'http',
    credentials: BOXES[1]!,
    country: 'CN',
    region: 'Shanghai',
    provider: 'acme',
    registeredBy: 'admin1',
  },
  {
    type: 'RegisterProxy',
    proxyId: 'p1',
    host: 'proxy-1.example.net',
    port: 1080,
    protocol: 'socks5',
    credentials: null,
    country: null,
    region: null,
    provider: null,
    registeredBy: 'admin2',
  },
  {
    type: 'RegisterProxy',
    proxyId: 'p1',
    host: 'http://proxy-1.example.net/',
    port: 8080,
    protocol: 'http',
    credentials: BOXES[0]!,
    country: 'CHN',
    region: 'Shanghai',
    provider: 'acme',
    registeredBy: 'admin1',
  },
  {
    type: 'RegisterProxy',
    proxyId: 'p1',
    host: '10.0.0.7',
    port: 70000,
    protocol: 'https',
    credentials: BOXES[0]!,
    country: 'cn',
    region: null,
    provider: null,
    registeredBy: 'admin1',
  },
];

/**
 * One proxy (`proxy-p1`): registered (and the repeats, same or other
 * details), judged from the counters its health day streams carry (probe
 * streaks, job failures, explicit failed checks; repeats of a judgement),
 * banned and unbanned per platform (open-ended, timed, expired, repeated,
 * `constructor` as a platform code), and retired at last.
 */
export const proxyHistories = historySource(
  proxyAggregate,
  (() => {
    // whether the history has sent the command that creates the stream yet
    let opened = false;
    return sequence(
      fc.record({
        kind: fc.oneof(
          { arbitrary: fc.constantFrom('register', 'judge', 'judge', 'judge', 'judge', 'judge', 'ban', 'ban', 'unban'), weight: 30 },
          { arbitrary: fc.constant('retire'), weight: 1 },
        ),
        // every history opens with the command that creates the stream; one in ten after one other command first (NOT_FOUND)
        early: fc.oneof({ arbitrary: fc.constant(false), weight: 9 }, { arbitrary: fc.constant(true), weight: 1 }),
        registration: fc.oneof({ arbitrary: fc.constant(0), weight: 6 }, { arbitrary: fc.integer({ min: 1, max: REGISTRATIONS.length - 1 }), weight: 2 }),
        source: fc.constantFrom<ObservationSource>('probe', 'probe', 'probe', 'job', 'explicit'),
        ok: fc.boolean(),
        streak: fc.integer({ min: 1, max: 6 }),
        error: fc.option(fc.constantFrom('connect ETIMEDOUT', 'HTTP 407', 'captcha wall'), { nil: null }),
        failureThreshold: fc.constantFrom(1, 3, 3, 5),
        recoveryThreshold: fc.constantFrom(1, 2, 2, 3),
        platform: fc.oneof(
          { arbitrary: fc.constantFrom('xiaohongshu', 'qidian'), weight: 10 },
          { arbitrary: fc.constantFrom('constructor', 'Qidian'), weight: 1 },
        ),
        // minutes from now, or one fixed end spelt two ways (a repeat of the same ban is a no-op)
        until: fc.constantFrom<number | string | null>(null, 60, 600, 6000, -30, '2026-01-12T00:00:00.000Z', '2026-01-12T08:00:00+08:00'),
        reason: fc.constantFrom('captcha on every request', 'HTTP 403 from the platform'),
        retireReason: fc.option(fc.constantFrom('provider contract ended', 'burned'), { nil: undefined }),
      }),
      (c, now, index): ProxyCommand => {
        if (index === 0) opened = false;
        const opening = !opened && !(index === 0 && c.early);
        if (opening) opened = true;
        const proxyId = 'p1';
        switch (opening ? 'register' : c.kind) {
          case 'register':
            // the first registration is one of the well-formed ones
            return { ...REGISTRATIONS[opening ? c.registration % 3 : c.registration]!, now };
          case 'judge': {
            // the counters after the observation: a success zeroes the failures, a failure the successes; only probes succeed
            const ok = c.source === 'probe' && c.ok;
            return {
              type: 'JudgeProxyHealth',
              proxyId,
              source: c.source,
              ok,
              error: ok ? null : (c.error ?? (c.source === 'probe' ? null : 'job failed')),
              consecutiveFailures: ok ? 0 : c.streak,
              consecutiveSuccesses: ok ? c.streak : 0,
              failureThreshold: c.failureThreshold,
              recoveryThreshold: c.recoveryThreshold,
              now,
            };
          }
          case 'ban':
            return {
              type: 'BanProxy',
              proxyId,
              platform: c.platform,
              reason: c.reason,
              until: typeof c.until === 'number' ? later(now, c.until) : c.until,
              now,
            };
          case 'unban':
            return { type: 'UnbanProxy', proxyId, platform: c.platform, unbannedBy: 'admin1', now };
          case 'retire':
            return { type: 'RetireProxy', proxyId, ...(c.retireReason !== undefined ? { reason: c.retireReason } : {}), retiredBy: 'admin1', now };
        }
      },
    );
  })(),
);
