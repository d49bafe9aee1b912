import { SNAPSHOT_EVERY } from '../../src/write-model/core/aggregate.js';
import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  bannedPlatforms,
  initialState,
  proxyAggregate,
  proxyDecider,
  proxyEvents,
  proxyStream,
  type BanProxy,
  type JudgeProxyHealth,
  type ProxyEvent,
  type ProxyState,
  type RegisterProxy,
  type RetireProxy,
  type UnbanProxy,
} from '../../src/write-model/proxy/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(proxyDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;

const ID = 'px-1';
const T0 = '2025-03-01T10:00:00.000Z';
const at = (minute: number) => `2025-03-01T10:${String(minute).padStart(2, '0')}:00.000Z`;
const BOX = { keyId: 'k1', iv: 'aXY=', tag: 'dGFn', ciphertext: 'Y2lwaGVy' };

const registerCmd: RegisterProxy = {
  type: 'RegisterProxy',
  proxyId: ID,
  host: 'Proxy1.Example.com',
  port: 8080,
  protocol: 'http',
  credentials: BOX,
  country: 'cn',
  region: 'guangdong',
  provider: 'acme',
  registeredBy: 'admin-1',
  now: T0,
};

const registered: ProxyEvent = {
  type: 'ProxyRegistered',
  data: {
    proxyId: ID,
    host: 'proxy1.example.com',
    port: 8080,
    protocol: 'http',
    credentials: BOX,
    country: 'CN',
    region: 'guangdong',
    provider: 'acme',
    registeredBy: 'admin-1',
    registeredAt: T0,
  },
};

/** The counters after an observation at `minute`, to be judged. */
const judgeCmd = (
  minute: number,
  ok: boolean,
  counters: { failures?: number; successes?: number },
  extra: Partial<JudgeProxyHealth> = {},
): JudgeProxyHealth => ({
  type: 'JudgeProxyHealth',
  proxyId: ID,
  source: 'probe',
  ok,
  error: ok ? null : 'timeout',
  consecutiveFailures: counters.failures ?? 0,
  consecutiveSuccesses: counters.successes ?? 0,
  failureThreshold: 3,
  recoveryThreshold: 2,
  now: at(minute),
  ...extra,
});
const proxyFailed = (minute: number, failures: number, source: 'probe' | 'job' | 'explicit' = 'probe', reason = 'timeout'): ProxyEvent => ({
  type: 'ProxyFailed',
  data: { proxyId: ID, source, reason, consecutiveFailures: failures, failedAt: at(minute) },
});
const recovered = (minute: number, successes: number): ProxyEvent => ({
  type: 'ProxyRecovered',
  data: { proxyId: ID, consecutiveSuccesses: successes, recoveredAt: at(minute) },
});

// failed at minute 3 after three failed probes
const failedHistory: ProxyEvent[] = [registered, proxyFailed(3, 3)];

const UNTIL = '2025-03-02T10:00:00.000Z';
const banCmd = (minute: number, extra: Partial<BanProxy> = {}): BanProxy => ({
  type: 'BanProxy',
  proxyId: ID,
  platform: 'xiaohongshu',
  reason: 'captcha wall',
  until: UNTIL,
  now: at(minute),
  ...extra,
});
const banned = (minute: number, until: string | null = UNTIL): ProxyEvent => ({
  type: 'ProxyBanned',
  data: { proxyId: ID, platform: 'xiaohongshu', reason: 'captcha wall', until, bannedAt: at(minute) },
});

const unbanCmd = (minute: number): UnbanProxy => ({ type: 'UnbanProxy', proxyId: ID, platform: 'xiaohongshu', unbannedBy: 'admin-2', now: at(minute) });

const retireCmd = (minute: number): RetireProxy => ({ type: 'RetireProxy', proxyId: ID, reason: 'contract ended', retiredBy: 'admin-2', now: at(minute) });
const retired = (minute: number): ProxyEvent => ({
  type: 'ProxyRetired',
  data: { proxyId: ID, reason: 'contract ended', retiredBy: 'admin-2', retiredAt: at(minute) },
});

const healthyState: ProxyState = {
  ...initialState(),
  status: 'healthy',
  endpoint: {
    proxyId: ID,
    host: 'proxy1.example.com',
    port: 8080,
    protocol: 'http',
    credentials: BOX,
    country: 'CN',
    region: 'guangdong',
    provider: 'acme',
    registeredBy: 'admin-1',
  },
};

describe('Proxy', () => {
  it('lives in the stream proxy-{proxyId}, snapshotted (it serves for years)', () => {
    expect(proxyStream('px-7')).to.equal('proxy-px-7');
    expect(proxyAggregate.streamName('px-7')).to.equal('proxy-px-7');
    expect(proxyAggregate.snapshot).to.deep.equal({ version: 1, every: SNAPSHOT_EVERY.lifecycle });
  });

  it('starts with no proxy, and keeps lifecycle only (no health counters)', () => {
    expect(proxyDecider.initialState()).to.deep.equal({
      status: 'none',
      endpoint: null,
      failureReason: null,
      bans: {},
      retiredAt: null,
    });
  });

  it('decodes its stored events; an observation is not one of them', () => {
    for (const event of [registered, proxyFailed(3, 3), recovered(5, 2), retired(9)]) expect(proxyEvents.decode(event)).to.deep.equal(event);
    expect(() => proxyEvents.decode({ type: 'ProxyHealthChecked', data: {} })).to.throw(/not an event of this aggregate/);
    expect(() => proxyEvents.decode({ type: 'ProxyFailed', data: { proxyId: ID } })).to.throw(/source/);
  });

  it('keeps a state that survives JSON (snapshots) and folds in place', () => {
    const history: ProxyEvent[] = [registered, banned(1), proxyFailed(3, 3), recovered(5, 2)];
    const state = fold(proxyDecider, history);
    expect(JSON.parse(JSON.stringify(state))).to.deep.equal(state);
    const resumed = fold(proxyDecider, [retired(9)], JSON.parse(JSON.stringify(state)) as ProxyState);
    expect(resumed).to.deep.equal(fold(proxyDecider, [...history, retired(9)]));
  });

  describe('RegisterProxy', () => {
    it('registers a healthy proxy, host lower-cased and country upper-cased', () => {
      spec.given([]).when(registerCmd).then([registered]);
    });

    it('leaves the proxy healthy with its endpoint', () => {
      spec.given([]).when(registerCmd).thenState(healthyState);
    });

    it('registers an open socks5 proxy without location or provider', () => {
      const cmd: RegisterProxy = { ...registerCmd, protocol: 'socks5', credentials: null, country: null, region: null, provider: null, port: 1 };
      spec
        .given([])
        .when(cmd)
        .then([
          {
            type: 'ProxyRegistered',
            data: { ...registered.data, protocol: 'socks5', credentials: null, country: null, region: null, provider: null, port: 1 },
          } as ProxyEvent,
        ]);
    });

    it('is a no-op when repeated with the same data, freshly sealed and later', () => {
      spec
        .given([registered])
        .when({ ...registerCmd, credentials: { ...BOX, iv: 'b3RoZXI=', ciphertext: 'b3RoZXI=' }, now: at(5) })
        .then([]);
    });

    it('is a no-op when repeated after the proxy was retired', () => {
      spec
        .given([registered, retired(9)])
        .when(registerCmd)
        .then([]);
    });

    it('refuses the same id with other data (CONFLICT)', () => {
      for (const change of [
        { port: 8081 },
        { host: 'other.example.com' },
        { protocol: 'https' as const },
        { credentials: null },
        { country: 'US' },
        { region: null },
        { provider: 'other' },
        { registeredBy: 'admin-9' },
      ]) {
        spec
          .given([registered])
          .when({ ...registerCmd, ...change })
          .thenThrows<DomainError>(DomainError, code('CONFLICT'));
      }
    });

    it('refuses invalid fields (VALIDATION_ERROR)', () => {
      const bad: Partial<RegisterProxy>[] = [
        { proxyId: '' },
        { host: '' },
        { host: 'http://proxy.example.com/' },
        { host: 'two words' },
        { port: 0 },
        { port: 65536 },
        { port: 80.5 },
        { protocol: 'ftp' as never },
        { country: 'CHN' },
        { country: 'C1' },
        { region: '' },
        { provider: ' ' },
        { registeredBy: '' },
        { credentials: { keyId: 'k1', ciphertext: 'x' } as never },
        { credentials: { ...BOX, keyId: '' } },
        { now: '2025-03-01 10:00' },
      ];
      for (const change of bad) {
        spec
          .given([])
          .when({ ...registerCmd, ...change })
          .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });

    it('accepts an IPv4 host and port 65535', () => {
      spec
        .given([])
        .when({ ...registerCmd, host: '10.0.0.7', port: 65535 })
        .then([{ type: 'ProxyRegistered', data: { ...registered.data, host: '10.0.0.7', port: 65535 } } as ProxyEvent]);
    });
  });

  describe('JudgeProxyHealth', () => {
    it('leaves a healthy proxy below the failure threshold', () => {
      spec
        .given([registered])
        .when(judgeCmd(1, false, { failures: 1 }))
        .then([]);
      spec
        .given([registered])
        .when(judgeCmd(2, false, { failures: 2 }))
        .then([]);
    });

    it('fails a healthy proxy when consecutive failures reach the threshold (or pass it: a verdict made up late)', () => {
      spec
        .given([registered])
        .when(judgeCmd(3, false, { failures: 3 }))
        .then([proxyFailed(3, 3)]);
      spec
        .given([registered])
        .when(judgeCmd(4, false, { failures: 4 }))
        .then([proxyFailed(4, 4)]);
    });

    it('leaves the proxy failed with the reason', () => {
      spec
        .given([registered])
        .when(judgeCmd(3, false, { failures: 3 }))
        .thenState({ ...healthyState, status: 'failed', failureReason: 'timeout' });
    });

    it('fails at the first failure with a threshold of 1', () => {
      spec
        .given([registered])
        .when(judgeCmd(1, false, { failures: 1 }, { failureThreshold: 1 }))
        .then([proxyFailed(1, 1)]);
    });

    it('uses a generic reason when the observation gave no error', () => {
      spec
        .given([registered])
        .when(judgeCmd(3, false, { failures: 3 }, { error: null }))
        .then([proxyFailed(3, 3, 'probe', 'health check failed')]);
    });

    it('fails on job failures with the same threshold, naming the source', () => {
      spec
        .given([registered])
        .when(judgeCmd(2, false, { failures: 2 }, { source: 'job', error: 'HTTP 403' }))
        .then([]);
      spec
        .given([registered])
        .when(judgeCmd(3, false, { failures: 3 }, { source: 'job', error: 'HTTP 403' }))
        .then([proxyFailed(3, 3, 'job', 'HTTP 403')]);
    });

    it('fails at once on an explicit failed check, whatever the threshold', () => {
      spec
        .given([registered])
        .when(judgeCmd(1, false, { failures: 1 }, { source: 'explicit', error: 'connection refused', failureThreshold: 5 }))
        .then([proxyFailed(1, 1, 'explicit', 'connection refused')]);
    });

    it('does not fail an already failed proxy again (a repeated judgement is a no-op)', () => {
      spec
        .given(failedHistory)
        .when(judgeCmd(3, false, { failures: 3 }))
        .then([]);
      spec
        .given(failedHistory)
        .when(judgeCmd(4, false, { failures: 4 }))
        .then([]);
    });

    it('does not fail a healthy proxy on a success, whatever the counts', () => {
      spec
        .given([registered])
        .when(judgeCmd(4, true, { successes: 5 }))
        .then([]);
    });

    it('keeps a failed proxy failed below the recovery threshold', () => {
      spec
        .given(failedHistory)
        .when(judgeCmd(4, true, { successes: 1 }))
        .then([]);
    });

    it('recovers a failed proxy at the recovery threshold', () => {
      spec
        .given(failedHistory)
        .when(judgeCmd(5, true, { successes: 2 }))
        .then([recovered(5, 2)]);
      spec
        .given(failedHistory)
        .when(judgeCmd(5, true, { successes: 2 }))
        .thenState(healthyState);
    });

    it('does not recover again once recovered (a repeated judgement is a no-op)', () => {
      spec
        .given([...failedHistory, recovered(5, 2)])
        .when(judgeCmd(5, true, { successes: 2 }))
        .then([]);
    });

    it('refuses an unknown proxy (NOT_FOUND) and a retired one (CONFLICT)', () => {
      spec
        .given([])
        .when(judgeCmd(1, false, { failures: 3 }))
        .thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec
        .given([registered, retired(1)])
        .when(judgeCmd(2, false, { failures: 3 }))
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses invalid fields (VALIDATION_ERROR)', () => {
      const bad: Partial<JudgeProxyHealth>[] = [
        { source: 'guess' as never },
        { ok: 'no' as never },
        { consecutiveFailures: -1 },
        { consecutiveSuccesses: 1.5 },
        { failureThreshold: 0 },
        { recoveryThreshold: 0 },
        { failureThreshold: 2.5 },
        { error: '' },
        { now: 'later' },
      ];
      for (const change of bad) {
        spec
          .given([registered])
          .when(judgeCmd(1, false, { failures: 1 }, change))
          .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });
  });

  describe('BanProxy', () => {
    it('bans the proxy for a platform until a time', () => {
      spec
        .given([registered])
        .when(banCmd(1))
        .then([banned(1)]);
    });

    it('bans open-endedly', () => {
      spec
        .given([registered])
        .when(banCmd(1, { until: null }))
        .then([banned(1, null)]);
    });

    it('bans a failed proxy too', () => {
      spec
        .given(failedHistory)
        .when(banCmd(4))
        .then([banned(4)]);
    });

    it('records the ban per platform; bannedPlatforms lists those in force', () => {
      const history: ProxyEvent[] = [
        registered,
        banned(1),
        { type: 'ProxyBanned', data: { ...(banned(2, null).data as object), platform: 'qidian' } } as ProxyEvent,
      ];
      const state = fold(proxyDecider, history);
      expect(state.bans).to.deep.equal({
        xiaohongshu: { reason: 'captcha wall', until: UNTIL, bannedAt: at(1) },
        qidian: { reason: 'captcha wall', until: null, bannedAt: at(2) },
      });
      expect(bannedPlatforms(state, Date.parse(at(3)))).to.deep.equal(['qidian', 'xiaohongshu']);
      expect(bannedPlatforms(state, Date.parse(UNTIL))).to.deep.equal(['qidian']);
    });

    it('is a no-op when repeated with the same end, even written in another zone or with another reason', () => {
      spec
        .given([registered, banned(1)])
        .when(banCmd(2, { until: '2025-03-02T18:00:00.000+08:00', reason: 'again' }))
        .then([]);
      spec
        .given([registered, banned(1, null)])
        .when(banCmd(2, { until: undefined }))
        .then([]);
    });

    it('replaces a ban with another end', () => {
      spec
        .given([registered, banned(1)])
        .when(banCmd(2, { until: null }))
        .then([banned(2, null)]);
      spec
        .given([registered, banned(1, null)])
        .when(banCmd(2))
        .then([banned(2)]);
    });

    it('bans again once the earlier ban has ended', () => {
      const later = '2025-03-02T11:00:00.000Z';
      spec
        .given([registered, banned(1)])
        .when({ ...banCmd(0), now: later, until: '2025-03-03T10:00:00.000Z' })
        .then([{ type: 'ProxyBanned', data: { ...(banned(1).data as object), until: '2025-03-03T10:00:00.000Z', bannedAt: later } } as ProxyEvent]);
    });

    it('refuses an unknown proxy (NOT_FOUND) and a retired one (CONFLICT)', () => {
      spec.given([]).when(banCmd(1)).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec
        .given([registered, retired(1)])
        .when(banCmd(2))
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses invalid fields (VALIDATION_ERROR)', () => {
      for (const change of [{ platform: '' }, { platform: 'XHS' }, { reason: '' }, { until: at(1) }, { until: at(0) }, { until: 'tomorrow' }, { now: '' }]) {
        spec.given([registered]).when(banCmd(1, change)).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });
  });

  describe('UnbanProxy', () => {
    it('lifts a ban in force', () => {
      spec
        .given([registered, banned(1)])
        .when(unbanCmd(2))
        .then([{ type: 'ProxyUnbanned', data: { proxyId: ID, platform: 'xiaohongshu', unbannedBy: 'admin-2', unbannedAt: at(2) } }]);
    });

    it('removes the platform from the bans', () => {
      spec
        .given([registered, banned(1)])
        .when(unbanCmd(2))
        .thenState({ ...healthyState, bans: {} });
    });

    it('is a no-op for a platform not banned, or whose ban has ended', () => {
      spec.given([registered]).when(unbanCmd(2)).then([]);
      spec
        .given([registered, banned(1)])
        .when({ ...unbanCmd(0), now: '2025-03-02T10:00:00.000Z' })
        .then([]);
    });

    it('refuses an unknown proxy (NOT_FOUND) and a retired one (CONFLICT)', () => {
      spec.given([]).when(unbanCmd(1)).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec
        .given([registered, banned(1), retired(2)])
        .when(unbanCmd(3))
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses invalid fields (VALIDATION_ERROR)', () => {
      for (const change of [{ platform: '' }, { unbannedBy: '' }, { now: 'x' }]) {
        spec
          .given([registered, banned(1)])
          .when({ ...unbanCmd(2), ...change })
          .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });
  });

  describe('RetireProxy', () => {
    it('retires a healthy proxy', () => {
      spec
        .given([registered])
        .when(retireCmd(1))
        .then([retired(1)]);
    });

    it('retires a failed proxy, without a reason', () => {
      spec
        .given(failedHistory)
        .when({ ...retireCmd(4), reason: undefined })
        .then([{ type: 'ProxyRetired', data: { proxyId: ID, reason: null, retiredBy: 'admin-2', retiredAt: at(4) } }]);
    });

    it('leaves the proxy retired', () => {
      spec
        .given([registered])
        .when(retireCmd(1))
        .thenState({ ...healthyState, status: 'retired', retiredAt: at(1) });
    });

    it('is a no-op when repeated', () => {
      spec
        .given([registered, retired(1)])
        .when(retireCmd(2))
        .then([]);
    });

    it('refuses an unknown proxy (NOT_FOUND)', () => {
      spec.given([]).when(retireCmd(1)).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });

    it('refuses invalid fields (VALIDATION_ERROR)', () => {
      for (const change of [{ retiredBy: '' }, { reason: '' }, { now: '1 March' }]) {
        spec
          .given([registered])
          .when({ ...retireCmd(1), ...change })
          .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });
  });
});
