import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  MAX_STATISTICS_SPAN_DAYS,
  spanDays,
  statisticsExportDecider,
  statisticsExportStream,
  statisticsQueryProblems,
  type RecordStatisticsExportFailed,
  type RecordStatisticsExportGenerated,
  type RequestStatisticsExport,
  type StatisticsExportEvent,
  type StatisticsQuery,
} from '../../src/write-model/statistics-export/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const T0 = '2026-12-05T10:00:00.000Z';
const T1 = '2026-12-05T10:01:00.000Z';
const query: StatisticsQuery = {
  from: '2026-11-01',
  to: '2026-11-30',
  metrics: ['runs_completed', 'sms_sent'],
  groupBy: ['day', 'country'],
  granularity: 'week',
};

describe('StatisticsExport', () => {
  const spec = deciderSpec(statisticsExportDecider);
  const request: RequestStatisticsExport = {
    type: 'RequestStatisticsExport',
    exportId: 'e1',
    userId: 'u1',
    ownerIds: ['u1', 'u2', 'u1'],
    query,
    format: 'xlsx',
    now: T0,
  };
  const requested: StatisticsExportEvent = {
    type: 'StatisticsExportRequested',
    data: { exportId: 'e1', userId: 'u1', ownerIds: ['u1', 'u2'], query, format: 'xlsx', requestedAt: T0 },
  };
  const generate: RecordStatisticsExportGenerated = {
    type: 'RecordStatisticsExportGenerated',
    exportId: 'e1',
    fileName: 'statistics-20261205-100100.xlsx',
    contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    bytes: 4096,
    rows: 12,
    expiresAt: '2026-12-12T10:01:00.000Z',
    now: T1,
  };
  const generated: StatisticsExportEvent = {
    type: 'StatisticsExportGenerated',
    data: {
      exportId: 'e1',
      userId: 'u1',
      fileName: generate.fileName,
      contentType: generate.contentType,
      bytes: 4096,
      rows: 12,
      generatedAt: T1,
      expiresAt: generate.expiresAt,
    },
  };
  const fail: RecordStatisticsExportFailed = { type: 'RecordStatisticsExportFailed', exportId: 'e1', reason: 'too_many_rows', message: 'too many', now: T1 };
  const failed: StatisticsExportEvent = {
    type: 'StatisticsExportFailed',
    data: { exportId: 'e1', userId: 'u1', reason: 'too_many_rows', message: 'too many', failedAt: T1 },
  };

  it('lives in statistics_export-{id} and starts with none', () => {
    expect(statisticsExportStream('e1')).to.equal('statistics_export-e1');
    expect(statisticsExportDecider.initialState()).to.deep.equal({ status: 'none' });
  });

  it('is requested once, its owners deduplicated; a second request on the id is a conflict', () => {
    spec.given([]).when(request).then([requested]);
    spec.given([requested]).when(request).thenThrows(DomainError, code('CONFLICT'));
  });

  it('refuses a query the statistics cannot answer, naming the field', () => {
    spec
      .given([])
      .when({ ...request, query: { ...query, metrics: ['runs_completed', 'nope' as never] } })
      .thenThrows(DomainError, field('metrics'));
    spec
      .given([])
      .when({ ...request, query: { ...query, metrics: [] } })
      .thenThrows(DomainError, field('metrics'));
    spec
      .given([])
      .when({ ...request, query: { ...query, groupBy: ['galaxy' as never] } })
      .thenThrows(DomainError, field('group_by'));
    spec
      .given([])
      .when({ ...request, query: { ...query, granularity: 'hour' as never } })
      .thenThrows(DomainError, field('granularity'));
    spec
      .given([])
      .when({ ...request, query: { ...query, from: '2026-12-01', to: '2026-11-01' } })
      .thenThrows(DomainError, field('to'));
    spec
      .given([])
      .when({ ...request, query: { ...query, from: '2025-01-01', to: '2026-11-01' } })
      .thenThrows(DomainError, field('to'));
    spec
      .given([])
      .when({ ...request, query: { ...query, from: '2026-02-30' } })
      .thenThrows(DomainError, field('from'));
    spec
      .given([])
      .when({ ...request, format: 'pdf' as never })
      .thenThrows(DomainError, field('format'));
    spec
      .given([])
      .when({ ...request, ownerIds: ['u2'] })
      .thenThrows(DomainError, field('ownerIds'));
  });

  it('records one outcome: generated or failed; the second is a no-op', () => {
    spec.given([requested]).when(generate).then([generated]);
    spec.given([requested]).when(fail).then([failed]);
    spec.given([requested, generated]).when(generate).then([]);
    spec.given([requested, generated]).when(fail).then([]);
    spec.given([requested, failed]).when(generate).then([]);
  });

  it('an outcome of an export never requested is NOT_FOUND; bad outcome fields are refused', () => {
    spec.given([]).when(generate).thenThrows(DomainError, code('NOT_FOUND'));
    spec.given([]).when(fail).thenThrows(DomainError, code('NOT_FOUND'));
    spec
      .given([requested])
      .when({ ...generate, bytes: -1 })
      .thenThrows(DomainError, field('bytes'));
    spec
      .given([requested])
      .when({ ...fail, reason: 'bored' as never })
      .thenThrows(DomainError, field('reason'));
  });

  it('folds to what the worker needs', () => {
    spec
      .given([])
      .when(request)
      .thenState({ status: 'requested', exportId: 'e1', userId: 'u1', ownerIds: ['u1', 'u2'], query, format: 'xlsx', requestedAt: T0 });
  });
});

describe('statistics query checks', () => {
  it('counts calendar days, both ends included', () => {
    expect(spanDays('2026-12-01', '2026-12-01')).to.equal(1);
    expect(spanDays('2026-01-01', '2026-12-31')).to.equal(365);
    expect(spanDays('2026-02-29', '2026-03-01')).to.be.NaN;
    expect(spanDays('2026-12-1', '2026-12-01')).to.be.NaN;
  });

  it(`allows at most ${MAX_STATISTICS_SPAN_DAYS} days and lists what is allowed`, () => {
    const ok = { from: '2024-01-01', to: '2024-12-31', metrics: ['sms_sent'], groupBy: [], granularity: 'month' };
    expect(statisticsQueryProblems(ok)).to.deep.equal([]);
    expect(statisticsQueryProblems({ ...ok, to: '2025-01-01' }).map((p) => p.field)).to.deep.equal(['to']);
    const bad = statisticsQueryProblems({ ...ok, metrics: ['sms_sent', 'x'], groupBy: ['day', 'day'] });
    expect(bad.map((p) => p.field)).to.deep.equal(['metrics', 'group_by']);
    expect(bad[0]!.allowed).to.include('payment_amount_fen');
  });
});
