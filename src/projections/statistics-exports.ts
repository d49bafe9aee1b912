import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { statisticsExportEvents, type StatisticsExportEvent } from '../write-model/statistics-export/events.js';
import { patchRows, selectRows, upsertRows, type Row } from './sql-batch.js';

/**
 * The read model of statistics exports (`statistics_exports`), from the
 * StatisticsExport streams (`statistics_export-{id}`): one row per export —
 * pending once requested, then ready (its file's name, type, size, rows and
 * expiry) or failed (the reason). GET /api/v1/statistics/exports and the
 * reports job's sweep of pending exports read it.
 *
 * A batch is folded per row over the rows as it finds them (read and locked
 * once) and written with one insert and one patch; an event applies only
 * above its row's `last_revision`, so a redelivered batch changes nothing.
 */
export const STATISTICS_EXPORTS_PROJECTION = 'statistics-exports-v1';

const PREFIX = 'statistics_export-';

export function createStatisticsExportsProjection(name: string = STATISTICS_EXPORTS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [PREFIX], eventTypes: statisticsExportEvents.types },
    async handle(events, { tx }) {
      await applyEvents(tx, events);
    },
  };
}

export const statisticsExportsProjection: Consumer = createStatisticsExportsProjection();

function rowOf(event: StatisticsExportEvent): { insert?: Row; set: Row } {
  switch (event.type) {
    case 'StatisticsExportRequested': {
      const d = event.data;
      return {
        insert: {
          id: d.exportId,
          user_id: d.userId,
          status: 'pending',
          format: d.format,
          query: d.query,
          owners: d.ownerIds.length,
          requested_at: d.requestedAt,
        },
        set: {},
      };
    }
    case 'StatisticsExportGenerated': {
      const d = event.data;
      return {
        set: {
          status: 'ready',
          file_name: d.fileName,
          content_type: d.contentType,
          bytes: d.bytes,
          rows: d.rows,
          finished_at: d.generatedAt,
          expires_at: d.expiresAt,
        },
      };
    }
    case 'StatisticsExportFailed': {
      const d = event.data;
      return { set: { status: 'failed', reason: d.reason, message: d.message, finished_at: d.failedAt } };
    }
  }
}

async function applyEvents(tx: Knex.Transaction, events: readonly RecordedEvent[]): Promise<void> {
  const decoded: { revision: bigint; event: StatisticsExportEvent }[] = [];
  for (const recorded of events)
    if (statisticsExportEvents.owns(recorded.type) && recorded.streamName.startsWith(PREFIX))
      decoded.push({ revision: recorded.revision, event: statisticsExportEvents.decode(recorded) });
  if (decoded.length === 0) return;
  const ids = [...new Set(decoded.map((e) => e.event.data.exportId))];
  const current = await selectRows<{ id: string; last_revision: string }>(
    tx,
    'statistics_exports',
    ids.map((id) => ({ id })),
    { key: ['id'], columns: ['id', 'last_revision'], forUpdate: true },
  );
  const folds = new Map<string, { revision: bigint; insert?: Row; patch?: Row }>(current.map((r) => [r.id, { revision: BigInt(r.last_revision) }]));
  for (const { revision, event } of decoded) {
    const id = event.data.exportId;
    const f = folds.get(id);
    if (f && f.revision >= revision) continue; // applied already
    const { insert, set } = rowOf(event);
    if (!f) {
      if (insert) folds.set(id, { revision, insert: { ...insert, last_revision: revision.toString() } });
      continue; // an outcome of an export never requested changes nothing
    }
    Object.assign(f.insert ?? (f.patch ??= { id }), set, { last_revision: revision.toString() });
    f.revision = revision;
  }
  const all = [...folds.values()];
  await upsertRows(
    tx,
    'statistics_exports',
    all.flatMap((f) => (f.insert ? [f.insert] : [])),
    { conflict: ['id'] },
  );
  await patchRows(
    tx,
    'statistics_exports',
    all.flatMap((f) => (f.patch ? [f.patch] : [])),
    { key: ['id'], guard: 't.last_revision < n.last_revision' },
  );
}
