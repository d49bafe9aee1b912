import type { Page } from 'playwright';
import { bareUrl, BlockedError, CaptchaError, LoginWallError } from '../../adapters/scrapers/errors.js';
import {
  collectedItem,
  decodeCursor,
  encodeCursor,
  joinUrl,
  pause,
  type Emit,
  type PlatformScraper,
  type ScrapeJob,
  type ScrapeResult,
} from '../../adapters/scrapers/types.js';
import type { CollectedItem } from '../../write-model/workflow-execution/events.js';
import type { XiaohongshuMessage } from './items.js';
import {
  apiVerdict,
  feedCard,
  initialStateNote,
  messageFromApi,
  noteFromDetail,
  pageVerdict,
  parseInitialState,
  searchCards,
  userPostedRefs,
  type NoteRef,
  type PageSignals,
} from './parse.js';
import { messagesConfigSchema, notesConfigSchema } from './workflow-types.js';

/**
 * Xiaohongshu in a real browser (docs/platforms.md, Xiaohongshu). The scraper opens the web
 * page a user would (search, profile, explore) — which shows a login wall or
 * a captcha the way the site does — and then calls the same web API the
 * page's own scripts call, from inside the page (its cookies, its signing
 * function `window._webmsxyw` when present). One /feed call per note gives
 * the full note; when /feed answers with no items (soft throttling) the
 * note's page and its `__INITIAL_STATE__` are read instead.
 *
 * Cursors (JSON, opaque to others):
 * - by keyword `{"v":1,"t":"kw","page":2,"skip":10,"sid":"…","n":30}` — next search page, cards of it already done, search_id, items so far
 * - by user `{"v":1,"t":"user","c":"<user_posted cursor>","skip":0,"n":30}`
 * - messages `{"v":1,"t":"msg","c":"<conversation list cursor>","skip":2,"n":2}`
 * `"done":true` marks a finished run.
 */

export interface XiaohongshuScraperOptions {
  /** XIAOHONGSHU_WEB_URL */
  webUrl: string;
  /** XIAOHONGSHU_API_URL */
  apiUrl: string;
  /** `/api/sns/web/v1/search/notes` (some report v2) */
  searchPath?: string;
  /** pause between platform requests, ms [min, max]; default [1000, 3000] */
  delayMs?: readonly [number, number];
  /** notes per batch (a batch is also emitted at the end of each listing page) */
  batchSize?: number;
  /** page navigation timeout, ms */
  navigationTimeoutMs?: number;
}

const SEARCH_PATH = '/api/sns/web/v1/search/notes';
const IMAGE_FORMATS = ['jpg', 'webp', 'avif'];

type KwCursor = { t: 'kw'; page: number; skip: number; sid: string; n: number; done?: boolean };
type UserCursor = { t: 'user'; c: string; skip: number; n: number; done?: boolean };
type MsgCursor = { t: 'msg'; c: string; skip: number; n: number; done?: boolean };

type Json = Record<string, unknown>;
const PLATFORM = 'xiaohongshu';

/** In the page: the signals pageVerdict reads. A string, so no transpiler helpers reach the browser. */
const PAGE_SIGNALS = `(() => ({
  url: location.href,
  text: (document.body && document.body.textContent || '').slice(0, 5000),
  loginButton: !!document.querySelector('.side-bar-component.login-btn'),
  loginModal: !!document.querySelector('.login-modal .login-container, .login-container'),
  userMenu: !!document.querySelector('li.user.side-bar-component'),
}))()`;

/** In the page: one API call with the page's cookies and signature. */
const API_CALL = `async ({ url, path, method, body }) => {
  const headers = { accept: 'application/json, text/plain, */*' };
  if (body) headers['content-type'] = 'application/json;charset=UTF-8';
  if (typeof window._webmsxyw === 'function') {
    try { const s = window._webmsxyw(path, body || undefined); headers['X-s'] = s['X-s']; headers['X-t'] = String(s['X-t']); } catch (e) {}
  }
  const r = await fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined, credentials: 'include' });
  const text = await r.text();
  let json = null; try { json = JSON.parse(text); } catch (e) {}
  return { status: r.status, body: json };
}`;

export function createXiaohongshuScraper(options: XiaohongshuScraperOptions): PlatformScraper {
  const delay = options.delayMs ?? [1000, 3000];
  const batchSize = options.batchSize ?? 10;
  const searchPath = options.searchPath ?? SEARCH_PATH;
  const web = (path: string) => joinUrl(options.webUrl, path);

  async function open(page: Page, url: string): Promise<void> {
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: options.navigationTimeoutMs ?? 30_000 });
    const signals = (await page.evaluate(PAGE_SIGNALS)) as PageSignals;
    const { verdict, reason } = pageVerdict(signals);
    if (verdict === 'captcha') throw new CaptchaError(PLATFORM, reason, bareUrl(signals.url));
    if (verdict === 'login_wall') throw new LoginWallError(PLATFORM, reason, bareUrl(signals.url));
  }

  /** The API's data, or null for "this item is unavailable" (-510001); throws on walls, captchas and blocks. */
  async function api(page: Page, method: 'GET' | 'POST', path: string, params: Json): Promise<Json | null> {
    await pause(delay);
    let url = joinUrl(options.apiUrl, path);
    let signPath = path;
    if (method === 'GET') {
      const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, Array.isArray(v) ? v.join(',') : String(v)])).toString();
      url += `?${query}`;
      signPath += `?${query}`;
    }
    const call = `(${API_CALL})(${JSON.stringify({ url, path: signPath, method, body: method === 'POST' ? params : null })})`;
    const { status, body } = (await page.evaluate(call)) as { status: number; body: unknown };
    const v = apiVerdict(status, body);
    if (v.ok) return v.data;
    switch (v.verdict) {
      case 'login_wall':
        throw new LoginWallError(PLATFORM, v.reason, bareUrl(url));
      case 'captcha':
        throw new CaptchaError(PLATFORM, v.reason, bareUrl(url));
      case 'blocked':
        throw new BlockedError(PLATFORM, v.reason, bareUrl(url));
      case 'rate_limited':
        throw new BlockedError(PLATFORM, v.reason, bareUrl(url), true);
      case 'unavailable':
        return null;
      default:
        throw new Error(`xiaohongshu ${bareUrl(url)} answered ${v.reason}`);
    }
  }

  /** One note in full, or null when the platform says it is unavailable. */
  async function note(page: Page, ref: NoteRef, source: string): Promise<unknown> {
    const noteUrl = web(`/explore/${ref.noteId}?xsec_token=${encodeURIComponent(ref.xsecToken)}&xsec_source=${source}`);
    const data = await api(page, 'POST', '/api/sns/web/v1/feed', {
      source_note_id: ref.noteId,
      image_formats: IMAGE_FORMATS,
      extra: { need_body_topic: '1' },
      xsec_source: source,
      xsec_token: ref.xsecToken,
    });
    if (data === null) return null;
    const card = feedCard(data);
    if (card) return noteFromDetail(card, noteUrl, ref);
    // soft throttling: the note's page still has it in __INITIAL_STATE__
    const back = page.url();
    await pause(delay);
    const response = await page.goto(noteUrl, { waitUntil: 'domcontentloaded', timeout: options.navigationTimeoutMs ?? 30_000 });
    const signals = (await page.evaluate(PAGE_SIGNALS)) as PageSignals;
    const { verdict, reason } = pageVerdict(signals);
    if (verdict === 'captcha') throw new CaptchaError(PLATFORM, reason, bareUrl(signals.url));
    if (verdict === 'login_wall') throw new LoginWallError(PLATFORM, reason, bareUrl(signals.url));
    const state = response?.ok() ? parseInitialState(await page.content()) : null;
    const found = state ? initialStateNote(state, ref.noteId) : null;
    await page.goto(back, { waitUntil: 'domcontentloaded' }).catch(() => undefined);
    return found ? noteFromDetail(found, noteUrl, ref) : null;
  }

  /**
   * Walks listing pages, following each ref with a detail call, emitting a
   * batch every `batchSize` notes and at each page end.
   */
  async function collectNotes<C extends { n: number; skip: number; done?: boolean }>(
    page: Page,
    emit: Emit,
    start: C,
    maxItems: number,
    source: string,
    listPage: (c: C) => Promise<{ refs: NoteRef[]; next: C | null }>,
  ): Promise<ScrapeResult> {
    let cursor = start;
    let itemCount = 0;
    let skipped = 0;
    let pending: CollectedItem[] = [];
    const flush = async (c: C) => {
      if (pending.length > 0) await emit({ items: pending, cursor: encodeCursor(c as C & { t: string }) });
      itemCount += pending.length;
      pending = [];
    };
    while (!cursor.done && cursor.n < maxItems) {
      const { refs, next } = await listPage(cursor);
      let position = { ...cursor };
      for (let i = cursor.skip; i < refs.length && position.n < maxItems; i++) {
        const raw = await note(page, refs[i]!, source);
        const item = raw === null ? null : collectedItem('xiaohongshu.note', raw);
        if (item) pending.push(item);
        else skipped++;
        position = { ...position, skip: i + 1, n: position.n + (item ? 1 : 0) };
        if (pending.length >= batchSize) await flush(position);
      }
      const after: C = next && position.n < maxItems ? { ...next, n: position.n } : { ...position, done: true };
      await flush(after);
      cursor = after;
    }
    return { itemCount, skipped, cursor: encodeCursor({ ...cursor, done: true } as C & { t: string }) };
  }

  async function notes(job: ScrapeJob, page: Page, emit: Emit): Promise<ScrapeResult> {
    const config = notesConfigSchema.parse(job.config);
    if (config.mode === 'keyword') {
      const start = decodeCursor<KwCursor>(job.cursor, 'kw') ?? { t: 'kw', page: 1, skip: 0, sid: searchId(), n: 0 };
      if (start.done) return { itemCount: 0, skipped: 0, cursor: encodeCursor(start) };
      await open(page, web(`/search_result?keyword=${encodeURIComponent(config.keyword)}&source=web_explore_feed`));
      return collectNotes(page, emit, start, config.maxItems, 'pc_search', async (c) => {
        const data = await api(page, 'POST', searchPath, {
          keyword: config.keyword,
          page: c.page,
          page_size: 20,
          search_id: c.sid,
          sort: config.sort ?? 'general',
          note_type: 0,
          ext_flags: [],
          image_formats: IMAGE_FORMATS,
        });
        const d = data ?? {};
        const refs = searchCards(d);
        return { refs, next: d['has_more'] === true && refs.length > 0 ? { ...c, page: c.page + 1, skip: 0 } : null };
      });
    }
    const start = decodeCursor<UserCursor>(job.cursor, 'user') ?? { t: 'user', c: '', skip: 0, n: 0 };
    if (start.done) return { itemCount: 0, skipped: 0, cursor: encodeCursor(start) };
    await open(page, web(`/user/profile/${config.userId}?xsec_source=pc_feed`));
    return collectNotes(page, emit, start, config.maxItems, 'pc_user', async (c) => {
      const data =
        (await api(page, 'GET', '/api/sns/web/v1/user_posted', {
          num: 30,
          cursor: c.c,
          user_id: config.userId,
          image_formats: IMAGE_FORMATS,
          xsec_source: 'pc_feed',
        })) ?? {};
      const refs = userPostedRefs(data);
      const nextCursor = typeof data['cursor'] === 'string' ? data['cursor'] : '';
      return { refs, next: data['has_more'] === true && refs.length > 0 && nextCursor ? { ...c, c: nextCursor, skip: 0 } : null };
    });
  }

  async function messages(job: ScrapeJob, page: Page, emit: Emit): Promise<ScrapeResult> {
    const config = messagesConfigSchema.parse(job.config);
    let cursor = decodeCursor<MsgCursor>(job.cursor, 'msg') ?? { t: 'msg', c: '', skip: 0, n: 0 };
    let itemCount = 0;
    let skipped = 0;
    if (!cursor.done) {
      await open(page, web('/explore'));
      const me = (await api(page, 'GET', '/api/sns/web/v2/user/me', {})) ?? {};
      if (me['guest'] === true || typeof me['user_id'] !== 'string')
        throw new LoginWallError(PLATFORM, 'guest_session', bareUrl(joinUrl(options.apiUrl, '/api/sns/web/v2/user/me')));
      const selfId = me['user_id'];
      while (!cursor.done && cursor.n < config.maxConversations) {
        const list = (await api(page, 'GET', '/api/sns/web/v1/im/conversations', { cursor: cursor.c, num: 20 })) ?? {};
        const conversations = (Array.isArray(list['conversations']) ? list['conversations'] : []) as Json[];
        for (let i = cursor.skip; i < conversations.length && cursor.n < config.maxConversations; i++) {
          const conv = conversations[i]!;
          const id = String(conv['conversation_id'] ?? '');
          const user = (conv['user'] ?? {}) as Json;
          const peer = { id: String(user['user_id'] ?? ''), nickname: typeof user['nickname'] === 'string' ? user['nickname'] : null };
          const items: CollectedItem[] = [];
          let mc = '';
          for (;;) {
            const data = (await api(page, 'GET', '/api/sns/web/v1/im/messages', { conversation_id: id, cursor: mc, num: 20 })) ?? {};
            for (const raw of (Array.isArray(data['messages']) ? data['messages'] : []) as Json[]) {
              const item = collectedItem('xiaohongshu.message', messageFromApi(id, raw, selfId, peer) satisfies XiaohongshuMessage);
              if (item) items.push(item);
              else skipped++;
            }
            mc = typeof data['cursor'] === 'string' ? data['cursor'] : '';
            if (data['has_more'] !== true || !mc) break;
          }
          cursor = { ...cursor, skip: i + 1, n: cursor.n + 1 };
          if (items.length > 0) await emit({ items, cursor: encodeCursor(cursor) });
          itemCount += items.length;
        }
        const next = typeof list['cursor'] === 'string' ? list['cursor'] : '';
        cursor =
          list['has_more'] === true && next && conversations.length > 0 && cursor.n < config.maxConversations
            ? { ...cursor, c: next, skip: 0 }
            : { ...cursor, done: true };
      }
    }
    return { itemCount, skipped, cursor: encodeCursor({ ...cursor, done: true }) };
  }

  return {
    async scrape(job, page, emit) {
      switch (job.type) {
        case 'xiaohongshu.notes':
          return notes(job, page, emit);
        case 'xiaohongshu.messages':
          return messages(job, page, emit);
        default:
          throw new Error(`the xiaohongshu scraper does not know ${job.type}`);
      }
    },
  };
}

/** Like the web client's search_id: base36 time + random. */
function searchId(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 12)}`.slice(0, 21);
}
