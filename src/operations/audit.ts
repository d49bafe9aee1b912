import { stringify } from 'csv-stringify';
import { inertCell } from '../read-api/inert-cell.js';
import { Readable } from 'node:stream';
import { searchEventPages } from './streams.js';
import type { EventView, OpsDeps } from './types.js';

export interface AuditQuery {
  userId: string;
  /** ISO-8601, inclusive; none: from the beginning */
  from?: string;
  /** ISO-8601, exclusive; none: up to now */
  to?: string;
  format: 'csv' | 'json';
  /** called per page with the rows written so far */
  onProgress?: (rows: number) => void;
}

/** One audit line: what happened, who did it, why, in which request, when. */
export interface AuditRow {
  when: string;
  position: string;
  stream: string;
  revision: string;
  type: string;
  event_id: string;
  /** metadata.userId: the user, `pm:<name>`, `scheduler`, `worker:<name>`, `system:<job>` or `cli` */
  who: string | null;
  /** `actor`: the user caused it; `subject`: it concerns the user (data.userId / data.ownerId); `both` */
  relation: 'actor' | 'subject' | 'both';
  /** metadata.$causationId: the request or event that caused it */
  why: string | null;
  correlation_id: string | null;
  request_id: string | null;
  data: unknown;
}

export const AUDIT_COLUMNS: readonly (keyof AuditRow)[] = [
  'when',
  'position',
  'stream',
  'revision',
  'type',
  'event_id',
  'who',
  'relation',
  'why',
  'correlation_id',
  'request_id',
  'data',
];

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

export function auditRow(event: EventView, userId: string): AuditRow {
  const data = (typeof event.data === 'object' && event.data !== null ? event.data : {}) as Record<string, unknown>;
  const actor = event.metadata.userId === userId;
  const subject = data.userId === userId || data.ownerId === userId;
  return {
    when: event.created,
    position: event.position,
    stream: event.stream,
    revision: event.revision,
    type: event.type,
    event_id: event.id,
    who: text(event.metadata.userId),
    relation: actor && subject ? 'both' : actor ? 'actor' : 'subject',
    why: text(event.metadata.$causationId),
    correlation_id: text(event.metadata.$correlationId),
    request_id: text(event.metadata.requestId),
    data: event.data,
  };
}

/**
 * Every event the user caused (metadata.userId) or that concerns them
 * (data.userId / data.ownerId) between from and to, in $all order, as CSV
 * (a header line; `data` as JSON text) or a JSON array — streamed page by
 * page, never the whole history in memory. Secrets are redacted as in
 * every operator view.
 */
export function auditExport(deps: OpsDeps, query: AuditQuery): Readable {
  const { userId, format } = query;
  const pages = searchEventPages(deps, { userId, ...(query.from ? { from: query.from } : {}), ...(query.to ? { to: query.to } : {}) }, { pageSize: 500 });
  async function* rows(): AsyncGenerator<AuditRow> {
    let written = 0;
    for await (const page of pages) {
      for (const event of page) yield auditRow(event, userId);
      written += page.length;
      query.onProgress?.(written);
    }
  }
  if (format === 'csv') {
    const csv = stringify({
      header: true,
      columns: AUDIT_COLUMNS as string[],
      cast: { object: (value) => inertCell(JSON.stringify(value)), string: inertCell },
    });
    const source = Readable.from(
      (async function* () {
        for await (const row of rows()) yield { ...row, data: JSON.stringify(row.data) };
      })(),
    );
    source.on('error', (error) => csv.destroy(error));
    return source.pipe(csv);
  }
  return Readable.from(
    (async function* () {
      let first = true;
      yield '[';
      for await (const row of rows()) {
        yield `${first ? '\n' : ',\n'}${JSON.stringify(row)}`;
        first = false;
      }
      yield first ? ']\n' : '\n]\n';
    })(),
    { objectMode: false },
  );
}
