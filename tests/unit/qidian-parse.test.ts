import { expect } from 'chai';
import { novelSnapshotSchema, rankingEntrySchema } from '../../src/platforms/qidian/items.js';
import {
  novelSnapshot,
  parseChapterCount,
  parseChineseNumber,
  parseQidianTime,
  parseStatus,
  qidianPageVerdict,
  rankEntry,
  rankHasNext,
  type RawBookPage,
  type RawRankItem,
} from '../../src/platforms/qidian/parse.js';

const AT = '2026-08-23T08:00:00.000+08:00';

describe('qidian parse', () => {
  it('numbers with 万 / 亿, statuses, times, chapter counts', () => {
    expect(parseChineseNumber('13.33万')).to.equal(133300);
    expect(parseChineseNumber('1.2亿')).to.equal(120_000_000);
    expect(parseChineseNumber('2,311')).to.equal(2311);
    expect(parseChineseNumber('6233月票')).to.equal(6233);
    expect(parseChineseNumber('\u{18822}\u{1881b}')).to.equal(null); // font-obfuscated digits
    expect(parseChineseNumber('')).to.equal(null);
    expect(parseChineseNumber(null)).to.equal(null);
    expect(parseStatus('连载')).to.equal('serializing');
    expect(parseStatus('完本')).to.equal('completed');
    expect(parseStatus('连载中')).to.equal('serializing');
    expect(parseStatus('签约')).to.equal(null);
    expect(parseQidianTime('更新时间:2026-08-22 23:56:01')).to.equal('2026-08-22T23:56:01.000+08:00');
    expect(parseQidianTime('2026-08-22 23:56')).to.equal('2026-08-22T23:56:00.000+08:00');
    expect(parseQidianTime('2026-8-2')).to.equal('2026-08-02T00:00:00.000+08:00');
    expect(parseQidianTime('昨天')).to.equal(null);
    expect(parseChapterCount('连载共51章')).to.equal(51);
    expect(parseChapterCount('共 1,203 章')).to.equal(1203);
    expect(parseChapterCount('目录')).to.equal(null);
  });

  const raw: RawRankItem = {
    rid: '3',
    rankTag: '3',
    bid: '1041637443',
    title: '书名',
    author: '作者',
    categories: ['都市', '异术超能'],
    subCategory: '异术超能',
    status: '连载',
    scoreText: '12.5万',
    scoreLabel: '收藏',
  };

  it('a rank item → a valid entry; obfuscated or missing score → null; broken items → null', () => {
    const e = rankEntry(raw, '收藏榜', AT)!;
    expect(e).to.deep.equal({
      ranking: '收藏榜',
      rank: 3,
      novelId: '1041637443',
      title: '书名',
      author: '作者',
      category: '都市',
      subCategory: '异术超能',
      status: 'serializing',
      score: 125000,
      scoreLabel: '收藏',
      capturedAt: AT,
    });
    expect(rankingEntrySchema.safeParse(e).success).to.equal(true);
    expect(rankEntry({ ...raw, scoreText: '\u{18822}\u{18823}' }, '推荐榜', AT)!.score).to.equal(null);
    // with the page's font read: the digits its glyphs draw
    const digits = new Map([
      [0x18822, '4'],
      [0x18823, '2'],
      [0x18824, '.'],
    ]);
    expect(rankEntry({ ...raw, scoreText: '\u{18822}\u{18823}' }, '推荐榜', AT, digits)!.score).to.equal(42);
    expect(rankEntry({ ...raw, scoreText: '\u{18822}\u{18824}\u{18823}万' }, '推荐榜', AT, digits)!.score).to.equal(42000);
    expect(rankEntry({ ...raw, scoreText: null, scoreLabel: null }, '热销榜', AT)).to.include({ score: null, scoreLabel: null });
    expect(rankEntry({ ...raw, rid: null, rankTag: '7' }, '热销榜', AT)!.rank).to.equal(7);
    expect(rankEntry({ ...raw, bid: null }, '热销榜', AT)).to.equal(null);
    expect(rankEntry({ ...raw, title: ' ' }, '热销榜', AT)).to.equal(null);
  });

  it('pagination: data-pagemax first, then the next link; an empty page ends', () => {
    const items = [raw];
    expect(rankHasNext({ items, page: 1, pageMax: 3, hasNext: false }, 1)).to.equal(true);
    expect(rankHasNext({ items, page: 3, pageMax: 3, hasNext: true }, 3)).to.equal(false);
    expect(rankHasNext({ items, page: null, pageMax: null, hasNext: true }, 5)).to.equal(true);
    expect(rankHasNext({ items: [], page: 1, pageMax: 3, hasNext: true }, 1)).to.equal(false);
  });

  const book: RawBookPage = {
    bid: '1010868264',
    title: '诡秘之主',
    author: '爱潜水的乌贼',
    attributes: ['完本', '·', '签约'],
    categories: ['玄幻', '异世大陆'],
    counts: [
      { value: '446.52', label: '万字' },
      { value: '2055.83万', label: '总推荐' },
      { value: '1.08万', label: '周推荐' },
      { value: '168.3万', label: '总收藏' },
      { value: '6233', label: '月票' },
    ],
    updateTime: '更新时间:2020-05-01 23:59:59',
    catalogDesc: '完本共1432章',
    chapterLinks: 1432,
    meta: {},
  };

  it('a book page → a valid snapshot (万字 in the label, weekly recommendations not taken for total)', () => {
    const s = novelSnapshot(book, '1010868264', AT)!;
    expect(s).to.deep.equal({
      novelId: '1010868264',
      title: '诡秘之主',
      author: '爱潜水的乌贼',
      category: '玄幻',
      wordCount: 4465200,
      chapters: 1432,
      status: 'completed',
      stats: { clicks: null, recommendations: 20558300, collections: 1683000, monthlyTickets: 6233 },
      lastUpdatedAt: '2020-05-01T23:59:59.000+08:00',
      capturedAt: AT,
    });
    expect(novelSnapshotSchema.safeParse(s).success).to.equal(true);
    // fallbacks: og:novel meta, chapter links
    const sparse = novelSnapshot(
      {
        ...book,
        author: '',
        attributes: [],
        categories: [],
        counts: [{ value: '13.33万', label: '字' }],
        updateTime: null,
        catalogDesc: null,
        chapterLinks: 51,
        meta: { status: '连载中', category: '科幻', author: '远瞳', update_time: '2026-08-22 23:56:01' },
      },
      '1010868264',
      AT,
    )!;
    expect(sparse).to.deep.include({
      author: '远瞳',
      category: '科幻',
      status: 'serializing',
      wordCount: 133300,
      chapters: 51,
      lastUpdatedAt: '2026-08-22T23:56:01.000+08:00',
    });
    expect(novelSnapshot({ ...book, title: '', meta: {} }, '1', AT)).to.equal(null);
  });

  it('page verdicts: WAF page, JS-challenge shell, captcha, login wall, missing book', () => {
    const base = { status: 200, title: '书名', html: '<html></html>', hasContent: true };
    expect(qidianPageVerdict(base).verdict).to.equal('ok');
    // logged-out markers on a normal page are not a wall
    expect(qidianPageVerdict({ ...base, html: '<div class="login-area-wrap"></div>' }).verdict).to.equal('ok');
    expect(qidianPageVerdict({ ...base, title: 'WAF拦截页面', hasContent: false })).to.include({ verdict: 'blocked' });
    expect(
      qidianPageVerdict({
        ...base,
        status: 202,
        hasContent: false,
        html: '<script>var buid = "fffffffffffffffffff"</script><script src="/C2WF946J0/probe.js?v=x"></script>',
      }),
    ).to.include({ verdict: 'captcha', reason: 'js_challenge' });
    expect(qidianPageVerdict({ ...base, hasContent: false, html: '<script src="https://turing.captcha.qcloud.com/TCaptcha.js"></script>' })).to.include({
      verdict: 'captcha',
    });
    expect(qidianPageVerdict({ ...base, hasContent: false, html: '<iframe src="https://passport.yuewen.com/login.html"></iframe>' })).to.include({
      verdict: 'login_wall',
    });
    expect(qidianPageVerdict({ ...base, status: 404, hasContent: false, html: '<h1>抱歉，页面无法访问...</h1>' })).to.include({ verdict: 'missing' });
  });
});

describe('Qidian anti-spider font', () => {
  it('reads the digits a served font draws from its glyph names, and decodes a score with them', async () => {
    const { antiSpiderFont, obfuscatedCodePoint } = await import('../../sandbox/sites/anti-spider-font.js');
    const { decodeGlyphs, glyphDigits, looksObfuscated } = await import('../../src/platforms/qidian/anti-spider-font.js');
    const digits = glyphDigits(antiSpiderFont(7));
    expect(digits.size).to.equal(11);
    const text = [...'9081.5'].map((c) => String.fromCodePoint(obfuscatedCodePoint(c, 7))).join('');
    expect(looksObfuscated(text)).to.equal(true);
    expect(looksObfuscated('13.33万')).to.equal(false);
    expect(decodeGlyphs(`${text}万`, digits)).to.equal('9081.5万');
    // another page's font shuffles the codepoints: its text means something else
    expect(decodeGlyphs(text, glyphDigits(antiSpiderFont(8)))).not.to.equal('9081.5');
    expect(glyphDigits(new Uint8Array([1, 2, 3])).size, 'not a font').to.equal(0);
  });
});
