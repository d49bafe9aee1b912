import { loadExcel, loadPdfDocument } from './document-libraries.js';
import { inertCell } from './inert-cell.js';
import { loadPdfFonts, printable } from './pdf-fonts.js';

/**
 * A report made of titled tables, as a workbook (xlsx: a summary sheet with
 * the title and the report's facts, then one sheet per table) or a PDF
 * (title, facts, the tables; Chinese set in Noto Sans SC like the
 * Xiaohongshu analytics report). Used by the scheduled Qidian reports
 * (src/application/reports.ts). Built whole in memory: a report is bounded
 * (each table's rows are).
 */

export type Cell = string | number | null;

export interface TableColumn {
  header: string;
  /** relative width (xlsx: characters / 10) */
  width: number;
  align?: 'left' | 'right';
}

export interface ReportTable {
  title: string;
  columns: TableColumn[];
  rows: Cell[][];
}

export interface TableReport {
  title: string;
  subtitle: string;
  generatedAt: Date;
  facts: [string, Cell][];
  tables: ReportTable[];
}

export function renderTableReport(format: 'xlsx' | 'pdf', report: TableReport): Promise<Buffer> {
  return format === 'xlsx' ? workbook(report) : pdf(report);
}

const show = (v: Cell): string =>
  v === null ? '—' : typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: 2 })) : v;

async function workbook(r: TableReport): Promise<Buffer> {
  const ExcelJS = await loadExcel();
  const book = new ExcelJS.Workbook();
  book.creator = 'Collector';
  book.created = r.generatedAt;
  const summary = book.addWorksheet('概览 Summary');
  summary.columns = [{ width: 28 }, { width: 40 }];
  summary.addRow([r.title]).font = { bold: true };
  summary.addRow([r.subtitle]);
  summary.addRow([]);
  for (const [label, value] of r.facts) summary.addRow([label, typeof value === 'string' ? inertCell(value) : value]);
  summary.addRow(['生成时间 Generated at', r.generatedAt]);
  const used = new Set<string>(['概览 Summary']);
  r.tables.forEach((t, i) => {
    // sheet names: at most 31 characters, unique, none of []:*?/\
    let name = t.title.replace(/[[\]:*?/\\]/g, ' ').slice(0, 28);
    if (used.has(name)) name = `${name.slice(0, 25)} ${i + 1}`;
    used.add(name);
    const sheet = book.addWorksheet(name);
    sheet.columns = t.columns.map((c) => ({ header: c.header, width: Math.max(8, Math.round(c.width * 10)) }));
    sheet.getRow(1).font = { bold: true };
    for (const row of t.rows) sheet.addRow(row.map((v) => (typeof v === 'string' ? inertCell(v) : v)));
  });
  return Buffer.from(await book.xlsx.writeBuffer());
}

async function pdf(r: TableReport): Promise<Buffer> {
  const { regular, bold } = await loadPdfFonts();
  const PDFDocument = await loadPdfDocument();
  const doc = new PDFDocument({
    size: 'A4',
    margin: 50,
    bufferPages: false,
    info: { Title: r.title, Author: 'Collector', Subject: r.subtitle, CreationDate: r.generatedAt },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    doc.on('end', resolve);
    doc.on('error', reject);
  });
  doc.registerFont('regular', regular);
  doc.registerFont('bold', bold);
  const left = doc.page.margins.left;
  const width = doc.page.width - doc.page.margins.left - doc.page.margins.right;
  const bottom = () => doc.page.height - doc.page.margins.bottom;

  doc.font('bold').fontSize(18).fillColor('#111111').text(printable(r.title), left, doc.y, { width });
  doc.font('regular').fontSize(10).fillColor('#555555').text(printable(r.subtitle), { width });
  doc.moveDown(0.5).fontSize(10).fillColor('#111111');
  for (const [label, value] of r.facts) doc.text(`${label}: ${printable(show(value))}`, { width });
  doc.text(`生成时间 Generated: ${r.generatedAt.toISOString()}`, { width });

  for (const t of r.tables) {
    if (doc.y + 60 > bottom()) doc.addPage();
    doc.moveDown(0.8).font('bold').fontSize(12).fillColor('#111111').text(printable(t.title), left, doc.y, { width });
    doc.moveDown(0.3);
    const rowHeight = 16;
    const scale = width / t.columns.reduce((s, c) => s + c.width, 0);
    const drawRow = (cells: string[], font: 'regular' | 'bold', shade: boolean) => {
      if (doc.y + rowHeight > bottom()) {
        doc.addPage();
        drawHeader();
      }
      const y = doc.y;
      if (shade) doc.rect(left, y - 2, width, rowHeight).fill('#f2f2f2');
      doc.fillColor('#111111').font(font).fontSize(8);
      let x = left;
      cells.forEach((cell, i) => {
        const w = t.columns[i]!.width * scale;
        doc.text(cell, x + 3, y + 1, { width: w - 6, align: t.columns[i]!.align ?? 'left', ellipsis: true, height: rowHeight - 4 });
        x += w;
      });
      doc.x = left;
      doc.y = y + rowHeight;
    };
    const drawHeader = () =>
      drawRow(
        t.columns.map((c) => c.header),
        'bold',
        true,
      );
    drawHeader();
    if (t.rows.length === 0) drawRow(['—', ...t.columns.slice(1).map(() => '')], 'regular', false);
    for (const row of t.rows)
      drawRow(
        row.map((v) => printable(show(v))),
        'regular',
        false,
      );
  }
  doc.end();
  await ended;
  return Buffer.concat(chunks);
}
