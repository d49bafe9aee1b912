import { expect } from 'chai';
import { compileRuleSet, evaluate, ruleApplies, TAG_SEPARATOR, type ReviewSubject } from '../../src/application/review/engine.js';
import { normalizePhrase, normalizeText, originalRange } from '../../src/application/review/normalize.js';
import { findContacts, findLinks, hostAllowed } from '../../src/application/review/patterns.js';
import type { ReviewRule } from '../../src/write-model/review-rules/events.js';

const base = { platforms: [], regions: [], params: {}, enabled: true, category: null, phrases: [] } as const;
const rule = (r: Partial<ReviewRule> & Pick<ReviewRule, 'ruleId' | 'kind'>): ReviewRule => ({ ...base, name: r.ruleId, ...r }) as ReviewRule;

const subject = (s: Partial<ReviewSubject>): ReviewSubject => ({
  platform: 'xiaohongshu',
  region: 'CN',
  title: '',
  summary: null,
  body: '',
  tags: [],
  imageCount: 0,
  ...s,
});

/** Every normalized match mapped back must be the text the original holds there. */
function mapped(original: string, needle: string): string[] {
  const n = normalizeText(original);
  const out: string[] = [];
  for (let at = n.text.indexOf(needle); at >= 0; at = n.text.indexOf(needle, at + 1)) {
    const r = originalRange(n, at, at + needle.length);
    out.push(original.slice(r.start, r.end));
  }
  return out;
}

describe('pre-review: text normalization', () => {
  it('folds NFKC forms, case and full-width characters', () => {
    expect(normalizeText('ＦＲＥＥ　Ｍｏｎｅｙ１２３').text).to.equal('free money123');
    expect(normalizeText('ﬁne ① ㍿').text).to.equal('fine 1 株式会社');
    expect(normalizeText('微信：ABC').text).to.equal('微信:abc');
  });

  it('drops zero-width and bidi characters', () => {
    expect(normalizeText('加\u200b微\u200d信\ufeff\u00ad!').text).to.equal('加微信!');
    expect(normalizeText('\u202eabc\u202c').text).to.equal('abc');
  });

  it('composes combining marks with their base', () => {
    expect(normalizeText('Cafe\u0301').text).to.equal('café');
    expect(normalizePhrase('CAFÉ')).to.equal('café');
  });

  it('maps matches back to the text as written', () => {
    expect(mapped('请加微信！', '加微信')).to.deep.equal(['加微信']);
    expect(mapped('请加\u200b微\u200b信!', '加微信')).to.deep.equal(['加\u200b微\u200b信']);
    expect(mapped('ＦＲＥＥ money and Free Money', 'free money')).to.deep.equal(['ＦＲＥＥ money', 'Free Money']);
    expect(mapped('x ﬁne cafe\u0301 ok', 'café')).to.deep.equal(['cafe\u0301']);
    expect(mapped('😀😀赌博😀', '赌博')).to.deep.equal(['赌博']);
    expect(mapped('㍿ then 株式', '株式')).to.deep.equal(['㍿', '株式']);
  });

  it('leaves an empty text empty', () => {
    const n = normalizeText('');
    expect(n.text).to.equal('');
    expect(originalRange(n, 0, 0)).to.deep.equal({ start: 0, end: 0 });
  });
});

describe('pre-review: contact details and links', () => {
  const types = (text: string) => findContacts(normalizeText(text).text).map((c) => `${c.type}:${c.match}`);

  it('finds mainland mobile numbers, landlines, service numbers, emails, QQ and WeChat ids', () => {
    expect(types('电话13812345678，或 +86 139-1234-5678')).to.deep.equal(['mobile:13812345678', 'mobile:+86 139-1234-5678']);
    expect(types('座机 010-62345678 或 (0755)12345678，客服 400-123-4567')).to.deep.equal([
      'landline:010-62345678',
      'landline:(0755)12345678',
      'landline:400-123-4567',
    ]);
    expect(types('mail: Someone.Else@Example.co')).to.deep.equal(['email:someone.else@example.co']);
    expect(types('QQ：12345678')).to.deep.equal(['qq:qq:12345678']);
    expect(types('加VX: abc_123456 或 微信号 wxid-88888')).to.deep.equal(['wechat:vx: abc_123456', 'wechat:微信号 wxid-88888']);
  });

  it('ignores numbers that are no phone numbers', () => {
    expect(types('价格 12345 元，2026 年，订单 123456789012345')).to.deep.equal([]);
  });

  it('finds URLs and bare domains, and not the domain of an email', () => {
    const links = (text: string) => findLinks(normalizeText(text).text).map((l) => `${l.host} ${l.match}`);
    expect(links('看 https://shop.example.com/item?id=1 和 www.taobao.com，还有 abc.cn/x')).to.deep.equal([
      'shop.example.com https://shop.example.com/item?id=1',
      'www.taobao.com www.taobao.com',
      'abc.cn abc.cn/x',
    ]);
    expect(links('version 1.2.3, file.txt, me@mail.com')).to.deep.equal([]);
  });

  it('allows a domain and its subdomains', () => {
    expect(hostAllowed('xiaohongshu.com', ['xiaohongshu.com'])).to.equal(true);
    expect(hostAllowed('www.xiaohongshu.com', ['xiaohongshu.com'])).to.equal(true);
    expect(hostAllowed('notxiaohongshu.com', ['xiaohongshu.com'])).to.equal(false);
  });
});

describe('pre-review: the engine', () => {
  const rules: ReviewRule[] = [
    rule({ ruleId: 'ads', kind: 'banned_phrase', phrases: ['加微信', 'FREE MONEY'] }),
    rule({ ruleId: 'gamble', kind: 'red_line', phrases: ['赌博', '网络赌博'], category: 'gambling' }),
    rule({ ruleId: 'off', kind: 'banned_phrase', phrases: ['露营'], enabled: false }),
    rule({ ruleId: 'douyin-only', kind: 'banned_phrase', phrases: ['小红书'], platforms: ['douyin'] }),
    rule({ ruleId: 'hk-only', kind: 'banned_phrase', phrases: ['茶'], regions: ['HK'] }),
    rule({ ruleId: 'contact', kind: 'contact', params: { contactTypes: ['mobile', 'wechat'] } }),
    rule({ ruleId: 'links', kind: 'link', params: { allowedDomains: ['xiaohongshu.com'] } }),
    rule({ ruleId: 'short', kind: 'length', params: { field: 'body', min: 10, max: 40 } }),
    rule({ ruleId: 'summary', kind: 'length', params: { field: 'summary', min: 5 } }),
    rule({ ruleId: 'images', kind: 'image', params: { min: 1, max: 9 } }),
  ];
  const compiled = compileRuleSet(rules);

  it('compiles the enabled rules only', () => {
    expect(compiled.rules.map((r) => r.ruleId)).to.not.include('off');
    expect(compiled.phraseCount).to.equal(6);
  });

  it('passes clean content', () => {
    const hits = evaluate([compiled], subject({ title: '秋天的露营', summary: '一次周末出行', body: '我们在山里喝茶、看星星，很开心。', imageCount: 3 }));
    expect(hits).to.deep.equal([]);
  });

  it('finds phrases with their place in every field, overlapping ones included', () => {
    const body = '这里有网络赌博，加\u200b微信 Free Money!';
    const hits = evaluate([compiled], subject({ title: '赌博', summary: '夏天 free  money', body, tags: ['露营', '加微信'], imageCount: 1 }));
    const seen = hits.map((h) => `${h.field}:${h.ruleId}:${h.match}`);
    expect(seen).to.deep.equal([
      'title:gamble:赌博',
      'body:gamble:网络赌博',
      'body:gamble:赌博',
      'body:ads:加\u200b微信',
      'body:ads:Free Money',
      'tags:ads:加微信',
    ]);
    const gamble = hits.find((h) => h.field === 'body' && h.match === '网络赌博')!;
    expect(body.slice(gamble.start, gamble.end)).to.equal('网络赌博');
    expect(gamble.category).to.equal('gambling');
    expect(gamble.kind).to.equal('red_line');
    const tag = hits.find((h) => h.field === 'tags')!;
    expect(['露营', '加微信'].join(TAG_SEPARATOR).slice(tag.start, tag.end)).to.equal('加微信');
  });

  it('applies rules by platform and region', () => {
    const text = subject({ summary: '小红书上的茶', body: '小红书上的茶，很好喝的一杯茶。', imageCount: 1 });
    expect(evaluate([compiled], text).map((h) => h.ruleId)).to.deep.equal([]);
    expect(evaluate([compiled], { ...text, platform: 'douyin', region: 'HK' }).map((h) => `${h.field}:${h.ruleId}`)).to.deep.equal([
      'summary:douyin-only',
      'summary:hk-only',
      'body:douyin-only',
      'body:hk-only',
      'body:hk-only',
    ]);
    expect(ruleApplies(rules[4]!, 'xiaohongshu', null)).to.equal(false);
    expect(ruleApplies(rules[0]!, 'xiaohongshu', null)).to.equal(true);
  });

  it('finds the contact types the rule names and links outside the allowed domains', () => {
    const body = '电话 13812345678，邮箱 a@b.com，微信 wxid_abcdef，详见 https://www.xiaohongshu.com/x 和 evil.top';
    const hits = evaluate([compiled], subject({ summary: '联系方式都在这里', body, imageCount: 1 }));
    expect(hits.map((h) => `${h.ruleId}:${h.match}`)).to.deep.equal([
      `short:${body.length} characters, at most 40`,
      'contact:13812345678',
      'contact:微信 wxid_abcdef',
      'links:evil.top',
    ]);
    for (const h of hits.filter((h) => h.ruleId !== 'short')) expect(body.slice(h.start, h.end)).to.equal(h.match);
  });

  it('checks lengths (a missing summary is empty) and the image count', () => {
    const hits = evaluate([compiled], subject({ body: '太短', imageCount: 12 }));
    expect(hits.map((h) => `${h.field}:${h.ruleId}:${h.match}:${h.start}-${h.end}`)).to.deep.equal([
      'summary:summary:0 characters, at least 5:0-0',
      'body:images:12 images, at most 9:0-0',
      'body:short:2 characters, at least 10:0-2',
    ]);
  });

  it('counts characters, not UTF-16 units', () => {
    const hits = evaluate([compileRuleSet([rule({ ruleId: 'max', kind: 'length', params: { field: 'title', max: 3 } })])], subject({ title: '😀😀😀' }));
    expect(hits).to.deep.equal([]);
  });

  it('applies several sets (the platform and a tenant) together', () => {
    const tenant = compileRuleSet([rule({ ruleId: 'tenant', kind: 'banned_phrase', phrases: ['竞品'] })]);
    const hits = evaluate([compiled, tenant], subject({ summary: '对比竞品的结果', body: '我们对比了竞品和加微信的方式，结果如下。', imageCount: 2 }));
    expect(hits.map((h) => `${h.field}:${h.ruleId}`)).to.deep.equal(['summary:tenant', 'body:tenant', 'body:ads']);
  });

  it('scans a 10,000-phrase set', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `词${i}号`);
    const big = compileRuleSet([rule({ ruleId: 'big', kind: 'banned_phrase', phrases: many })]);
    const hits = evaluate([big], subject({ body: `正文里有词9999号，也有词12号和词123。` }));
    expect(hits.map((h) => h.match)).to.deep.equal(['词9999号', '词12号']);
  });
});
