import type { Page, Response } from 'playwright';
import type { BrowserPool, ContextOptions, ContextProxy } from '../../adapters/scrapers/browser-pool.js';
import { bareUrl, BlockedError, CaptchaError, ScraperError } from '../../adapters/scrapers/errors.js';
import { joinUrl, pause } from '../../adapters/scrapers/types.js';
import { cookiesFromHeader, DEFAULT_USER_AGENT } from '../../worker/scrape-job.js';
import {
  type PostContent,
  type PostImage,
  type PostMetrics,
  type PublishedPost,
  PublishAuthError,
  type Publisher,
  PublishRefusedError,
  type PublishTarget,
  TransientPublishError,
} from '../publishing/port.js';
import { markdownToNoteText, noteLength, noteTopics } from './note-text.js';
import { apiVerdict, initialStateNote, noteFromDetail, pageVerdict, parseCount, parseInitialState, parseXhsDate, type PageSignals } from './parse.js';

/**
 * Publishes image notes to Xiaohongshu through its creator center
 * (creator.xiaohongshu.com) in a real browser, as the account: the platform
 * has no publishing API for ordinary accounts (docs/platforms.md,
 * Xiaohongshu: creator center). Every call runs in a fresh context of the
 * shared browser pool with the account's cookies, user agent and the leased
 * proxy, and drives the pages a person would:
 *
 * - publish: "发布笔记" → the 上传图文 tab → the images through the file
 *   input (from their bytes) → title, body (the Markdown as plain text) and
 *   topics (typed `#name`, picked from the suggestions) → 发布; the note
 *   id comes from the answer of the page's own note call when it can still
 *   be read, else from the page it goes to (`noteId=`), else from the note
 *   manager by title and time; the note manager gives its link and time;
 * - findExisting: the note manager ("笔记管理", newest first): a note with
 *   the same title published since `after` (less a few minutes: the list
 *   shows minutes, and clocks differ); the platform keeps no client token;
 * - unpublish: the note's 删除 in the note manager, confirmed; a note no
 *   longer listed is taken as already gone;
 * - metrics: views from the note manager's card, likes, comments, collects
 *   and shares from the note's page on www (its `__INITIAL_STATE__`, read
 *   with the scraper's parsers), the card's counts when the page has none.
 *
 * Limits are checked before any browser opens: PublishRefusedError
 * `no_images`, `too_many_images` (over 18), `unsupported_image` (JPEG, PNG
 * and WebP only), `title_too_long` (over 20 characters), `body_too_long`
 * (over 1,000 with the topics). The page's own refusals map the same way.
 *
 * Errors: the login page or a login answer (-100/-101/-104) is
 * PublishAuthError; a captcha (redirect, 461/471) is CaptchaError and a
 * block (300012/300015; 300013 rate-limited) BlockedError — the scrapers'
 * errors, so the job bans or rests the proxy as for scrapes; timeouts, 5xx
 * and anything unexpected are TransientPublishError. Watching every JSON
 * answer the pages receive is how a block seen by the page's own calls
 * surfaces while the publisher waits for an element.
 */

export interface XiaohongshuPublisherDeps {
  pool: BrowserPool;
  /** XIAOHONGSHU_CREATOR_URL */
  creatorUrl: string;
  /** XIAOHONGSHU_WEB_URL (note pages) */
  webUrl: string;
  /** XIAOHONGSHU_API_URL (its cookies too) */
  apiUrl: string;
  /** pause between page steps, ms [min, max]; default [500, 1500] */
  delayMs?: readonly [number, number];
  /** navigation and element waits, ms; default 30 s */
  timeoutMs?: number;
  /** how long the images may take to upload, ms; default 60 s */
  uploadTimeoutMs?: number;
  /** further context options (tests: allowHosts) */
  context?: Partial<Omit<ContextOptions, 'proxy' | 'cookies' | 'userAgent'>>;
}

export const XIAOHONGSHU_TITLE_MAX = 20;
export const XIAOHONGSHU_BODY_MAX = 1000;
export const XIAOHONGSHU_MAX_IMAGES = 18;
/** topics beyond these are left out (the page takes about ten) */
export const XIAOHONGSHU_MAX_TOPICS = 10;

const PLATFORM = 'xiaohongshu';
const PUBLISH_PAGE = '/publish/publish?source=official';
const MANAGER_PAGE = '/new/note-manager';
const CREATE_NOTE = /\/web_api\/sns\/v2\/note$/;
const DELETE_NOTE = /\/note\/delete$/;
const IMAGE_TYPES: Record<string, string> = { 'image/jpeg': 'jpg', 'image/jpg': 'jpg', 'image/png': 'png', 'image/webp': 'webp' };
/** the note manager shows minutes, clocks differ: a note this much older than `after` still counts */
const LIST_SLACK_MS = 5 * 60_000;
/** note manager pages (ten notes each) read at most */
const MAX_LIST_PAGES = 20;
const REFUSALS: Record<number, string> = {
  [-9131]: 'title_too_long',
  [-9132]: 'body_too_long',
  [-9133]: 'no_images',
  [-9134]: 'rejected',
  [-9135]: 'unsupported_image',
};

type Json = Record<string, unknown>;

/** What is typed into the publish page. */
export interface XiaohongshuNoteDraft {
  title: string;
  /** the body as plain text (lines kept) */
  text: string;
  topics: string[];
  images: readonly PostImage[];
}

/** The content as the note the creator page takes, or PublishRefusedError for what it would refuse. */
export function prepareXiaohongshuNote(content: PostContent): XiaohongshuNoteDraft {
  const title = content.title.trim();
  const text = markdownToNoteText(content.body);
  const topics = noteTopics(content.tags).slice(0, XIAOHONGSHU_MAX_TOPICS);
  if (content.images.length === 0) throw new PublishRefusedError('a Xiaohongshu note needs at least one image', 'no_images');
  if (content.images.length > XIAOHONGSHU_MAX_IMAGES)
    throw new PublishRefusedError(`a Xiaohongshu note takes at most ${XIAOHONGSHU_MAX_IMAGES} images (${content.images.length} given)`, 'too_many_images');
  const odd = content.images.find((img) => !IMAGE_TYPES[img.contentType.toLowerCase()]);
  if (odd) throw new PublishRefusedError(`Xiaohongshu takes JPEG, PNG and WebP images, not ${odd.contentType}`, 'unsupported_image');
  if (noteLength(title) > XIAOHONGSHU_TITLE_MAX)
    throw new PublishRefusedError(`the title has ${noteLength(title)} characters, Xiaohongshu takes ${XIAOHONGSHU_TITLE_MAX}`, 'title_too_long');
  const length = bodyLength(text, topics);
  if (length > XIAOHONGSHU_BODY_MAX)
    throw new PublishRefusedError(`the body has ${length} characters with its topics, Xiaohongshu takes ${XIAOHONGSHU_BODY_MAX}`, 'body_too_long');
  return { title, text, topics, images: content.images };
}

/** As the page counts it: the text, a line break, then `#topic ` for each topic. */
function bodyLength(text: string, topics: readonly string[]): number {
  return noteLength(text) + (topics.length > 0 && text !== '' ? 1 : 0) + topics.reduce((n, t) => n + noteLength(t) + 2, 0);
}

/** One note as the note manager lists it. */
interface ListedNote {
  noteId: string;
  title: string;
  time: string | null;
  status: string | null;
  url: string | null;
  views: string | null;
  likes: string | null;
  comments: string | null;
  collects: string | null;
  shares: string | null;
}

/** In the page: the signals pageVerdict reads, for the creator center's login page. */
const CREATOR_SIGNALS = `(() => ({
  url: location.href,
  text: (document.body && document.body.textContent || '').slice(0, 5000),
  loginButton: false,
  loginModal: /\\/login$/.test(location.pathname) || !!document.querySelector('.login-box-container, .login-box input[placeholder="手机号"]'),
  userMenu: !!document.querySelector('.user-info:not([hidden])'),
}))()`;

/** In the page: the signals of a www page (as the scraper's). */
const WEB_SIGNALS = `(() => ({
  url: location.href,
  text: (document.body && document.body.textContent || '').slice(0, 5000),
  loginButton: !!document.querySelector('.side-bar-component.login-btn'),
  loginModal: !!document.querySelector('.login-modal .login-container, .login-container'),
  userMenu: !!document.querySelector('li.user.side-bar-component'),
}))()`;

const APP_STATE = `(() => {
  const error = document.querySelector('.error-page');
  return { error: error ? error.textContent.trim().slice(0, 200) : null };
})()`;

const UPLOAD_STATE = `(() => {
  const error = document.querySelector('.upload-error:not([hidden])');
  return { previews: document.querySelectorAll('.img-preview-area .pr').length, error: error ? error.textContent.trim().slice(0, 200) : null };
})()`;

const LIST_STATE = `(() => {
  const error = document.querySelector('.error-page');
  return {
    cards: document.querySelectorAll('div.note').length,
    end: !!document.querySelector('.list-end:not([hidden])'),
    error: error ? error.textContent.trim().slice(0, 200) : null,
  };
})()`;

const LIST_CARDS = `(() => Array.from(document.querySelectorAll('div.note')).map((el) => {
  let id = el.getAttribute('data-note-id') || el.getAttribute('data-id') || '';
  if (!id) { const m = /noteId":"([^"]+)"/.exec(el.getAttribute('data-impression') || ''); id = m ? m[1] : ''; }
  const text = (sel) => { const n = el.querySelector(sel); return n ? n.textContent.trim() : null; };
  const count = (kind) => text('.icon_list [data-kind="' + kind + '"]');
  const link = el.querySelector('a.data-view[href], a[href*="/explore/"]');
  return {
    noteId: id, title: text('.title') || '', time: text('.time'), status: text('.note-status'), url: link ? link.href : null,
    views: count('view'), likes: count('like'), comments: count('comment'), collects: count('collect'), shares: count('share'),
  };
}))()`;

const SCROLL_DOWN = `(() => { window.scrollTo(0, document.body.scrollHeight); window.dispatchEvent(new Event('scroll')); })()`;

/** What the page's own calls answered that stops everything (login, captcha, block), as it happens. */
interface Watch {
  error(): Error | null;
  /** rejects with the first such answer */
  failed: Promise<never>;
}

/** The error an API answer stands for, when it is a login wall, captcha or block; null otherwise. */
function verdictError(status: number, body: unknown, url: string): Error | null {
  const v = apiVerdict(status, body);
  if (v.ok) return null;
  switch (v.verdict) {
    case 'login_wall':
      return new PublishAuthError(`xiaohongshu ${bareUrl(url)} answered ${v.reason}: the account is not logged in`);
    case 'captcha':
      return new CaptchaError(PLATFORM, v.reason, bareUrl(url));
    case 'blocked':
      return new BlockedError(PLATFORM, v.reason, bareUrl(url));
    case 'rate_limited':
      return new BlockedError(PLATFORM, v.reason, bareUrl(url), true);
    default:
      return null;
  }
}

function watchAnswers(page: Page): Watch {
  let seen: Error | null = null;
  let reject: (error: Error) => void = () => undefined;
  const failed = new Promise<never>((_, r) => {
    reject = r;
  });
  failed.catch(() => undefined);
  page.on('response', (response) => {
    const type = response.request().resourceType();
    if (type !== 'fetch' && type !== 'xhr') return;
    void response
      .json()
      .catch(() => null)
      .then((body: unknown) => {
        const error = verdictError(response.status(), body, response.url());
        if (error && !seen) {
          seen = error;
          reject(error);
        }
      });
  });
  return { error: () => seen, failed };
}

/** `p`, unless the page's calls hit a wall first. */
function guarded<T>(watch: Watch, p: Promise<T>): Promise<T> {
  return Promise.race([p, watch.failed]);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const count = (v: string | null): number | null => (v === null ? null : parseCount(v));

function message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split('\n')[0] ?? '').slice(0, 300);
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** `http://user:pass@host:port` → the context's proxy. */
function contextProxy(proxyUrl: string, loopback: boolean): ContextProxy {
  const u = new URL(proxyUrl);
  return {
    server: `${u.protocol}//${u.host}`,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(loopback ? { bypass: '<-loopback>' } : {}),
  };
}

/** The creation time a Xiaohongshu note id starts with (seconds, hex, like an ObjectId), or null. */
function idTime(noteId: string): number | null {
  if (!/^[0-9a-f]{24}$/.test(noteId)) return null;
  const ms = Number.parseInt(noteId.slice(0, 8), 16) * 1000;
  return ms > Date.UTC(2013, 0, 1) && ms < Date.now() + 86_400_000 ? ms : null;
}

type Match = { id: string } | { title: string; after: number };

export function xiaohongshuPublisher(deps: XiaohongshuPublisherDeps): Publisher {
  const delay = deps.delayMs ?? [500, 1500];
  const timeout = deps.timeoutMs ?? 30_000;
  const uploadTimeout = deps.uploadTimeoutMs ?? 60_000;
  const urls = [deps.creatorUrl, deps.webUrl, deps.apiUrl];
  const creator = (path: string) => joinUrl(deps.creatorUrl, path);

  function contextOptions(target: PublishTarget): ContextOptions {
    const credentials = target.credentials;
    if (credentials.kind !== 'cookies') throw new PublishAuthError('xiaohongshu publishes through the creator page: the account needs its cookies');
    return {
      locale: 'zh-CN',
      timeoutMs: timeout,
      blockResourceTypes: ['image', 'media', 'font'],
      ...deps.context,
      userAgent: credentials.userAgent ?? DEFAULT_USER_AGENT,
      cookies: cookiesFromHeader(credentials.cookies, urls),
      ...(target.proxyUrl ? { proxy: contextProxy(target.proxyUrl, urls.some(isLoopbackUrl)) } : {}),
    };
  }

  /** `fn` in a fresh context as the account; errors come out as the port's (or the scrapers') kinds. */
  async function run<T>(target: PublishTarget, fn: (page: Page, watch: Watch) => Promise<T>): Promise<T> {
    const options = contextOptions(target);
    let watch: Watch | null = null;
    try {
      return await deps.pool.withContext(options, async (context) => {
        const page = await context.newPage();
        const w = watchAnswers(page);
        watch = w;
        return await fn(page, w);
      });
    } catch (error) {
      if (error instanceof PublishRefusedError || error instanceof PublishAuthError || error instanceof ScraperError) throw error;
      const seen = (watch as Watch | null)?.error() ?? null;
      if (seen) throw seen;
      if (error instanceof TransientPublishError) throw error;
      throw new TransientPublishError(`xiaohongshu: ${message(error)}`, { cause: error });
    }
  }

  /** Throws for a captcha or login page (the page after redirects). */
  async function checkPage(page: Page, signals: string): Promise<void> {
    const s = (await page.evaluate(signals)) as PageSignals;
    const { verdict, reason } = pageVerdict(s);
    if (verdict === 'captcha') throw new CaptchaError(PLATFORM, reason, bareUrl(s.url));
    if (verdict === 'login_wall') throw new PublishAuthError(`xiaohongshu ${bareUrl(s.url)} shows the login page (${reason}): the account is not logged in`);
  }

  /** Polls `probe` in the page until `done` says so (true), refuses (an Error) or time runs out. */
  async function until<T>(page: Page, watch: Watch, ms: number, what: string, probe: string, done: (state: T) => boolean | Error): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const seen = watch.error();
      if (seen) throw seen;
      const state = (await page.evaluate(probe)) as T;
      const verdict = done(state);
      if (verdict instanceof Error) throw verdict;
      if (verdict) return state;
      if (Date.now() > deadline) throw new TransientPublishError(`xiaohongshu: ${what} did not happen within ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** A creator page, up to the element that shows it rendered (the app shell asks for the user first). */
  async function openCreator(page: Page, path: string, ready: string, watch: Watch): Promise<void> {
    await pause(delay);
    await guarded(watch, page.goto(creator(path), { waitUntil: 'domcontentloaded', timeout }));
    await checkPage(page, CREATOR_SIGNALS);
    await guarded(watch, page.waitForSelector(`${ready}, .error-page`, { state: 'attached', timeout }));
    const { error } = (await page.evaluate(APP_STATE)) as { error: string | null };
    if (error) {
      // the page says why only in words; the call behind it may still be on its way to the watch
      await guarded(watch, new Promise((resolve) => setTimeout(resolve, 1000)));
      throw new TransientPublishError(`xiaohongshu ${bareUrl(creator(path))} shows an error: ${error}`);
    }
  }

  /**
   * The answer of a call the page makes when `act` runs, as data; throws
   * what it stands for. Null when it succeeded (2xx) but its body could not
   * be read: the page may move on at once and take the body with it.
   */
  async function pageCall(page: Page, watch: Watch, pattern: RegExp, act: () => Promise<void>): Promise<Json | null> {
    let raw: Promise<Buffer | null> = Promise.resolve(null);
    const answer = page.waitForResponse(
      (r) => {
        if (r.request().method() !== 'POST' || !pattern.test(new URL(r.url()).pathname)) return false;
        // asked for at once: a page that moves on after success usually takes the body with it even so
        raw = r.body().catch(() => null);
        return true;
      },
      { timeout },
    );
    answer.catch(() => undefined);
    await act();
    const response: Response = await guarded(watch, answer);
    const status = response.status();
    const url = response.url();
    const bytes = await raw;
    let body: unknown = null;
    try {
      body = bytes ? JSON.parse(bytes.toString('utf8')) : null;
    } catch {
      body = null;
    }
    if (status === 429) throw new BlockedError(PLATFORM, 'http_429', bareUrl(url), true);
    if (status >= 500 || status === 408) throw new TransientPublishError(`xiaohongshu ${bareUrl(url)} answered http_${status}`);
    const wall = verdictError(status, body, url);
    if (wall) throw wall;
    if (body === null && status >= 200 && status < 300) return null;
    const v = apiVerdict(status, body);
    if (v.ok) return v.data;
    if (status >= 400) throw new TransientPublishError(`xiaohongshu ${bareUrl(url)} answered http_${status}`);
    const code = Number((body as { code?: unknown } | null)?.code);
    const said = str((body as { msg?: unknown } | null)?.msg).slice(0, 100);
    throw new PublishRefusedError(`xiaohongshu refused the note (${v.reason}${said ? `: ${said}` : ''})`, REFUSALS[code] ?? 'rejected');
  }

  /**
   * The note manager, scrolled until the note `match` names is found, or
   * the list ends, or its notes are older than any match could be.
   * `complete` is false when it gave up before that (too many pages).
   */
  async function findListed(page: Page, watch: Watch, match: Match): Promise<{ note: ListedNote | null; complete: boolean }> {
    await openCreator(page, MANAGER_PAGE, '.note-manager', watch);
    type State = { cards: number; end: boolean; error: string | null };
    const loaded = (s: State) => (s.error ? new TransientPublishError(`xiaohongshu note manager: ${s.error}`) : s.cards > 0 || s.end);
    let state = await until<State>(page, watch, timeout, 'the note list', LIST_STATE, loaded);
    const bound = 'id' in match ? (idTime(match.id) ?? Number.NEGATIVE_INFINITY) - LIST_SLACK_MS : match.after - LIST_SLACK_MS;
    for (let round = 0; ; round++) {
      const cards = (await page.evaluate(LIST_CARDS)) as ListedNote[];
      const found = cards.find((c) => {
        if ('id' in match) return c.noteId === match.id;
        const at = c.time ? Date.parse(parseXhsDate(c.time) ?? '') : Number.NaN;
        return c.title.trim() === match.title && Number.isFinite(at) && at >= bound;
      });
      if (found) return { note: found, complete: true };
      const oldest = cards.at(-1)?.time;
      const oldestAt = oldest ? Date.parse(parseXhsDate(oldest) ?? '') : Number.NaN;
      if (state.end || (Number.isFinite(oldestAt) && oldestAt < bound)) return { note: null, complete: true };
      if (round + 1 >= MAX_LIST_PAGES) return { note: null, complete: false };
      const before = cards.length;
      await pause(delay);
      await page.evaluate(SCROLL_DOWN);
      state = await until<State>(page, watch, timeout, 'more of the note list', LIST_STATE, (s) => (s.error ? loaded(s) : s.cards > before || s.end));
    }
  }

  function post(note: ListedNote): PublishedPost {
    return {
      postId: note.noteId,
      url: note.url ?? joinUrl(deps.webUrl, `/explore/${note.noteId}`),
      publishedAt: note.time ? parseXhsDate(note.time) : null,
    };
  }

  function checkedId(postId: string): string {
    if (!/^[0-9A-Za-z]{1,64}$/.test(postId)) throw new PublishRefusedError(`not a Xiaohongshu note id: ${postId.slice(0, 80)}`, 'post_not_found');
    return postId;
  }

  async function fillNote(page: Page, watch: Watch, note: XiaohongshuNoteDraft): Promise<void> {
    await openCreator(page, PUBLISH_PAGE, 'div.creator-tab', watch);
    await pause(delay);
    await page.locator('div.creator-tab', { hasText: '上传图文' }).first().click();
    const input = page.locator('input.upload-input[type=file]').first();
    await guarded(watch, input.waitFor({ state: 'attached', timeout }));
    await input.setInputFiles(
      note.images.map((img, i) => ({
        name: `${i + 1}-${img.mediaId.replace(/[^\w-]/g, '').slice(0, 40) || 'image'}.${IMAGE_TYPES[img.contentType.toLowerCase()]}`,
        mimeType: img.contentType.toLowerCase() === 'image/jpg' ? 'image/jpeg' : img.contentType.toLowerCase(),
        buffer: img.bytes,
      })),
    );
    await until<{ previews: number; error: string | null }>(page, watch, uploadTimeout, 'the image upload', UPLOAD_STATE, (s) =>
      s.error ? new PublishRefusedError(`xiaohongshu refused an image: ${s.error}`, 'image_rejected') : s.previews >= note.images.length,
    );

    await pause(delay);
    await page.locator('div.d-input input').first().fill(note.title);
    if ((await page.locator('div.title-container div.max_suffix').count()) > 0)
      throw new PublishRefusedError('xiaohongshu says the title is too long', 'title_too_long');

    await pause(delay);
    const editor = page.locator('div.tiptap[contenteditable="true"], div[role="textbox"][contenteditable="true"], div.ql-editor').first();
    await editor.click();
    const lines = note.text === '' ? [] : note.text.split('\n');
    for (const [i, line] of lines.entries()) {
      if (i > 0) await page.keyboard.press('Enter');
      if (line !== '') await page.keyboard.insertText(line);
    }
    if (note.topics.length > 0 && lines.length > 0) await page.keyboard.press('Enter');
    for (const topic of note.topics) {
      await page.keyboard.insertText(`#${topic}`);
      const items = page.locator('#creator-editor-topic-container .item');
      const shown = await guarded(
        watch,
        items
          .first()
          .waitFor({ state: 'visible', timeout: Math.min(timeout, 5000) })
          .then(() => true)
          .catch(() => false),
      );
      if (!shown) {
        // no suggestions: the topic stays as text
        await page.keyboard.insertText(' ');
        continue;
      }
      const exact = items.filter({ has: page.locator('.name', { hasText: new RegExp(`^#${topic.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) });
      await ((await exact.count()) > 0 ? exact.first() : items.first()).click();
      await page.locator('#creator-editor-topic-container').waitFor({ state: 'hidden', timeout: Math.min(timeout, 5000) });
    }
    if ((await page.locator('div.edit-container div.length-error').count()) > 0)
      throw new PublishRefusedError('xiaohongshu says the body is too long', 'body_too_long');
  }

  return {
    platform: PLATFORM,
    canUnpublish: true,
    canReadMetrics: true,

    async findExisting(target, content, after) {
      const title = content.title.trim();
      return run(target, async (page, watch) => {
        const { note } = await findListed(page, watch, { title, after: after.getTime() });
        return note ? post(note) : null;
      });
    },

    async publish(target, content) {
      const note = prepareXiaohongshuNote(content);
      return run(target, async (page, watch) => {
        const started = Date.now();
        await fillNote(page, watch, note);
        await pause(delay);
        const button = page.locator('.publish-page-publish-btn button.bg-red, button.publishBtn').first();
        const data = await pageCall(page, watch, CREATE_NOTE, () => button.click({ timeout }));
        // the id: from the answer, else from where the page went (…?noteId=), else the note manager by title and time
        let noteId = data ? str(data['id']) || str(data['note_id']) : '';
        if (!noteId) {
          await page.waitForURL((u) => !u.pathname.endsWith('/publish/publish'), { timeout: Math.min(timeout, 5000) }).catch(() => undefined);
          noteId = new URL(page.url()).searchParams.get('noteId') ?? '';
        }
        // published: from here on nothing may fail the call; the list only adds the link and the time
        let listed: ListedNote | null = null;
        try {
          listed = (await findListed(page, watch, noteId ? { id: noteId } : { title: note.title, after: started })).note;
        } catch {
          listed = null;
        }
        if (listed) return post(listed);
        if (!noteId) throw new TransientPublishError('xiaohongshu took the note but neither its answer nor the note manager shows its id');
        return { postId: noteId, url: joinUrl(deps.webUrl, `/explore/${noteId}`), publishedAt: null };
      });
    },

    async unpublish(target, postId) {
      const id = checkedId(postId);
      await run(target, async (page, watch) => {
        const { note, complete } = await findListed(page, watch, { id });
        if (!note) {
          if (complete) return; // no longer listed: deleted already
          throw new PublishRefusedError(`xiaohongshu note ${id} is too far down the note manager to delete`, 'post_not_reachable');
        }
        const card = page.locator(`div.note[data-note-id="${id}"]`);
        await pause(delay);
        await card.locator('.control.data-del').first().click();
        const confirm = page.locator('div.d-modal button.confirm-btn').first();
        await guarded(watch, confirm.waitFor({ state: 'visible', timeout }));
        try {
          await pageCall(page, watch, DELETE_NOTE, () => confirm.click({ timeout }));
        } catch (error) {
          // already deleted elsewhere: what was asked for holds
          if (!(error instanceof PublishRefusedError)) throw error;
        }
        await guarded(watch, card.waitFor({ state: 'detached', timeout }));
      });
    },

    async metrics(target, postId): Promise<PostMetrics> {
      const id = checkedId(postId);
      return run(target, async (page, watch) => {
        const { note } = await findListed(page, watch, { id });
        if (!note) throw new PublishRefusedError(`xiaohongshu note ${id} is not among the account's notes`, 'post_not_found');
        let fromPage: ReturnType<typeof noteFromDetail> | null = null;
        if (note.url) {
          await pause(delay);
          const response = await guarded(watch, page.goto(note.url, { waitUntil: 'domcontentloaded', timeout }));
          await checkPage(page, WEB_SIGNALS);
          const state = response?.ok() ? parseInitialState(await page.content()) : null;
          const detail = state ? initialStateNote(state, id) : null;
          fromPage = detail ? noteFromDetail(detail, note.url) : null;
        }
        const extra: Record<string, number> = {};
        const collects = fromPage?.collects ?? count(note.collects);
        const shares = fromPage?.shares ?? count(note.shares);
        if (collects !== null) extra['collects'] = collects;
        if (shares !== null) extra['shares'] = shares;
        return {
          views: count(note.views),
          likes: fromPage?.likes ?? count(note.likes),
          comments: fromPage?.comments ?? count(note.comments),
          extra,
        };
      });
    },
  };
}
