import { loadExcel, loadPdfDocument } from './document-libraries.js';
import { inertCell } from './inert-cell.js';
import { loadPdfFonts, printable } from './pdf-fonts.js';
import type { ExportFormat as PlanExportFormat } from '../write-model/subscription/plans.js';
import type { ContentView, OverviewView, TrendsView } from './xiaohongshu.js';

/**
 * The Xiaohongshu analytics report (GET /xiaohongshu/analytics/export): what
 * /analytics/overview and /analytics/trends compute for one period, with the
 * period's top notes, as a workbook (xlsx: a summary sheet, the trends per
 * day, the top notes) or a readable PDF (title, period, key figures, the
 * trends table, the top notes).
 *
 * A report is small (at most 365 days and 50 notes), so it is built whole in
 * memory before the first byte is answered: a failure is still an error
 * envelope, never a cut-off file.
 *
 * The PDF's text is Chinese: it is set in Noto Sans SC (regular and bold),
 * shipped by the npm package @expo-google-fonts/noto-sans-sc (SIL OFL 1.1,
 * whole TTF fonts that pdfkit/fontkit read and subset into each file).
 */

export const REPORT_FORMATS = ['xlsx', 'pdf'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** The plan catalogue's export_formats entry each format needs: xlsx is "excel", pdf is "pdf". */
export const REPORT_PLAN_FORMAT: { readonly [F in ReportFormat]: PlanExportFormat } = { xlsx: 'excel', pdf: 'pdf' };

export const REPORT_CONTENT_TYPES: { readonly [F in ReportFormat]: string } = {
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pdf: 'application/pdf',
};

export interface XiaohongshuReport {
  generatedAt: Date;
  /** YYYY-MM-DD, in time_zone: the overview counts the notes last collected in [from, to]; trends has one row per day */
  overview: OverviewView;
  trends: TrendsView;
  /** the period's notes with the most likes */
  topNotes: ContentView[];
}

/** `xiaohongshu-report-<yyyymmdd-hhmmss>.<ext>` (UTC), ASCII like the other exports. */
export function reportFileName(format: ReportFormat, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `xiaohongshu-report-${stamp}.${format}`;
}

export function renderReport(format: ReportFormat, report: XiaohongshuReport): Promise<Buffer> {
  return format === 'xlsx' ? reportWorkbook(report) : reportPdf(report);
}

const TYPE_NAMES: Record<string, string> = { note: '图文 note', video: '视频 video' };

/** Key figures, labelled in Chinese and English, as both formats show them. */
function keyFigures(r: XiaohongshuReport): [string, number][] {
  const { totals, averages } = r.overview;
  return [
    ['笔记数 Notes', totals.notes],
    ['作者数 Authors', totals.authors],
    ['点赞 Likes', totals.likes],
    ['评论 Comments', totals.comments],
    ['收藏 Collects', totals.collects],
    ['分享 Shares', totals.shares],
    ['平均点赞 Avg. likes', averages.likes],
    ['平均评论 Avg. comments', averages.comments],
    ['平均收藏 Avg. collects', averages.collects],
    ['平均分享 Avg. shares', averages.shares],
  ];
}

const TREND_COLUMNS = [
  { header: '日期 Day', key: 'day', width: 14 },
  { header: '采集 Collected', key: 'notes_collected', width: 16 },
  { header: '新笔记 New', key: 'new_notes', width: 12 },
  { header: '点赞 Likes', key: 'likes', width: 12 },
  { header: '评论 Comments', key: 'comments', width: 14 },
  { header: '收藏 Collects', key: 'collects', width: 14 },
  { header: '分享 Shares', key: 'shares', width: 12 },
] as const;

// ---------------------------------------------------------------- xlsx

async function reportWorkbook(r: XiaohongshuReport): Promise<Buffer> {
  const ExcelJS = await loadExcel();
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'Collector';
  workbook.created = r.generatedAt;
  const text = (value: string) => inertCell(value);

  const summary = workbook.addWorksheet('概览 Summary');
  summary.columns = [
    { key: 'a', width: 26 },
    { key: 'b', width: 30 },
    { key: 'c', width: 14 },
    { key: 'd', width: 14 },
  ];
  const heading = (title: string) => {
    const row = summary.addRow([title]);
    row.font = { bold: true };
  };
  heading('小红书数据报告 Xiaohongshu analytics report');
  summary.addRow(['统计期间 Period', `${r.trends.from} – ${r.trends.to}`]);
  summary.addRow(['天数 Days', r.trends.days]);
  summary.addRow(['时区 Time zone', r.trends.time_zone]);
  summary.addRow(['数据保留 Retention (days)', r.overview.retention_days]);
  summary.addRow(['生成时间 Generated at', r.generatedAt]);
  summary.addRow([]);
  heading('关键指标 Key figures');
  for (const [label, value] of keyFigures(r)) summary.addRow([label, value]);
  summary.addRow([]);
  heading('笔记类型 Notes by type');
  for (const t of r.overview.by_type) summary.addRow([TYPE_NAMES[t.type] ?? t.type, t.notes]);
  summary.addRow([]);
  heading('热门作者 Top authors');
  summary.addRow(['作者 Author', '作者ID Author id', '笔记 Notes', '点赞 Likes']).font = { bold: true };
  for (const a of r.overview.top_authors) summary.addRow([text(a.author_name), text(a.author_id), a.notes, a.likes]);
  summary.addRow([]);
  heading('热门话题 Top tags');
  summary.addRow(['话题 Tag', '', '笔记 Notes', '点赞 Likes']).font = { bold: true };
  for (const t of r.overview.top_tags) summary.addRow([text(t.tag), '', t.notes, t.likes]);

  const trends = workbook.addWorksheet('每日趋势 Trends');
  trends.columns = TREND_COLUMNS.map((c) => ({ header: c.header, key: c.key, width: c.width }));
  trends.getRow(1).font = { bold: true };
  for (const day of r.trends.series) trends.addRow(day);

  const notes = workbook.addWorksheet('热门笔记 Top notes');
  notes.columns = [
    { header: '排名 Rank', key: 'rank', width: 10 },
    { header: '笔记ID Note id', key: 'id', width: 26 },
    { header: '标题 Title', key: 'title', width: 40 },
    { header: '作者 Author', key: 'author', width: 20 },
    { header: '类型 Type', key: 'type', width: 10 },
    { header: '点赞 Likes', key: 'likes', width: 12 },
    { header: '评论 Comments', key: 'comments', width: 14 },
    { header: '收藏 Collects', key: 'collects', width: 14 },
    { header: '分享 Shares', key: 'shares', width: 12 },
    { header: '发布时间 Published at', key: 'published_at', width: 22 },
    { header: '链接 URL', key: 'url', width: 50 },
  ];
  notes.getRow(1).font = { bold: true };
  r.topNotes.forEach((n, i) =>
    notes.addRow({
      rank: i + 1,
      id: n.id,
      title: text(n.title),
      author: text(n.author_name),
      type: n.type,
      likes: n.likes,
      comments: n.comments,
      collects: n.collects,
      shares: n.shares,
      published_at: n.published_at ? new Date(n.published_at) : null,
      url: text(n.url),
    }),
  );
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

// ---------------------------------------------------------------- pdf

const figure = (n: number) => (Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumFractionDigits: 2 }));

interface PdfColumn<Row> {
  header: string;
  width: number;
  align?: 'left' | 'right';
  value(row: Row): string;
}

async function reportPdf(r: XiaohongshuReport): Promise<Buffer> {
  const { regular, bold } = await loadPdfFonts();
  const PDFDocument = await loadPdfDocument();
  const doc = new PDFDocument({
    size: 'A4',
    margin: 50,
    bufferPages: false,
    info: {
      Title: `小红书数据报告 ${r.trends.from} – ${r.trends.to}`,
      Author: 'Collector',
      Subject: 'Xiaohongshu analytics report',
      CreationDate: r.generatedAt,
    },
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

  const section = (title: string) => {
    if (doc.y + 60 > bottom()) doc.addPage();
    doc.moveDown(0.8).font('bold').fontSize(13).fillColor('#111111').text(title, left, doc.y, { width });
    doc.moveDown(0.3);
  };

  /** A table with a header row, continued on the next page (header repeated) when it reaches the bottom. */
  function table<Row>(columns: PdfColumn<Row>[], rows: readonly Row[]): void {
    const rowHeight = 16;
    const scale = width / columns.reduce((s, c) => s + c.width, 0);
    const drawRow = (cells: string[], font: 'regular' | 'bold', shade: boolean) => {
      if (doc.y + rowHeight > bottom()) {
        doc.addPage();
        drawHeader();
      }
      const y = doc.y;
      if (shade) doc.rect(left, y - 2, width, rowHeight).fill('#f2f2f2');
      doc
        .fillColor('#111111')
        .font(font)
        .fontSize(font === 'bold' ? 8 : 8.5);
      let x = left;
      cells.forEach((cell, i) => {
        const w = columns[i]!.width * scale;
        doc.text(cell, x + 3, y + 1, { width: w - 6, align: columns[i]!.align ?? 'left', ellipsis: true, height: rowHeight - 4 });
        x += w;
      });
      doc.x = left;
      doc.y = y + rowHeight;
    };
    const drawHeader = () =>
      drawRow(
        columns.map((c) => c.header),
        'bold',
        true,
      );
    drawHeader();
    if (rows.length === 0) drawRow(['—', ...columns.slice(1).map(() => '')], 'regular', false);
    rows.forEach((row) =>
      drawRow(
        columns.map((c) => printable(c.value(row))),
        'regular',
        false,
      ),
    );
  }

  // title and period
  doc.font('bold').fontSize(20).fillColor('#111111').text('小红书数据报告', left, doc.y, { width });
  doc.font('regular').fontSize(11).fillColor('#555555').text('Xiaohongshu analytics report', { width });
  doc.moveDown(0.6).fontSize(10).fillColor('#111111');
  doc.text(`统计期间 Period: ${r.trends.from} – ${r.trends.to}（${r.trends.days} 天 days, ${r.trends.time_zone}）`, { width });
  doc.text(`数据保留 Retention: ${r.overview.retention_days} 天 days    生成时间 Generated: ${r.generatedAt.toISOString()}`, { width });

  section('关键指标 Key figures');
  const figures = keyFigures(r);
  table<[string, number]>(
    [
      { header: '指标 Figure', width: 3, value: ([label]) => label },
      { header: '数值 Value', width: 2, align: 'right', value: ([, value]) => figure(value) },
    ],
    figures,
  );
  if (r.overview.by_type.length > 0) {
    doc.moveDown(0.4).font('regular').fontSize(9).fillColor('#333333');
    doc.text(`笔记类型 By type: ${r.overview.by_type.map((t) => `${TYPE_NAMES[t.type] ?? t.type} ${figure(t.notes)}`).join('，')}`, left, doc.y, { width });
  }

  section('每日趋势 Daily trends');
  table(
    TREND_COLUMNS.map((c) => ({
      header: c.header,
      width: c.key === 'day' ? 1.1 : 1,
      align: c.key === 'day' ? ('left' as const) : ('right' as const),
      value: (d: TrendsView['series'][number]) => (c.key === 'day' ? d.day : figure(d[c.key])),
    })),
    r.trends.series,
  );

  section('热门笔记 Top notes');
  table<ContentView & { rank: number }>(
    [
      { header: '#', width: 0.5, align: 'right', value: (n) => String(n.rank) },
      { header: '标题 Title', width: 4, value: (n) => n.title || n.text.slice(0, 60) || n.id },
      { header: '作者 Author', width: 2, value: (n) => n.author_name },
      { header: '点赞 Likes', width: 1.2, align: 'right', value: (n) => figure(n.likes) },
      { header: '评论 Comments', width: 1.5, align: 'right', value: (n) => figure(n.comments) },
      { header: '收藏 Collects', width: 1.5, align: 'right', value: (n) => figure(n.collects) },
    ],
    r.topNotes.map((n, i) => ({ ...n, rank: i + 1 })),
  );

  if (r.overview.top_tags.length > 0) {
    section('热门话题 Top tags');
    table<OverviewView['top_tags'][number]>(
      [
        { header: '话题 Tag', width: 3, value: (t) => `#${t.tag}` },
        { header: '笔记 Notes', width: 1, align: 'right', value: (t) => figure(t.notes) },
        { header: '点赞 Likes', width: 1, align: 'right', value: (t) => figure(t.likes) },
      ],
      r.overview.top_tags,
    );
  }

  doc.end();
  await ended;
  return Buffer.concat(chunks);
}
