import { requirePlanExportFormat } from '../application/plan-gates.js';
import { stringify } from 'csv-stringify/sync';
import { loadExcel, loadPdfDocument } from './document-libraries.js';
import { loadPdfFonts, printable } from './pdf-fonts.js';
import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { inertCell } from './inert-cell.js';
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
 * - pdf: pdfkit, landscape A4 pages of a table (a title, the header row on
 *   every page, one line per row, each cell cut to its column with an
 *   ellipsis), set in Noto Sans SC (pdf-fonts.ts), written page by page.
 *
 * An error after the first bytes cannot become an error envelope any more:
 * the stream is destroyed and the client sees a cut-off download.
 */

export const EXPORT_FORMATS = ['json', 'csv', 'xlsx', 'pdf'] as const;
export type ExportFileFormat = (typeof EXPORT_FORMATS)[number];

/** The plan catalogue's export_formats entry a file format needs: csv and xlsx are both "excel", pdf is "pdf". */
export const PLAN_FORMAT_OF: { readonly [F in ExportFileFormat]: PlanExportFormat } = { json: 'json', csv: 'excel', xlsx: 'excel', pdf: 'pdf' };

/** Refuses a file format the plan's export_formats do not include (403 PERMISSION_DENIED naming the feature). */
export function requireExportFormat(plan: AnyPlan, format: ExportFileFormat): void {
  requirePlanExportFormat(plan, PLAN_FORMAT_OF[format], { format });
}

export const CONTENT_TYPES: { readonly [F in ExportFileFormat]: string } = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pdf: 'application/pdf',
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
  /** xlsx sheet name; the pdf's title */
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
    case 'pdf':
      return pdfStream(spec);
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
  const write = async () => {
    const ExcelJS = await loadExcel();
    const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: false, useSharedStrings: false });
    const sheet = workbook.addWorksheet(spec.sheetName ?? 'export');
    sheet.columns = spec.columns.map((c, i) => ({ header: c.header, key: `c${i}`, width: c.width ?? 16 }));
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

const PDF_MARGIN = 30;
const PDF_FONT_SIZE = 6.5;
/** a cell wraps onto at most this many lines (then an ellipsis) */
const PDF_MAX_LINES = 3;

/** A cell as the pdf prints it: dates as ISO-8601, emoji left out. */
function pdfCell(value: Cell | readonly string[]): string {
  const cell = Array.isArray(value) ? value.join(', ') : (value as Cell);
  if (cell === null) return '';
  return printable(cell instanceof Date ? cell.toISOString() : String(cell));
}

function pdfStream<Row>(spec: ExportSpec<Row>): Readable {
  const out = new PassThrough();
  const write = async () => {
    const { regular, bold } = await loadPdfFonts();
    const PDFDocument = await loadPdfDocument();
    const doc = new PDFDocument({ size: 'A4', layout: 'landscape', margin: PDF_MARGIN, info: { Title: spec.sheetName ?? 'export', Author: 'Collector' } });
    doc.pipe(out);
    doc.registerFont('regular', regular);
    doc.registerFont('bold', bold);
    const usable = doc.page.width - 2 * PDF_MARGIN;
    const weights = spec.columns.map((c) => c.width ?? 16);
    const total = weights.reduce((a, b) => a + b, 0);
    const widths = weights.map((w) => (usable * w) / total);
    const lineHeight = doc.font('regular').fontSize(PDF_FONT_SIZE).currentLineHeight(true);
    const bottom = doc.page.height - PDF_MARGIN;
    let y = PDF_MARGIN;
    /** one table row: each cell wrapped in its column, the row as tall as its tallest cell */
    const row = (cells: readonly string[], font: 'regular' | 'bold') => {
      doc.font(font).fontSize(PDF_FONT_SIZE);
      const heights = cells.map((text, i) => Math.min(doc.heightOfString(text || ' ', { width: widths[i]! - 3 }), lineHeight * PDF_MAX_LINES));
      const height = Math.max(lineHeight, ...heights);
      if (y + height > bottom) return false;
      let x = PDF_MARGIN;
      cells.forEach((text, i) => {
        doc.text(text, x, y, { width: widths[i]! - 3, height: lineHeight * PDF_MAX_LINES, ellipsis: true });
        x += widths[i]!;
      });
      y += height + 2;
      return true;
    };
    const header = () => {
      row(
        spec.columns.map((c) => c.header),
        'bold',
      );
      doc
        .moveTo(PDF_MARGIN, y - 1)
        .lineTo(PDF_MARGIN + usable, y - 1)
        .lineWidth(0.5)
        .stroke();
      y += 1;
    };
    doc
      .font('bold')
      .fontSize(11)
      .text(printable(spec.sheetName ?? 'export'), PDF_MARGIN, y);
    y += 20;
    header();
    for await (const page of spec.pages) {
      if (out.destroyed) return; // the client went away
      for (const r of page) {
        const cells = spec.columns.map((c) => pdfCell(c.value(r)));
        if (!row(cells, 'regular')) {
          doc.addPage();
          y = PDF_MARGIN;
          header();
          row(cells, 'regular');
        }
      }
      if (out.writableNeedDrain) await Promise.race([once(out, 'drain'), once(out, 'close')]);
    }
    doc.end();
  };
  write().catch((error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))));
  return out;
}
