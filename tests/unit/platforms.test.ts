import { expect } from 'chai';
import {
  checkAgainstPlan,
  itemSpec,
  parseConfig,
  PLATFORM_IDS,
  PLATFORM_MODULES,
  platformModule,
  runNeeds,
  scheduleFrequency,
  workflowType,
  workflowTypeNames,
} from '../../src/platforms/registry.js';
import { plan } from '../../src/write-model/subscription/plans.js';

const USER = '5ff0e6410000000001008400';
const NOTE = '65af12cd000000002c03a1a0';
const ids = (n: number) => Array.from({ length: n }, (_, i) => String(1041637443 + i));

describe('platform registry', () => {
  it('has xiaohongshu and qidian, each billing to its own service', () => {
    expect(PLATFORM_IDS).to.deep.equal(['xiaohongshu', 'qidian']);
    for (const m of PLATFORM_MODULES) expect(m.service).to.equal(m.id);
  });

  it('names every workflow type and item kind after its platform', () => {
    expect(workflowTypeNames()).to.deep.equal(['xiaohongshu.notes', 'xiaohongshu.messages', 'qidian.rankings', 'qidian.novels', 'qidian.watchlist']);
    for (const m of PLATFORM_MODULES) {
      for (const [name, spec] of Object.entries(m.workflowTypes)) {
        expect(name.startsWith(`${m.id}.`), name).to.equal(true);
        for (const kind of spec.itemKinds) expect(Object.keys(m.itemSchemas)).to.include(kind);
      }
      for (const kind of Object.keys(m.itemSchemas)) expect(kind.startsWith(`${m.id}.`), kind).to.equal(true);
    }
  });

  it('resolves types, and nothing for unknown names', () => {
    expect(workflowType('qidian.novels')?.platform.id).to.equal('qidian');
    expect(workflowType('qidian.unknown')).to.equal(undefined);
    expect(workflowType('toString')).to.equal(undefined);
    expect(platformModule('douyin')).to.equal(undefined);
  });

  describe('credentials', () => {
    const xhs = platformModule('xiaohongshu')!.credentialsSchema;
    const qd = platformModule('qidian')!.credentialsSchema;

    it('xiaohongshu needs a cookie header with a1 and web_session', () => {
      expect(xhs.safeParse({ cookies: 'a1=18c3f; webId=ab; web_session=0400697' }).success).to.equal(true);
      expect(xhs.safeParse({ cookies: 'a1=1; web_session=2', userAgent: 'Mozilla/5.0' }).success).to.equal(true);
      expect(xhs.safeParse({ cookies: 'a1=18c3f; webId=ab' }).success).to.equal(false);
      expect(xhs.safeParse({ cookies: 'web_session=2' }).success).to.equal(false);
      expect(xhs.safeParse({}).success).to.equal(false);
      expect(xhs.safeParse({ cookies: 'a1=1; web_session=2', password: 'x' }).success).to.equal(false);
    });

    it('qidian cookies are optional', () => {
      expect(qd.safeParse({}).success).to.equal(true);
      expect(qd.safeParse({ cookies: 'w_tsfp=abc' }).success).to.equal(true);
      expect(qd.safeParse({ cookies: '' }).success).to.equal(false);
    });
  });

  describe('config schemas', () => {
    const ok = (type: string, config: unknown) => expect(parseConfig(type, config).ok, JSON.stringify(config)).to.equal(true);
    const bad = (type: string, config: unknown) => expect(parseConfig(type, config).ok, JSON.stringify(config)).to.equal(false);

    it('xiaohongshu.notes: by keyword or by user, 1..1000 items', () => {
      ok('xiaohongshu.notes', { mode: 'keyword', keyword: '露营', maxItems: 20 });
      ok('xiaohongshu.notes', { mode: 'keyword', keyword: '露营', maxItems: 1000, sort: 'time_descending' });
      ok('xiaohongshu.notes', { mode: 'user', userId: USER, maxItems: 1 });
      bad('xiaohongshu.notes', { mode: 'keyword', keyword: ' ', maxItems: 20 });
      bad('xiaohongshu.notes', { mode: 'keyword', keyword: '露营', maxItems: 0 });
      bad('xiaohongshu.notes', { mode: 'keyword', keyword: '露营', maxItems: 1001 });
      bad('xiaohongshu.notes', { mode: 'keyword', keyword: '露营', maxItems: 2.5 });
      bad('xiaohongshu.notes', { mode: 'keyword', keyword: '露营', maxItems: 20, sort: 'random' });
      bad('xiaohongshu.notes', { mode: 'keyword', userId: USER, maxItems: 20 });
      bad('xiaohongshu.notes', { mode: 'user', userId: 'not-hex', maxItems: 20 });
      bad('xiaohongshu.notes', { mode: 'user', userId: USER, maxItems: 20, sort: 'general' });
      bad('xiaohongshu.notes', { mode: 'topic', keyword: 'x', maxItems: 20 });
    });

    it('xiaohongshu.messages: maxConversations 1..500', () => {
      ok('xiaohongshu.messages', { maxConversations: 50 });
      bad('xiaohongshu.messages', { maxConversations: 0 });
      bad('xiaohongshu.messages', {});
    });

    it("qidian.rankings: the catalogue's ranking names, each once", () => {
      ok('qidian.rankings', { rankings: ['热销榜'] });
      ok('qidian.rankings', { rankings: ['热销榜', '收藏榜', '推荐榜'], maxRank: 200 });
      bad('qidian.rankings', { rankings: [] });
      bad('qidian.rankings', { rankings: ['点击榜'] });
      bad('qidian.rankings', { rankings: ['热销榜', '热销榜'] });
      bad('qidian.rankings', { rankings: ['热销榜'], maxRank: 0 });
    });

    it('qidian.novels: digit ids, non-empty, unique', () => {
      ok('qidian.novels', { novelIds: ['1041637443'] });
      bad('qidian.novels', { novelIds: [] });
      bad('qidian.novels', { novelIds: ['abc'] });
      bad('qidian.novels', { novelIds: ['1', '1'] });
    });

    it('refuses an unknown type', () => {
      bad('qidian.authors', {});
    });
  });

  describe('checkAgainstPlan', () => {
    const qFree = plan('qidian', 'free');
    const qBasic = plan('qidian', 'basic');
    const xFree = plan('xiaohongshu', 'free');
    const xBasic = plan('xiaohongshu', 'basic');

    it('qidian free allows 热销榜 and refuses 收藏榜', () => {
      expect(checkAgainstPlan('qidian.rankings', { rankings: ['热销榜'] }, qFree)).to.deep.equal([]);
      expect(checkAgainstPlan('qidian.rankings', { rankings: ['热销榜', '收藏榜'] }, qFree)).to.deep.equal([
        {
          feature: 'ranking_access',
          reason: 'ranking_not_in_plan',
          message: '起点免费版 does not include 收藏榜',
          details: { ranking: '收藏榜', allowed: ['热销榜'] },
        },
      ]);
      expect(checkAgainstPlan('qidian.rankings', { rankings: ['收藏榜', '推荐榜'] }, qBasic)).to.deep.equal([]);
      expect(checkAgainstPlan('qidian.rankings', { rankings: ['收藏榜'] }, plan('qidian', 'pro'))).to.deep.equal([]);
    });

    it('qidian free tracks 10 novels, not 11', () => {
      expect(checkAgainstPlan('qidian.novels', { novelIds: ids(10) }, qFree)).to.deep.equal([]);
      expect(checkAgainstPlan('qidian.novels', { novelIds: ids(11) }, qFree)).to.deep.equal([
        {
          feature: 'novel_tracking_limit',
          reason: 'over_limit',
          message: '11 novels; 起点免费版 tracks at most 10',
          details: { limit: 10, requested: 11 },
        },
      ]);
      expect(checkAgainstPlan('qidian.novels', { novelIds: ids(11) }, qBasic)).to.deep.equal([]);
      expect(checkAgainstPlan('qidian.novels', { novelIds: ids(1001) }, plan('qidian', 'enterprise'))).to.deep.equal([]);
    });

    it('checks a qidian schedule against data_collection_frequency', () => {
      const config = { rankings: ['热销榜'] };
      expect(checkAgainstPlan('qidian.rankings', config, qFree, { kind: 'interval', every: 'daily' })).to.deep.equal([]);
      expect(checkAgainstPlan('qidian.rankings', config, qFree, { kind: 'cron', expression: '0 * * * *' })).to.deep.equal([
        {
          feature: 'data_collection_frequency',
          reason: 'frequency_not_in_plan',
          message: '起点免费版 collects at most daily, not hourly',
          details: { allowed: 'daily', wanted: 'hourly' },
        },
      ]);
      expect(checkAgainstPlan('qidian.rankings', config, qBasic, { kind: 'interval', every: 'hourly' })).to.deep.equal([]);
    });

    it('xiaohongshu free: a run must fit in 50 API calls a day', () => {
      // 40 notes: 2 search pages + 40 details = 42 calls
      expect(checkAgainstPlan('xiaohongshu.notes', { mode: 'keyword', keyword: '露营', maxItems: 40 }, xFree)).to.deep.equal([]);
      // 60 notes: 3 + 60 = 63 calls
      expect(checkAgainstPlan('xiaohongshu.notes', { mode: 'keyword', keyword: '露营', maxItems: 60 }, xFree)).to.deep.equal([
        {
          feature: 'daily_api_calls',
          reason: 'over_limit',
          message: 'one run needs 63 API calls; 小红书免费版 allows 50 a day',
          details: { limit: 50, requested: 63 },
        },
      ]);
      expect(checkAgainstPlan('xiaohongshu.notes', { mode: 'user', userId: USER, maxItems: 1000 }, plan('xiaohongshu', 'enterprise'))).to.deep.equal([]);
    });

    it('xiaohongshu messages need private_messaging (not in free)', () => {
      expect(checkAgainstPlan('xiaohongshu.messages', { maxConversations: 10 }, xFree)).to.deep.equal([
        { feature: 'private_messaging', reason: 'not_in_plan', message: '小红书免费版 does not include private_messaging' },
      ]);
      expect(checkAgainstPlan('xiaohongshu.messages', { maxConversations: 10 }, xBasic)).to.deep.equal([]);
    });

    it('refuses a plan of another service, an invalid config and an unknown type', () => {
      expect(checkAgainstPlan('qidian.rankings', { rankings: ['热销榜'] }, xFree)[0]).to.include({ reason: 'wrong_service', feature: null });
      expect(checkAgainstPlan('qidian.rankings', { rankings: [] }, qFree)[0]).to.include({ reason: 'invalid_config', feature: null });
      expect(checkAgainstPlan('qidian.x', {}, qFree)[0]).to.include({ reason: 'unknown_type', feature: null });
    });
  });

  describe('runNeeds and schedules', () => {
    it('describes what a run needs', () => {
      expect(runNeeds('xiaohongshu.notes', { mode: 'user', userId: USER, maxItems: 45 }, plan('xiaohongshu', 'basic'))).to.deep.equal({
        feature: 'daily_api_calls',
        use: 'consume',
        amount: 47,
        limit: { kind: 'limited', limit: 500 },
        requests: 47,
        needsAccount: true,
      });
      expect(runNeeds('qidian.rankings', { rankings: ['热销榜', '收藏榜'] }, plan('qidian', 'pro'))).to.deep.equal({
        feature: 'ranking_access',
        use: 'access',
        amount: 2,
        limit: null,
        requests: 10,
        needsAccount: false,
      });
      expect(runNeeds('qidian.novels', { novelIds: ids(3) }, plan('qidian', 'enterprise'))).to.deep.equal({
        feature: 'novel_tracking_limit',
        use: 'hold',
        amount: 3,
        limit: { kind: 'unlimited' },
        requests: 3,
        needsAccount: false,
      });
      expect(runNeeds('qidian.novels', { novelIds: [] }, plan('qidian', 'free'))).to.equal(undefined);
    });

    it('reads a cron expression as a frequency', () => {
      expect(scheduleFrequency({ kind: 'cron', expression: '30 8 * * *' })).to.equal('daily');
      expect(scheduleFrequency({ kind: 'cron', expression: '0 */2 * * *' })).to.equal('hourly');
      expect(scheduleFrequency({ kind: 'cron', expression: '*/5 * * * *' })).to.equal('realtime');
      expect(scheduleFrequency({ kind: 'interval', every: 'hourly' })).to.equal('hourly');
    });

    it('gives every type a default schedule its free plan allows', () => {
      for (const name of workflowTypeNames()) {
        const resolved = workflowType(name)!;
        const freq = scheduleFrequency(resolved.spec.defaultSchedule);
        if (resolved.platform.service === 'qidian') expect(freq, name).to.equal('daily');
      }
    });
  });

  describe('item schemas', () => {
    const note = {
      noteId: NOTE,
      type: 'video',
      title: '',
      text: '正文 #法式装修[话题]#',
      author: { id: USER, nickname: '小红薯' },
      publishedAt: '2023-04-11T13:48:23.000Z',
      likes: 683,
      comments: 33,
      shares: 93,
      collects: 520,
      images: ['http://sns-webpic-qc.xhscdn.com/a.jpg'],
      tags: ['法式装修'],
      location: '上海',
      url: `https://www.xiaohongshu.com/explore/${NOTE}`,
    };

    it('xiaohongshu note: keyed by noteId; refuses string counts and bad ids', () => {
      const spec = itemSpec('xiaohongshu.note')!;
      const parsed = spec.schema.safeParse(note);
      expect(parsed.success).to.equal(true);
      expect(spec.key(parsed.data)).to.equal(NOTE);
      expect(spec.schema.safeParse({ ...note, likes: '1.5万' }).success).to.equal(false);
      expect(spec.schema.safeParse({ ...note, noteId: '123' }).success).to.equal(false);
      expect(spec.schema.safeParse({ ...note, type: 'live' }).success).to.equal(false);
      expect(spec.schema.safeParse({ ...note, publishedAt: null }).success).to.equal(true);
    });

    it('xiaohongshu message: keyed by conversation and message', () => {
      const spec = itemSpec('xiaohongshu.message')!;
      const message = {
        conversationId: 'c1',
        messageId: 'm1',
        direction: 'received',
        from: { id: USER, nickname: null },
        text: '你好',
        sentAt: '2025-03-01T10:00:00+08:00',
      };
      const parsed = spec.schema.safeParse(message);
      expect(parsed.success).to.equal(true);
      expect(spec.key(parsed.data)).to.equal('c1:m1');
      expect(spec.schema.safeParse({ ...message, direction: 'both' }).success).to.equal(false);
    });

    it('qidian ranking entry: keyed by ranking and novel; score may be missing', () => {
      const spec = itemSpec('qidian.ranking_entry')!;
      const entry = {
        ranking: '热销榜',
        rank: 1,
        novelId: '1041637443',
        title: '书名',
        author: '作者',
        category: '都市',
        subCategory: '异术超能',
        status: 'serializing',
        score: null,
        capturedAt: '2026-08-23T00:00:00+08:00',
      };
      const parsed = spec.schema.safeParse(entry);
      expect(parsed.success).to.equal(true);
      expect(spec.key(parsed.data)).to.equal('热销榜:1041637443');
      expect(spec.schema.safeParse({ ...entry, rank: 0 }).success).to.equal(false);
      expect(spec.schema.safeParse({ ...entry, ranking: '点击榜' }).success).to.equal(false);
    });

    it('qidian novel snapshot: keyed by novel id', () => {
      const spec = itemSpec('qidian.novel_snapshot')!;
      const snapshot = {
        novelId: '1041637443',
        title: '书名',
        author: '作者',
        category: '都市',
        wordCount: 133300,
        chapters: 51,
        status: 'completed',
        stats: { clicks: null, recommendations: 15400, collections: null, monthlyTickets: 320 },
        capturedAt: '2026-08-23T00:00:00+08:00',
      };
      const parsed = spec.schema.safeParse(snapshot);
      expect(parsed.success).to.equal(true);
      expect(spec.key(parsed.data)).to.equal('1041637443');
      expect(spec.schema.safeParse({ ...snapshot, status: '连载' }).success).to.equal(false);
      expect(spec.schema.safeParse({ ...snapshot, wordCount: -1 }).success).to.equal(false);
    });
  });
});
