import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { inertCell } from '../../src/read-api/inert-cell.js';
import { CONTENT_TYPES, exportFileName, exportStream, PLAN_FORMAT_OF, type ExportColumn } from '../../src/read-api/export.js';

interface Row {
  id: string;
  title: string;
  likes: number;
  tags: string[];
  at: Date | null;
}

const columns: ExportColumn<Row>[] = [
  { header: 'id', value: (r) => r.id },
  { header: 'title', value: (r) => r.title },
  { header: 'likes', value: (r) => r.likes },
  { header: 'tags', value: (r) => r.tags },
  { header: 'at', value: (r) => r.at },
];

const rows: Row[] = [
  { id: 'a1', title: '上海周末去哪儿，咖啡店合集', likes: 4311, tags: ['上海', '咖啡'], at: new Date('2026-03-01T02:00:00.000Z') },
  { id: 'b2', title: 'He said "hi", then left\nnew line', likes: 0, tags: [], at: null },
  { id: 'c3', title: '法式装修灵感', likes: 15000, tags: ['装修'], at: new Date('2026-03-02T10:30:00.000Z') },
];

async function* pagesOf(...pages: Row[][]): AsyncGenerator<Row[]> {
  for (const page of pages) yield page;
}

/** RFC 4180, enough for what csv-stringify writes. */
function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\n') row.push(cell), out.push(row), (row = []), (cell = '');
    else if (c !== '\r') cell += c;
  }
  if (cell !== '' || row.length > 0) row.push(cell), out.push(row);
  return out;
}

describe('streaming export writer', () => {
  it('json: one array across pages (empty pages skipped), nested values kept', async () => {
    const body = await buffer(
      exportStream({ format: 'json', columns, pages: pagesOf([rows[0]!, rows[1]!], [], [rows[2]!]), json: (r) => ({ id: r.id, tags: r.tags }) }),
    );
    expect(JSON.parse(body.toString('utf8'))).to.deep.equal([
      { id: 'a1', tags: ['上海', '咖啡'] },
      { id: 'b2', tags: [] },
      { id: 'c3', tags: ['装修'] },
    ]);
  });

  it('json: no rows is an empty array', async () => {
    const body = await buffer(exportStream({ format: 'json', columns, pages: pagesOf() }));
    expect(JSON.parse(body.toString('utf8'))).to.deep.equal([]);
  });

  it('json: without a json mapper, the columns become the object', async () => {
    const body = await buffer(exportStream({ format: 'json', columns, pages: pagesOf([rows[0]!]) }));
    expect(JSON.parse(body.toString('utf8'))).to.deep.equal([
      { id: 'a1', title: rows[0]!.title, likes: 4311, tags: ['上海', '咖啡'], at: '2026-03-01T02:00:00.000Z' },
    ]);
  });

  it('csv: BOM, a header, one line per row, quotes and new lines escaped, arrays joined, dates ISO', async () => {
    const body = (await buffer(exportStream({ format: 'csv', columns, pages: pagesOf([rows[0]!], [rows[1]!, rows[2]!]) }))).toString('utf8');
    expect(body.charCodeAt(0)).to.equal(0xfeff);
    expect(parseCsv(body.slice(1))).to.deep.equal([
      ['id', 'title', 'likes', 'tags', 'at'],
      ['a1', '上海周末去哪儿，咖啡店合集', '4311', '上海, 咖啡', '2026-03-01T02:00:00.000Z'],
      ['b2', 'He said "hi", then left\nnew line', '0', '', ''],
      ['c3', '法式装修灵感', '15000', '装修', '2026-03-02T10:30:00.000Z'],
    ]);
  });

  it('xlsx: a workbook exceljs reads back, header first, numbers and dates typed', async () => {
    const body = await buffer(exportStream({ format: 'xlsx', columns, pages: pagesOf([rows[0]!, rows[1]!], [rows[2]!]), sheetName: '笔记' }));
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(body as unknown as ArrayBuffer);
    const sheet = workbook.getWorksheet('笔记')!;
    expect(sheet.rowCount).to.equal(4);
    const values = (n: number) => (sheet.getRow(n).values as unknown[]).slice(1);
    expect(values(1)).to.deep.equal(['id', 'title', 'likes', 'tags', 'at']);
    expect(values(2).slice(0, 4)).to.deep.equal(['a1', '上海周末去哪儿，咖啡店合集', 4311, '上海, 咖啡']);
    expect((values(2)[4] as Date).toISOString()).to.equal('2026-03-01T02:00:00.000Z');
    expect(values(4)[2]).to.equal(15000);
  });

  it('pulls pages lazily and stops reading them when the reader goes away', async () => {
    let pulled = 0;
    let finished = false;
    async function* endless(): AsyncGenerator<Row[]> {
      try {
        for (;;) {
          pulled++;
          yield Array.from({ length: 100 }, (_, i) => ({ ...rows[0]!, id: `r${pulled}-${i}` }));
        }
      } finally {
        finished = true;
      }
    }
    const stream: Readable = exportStream({ format: 'csv', columns, pages: endless() });
    for await (const _chunk of stream) {
      if (pulled >= 3) break; // destroys the stream
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(finished, 'the page source was closed').to.equal(true);
    expect(pulled).to.be.lessThan(10);
  });

  describe('formula injection', () => {
    const hostile = ['=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", '@SUM(1,1)', '-2+3', '\t=1+1', '\r=1+1'];
    const hostileRows: Row[] = hostile.map((title, i) => ({ id: `h${i}`, title, likes: -5, tags: ['=A1', 'ok'], at: null }));

    it('inertCell: text a spreadsheet reads as a formula gets a leading apostrophe; other text is left as it is', () => {
      for (const text of hostile) expect(inertCell(text)).to.equal(`'${text}`);
      for (const text of ['上海', 'a=b', ' =1', '', "'quoted", '1-2']) expect(inertCell(text)).to.equal(text);
    });

    it('csv: hostile titles and joined arrays come out inert; numbers stay numbers', async () => {
      const body = (await buffer(exportStream({ format: 'csv', columns, pages: pagesOf(hostileRows) }))).toString('utf8');
      const lines = parseCsv(body.slice(1)).slice(1);
      expect(lines.map((l) => l[1])).to.deep.equal(hostile.map((t) => `'${t}`));
      expect(lines.map((l) => l[2])).to.deep.equal(hostile.map(() => '-5'));
      expect(lines.map((l) => l[3])).to.deep.equal(hostile.map(() => "'=A1, ok"));
    });

    it('xlsx: hostile titles are text cells starting with an apostrophe, no formula cell anywhere', async () => {
      const body = await buffer(exportStream({ format: 'xlsx', columns, pages: pagesOf(hostileRows) }));
      const workbook = new ExcelJS.Workbook();
      await workbook.xlsx.load(body as unknown as ArrayBuffer);
      const sheet = workbook.worksheets[0]!;
      const titles: unknown[] = [];
      sheet.eachRow((row, n) => {
        row.eachCell((cell) => expect(cell.type, `row ${n}`).to.not.equal(ExcelJS.ValueType.Formula));
        if (n > 1) titles.push(row.getCell(2).value);
      });
      // XML turns a carriage return into a line feed when it is read back
      expect(titles).to.deep.equal(hostile.map((t) => `'${t.replace('\r', '\n')}`));
    });

    it('json: the text is data, kept exactly', async () => {
      const body = await buffer(exportStream({ format: 'json', columns, pages: pagesOf(hostileRows) }));
      expect((JSON.parse(body.toString('utf8')) as { title: string }[]).map((r) => r.title)).to.deep.equal(hostile);
    });
  });

  it('maps file formats to the catalogue and names files', () => {
    expect(PLAN_FORMAT_OF).to.deep.equal({ json: 'json', csv: 'excel', xlsx: 'excel', pdf: 'pdf' });
    expect(CONTENT_TYPES.csv).to.match(/^text\/csv/);
    expect(exportFileName('xiaohongshu-contents', 'xlsx', new Date('2026-11-23T13:05:09.123Z'))).to.equal('xiaohongshu-contents-20261123-130509.xlsx');
  });
});
