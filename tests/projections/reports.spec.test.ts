import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { reportsProjection } from '../../src/projections/reports.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('reports-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  // 2026-12-01 is a Tuesday; 08:00 in Shanghai is 00:00Z
  const daily = { frequency: 'daily', hour: 8, weekday: null, dayOfMonth: null, timeZone: 'Asia/Shanghai' };
  const weekly = { frequency: 'weekly', hour: 8, weekday: 1, dayOfMonth: null, timeZone: 'Asia/Shanghai' };
  const settings = { name: '日报', service: 'qidian', kind: 'qidian.market', format: 'pdf', days: 1, schedule: daily };

  it('one row per report: the next slot after its definition, its change, and each scheduled run; deleted kept', async () => {
    const id = randomUUID();
    const userId = randomUUID();
    const stream = `report-${id}`;
    const ref = { reportId: id, userId };
    const run = randomUUID();
    const events = [
      recorded(stream, 'ReportDefined', { ...ref, ...settings, definedAt: '2026-12-01T01:00:00.000Z' }, { revision: 0n }),
      recorded(
        `report_run-${run}`,
        'ReportGenerated',
        {
          runId: run,
          ...ref,
          trigger: 'schedule',
          slot: '2026-12-02T00:00:00.000Z',
          format: 'pdf',
          fileName: 'r.pdf',
          contentType: 'application/pdf',
          bytes: 9,
          periodFrom: '2026-12-02',
          periodTo: '2026-12-02',
          generatedAt: '2026-12-02T00:01:00.000Z',
          expiresAt: '2026-12-09T00:01:00.000Z',
        },
        { revision: 0n },
      ),
      recorded(`report_run-${run}`, 'ReportMailed', { runId: run, ...ref, messageId: 'm1@x', mailedAt: '2026-12-02T00:02:00.000Z' }, { revision: 1n }),
    ];
    for (const batchSize of [500, 1]) {
      await projectionSpec(knex, reportsProjection, { batchSize })
        .given(events)
        .then('reports', { where: { id }, columns: ['user_id', 'name', 'kind', 'status', 'next_run_at', 'last_run_id', 'last_run_at'] }, [
          {
            user_id: userId,
            name: '日报',
            kind: 'qidian.market',
            status: 'active',
            next_run_at: '2026-12-03T00:00:00.000Z',
            last_run_id: run,
            last_run_at: '2026-12-02T00:01:00.000Z',
          },
        ]);
    }
    await projectionSpec(knex, reportsProjection)
      .given(events)
      .then(
        'report_runs',
        { where: { id: run }, columns: ['report_id', 'trigger', 'status', 'file_name', 'bytes', 'mailed_at', 'message_id', 'last_revision'] },
        [
          {
            report_id: id,
            trigger: 'schedule',
            status: 'generated',
            file_name: 'r.pdf',
            bytes: 9,
            mailed_at: '2026-12-02T00:02:00.000Z',
            message_id: 'm1@x',
            last_revision: '1',
          },
        ],
      );
    // a change: the next slot after it; a delete
    await projectionSpec(knex, reportsProjection)
      .given([
        ...events,
        recorded(stream, 'ReportChanged', { ...ref, ...settings, schedule: weekly, changedAt: '2026-12-02T12:00:00.000Z' }, { revision: 1n }),
        recorded(stream, 'ReportDeleted', { ...ref, deletedAt: '2026-12-03T12:00:00.000Z' }, { revision: 2n }),
      ])
      .then('reports', { where: { id }, columns: ['status', 'next_run_at', 'schedule', 'last_revision'] }, [
        { status: 'deleted', next_run_at: '2026-12-07T00:00:00.000Z', schedule: weekly, last_revision: '2' },
      ]);
  });

  it('a skipped run and a manual run: the last run moves, the next slot only with a scheduled one', async () => {
    const id = randomUUID();
    const userId = randomUUID();
    const ref = { reportId: id, userId };
    const skipped = randomUUID();
    const manual = randomUUID();
    await projectionSpec(knex, reportsProjection, { batchSize: 2 })
      .given([
        recorded(`report-${id}`, 'ReportDefined', { ...ref, ...settings, definedAt: '2026-12-01T01:00:00.000Z' }, { revision: 0n }),
        recorded(
          `report_run-${skipped}`,
          'ReportRunSkipped',
          {
            runId: skipped,
            ...ref,
            trigger: 'schedule',
            slot: '2026-12-04T00:00:00.000Z',
            reason: 'plan:custom_reports',
            skippedAt: '2026-12-04T00:03:00.000Z',
          },
          { revision: 0n },
        ),
        recorded(
          `report_run-${manual}`,
          'ReportGenerated',
          {
            runId: manual,
            ...ref,
            trigger: 'manual',
            slot: null,
            format: 'pdf',
            fileName: 'r.pdf',
            contentType: 'application/pdf',
            bytes: 9,
            periodFrom: '2026-12-04',
            periodTo: '2026-12-04',
            generatedAt: '2026-12-04T05:00:00.000Z',
            expiresAt: '2026-12-11T05:00:00.000Z',
          },
          { revision: 0n },
        ),
        // a redelivered older run: nothing moves back
        recorded(
          `report_run-${randomUUID()}`,
          'ReportRunSkipped',
          { runId: randomUUID(), ...ref, trigger: 'schedule', slot: '2026-12-02T00:00:00.000Z', reason: 'x', skippedAt: '2026-12-02T00:03:00.000Z' },
          { revision: 0n },
        ),
      ])
      .then('reports', { where: { id }, columns: ['next_run_at', 'last_run_id'] }, [{ next_run_at: '2026-12-05T00:00:00.000Z', last_run_id: manual }]);
  });
});
