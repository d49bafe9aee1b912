import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { statisticsExportsProjection } from '../../src/projections/statistics-exports.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('statistics-exports-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const COLUMNS = [
    'user_id',
    'status',
    'format',
    'query',
    'owners',
    'file_name',
    'bytes',
    'rows',
    'reason',
    'requested_at',
    'finished_at',
    'expires_at',
    'last_revision',
  ];
  const query = { from: '2026-11-01', to: '2026-11-30', metrics: ['sms_sent'], groupBy: ['day'], granularity: 'day' };
  const requested = (id: string, userId: string) =>
    recorded(`statistics_export-${id}`, 'StatisticsExportRequested', {
      exportId: id,
      userId,
      ownerIds: [userId, 'other'],
      query,
      format: 'csv',
      requestedAt: '2026-12-05T10:00:00.000Z',
    });

  it('pending once requested, then ready with its file; a failure with its reason', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const user = randomUUID();
    const events = [
      requested(a, user),
      recorded(`statistics_export-${a}`, 'StatisticsExportGenerated', {
        exportId: a,
        userId: user,
        fileName: 'statistics.csv',
        contentType: 'text/csv; charset=utf-8',
        bytes: 120,
        rows: 4,
        generatedAt: '2026-12-05T10:00:05.000Z',
        expiresAt: '2026-12-12T10:00:05.000Z',
      }),
      requested(b, user),
      recorded(`statistics_export-${b}`, 'StatisticsExportFailed', {
        exportId: b,
        userId: user,
        reason: 'too_many_rows',
        message: 'too many',
        failedAt: '2026-12-05T10:00:06.000Z',
      }),
    ];
    const base = { user_id: user, format: 'csv', query, owners: 2, requested_at: '2026-12-05T10:00:00.000Z', last_revision: '1' };
    for (const batchSize of [500, 1])
      await projectionSpec(knex, statisticsExportsProjection, { batchSize })
        .given(events)
        .then('statistics_exports', { where: { user_id: user }, columns: COLUMNS, orderBy: ['status'] }, [
          {
            ...base,
            status: 'failed',
            file_name: null,
            bytes: null,
            rows: null,
            reason: 'too_many_rows',
            finished_at: '2026-12-05T10:00:06.000Z',
            expires_at: null,
          },
          {
            ...base,
            status: 'ready',
            file_name: 'statistics.csv',
            bytes: 120,
            rows: 4,
            reason: null,
            finished_at: '2026-12-05T10:00:05.000Z',
            expires_at: '2026-12-12T10:00:05.000Z',
          },
        ]);
  });
});
