import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  bannedPlatforms,
  initialState,
  proxyDecider,
  proxyStream,
  successRate,
  type BanProxy,
  type FailProxy,
  type ProxyEvent,
  type ProxyHealthCheckedData,
  type ProxyState,
  type RecordHealthCheck,
  type RegisterProxy,
  type ReportProxyFailure,
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

const probe = (minute: number, ok: boolean, extra: Partial<RecordHealthCheck> = {}): RecordHealthCheck => ({
  type: 'RecordHealthCheck',
  proxyId: ID,
  ok,
  latencyMs: ok ? 120 : null,
  error: ok ? null : 'timeout',
  failureThreshold: 3,
  recoveryThreshold: 2,
  now: at(minute),
  ...extra,
});

const checkedData = (minute: number, over: Partial<ProxyHealthCheckedData>): ProxyHealthCheckedData => ({
  proxyId: ID,
  source: 'probe',
  ok: true,
  latencyMs: 120,
  error: null,
  platform: null,
  jobId: null,
  consecutiveFailures: 0,
  consecutiveSuccesses: 1,
  checkedAt: at(minute),
  ...over,
});
const okChecked = (minute: number, successes: number): ProxyEvent => ({
  type: 'ProxyHealthChecked',
  data: checkedData(minute, { consecutiveSuccesses: successes }),
});
const badChecked = (minute: number, failures: number): ProxyEvent => ({
  type: 'ProxyHealthChecked',
  data: checkedData(minute, { ok: false, latencyMs: null, error: 'timeout', consecutiveFailures: failures, consecutiveSuccesses: 0 }),
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
const failedHistory: ProxyEvent[] = [registered, badChecked(1, 1), badChecked(2, 2), badChecked(3, 3), proxyFailed(3, 3)];

const jobFailure = (minute: number, extra: Partial<ReportProxyFailure> = {}): ReportProxyFailure => ({
  type: 'ReportProxyFailure',
  proxyId: ID,
  reason: 'HTTP 403',
  platform: 'xiaohongshu',
  jobId: 'exec-9',
  failureThreshold: 3,
  now: at(minute),
  ...extra,
});
const jobChecked = (minute: number, failures: number): ProxyEvent => ({
  type: 'ProxyHealthChecked',
  data: checkedData(minute, {
    source: 'job',
    ok: false,
    latencyMs: null,
    error: 'HTTP 403',
    platform: 'xiaohongshu',
    jobId: 'exec-9',
    consecutiveFailures: failures,
    consecutiveSuccesses: 0,
  }),
});

const failCmd = (minute: number, extra: Partial<FailProxy> = {}): FailProxy => ({
  type: 'FailProxy',
  proxyId: ID,
  reason: 'connection refused',
  latencyMs: null,
  now: at(minute),
  ...extra,
});
const explicitChecked = (minute: number, failures: number): ProxyEvent => ({
  type: 'ProxyHealthChecked',
  data: checkedData(minute, { source: 'explicit', ok: false, latencyMs: null, error: 'connection refused', consecutiveFailures: failures, consecutiveSuccesses: 0 }),
});

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
  it('lives in the stream proxy-{proxyId}', () => {
    expect(proxyStream('px-7')).to.equal('proxy-px-7');
  });

  it('starts with no proxy', () => {
    expect(proxyDecider.initialState()).to.deep.equal({
      status: 'none',
      endpoint: null,
      consecutiveFailures: 0,
      consecutiveSuccesses: 0,
      totalChecks: 0,
      successfulChecks: 0,
      jobFailures: 0,
      lastLatencyMs: null,
      lastCheckedAt: null,
      failureReason: null,
      bans: {},
      retiredAt: null,
    });
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
      spec.given([registered, retired(9)]).when(registerCmd).then([]);
    });

    it('refuses the same id with other data (CONFLICT)', () => {
      for (const change of [{ port: 8081 }, { host: 'other.example.com' }, { protocol: 'https' as const }, { credentials: null }, { country: 'US' }, { region: null }, { provider: 'other' }, { registeredBy: 'admin-9' }]) {
        spec.given([registered]).when({ ...registerCmd, ...change }).thenThrows<DomainError>(DomainError, code('CONFLICT'));
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
        spec.given([]).when({ ...registerCmd, ...change }).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });

    it('accepts an IPv4 host and port 65535', () => {
      spec
        .given([])
        .when({ ...registerCmd, host: '10.0.0.7', port: 65535 })
        .then([{ type: 'ProxyRegistered', data: { ...registered.data, host: '10.0.0.7', port: 65535 } } as ProxyEvent]);
    });
  });

  describe('RecordHealthCheck', () => {
    it('records a successful probe', () => {
      spec.given([registered]).when(probe(1, true)).then([okChecked(1, 1)]);
    });

    it('records a failed probe below the threshold without failing the proxy', () => {
      spec.given([registered, badChecked(1, 1)]).when(probe(2, false)).then([badChecked(2, 2)]);
    });

    it('fails a healthy proxy when consecutive failures reach the threshold', () => {
      spec.given([registered, badChecked(1, 1), badChecked(2, 2)]).when(probe(3, false)).then([badChecked(3, 3), proxyFailed(3, 3)]);
    });

    it('fails at the first failed probe with a threshold of 1', () => {
      spec.given([registered]).when(probe(1, false, { failureThreshold: 1 })).then([badChecked(1, 1), proxyFailed(1, 1)]);
    });

    it('uses a generic reason when the probe gave no error', () => {
      spec
        .given([registered])
        .when(probe(1, false, { failureThreshold: 1, error: undefined }))
        .then([
          { type: 'ProxyHealthChecked', data: checkedData(1, { ok: false, latencyMs: null, consecutiveFailures: 1, consecutiveSuccesses: 0 }) },
          proxyFailed(1, 1, 'probe', 'health check failed'),
        ]);
    });

    it('a success in between starts the failure count again', () => {
      spec.given([registered, badChecked(1, 1), badChecked(2, 2), okChecked(3, 1)]).when(probe(4, false)).then([badChecked(4, 1)]);
    });

    it('does not fail an already failed proxy again', () => {
      spec.given(failedHistory).when(probe(4, false)).then([badChecked(4, 4)]);
    });

    it('counts successes of a failed proxy below the recovery threshold', () => {
      spec.given(failedHistory).when(probe(4, true)).then([okChecked(4, 1)]);
    });

    it('recovers a failed proxy at the recovery threshold', () => {
      spec.given([...failedHistory, okChecked(4, 1)]).when(probe(5, true)).then([okChecked(5, 2), recovered(5, 2)]);
    });

    it('a failure between successes starts the recovery count again', () => {
      spec.given([...failedHistory, okChecked(4, 1), badChecked(5, 1)]).when(probe(6, true)).then([okChecked(6, 1)]);
    });

    it('records the failed proxy recovered, the counters and the success rate', () => {
      const history = [...failedHistory, okChecked(4, 1)];
      const state = fold(proxyDecider, [...history, okChecked(5, 2), recovered(5, 2)]);
      spec.given(history).when(probe(5, true)).thenState(state);
      expect(state).to.deep.include({
        status: 'healthy',
        consecutiveFailures: 0,
        consecutiveSuccesses: 2,
        totalChecks: 5,
        successfulChecks: 2,
        lastLatencyMs: 120,
        lastCheckedAt: at(5),
        failureReason: null,
      });
      expect(successRate(state)).to.equal(0.4);
    });

    it('records the failure reason while failed, and keeps the last latency through a timeout', () => {
      const state = fold(proxyDecider, [registered, okChecked(1, 1), badChecked(2, 1), proxyFailed(2, 1)]);
      expect(state).to.deep.include({ status: 'failed', failureReason: 'timeout', lastLatencyMs: 120, consecutiveFailures: 1 });
    });

    it('has no success rate before the first check', () => {
      expect(successRate(fold(proxyDecider, [registered]))).to.equal(null);
    });

    it('records a failed probe that measured a latency', () => {
      spec
        .given([registered])
        .when(probe(1, false, { latencyMs: 3000, error: 'HTTP 502' }))
        .then([{ type: 'ProxyHealthChecked', data: checkedData(1, { ok: false, latencyMs: 3000, error: 'HTTP 502', consecutiveFailures: 1, consecutiveSuccesses: 0 }) }]);
    });

    it('is a no-op for a repeated or older observation', () => {
      spec.given([registered, okChecked(2, 1)]).when(probe(2, true)).then([]);
      spec.given([registered, okChecked(2, 1)]).when(probe(1, false)).then([]);
    });

    it('refuses an unknown proxy (NOT_FOUND)', () => {
      spec.given([]).when(probe(1, true)).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });

    it('refuses a retired proxy (CONFLICT)', () => {
      spec.given([registered, retired(1)]).when(probe(2, true)).thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses invalid fields (VALIDATION_ERROR)', () => {
      const bad: Partial<RecordHealthCheck>[] = [
        { latencyMs: null },
        { latencyMs: -1 },
        { latencyMs: 1.5 },
        { failureThreshold: 0 },
        { recoveryThreshold: 0 },
        { failureThreshold: 2.5 },
        { ok: 'yes' as never },
        { now: 'later' },
      ];
      for (const change of bad) {
        spec.given([registered]).when(probe(1, true, change)).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });
  });

  describe('ReportProxyFailure', () => {
    it('records a job failure below the threshold', () => {
      spec.given([registered]).when(jobFailure(1)).then([jobChecked(1, 1)]);
    });

    it('fails the proxy when job failures reach the threshold', () => {
      spec
        .given([registered, jobChecked(1, 1), jobChecked(2, 2)])
        .when(jobFailure(3))
        .then([jobChecked(3, 3), proxyFailed(3, 3, 'job', 'HTTP 403')]);
    });

    it('counts together with failed probes', () => {
      spec.given([registered, badChecked(1, 1), badChecked(2, 2)]).when(jobFailure(3)).then([jobChecked(3, 3), proxyFailed(3, 3, 'job', 'HTTP 403')]);
    });

    it('records a job failure without platform or job id', () => {
      spec
        .given([registered])
        .when(jobFailure(1, { platform: undefined, jobId: null }))
        .then([{ type: 'ProxyHealthChecked', data: { ...(jobChecked(1, 1).data as ProxyHealthCheckedData), platform: null, jobId: null } }]);
    });

    it('keeps job failures out of the success rate', () => {
      const state = fold(proxyDecider, [registered, okChecked(1, 1), jobChecked(2, 1)]);
      expect(state).to.deep.include({ totalChecks: 1, successfulChecks: 1, jobFailures: 1, consecutiveFailures: 1, lastLatencyMs: 120 });
      expect(successRate(state)).to.equal(1);
    });

    it('is a no-op for a repeated or older report', () => {
      spec.given([registered, jobChecked(2, 1)]).when(jobFailure(2)).then([]);
      spec.given([registered, okChecked(3, 1)]).when(jobFailure(2)).then([]);
    });

    it('refuses an unknown proxy (NOT_FOUND) and a retired one (CONFLICT)', () => {
      spec.given([]).when(jobFailure(1)).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec.given([registered, retired(1)]).when(jobFailure(2)).thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses invalid fields (VALIDATION_ERROR)', () => {
      for (const change of [{ reason: '' }, { platform: 'Xiao Hong Shu' }, { jobId: '' }, { failureThreshold: 0 }, { now: '' }]) {
        spec.given([registered]).when(jobFailure(1, change)).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });
  });

  describe('FailProxy', () => {
    it('fails a healthy proxy at once', () => {
      spec.given([registered]).when(failCmd(1)).then([explicitChecked(1, 1), proxyFailed(1, 1, 'explicit', 'connection refused')]);
    });

    it('records the latency it measured', () => {
      spec
        .given([registered, badChecked(1, 1)])
        .when(failCmd(2, { latencyMs: 9000 }))
        .then([
          { type: 'ProxyHealthChecked', data: { ...(explicitChecked(2, 2).data as ProxyHealthCheckedData), latencyMs: 9000 } },
          proxyFailed(2, 2, 'explicit', 'connection refused'),
        ]);
    });

    it('only records the check when the proxy has already failed', () => {
      spec.given(failedHistory).when(failCmd(4)).then([explicitChecked(4, 4)]);
    });

    it('counts as a check in the success rate', () => {
      const state = fold(proxyDecider, [registered, okChecked(1, 1), explicitChecked(2, 1)]);
      expect(successRate(state)).to.equal(0.5);
    });

    it('is a no-op when repeated', () => {
      spec.given([registered, explicitChecked(1, 1), proxyFailed(1, 1, 'explicit', 'connection refused')]).when(failCmd(1)).then([]);
    });

    it('refuses an unknown proxy (NOT_FOUND) and a retired one (CONFLICT)', () => {
      spec.given([]).when(failCmd(1)).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec.given([registered, retired(1)]).when(failCmd(2)).thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses invalid fields (VALIDATION_ERROR)', () => {
      for (const change of [{ reason: '' }, { latencyMs: -5 }, { now: 'soon' }]) {
        spec.given([registered]).when(failCmd(1, change)).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });
  });

  describe('BanProxy', () => {
    it('bans the proxy for a platform until a time', () => {
      spec.given([registered]).when(banCmd(1)).then([banned(1)]);
    });

    it('bans open-endedly', () => {
      spec.given([registered]).when(banCmd(1, { until: null })).then([banned(1, null)]);
    });

    it('bans a failed proxy too', () => {
      spec.given(failedHistory).when(banCmd(4)).then([banned(4)]);
    });

    it('records the ban per platform; bannedPlatforms lists those in force', () => {
      const history: ProxyEvent[] = [registered, banned(1), { type: 'ProxyBanned', data: { ...(banned(2, null).data as object), platform: 'qidian' } } as ProxyEvent];
      const state = fold(proxyDecider, history);
      expect(state.bans).to.deep.equal({
        xiaohongshu: { reason: 'captcha wall', until: UNTIL, bannedAt: at(1) },
        qidian: { reason: 'captcha wall', until: null, bannedAt: at(2) },
      });
      expect(bannedPlatforms(state, Date.parse(at(3)))).to.deep.equal(['qidian', 'xiaohongshu']);
      expect(bannedPlatforms(state, Date.parse(UNTIL))).to.deep.equal(['qidian']);
    });

    it('is a no-op when repeated with the same end, even written in another zone or with another reason', () => {
      spec.given([registered, banned(1)]).when(banCmd(2, { until: '2025-03-02T18:00:00.000+08:00', reason: 'again' })).then([]);
      spec.given([registered, banned(1, null)]).when(banCmd(2, { until: undefined })).then([]);
    });

    it('replaces a ban with another end', () => {
      spec.given([registered, banned(1)]).when(banCmd(2, { until: null })).then([banned(2, null)]);
      spec.given([registered, banned(1, null)]).when(banCmd(2)).then([banned(2)]);
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
      spec.given([registered, retired(1)]).when(banCmd(2)).thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses invalid fields (VALIDATION_ERROR)', () => {
      for (const change of [{ platform: '' }, { platform: 'XHS' }, { reason: '' }, { until: at(1) }, { until: at(0) }, { until: 'tomorrow' }, { now: '' }]) {
        spec.given([registered]).when(banCmd(1, change)).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });
  });

  describe('UnbanProxy', () => {
    it('lifts a ban in force', () => {
      spec.given([registered, banned(1)]).when(unbanCmd(2)).then([
        { type: 'ProxyUnbanned', data: { proxyId: ID, platform: 'xiaohongshu', unbannedBy: 'admin-2', unbannedAt: at(2) } },
      ]);
    });

    it('removes the platform from the bans', () => {
      spec.given([registered, banned(1)]).when(unbanCmd(2)).thenState({ ...healthyState, bans: {} });
    });

    it('is a no-op for a platform not banned, or whose ban has ended', () => {
      spec.given([registered]).when(unbanCmd(2)).then([]);
      spec.given([registered, banned(1)]).when({ ...unbanCmd(0), now: '2025-03-02T10:00:00.000Z' }).then([]);
    });

    it('refuses an unknown proxy (NOT_FOUND) and a retired one (CONFLICT)', () => {
      spec.given([]).when(unbanCmd(1)).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec.given([registered, banned(1), retired(2)]).when(unbanCmd(3)).thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses invalid fields (VALIDATION_ERROR)', () => {
      for (const change of [{ platform: '' }, { unbannedBy: '' }, { now: 'x' }]) {
        spec.given([registered, banned(1)]).when({ ...unbanCmd(2), ...change }).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });
  });

  describe('RetireProxy', () => {
    it('retires a healthy proxy', () => {
      spec.given([registered]).when(retireCmd(1)).then([retired(1)]);
    });

    it('retires a failed proxy, without a reason', () => {
      spec
        .given(failedHistory)
        .when({ ...retireCmd(4), reason: undefined })
        .then([{ type: 'ProxyRetired', data: { proxyId: ID, reason: null, retiredBy: 'admin-2', retiredAt: at(4) } }]);
    });

    it('leaves the proxy retired', () => {
      spec.given([registered]).when(retireCmd(1)).thenState({ ...healthyState, status: 'retired', retiredAt: at(1) });
    });

    it('is a no-op when repeated', () => {
      spec.given([registered, retired(1)]).when(retireCmd(2)).then([]);
    });

    it('refuses an unknown proxy (NOT_FOUND)', () => {
      spec.given([]).when(retireCmd(1)).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });

    it('refuses invalid fields (VALIDATION_ERROR)', () => {
      for (const change of [{ retiredBy: '' }, { reason: '' }, { now: '1 March' }]) {
        spec.given([registered]).when({ ...retireCmd(1), ...change }).thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });
  });
});
