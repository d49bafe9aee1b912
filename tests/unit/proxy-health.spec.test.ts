import { SNAPSHOT_EVERY } from '../../src/write-model/core/aggregate.js';
import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { proxyDecider, type JudgeProxyHealth, type ProxyEvent } from '../../src/write-model/proxy/index.js';
import {
  proxyHealthAggregate,
  proxyHealthDayId,
  proxyHealthDecider,
  proxyHealthEvents,
  proxyHealthStream,
  utcDay,
  type CarriedCounters,
  type ProxyHealthCheckedData,
  type ProxyHealthEvent,
  type RecordProxyObservation,
} from '../../src/write-model/proxy-health/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(proxyHealthDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const ID = 'px-1';
const DAY = '20250301';
const at = (minute: number, day = '01') => `2025-03-${day}T23:${String(minute).padStart(2, '0')}:00.000Z`;
const next = (minute: number) => `2025-03-02T00:${String(minute).padStart(2, '0')}:00.000Z`;

const observe = (minute: number, ok: boolean, extra: Partial<RecordProxyObservation> = {}): RecordProxyObservation => ({
  type: 'RecordProxyObservation',
  proxyId: ID,
  day: DAY,
  source: 'probe',
  ok,
  latencyMs: ok ? 120 : null,
  error: ok ? null : 'timeout',
  carried: null,
  now: at(minute),
  ...extra,
});

const data = (minute: number, over: Partial<ProxyHealthCheckedData>): ProxyHealthCheckedData => ({
  proxyId: ID,
  day: DAY,
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
const ok = (minute: number, successes: number, over: Partial<ProxyHealthCheckedData> = {}): ProxyHealthEvent => ({
  type: 'ProxyHealthChecked',
  data: data(minute, { consecutiveSuccesses: successes, ...over }),
});
const bad = (minute: number, failures: number, over: Partial<ProxyHealthCheckedData> = {}): ProxyHealthEvent => ({
  type: 'ProxyHealthChecked',
  data: data(minute, { ok: false, latencyMs: null, error: 'timeout', consecutiveFailures: failures, consecutiveSuccesses: 0, ...over }),
});
const carried = (failures: number, successes: number, checkedAt = '2025-02-28T23:55:00.000Z'): CarriedCounters => ({
  consecutiveFailures: failures,
  consecutiveSuccesses: successes,
  checkedAt,
});

describe('Proxy health (one day of observations)', () => {
  it('lives in the stream proxy_health-{proxyId}_{YYYYMMDD} (UTC), snapshotted (a day holds a probe every few minutes)', () => {
    expect(proxyHealthStream(proxyHealthDayId('px-7', '20250301'))).to.equal('proxy_health-px-7_20250301');
    expect(proxyHealthAggregate.streamName(proxyHealthDayId('px-7', '20250301'))).to.equal('proxy_health-px-7_20250301');
    expect(proxyHealthAggregate.snapshot).to.deep.equal({ version: 1, every: SNAPSHOT_EVERY.busy });
    expect(utcDay('2025-03-01T23:59:59.999Z')).to.equal('20250301');
    expect(utcDay('2025-03-02T07:30:00.000+08:00')).to.equal('20250301');
  });

  it('decodes its stored events and refuses data that does not fit', () => {
    for (const event of [ok(1, 1), bad(2, 1, { source: 'job', platform: 'qidian', jobId: 'j-1', error: 'HTTP 403' })]) {
      expect(proxyHealthEvents.decode(event)).to.deep.equal(event);
    }
    expect(() => proxyHealthEvents.decode({ type: 'ProxyHealthChecked', data: { ...data(1, {}), consecutiveFailures: -1 } })).to.throw(/consecutiveFailures/);
    expect(() => proxyHealthEvents.decode({ type: 'ProxyFailed', data: {} })).to.throw(/not an event of this aggregate/);
  });

  describe('RecordProxyObservation', () => {
    it('records a successful probe, and a failed one, with the counters after it', () => {
      spec
        .given([])
        .when(observe(1, true))
        .then([ok(1, 1)]);
      spec
        .given([])
        .when(observe(1, false))
        .then([bad(1, 1)]);
      spec
        .given([ok(1, 1)])
        .when(observe(2, true))
        .then([ok(2, 2)]);
      spec
        .given([bad(1, 1)])
        .when(observe(2, false))
        .then([bad(2, 2)]);
    });

    it('a success zeroes the failures and a failure the successes', () => {
      spec
        .given([bad(1, 1), bad(2, 2)])
        .when(observe(3, true))
        .then([ok(3, 1)]);
      spec
        .given([ok(1, 1), ok(2, 2)])
        .when(observe(3, false))
        .then([bad(3, 1)]);
    });

    it('counts job failures and explicit failed checks with the probes', () => {
      spec
        .given([bad(1, 1)])
        .when(observe(2, false, { source: 'job', error: 'HTTP 403', platform: 'xiaohongshu', jobId: 'exec-9' }))
        .then([bad(2, 2, { source: 'job', error: 'HTTP 403', platform: 'xiaohongshu', jobId: 'exec-9' })]);
      spec
        .given([bad(1, 1)])
        .when(observe(2, false, { source: 'explicit', error: 'connection refused', latencyMs: 9000 }))
        .then([bad(2, 2, { source: 'explicit', error: 'connection refused', latencyMs: 9000 })]);
    });

    it('records a failed probe that measured a latency, and one without an error', () => {
      spec
        .given([])
        .when(observe(1, false, { latencyMs: 3000, error: 'HTTP 502' }))
        .then([bad(1, 1, { latencyMs: 3000, error: 'HTTP 502' })]);
      spec
        .given([])
        .when(observe(1, false, { error: undefined }))
        .then([bad(1, 1, { error: null })]);
    });

    it('keeps only what a job failure names: no platform or job id for a probe', () => {
      spec
        .given([])
        .when(observe(1, false, { platform: 'qidian', jobId: 'j-1' }))
        .then([bad(1, 1)]);
    });

    it('leaves the counters, the time and what the judgement needs in the state', () => {
      spec
        .given([ok(1, 1)])
        .when(observe(2, false, { source: 'job', error: 'HTTP 403' }))
        .thenState({ lastCheckedAt: at(2), consecutiveFailures: 1, consecutiveSuccesses: 0, lastSource: 'job', lastError: 'HTTP 403' });
    });

    it('is a no-op for a repeated or older observation', () => {
      spec
        .given([ok(2, 1)])
        .when(observe(2, true))
        .then([]);
      spec
        .given([ok(2, 1)])
        .when(observe(1, false))
        .then([]);
    });

    it('refuses invalid fields (VALIDATION_ERROR)', () => {
      const bads: [Partial<RecordProxyObservation>, string][] = [
        [{ proxyId: '' }, 'proxyId'],
        [{ day: '2025-03-01' }, 'day'],
        [{ source: 'rumour' as never }, 'source'],
        [{ ok: 'yes' as never }, 'ok'],
        [{ latencyMs: null }, 'latencyMs'],
        [{ latencyMs: -1 }, 'latencyMs'],
        [{ latencyMs: 1.5 }, 'latencyMs'],
        [{ now: 'later' }, 'now'],
        [{ now: next(1) }, 'now'],
        [{ carried: { ...carried(1, 0), consecutiveFailures: -2 } }, 'carried.consecutiveFailures'],
        [{ carried: { ...carried(1, 0), checkedAt: 'then' } }, 'carried.checkedAt'],
      ];
      for (const [change, name] of bads)
        spec
          .given([])
          .when(observe(1, true, change))
          .thenThrows(DomainError, field(name));
    });

    it('refuses a job or explicit observation that is not a failure with a reason', () => {
      spec
        .given([])
        .when(observe(1, true, { source: 'job' }))
        .thenThrows(DomainError, field('ok'));
      spec
        .given([])
        .when(observe(1, true, { source: 'explicit' }))
        .thenThrows(DomainError, field('ok'));
      spec
        .given([])
        .when(observe(1, false, { source: 'job', error: null }))
        .thenThrows(DomainError, field('error'));
      spec
        .given([])
        .when(observe(1, false, { source: 'job', error: 'x', platform: 'Xiao Hong Shu' }))
        .thenThrows(DomainError, field('platform'));
      spec
        .given([])
        .when(observe(1, false, { source: 'explicit', error: ' ' }))
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('across the day boundary', () => {
    it('the first observation of a day goes on from the carried counters', () => {
      spec
        .given([])
        .when(observe(1, false, { carried: carried(2, 0) }))
        .then([bad(1, 3)]);
      spec
        .given([])
        .when(observe(1, true, { carried: carried(0, 1) }))
        .then([ok(1, 2)]);
      spec
        .given([])
        .when(observe(1, true, { carried: carried(4, 0) }))
        .then([ok(1, 1)]);
    });

    it('ignores the carried counters once the day has an observation', () => {
      spec
        .given([bad(1, 1)])
        .when(observe(2, false, { carried: carried(5, 0) }))
        .then([bad(2, 2)]);
    });

    it('an observation not after the carried one is a repeat', () => {
      spec
        .given([])
        .when(observe(1, false, { carried: carried(1, 0, at(1)) }))
        .then([]);
    });

    it('fails the proxy on the third failure in a row when the run crosses midnight (threshold 3)', () => {
      const registered: ProxyEvent = {
        type: 'ProxyRegistered',
        data: {
          proxyId: ID,
          host: 'p.example',
          port: 8080,
          protocol: 'http',
          credentials: null,
          country: null,
          region: null,
          provider: null,
          registeredBy: 'a',
          registeredAt: at(0),
        },
      };
      const judge = (d: ProxyHealthCheckedData): JudgeProxyHealth => ({
        type: 'JudgeProxyHealth',
        proxyId: ID,
        source: d.source,
        ok: d.ok,
        error: d.error,
        consecutiveFailures: d.consecutiveFailures,
        consecutiveSuccesses: d.consecutiveSuccesses,
        failureThreshold: 3,
        recoveryThreshold: 2,
        now: d.checkedAt,
      });
      // day 1 ends with two failures; they are not enough
      const day1 = [bad(50, 1), bad(55, 2)];
      expect(proxyDecider.decide(judge(day1[1]!.data), fold(proxyDecider, [registered]))).to.deep.equal([]);
      // day 2 starts from what day 1 ended with
      const last = day1.at(-1)!.data;
      const first = proxyHealthDecider.decide(
        observe(0, false, {
          day: '20250302',
          now: next(0),
          carried: { consecutiveFailures: last.consecutiveFailures, consecutiveSuccesses: last.consecutiveSuccesses, checkedAt: last.checkedAt },
        }),
        proxyHealthDecider.initialState(),
      );
      expect(first).to.deep.equal([bad(0, 3, { day: '20250302', checkedAt: next(0) })]);
      expect(proxyDecider.decide(judge(first[0]!.data), fold(proxyDecider, [registered]))).to.deep.equal([
        { type: 'ProxyFailed', data: { proxyId: ID, source: 'probe', reason: 'timeout', consecutiveFailures: 3, failedAt: next(0) } },
      ]);
    });
  });
});
