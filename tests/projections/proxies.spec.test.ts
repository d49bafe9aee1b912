import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { proxiesProjection } from '../../src/projections/proxies.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

/** One batch, every event alone, and pairs: a row's events folded in one batch or split across batches leave the same row. */
const BATCH_SIZES = [500, 1, 2];

describe('proxies-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 0, minute)).toISOString();
  const COUNTERS = ['consecutive_failures', 'consecutive_successes', 'total_checks', 'successful_checks', 'job_failures', 'latency_sum_ms', 'latency_samples'];
  const LAST = ['last_latency_ms', 'last_checked_at', 'last_success_at', 'last_error'];

  const lifecycle = (proxyId: string) => (type: string, data: Record<string, unknown>) => recorded(`proxy-${proxyId}`, type, { proxyId, ...data });
  const registered = (proxyId: string) =>
    lifecycle(proxyId)('ProxyRegistered', {
      host: '10.0.0.1',
      port: 8080,
      protocol: 'http',
      credentials: { keyId: 'k1', iv: 'aXY=', tag: 'dGFn', ciphertext: 'Y2lwaGVy' },
      country: 'CN',
      region: null,
      provider: 'acme',
      registeredBy: 'admin-1',
      registeredAt: at(0),
    });
  const observed = (
    proxyId: string,
    minute: number,
    o: { source?: string; ok: boolean; latencyMs: number | null; error?: string | null; failures: number; successes: number },
  ) =>
    recorded(
      `proxy_health-${proxyId}_20261201`,
      'ProxyHealthChecked',
      {
        proxyId,
        day: '20261201',
        source: o.source ?? 'probe',
        ok: o.ok,
        latencyMs: o.latencyMs,
        error: o.error ?? null,
        platform: o.source === 'job' ? 'xiaohongshu' : null,
        jobId: o.source === 'job' ? 'job-1' : null,
        consecutiveFailures: o.failures,
        consecutiveSuccesses: o.successes,
        checkedAt: at(minute),
      },
      { metadata: { schemaVersion: 2 } },
    );

  it('counts observations and applies the lifecycle, in one batch or split across batches; credentials stay out', async () => {
    const proxyId = randomUUID();
    const e = lifecycle(proxyId);
    const events = [
      registered(proxyId),
      observed(proxyId, 1, { ok: true, latencyMs: 100, failures: 0, successes: 1 }),
      observed(proxyId, 2, { ok: false, latencyMs: null, error: 'timeout', failures: 1, successes: 0 }),
      observed(proxyId, 3, { source: 'job', ok: false, latencyMs: null, error: 'HTTP 403', failures: 2, successes: 0 }),
      e('ProxyFailed', { source: 'job', reason: 'HTTP 403', consecutiveFailures: 2, failedAt: at(3) }),
      observed(proxyId, 4, { ok: true, latencyMs: 300, failures: 0, successes: 1 }),
      e('ProxyRecovered', { consecutiveSuccesses: 1, recoveredAt: at(4) }),
      e('ProxyBanned', { platform: 'xiaohongshu', reason: 'captcha', until: at(60), bannedAt: at(5) }),
      e('ProxyBanned', { platform: 'qidian', reason: 'blocked', until: null, bannedAt: at(6) }),
      e('ProxyUnbanned', { platform: 'xiaohongshu', unbannedBy: 'admin-1', unbannedAt: at(7) }),
      e('ProxyBanned', { platform: 'qidian', reason: 'blocked again', until: at(90), bannedAt: at(8) }),
      observed(proxyId, 9, { ok: false, latencyMs: 50, error: 'HTTP 502', failures: 1, successes: 0 }),
    ];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, proxiesProjection, { batchSize })
        .given(events)
        .thenAll([
          {
            table: 'proxies',
            query: {
              where: { id: proxyId },
              columns: [
                'host',
                'has_credentials',
                'status',
                'failure_reason',
                'failed_at',
                'recovered_at',
                ...COUNTERS,
                ...LAST,
                'updated_at',
                'last_revision',
              ],
            },
            expected: [
              {
                host: '10.0.0.1',
                has_credentials: true,
                status: 'healthy',
                failure_reason: null,
                failed_at: at(3),
                recovered_at: at(4),
                consecutive_failures: 1,
                consecutive_successes: 0,
                total_checks: 4,
                successful_checks: 2,
                job_failures: 1,
                latency_sum_ms: '450',
                latency_samples: 3,
                last_latency_ms: 50,
                last_checked_at: at(9),
                last_success_at: at(4),
                last_error: 'HTTP 502',
                updated_at: at(9),
                last_revision: '6',
              },
            ],
          },
          {
            table: 'proxy_bans',
            query: { where: { proxy_id: proxyId }, columns: ['platform', 'reason', 'until', 'banned_at'] },
            expected: [{ platform: 'qidian', reason: 'blocked again', until: at(90), banned_at: at(8) }],
          },
        ]);
    }
  });

  it('retires a proxy, and the last event decides updated_at whether lifecycle or observation', async () => {
    const proxyId = randomUUID();
    const e = lifecycle(proxyId);
    const events = [
      registered(proxyId),
      observed(proxyId, 1, { ok: true, latencyMs: 10, failures: 0, successes: 1 }),
      e('ProxyRetired', { reason: 'decommissioned', retiredBy: 'admin-1', retiredAt: at(2) }),
    ];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, proxiesProjection, { batchSize })
        .given(events)
        .then('proxies', { where: { id: proxyId }, columns: ['status', 'retired_at', 'retire_reason', 'total_checks', 'updated_at', 'last_revision'] }, [
          { status: 'retired', retired_at: at(2), retire_reason: 'decommissioned', total_checks: 1, updated_at: at(2), last_revision: '1' },
        ]);
    }
  });

  it('never counts an observation twice or an older one at all, and a redelivered ban does not come back after its unban', async () => {
    const proxyId = randomUUID();
    const e = lifecycle(proxyId);
    const first = registered(proxyId);
    const o1 = observed(proxyId, 1, { ok: true, latencyMs: 100, failures: 0, successes: 1 });
    const o2 = observed(proxyId, 2, { ok: true, latencyMs: 200, failures: 0, successes: 2 });
    const banned = e('ProxyBanned', { platform: 'xiaohongshu', reason: 'captcha', until: null, bannedAt: at(3) });
    const unbanned = e('ProxyUnbanned', { platform: 'xiaohongshu', unbannedBy: 'admin-1', unbannedAt: at(4) });
    // an observation before the last one, the last one again, the ban again after its unban, the registration again
    const events = [first, o2, o1, banned, unbanned, o2, banned, { ...first, data: { ...(first.data as Record<string, unknown>), registeredAt: at(30) } }];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, proxiesProjection, { batchSize })
        .given(events)
        .thenAll([
          {
            table: 'proxies',
            query: {
              where: { id: proxyId },
              columns: ['total_checks', 'latency_sum_ms', 'consecutive_successes', 'last_checked_at', 'registered_at', 'updated_at', 'last_revision'],
            },
            expected: [
              {
                total_checks: 1,
                latency_sum_ms: '200',
                consecutive_successes: 2,
                last_checked_at: at(2),
                registered_at: at(0),
                updated_at: at(4),
                last_revision: '2',
              },
            ],
          },
          { table: 'proxy_bans', query: { where: { proxy_id: proxyId }, columns: ['platform'] }, expected: [] },
        ]);
    }
  });

  it('ignores observations of a proxy it has no row for', async () => {
    const proxyId = randomUUID();
    await projectionSpec(knex, proxiesProjection)
      .given([observed(proxyId, 1, { ok: true, latencyMs: 1, failures: 0, successes: 1 })])
      .then('proxies', { where: { id: proxyId }, columns: ['id'] }, []);
  });
});
