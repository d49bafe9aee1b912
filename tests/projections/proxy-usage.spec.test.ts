import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createProxyUsageProjection } from '../../src/projections/proxy-usage.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { asRebuildReads, projectionSpec, recorded } from '../support/projection-spec.js';

/** One batch, every event alone, and pairs: a row's events folded in one batch or split across batches leave the same rows. */
const BATCH_SIZES = [500, 1, 2];

describe('proxy-usage-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const projection = createProxyUsageProjection({ timeZone: 'Asia/Shanghai' });
  // Asia/Shanghai: 2026-12-01 ends at 16:00 UTC
  const DAY1 = (hhmm: string) => `2026-12-01T${hhmm}:00.000Z`;

  const execution = (ownerId: string) => {
    const executionId = randomUUID();
    const ref = { executionId, workflowId: `wf-${executionId}` };
    const common = { ...ref, ownerId, platform: 'xiaohongshu', type: 'xiaohongshu.search_notes', platformAccountId: null };
    const e = (type: string, data: Record<string, unknown>) => recorded(`workflow_execution-${executionId}`, type, data);
    const items = (n: number) => Array.from({ length: n }, (_, i) => ({ platformContentId: `c${i}`, kind: 'xiaohongshu.note', data: {} }));
    return {
      executionId,
      requested: (at: string) => e('ExecutionRequested', { ...common, config: {}, trigger: 'manual', requestedBy: null, requestedAt: at }),
      assigned: (proxyId: string, at: string) => e('ProxyAssigned', { ...ref, proxyId, leaseId: null, reason: 'initial', previous: null, assignedAt: at }),
      collected: (n: number, at: string) =>
        e('ItemsCollected', { ...common, batchId: randomUUID(), attempt: 1, items: items(n), cursor: null, itemCount: n, collectedAt: at }),
      failed: (proxyId: string | null, at: string) =>
        e('ExecutionFailed', { ...ref, ownerId, reason: 'boom', attempt: 1, itemCount: 0, proxy: proxyId ? { proxyId, leaseId: null } : null, failedAt: at }),
    };
  };

  const usageOf = (userId: string) => async (tx: Knex.Transaction) =>
    (
      await tx.raw(
        `SELECT proxy_id, platform, day::text AS day, executions, items, failures, updated_at FROM proxy_usage_stats WHERE user_id = ? ORDER BY proxy_id, day`,
        [userId],
      )
    ).rows;

  it('counts executions per proxy once, items on the current proxy and failures on the named or current one, per quota day', async () => {
    const owner = `user-${randomUUID()}`;
    const [p1, p2] = [`p1-${randomUUID()}`, `p2-${randomUUID()}`];
    const x = execution(owner);
    const events = [
      x.requested(DAY1('15:00')),
      x.collected(5, DAY1('15:01')), // no proxy yet: not proxy usage
      x.assigned(p1, DAY1('15:02')),
      x.collected(2, DAY1('15:03')),
      x.assigned(p2, DAY1('15:04')),
      x.collected(1, DAY1('15:05')),
      x.assigned(p1, DAY1('16:10')), // back to p1, the next day: counted before, not again
      x.collected(4, DAY1('16:20')),
      x.failed(null, DAY1('16:30')), // the current proxy
      x.failed(p2, DAY1('16:40')), // the named one
    ];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, projection, { batchSize })
        .given(events)
        .thenQuery(usageOf(owner), [
          { proxy_id: p1, platform: 'xiaohongshu', day: '2026-12-01', executions: 1, items: 2, failures: 0, updated_at: new Date(DAY1('15:03')) },
          { proxy_id: p1, platform: 'xiaohongshu', day: '2026-12-02', executions: 0, items: 4, failures: 1, updated_at: new Date(DAY1('16:30')) },
          { proxy_id: p2, platform: 'xiaohongshu', day: '2026-12-01', executions: 1, items: 1, failures: 0, updated_at: new Date(DAY1('15:05')) },
          { proxy_id: p2, platform: 'xiaohongshu', day: '2026-12-02', executions: 0, items: 0, failures: 1, updated_at: new Date(DAY1('16:40')) },
        ]);
      await projectionSpec(knex, projection, { batchSize })
        .given(events)
        .then(
          'proxy_usage_executions',
          { where: { execution_id: x.executionId }, columns: ['owner_id', 'platform', 'proxy_id', 'counted_proxies', 'last_revision'] },
          [{ owner_id: owner, platform: 'xiaohongshu', proxy_id: p1, counted_proxies: [p1, p2], last_revision: '9' }],
        );
    }
  });

  it('counts the same from the ItemsCollected a rebuild reads (the item count, not the items)', async () => {
    const owner = `user-${randomUUID()}`;
    const p1 = `p1-${randomUUID()}`;
    const x = execution(owner);
    const events = [
      x.requested(DAY1('15:00')),
      x.assigned(p1, DAY1('15:02')),
      x.collected(3, DAY1('15:03')),
      x.collected(0, DAY1('15:04')),
      x.collected(4, DAY1('15:05')),
    ];
    const slim = await asRebuildReads(knex, projection, events);
    const { items: _items, ...rest } = events[2]!.data as Record<string, unknown>;
    expect(slim[2]!.data).to.deep.equal({ ...rest, batchItemCount: 3 });
    const rows = [{ proxy_id: p1, platform: 'xiaohongshu', day: '2026-12-01', executions: 1, items: 7, failures: 0, updated_at: new Date(DAY1('15:05')) }];
    for (const given of [events, slim]) {
      for (const batchSize of BATCH_SIZES) await projectionSpec(knex, projection, { batchSize }).given(given).thenQuery(usageOf(owner), rows);
    }
  });
  it('adds up several executions on one row, and older events redelivered after later ones count nothing again', async () => {
    const owner = `user-${randomUUID()}`;
    const p1 = `p1-${randomUUID()}`;
    const [a, b] = [execution(owner), execution(owner)];
    // built in stream order: revisions count as they are made
    const [aRequested, bRequested] = [a.requested(DAY1('10:00')), b.requested(DAY1('10:00'))];
    const aAssigned = a.assigned(p1, DAY1('10:01'));
    const aCollected = a.collected(3, DAY1('10:02'));
    const events = [aRequested, bRequested, aAssigned, b.assigned(p1, DAY1('10:03')), aCollected, b.collected(2, DAY1('10:04')), aAssigned, aCollected];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, projection, { batchSize })
        .given(events)
        .thenQuery(usageOf(owner), [
          { proxy_id: p1, platform: 'xiaohongshu', day: '2026-12-01', executions: 2, items: 5, failures: 0, updated_at: new Date(DAY1('10:04')) },
        ]);
    }
  });

  it('ignores the events of an execution it never saw requested', async () => {
    const owner = `user-${randomUUID()}`;
    const x = execution(owner);
    x.requested(DAY1('10:00')); // revision 0, never delivered
    await projectionSpec(knex, projection)
      .given([x.assigned('p1', DAY1('10:01')), x.collected(1, DAY1('10:02'))])
      .thenQuery(usageOf(owner), []);
  });
});
