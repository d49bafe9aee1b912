import { stringify } from 'csv-stringify/sync';
import ExcelJS from 'exceljs';
import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { inertCell } from './inert-cell.js';
import { DomainError } from '../write-model/core/domain-error.js';
import type { AnyPlan, ExportFormat as PlanExportFormat } from '../write-model/subscription/plans.js';

/**
 * The shared streaming export writer: rows arrive in pages (an async iterable
 * of arrays, e.g. keyset pages of a read table) and leave as a byte stream,
 * so a whole export is never held in memory.
 *
 * - json: one array, written an element at a time (`[`, `{…}`, `,{…}`, `]`);
 *   each element is `json(row)` (nested values kept).
 * - csv: csv-stringify per page, a header line first, UTF-8 with a BOM so
 *   Excel reads Chinese text right; arrays are joined with `, `. Text that
 *   a spreadsheet would take for a formula is made inert (inert-cell.ts),
 *   in xlsx too.
 * - xlsx: exceljs' streaming WorkbookWriter, one sheet, a header row, each
 *   row committed as it is written (dates stay dates).
 *
 * An error after the first bytes cannot become an error envelope any more:
 * the stream is destroyed and the client sees a cut-off download.
 */

export const EXPORT_FORMATS = ['json', 'csv', 'xlsx'] as const;
export type ExportFileFormat = (typeof EXPORT_FORMATS)[number];

/** The plan catalogue's export_formats entry a file format needs: csv and xlsx are both "excel". */
export const PLAN_FORMAT_OF: { readonly [F in ExportFileFormat]: PlanExportFormat } = { json: 'json', csv: 'excel', xlsx: 'excel' };

/** Refuses a file format the plan's export_formats do not include (403 PERMISSION_DENIED naming the feature). */
export function requireExportFormat(plan: AnyPlan, format: ExportFileFormat): void {
  const needed = PLAN_FORMAT_OF[format];
  const allowed = plan.features.export_formats as readonly PlanExportFormat[];
  if (allowed.includes(needed)) return;
  throw new DomainError('PERMISSION_DENIED', `${plan.name} does not include ${needed} export (export_formats)`, {
    feature: 'export_formats',
    format,
    requires: needed,
    allowed,
    plan: plan.code,
  });
}

export const CONTENT_TYPES: { readonly [F in ExportFileFormat]: string } = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

export type Cell = string | number | boolean | Date | null;

export interface ExportColumn<Row> {
  header: string;
  value(row: Row): Cell | readonly string[];
  /** xlsx column width in characters */
  width?: number;
}

export interface ExportSpec<Row> {
  format: ExportFileFormat;
  columns: readonly ExportColumn<Row>[];
  /** the rows, a page at a time */
  pages: AsyncIterable<readonly Row[]>;
  /** the json element of a row (default: the columns as an object) */
  json?: (row: Row) => unknown;
  /** xlsx sheet name */
  sheetName?: string;
}

/** `<base>-<yyyymmdd-hhmmss>.<ext>` (UTC), ASCII so every client keeps it. */
export function exportFileName(base: string, format: ExportFileFormat, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${base}-${stamp}.${format}`;
}

/** The export as a byte stream; it pulls the next page only when the reader wants more. */
export function exportStream<Row>(spec: ExportSpec<Row>): Readable {
  switch (spec.format) {
    case 'json':
      return Readable.from(jsonChunks(spec), { objectMode: false });
    case 'csv':
      return Readable.from(csvChunks(spec), { objectMode: false });
    case 'xlsx':
      return xlsxStream(spec);
  }
}

/** A cell as a spreadsheet gets it: arrays joined, text that would start a formula made inert. */
function flat(value: Cell | readonly string[]): Cell {
  const cell = Array.isArray(value) ? value.join(', ') : (value as Cell);
  return typeof cell === 'string' ? inertCell(cell) : cell;
}

function asObject<Row>(spec: ExportSpec<Row>, row: Row): unknown {
  if (spec.json) return spec.json(row);
  return Object.fromEntries(spec.columns.map((c) => [c.header, c.value(row)]));
}

async function* jsonChunks<Row>(spec: ExportSpec<Row>): AsyncGenerator<Buffer> {
  let first = true;
  yield Buffer.from('[');
  for await (const page of spec.pages) {
    if (page.length === 0) continue;
    const parts = page.map((row) => JSON.stringify(asObject(spec, row)));
    yield Buffer.from((first ? '\n' : ',\n') + parts.join(',\n'));
    first = false;
  }
  yield Buffer.from(first ? ']' : '\n]\n');
}

async function* csvChunks<Row>(spec: ExportSpec<Row>): AsyncGenerator<Buffer> {
  const header = spec.columns.map((c) => c.header);
  yield Buffer.from(stringify([header], { bom: true }));
  for await (const page of spec.pages) {
    if (page.length === 0) continue;
    const records = page.map((row) => spec.columns.map((c) => csvCell(flat(c.value(row)))));
    yield Buffer.from(stringify(records));
  }
}

function csvCell(value: Cell): string | number | boolean | null {
  return value instanceof Date ? value.toISOString() : value;
}

function xlsxStream<Row>(spec: ExportSpec<Row>): Readable {
  const out = new PassThrough();
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: false, useSharedStrings: false });
  const sheet = workbook.addWorksheet(spec.sheetName ?? 'export');
  sheet.columns = spec.columns.map((c, i) => ({ header: c.header, key: `c${i}`, width: c.width ?? 16 }));
  const write = async () => {
    for await (const page of spec.pages) {
      if (out.destroyed) return; // the client went away
      for (const row of page) sheet.addRow(spec.columns.map((c) => flat(c.value(row)))).commit();
      // let a slow reader catch up before the next page is read
      if (out.writableNeedDrain) await Promise.race([once(out, 'drain'), once(out, 'close')]);
    }
    sheet.commit();
    await workbook.commit();
  };
  write().catch((error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))));
  return out;
}
