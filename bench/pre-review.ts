/**
 * Pre-review benchmark: `npm run bench:pre-review [-- --json]` (or
 * `tsx bench/pre-review.ts`). Progress goes to stderr, the tables (or JSON)
 * to stdout.
 *
 * The automatic pre-review's engine (src/application/review/engine.ts) on one
 * core: a platform rule set of 10,000 phrases (Chinese and English, in ten
 * banned-phrase and red-line rules) plus contact, link, length and image rules,
 * compiled once as the pre-review keeps it per revision, then realistic
 * 2,000-character articles (Chinese prose with punctuation, English words,
 * numbers; about one in four with a phone number, a WeChat id, a link or a
 * banned phrase) checked one after another: title, summary, body and tags
 * normalized (NFKC, lower case, invisible characters dropped) and matched.
 * What the pre-review adds per call beyond this is one indexed read of each
 * rule set's last revision.
 *
 * The figure is articles per second of the process's CPU time (user +
 * system): one core's worth, whatever else the machine runs; the wall-clock
 * rate is shown beside it. Target: ≥ 5,000 articles/s.
 *
 * Env: BENCH_ARTICLES (articles checked, default 20000), BENCH_PHRASES
 * (default 10000), BENCH_ARTICLE_CHARS (default 2000).
 */
import { fileURLToPath } from 'node:url';
import { compileRuleSet, evaluate, type ReviewSubject } from '../src/application/review/engine.js';
import type { ReviewRule } from '../src/write-model/review-rules/events.js';
import { envNumber } from './lib/env.js';
import { fmtRate, renderTable } from './lib/table.js';
import { progress } from './lib/timing.js';

export const TARGET_ARTICLES_PER_SECOND = 5_000;

export interface PreReviewBenchResult {
  /** articles per second of CPU time (one core) */
  articlesPerSecond: number;
  /** articles per second of wall-clock time */
  wallArticlesPerSecond: number;
  articles: number;
  averageChars: number;
  phrases: number;
  rules: number;
  compileMs: number;
  hitsPerArticle: number;
  /** share of articles with at least one hit */
  flaggedShare: number;
  target: { wanted: string; met: boolean };
}

const COMMON =
  '的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严';
const WORDS = (
  'the and for with this that from your have more will about review product price quality shipping great love best new free sale ' +
  'travel coffee skincare makeup outfit recipe camping hiking photo video tips guide daily life style home design'
).split(' ');
const PUNCT = ['，', '。', '！', '？', '、', '：', '“', '”', '（', '）', ' ', '\n'];

/** A small deterministic generator (the same articles every run). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function pick<T>(rnd: () => number, list: ArrayLike<T>): T {
  return list[Math.floor(rnd() * list.length)]!;
}

function phraseList(count: number, rnd: () => number): string[] {
  const phrases = new Set<string>();
  while (phrases.size < count) {
    if (rnd() < 0.8) {
      const n = 3 + Math.floor(rnd() * 3);
      let p = '';
      for (let i = 0; i < n; i++) p += pick(rnd, COMMON);
      phrases.add(p);
    } else {
      phrases.add(`${pick(rnd, WORDS)} ${pick(rnd, WORDS)} ${pick(rnd, WORDS)}`);
    }
  }
  return [...phrases];
}

export function benchRules(phraseCount: number, rnd: () => number): ReviewRule[] {
  const phrases = phraseList(phraseCount, rnd);
  const per = Math.ceil(phrases.length / 10);
  const base = { platforms: [], regions: [], params: {}, enabled: true };
  const rules: ReviewRule[] = [];
  for (let i = 0; i < 10; i++) {
    const slice = phrases.slice(i * per, (i + 1) * per);
    rules.push(
      i < 5
        ? { ...base, ruleId: `phrases-${i}`, kind: 'banned_phrase', name: `banned ${i}`, phrases: slice, category: null }
        : { ...base, ruleId: `red-line-${i}`, kind: 'red_line', name: `red line ${i}`, phrases: slice, category: 'fraud' },
    );
  }
  rules.push(
    { ...base, ruleId: 'contact', kind: 'contact', name: 'contact details', phrases: [], category: null, params: { contactTypes: [] } },
    { ...base, ruleId: 'link', kind: 'link', name: 'outside links', phrases: [], category: null, params: { allowedDomains: ['xiaohongshu.com'] } },
    { ...base, ruleId: 'length', kind: 'length', name: 'body length', phrases: [], category: null, params: { field: 'body', min: 50, max: 20_000 } },
    { ...base, ruleId: 'images', kind: 'image', name: 'images', phrases: [], category: null, params: { min: null, max: 18 } },
  );
  return rules;
}

export function benchArticle(chars: number, rnd: () => number, phrases: readonly string[]): ReviewSubject {
  let body = '';
  while (body.length < chars) {
    const r = rnd();
    if (r < 0.72) body += pick(rnd, COMMON);
    else if (r < 0.86) body += pick(rnd, PUNCT);
    else if (r < 0.96) body += ` ${rnd() < 0.1 ? pick(rnd, WORDS).toUpperCase() : pick(rnd, WORDS)} `;
    else if (r < 0.9996) body += String(Math.floor(rnd() * 10_000));
    else {
      const extra = rnd();
      body +=
        extra < 0.25
          ? ` 加微信 wx_${Math.floor(rnd() * 1e8)} `
          : extra < 0.5
            ? ` 电话 138${String(Math.floor(rnd() * 1e8)).padStart(8, '0')} `
            : extra < 0.75
              ? ' 详见 https://example.com/a?b=1 '
              : pick(rnd, phrases);
    }
  }
  return {
    platform: 'xiaohongshu',
    region: 'CN',
    title: `${pick(rnd, COMMON)}${pick(rnd, COMMON)}${pick(rnd, COMMON)}${pick(rnd, COMMON)} ${pick(rnd, WORDS)} 分享`,
    summary: body.slice(0, 60),
    body: body.slice(0, chars),
    tags: [pick(rnd, WORDS), `${pick(rnd, COMMON)}${pick(rnd, COMMON)}`, pick(rnd, WORDS)],
    imageCount: Math.floor(rnd() * 12),
  };
}

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

export async function benchPreReview(
  options: { articles?: number; phrases?: number; articleChars?: number; log?: (message: string) => void } = {},
): Promise<PreReviewBenchResult> {
  const count = options.articles ?? 20_000;
  const phraseCount = options.phrases ?? 10_000;
  const chars = options.articleChars ?? 2_000;
  const log = options.log ?? (() => {});
  const rnd = random(20261209);
  const rules = benchRules(phraseCount, rnd);
  const phrases = rules.flatMap((r) => r.phrases);
  log(`compiling ${phrases.length.toLocaleString('en-US')} phrases in ${rules.length} rules`);
  const compileStart = performance.now();
  const compiled = compileRuleSet(rules);
  const compileMs = performance.now() - compileStart;
  log(`generating ${count.toLocaleString('en-US')} articles of ${chars} characters`);
  // a pool of distinct articles, cycled: generating them is not what is measured
  const pool = Array.from({ length: Math.min(count, 2_000) }, () => benchArticle(chars, rnd, phrases));
  // warm-up: the JIT and the normalizer's tables
  for (const subject of pool.slice(0, 200)) evaluate([compiled], subject);
  log('checking');
  let hits = 0;
  let flagged = 0;
  const wallStart = performance.now();
  const cpuStart = cpuMs();
  for (let i = 0; i < count; i++) {
    const found = evaluate([compiled], pool[i % pool.length]!);
    hits += found.length;
    if (found.length > 0) flagged++;
  }
  const cpu = cpuMs() - cpuStart;
  const wall = performance.now() - wallStart;
  const articlesPerSecond = count / (cpu / 1000);
  const averageChars = pool.reduce((n, s) => n + s.title.length + (s.summary?.length ?? 0) + s.body.length + s.tags.join('\n').length, 0) / pool.length;
  return {
    articlesPerSecond,
    wallArticlesPerSecond: count / (wall / 1000),
    articles: count,
    averageChars,
    phrases: compiled.phraseCount,
    rules: rules.length,
    compileMs,
    hitsPerArticle: hits / count,
    flaggedShare: flagged / count,
    target: {
      wanted: `>= ${TARGET_ARTICLES_PER_SECOND} articles/s on one core (${chars}-character articles, ${phraseCount}-phrase rule set)`,
      met: articlesPerSecond >= TARGET_ARTICLES_PER_SECOND,
    },
  };
}

/** The result as the tables the benches print: the figures, then the target met (yes/NO). */
export function printPreReview(result: PreReviewBenchResult): void {
  console.log(
    `\nPre-review engine: ${fmtRate(result.articles)} articles of ~${fmtRate(result.averageChars)} characters (title, summary, body, tags) ` +
      `against ${fmtRate(result.phrases)} phrases in ${result.rules} rules (compiled in ${fmtRate(result.compileMs)} ms):\n`,
  );
  console.log(
    renderTable(
      ['figure', 'value'],
      [
        ['articles/s (CPU time, one core)', fmtRate(result.articlesPerSecond)],
        ['articles/s (wall clock)', fmtRate(result.wallArticlesPerSecond)],
        ['hits per article', result.hitsPerArticle.toFixed(2)],
        ['articles flagged', `${(result.flaggedShare * 100).toFixed(1)}%`],
      ],
    ),
  );
  console.log('');
  console.log(
    renderTable(
      ['target', 'wanted', 'got', 'met'],
      [
        [
          `articles/s, ${fmtRate(result.averageChars)}-character articles, ${fmtRate(result.phrases)} phrases`,
          `≥ ${fmtRate(TARGET_ARTICLES_PER_SECOND)}`,
          fmtRate(result.articlesPerSecond),
          result.target.met ? 'yes' : 'NO',
        ],
      ],
    ),
  );
}

async function main(): Promise<void> {
  const result = await benchPreReview({
    articles: Math.round(envNumber('BENCH_ARTICLES', 20_000, { integer: true })),
    phrases: Math.round(envNumber('BENCH_PHRASES', 10_000, { integer: true })),
    articleChars: Math.round(envNumber('BENCH_ARTICLE_CHARS', 2_000, { integer: true })),
    log: progress,
  });
  if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
  else printPreReview(result);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
