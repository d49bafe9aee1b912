import type { XiaohongshuMessage, XiaohongshuNote } from './items.js';

/**
 * Pure parsers for Xiaohongshu's web API JSON and page state (docs/platforms.md,
 * Xiaohongshu). No I/O: the scraper fetches, these turn what came back into items or
 * into a verdict (login wall, captcha, blocked, skip).
 */

const SHANGHAI_OFFSET_MS = 8 * 3600_000;

/** "4311" → 4311, "1.5万" → 15000, "1.2w" → 12000, "10+" → 10, "1k+" → 1000, "2亿" → 200000000; label text ("赞", "收藏", "") → 0. */
export function parseCount(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
  if (typeof value !== 'string') return 0;
  const text = value.replace(/[,，\s]/g, '').replace(/\+$/, '');
  const m = /^(\d+(?:\.\d+)?)(万|w|W|亿|千|k|K)?$/.exec(text);
  if (!m) return 0;
  const unit = m[2] ? ({ 万: 1e4, w: 1e4, W: 1e4, 亿: 1e8, 千: 1e3, k: 1e3, K: 1e3 } as Record<string, number>)[m[2]]! : 1;
  return Math.round(Number(m[1]) * unit);
}

/** The wall-clock parts of `ms` in Asia/Shanghai. */
function shanghaiParts(ms: number): { y: number; mo: number; d: number } {
  const d = new Date(ms + SHANGHAI_OFFSET_MS);
  return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate() };
}

/** A Shanghai wall-clock time → ISO-8601 with +08:00. */
function shanghaiIso(y: number, mo: number, d: number, h = 0, mi = 0): string | null {
  const ms = Date.UTC(y, mo - 1, d, h, mi) - SHANGHAI_OFFSET_MS;
  const back = shanghaiParts(ms);
  if (back.y !== y || back.mo !== mo || back.d !== d || h > 23 || mi > 59) return null;
  return msToIso(ms);
}

/** Epoch ms → ISO-8601 in +08:00 (the platform's zone), e.g. 2023-04-11T21:48:23.000+08:00. */
export function msToIso(ms: number): string {
  const d = new Date(ms + SHANGHAI_OFFSET_MS).toISOString().replace('Z', '');
  return `${d}+08:00`;
}

/**
 * The date texts cards and pages show → ISO-8601 (+08:00), or null when it
 * is not a date: `刚刚`, `5分钟前`, `3小时前`, `昨天 12:30`, `前天 08:00`,
 * `2天前`, `03-18` (this year, or last year if that is in the future),
 * `2024-01-23`, with an `编辑于` prefix and an IP region suffix dropped
 * (`编辑于 2天前 美国`). Relative times are against `now`.
 */
export function parseXhsDate(text: string | null | undefined, now: Date = new Date()): string | null {
  if (!text) return null;
  const t = text.trim().replace(/^(编辑于|发布于)\s*/, '');
  const nowMs = now.getTime();
  let m: RegExpExecArray | null;
  if (/^刚刚/.test(t)) return msToIso(nowMs);
  if ((m = /^(\d+)\s*秒前/.exec(t))) return msToIso(nowMs - Number(m[1]) * 1000);
  if ((m = /^(\d+)\s*分钟前/.exec(t))) return msToIso(nowMs - Number(m[1]) * 60_000);
  if ((m = /^(\d+)\s*小时前/.exec(t))) return msToIso(nowMs - Number(m[1]) * 3_600_000);
  const today = shanghaiParts(nowMs);
  const dayShift = (days: number, rest: string): string | null => {
    const base = shanghaiParts(nowMs - days * 86_400_000);
    const hm = /^\s*(\d{1,2}):(\d{2})/.exec(rest);
    return shanghaiIso(base.y, base.mo, base.d, hm ? Number(hm[1]) : 0, hm ? Number(hm[2]) : 0);
  };
  if ((m = /^今天(.*)$/.exec(t))) return dayShift(0, m[1]!);
  if ((m = /^昨天(.*)$/.exec(t))) return dayShift(1, m[1]!);
  if ((m = /^前天(.*)$/.exec(t))) return dayShift(2, m[1]!);
  if ((m = /^(\d+)\s*天前/.exec(t))) return dayShift(Number(m[1]), '');
  if ((m = /^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:\s+(\d{1,2}):(\d{2}))?/.exec(t))) {
    return shanghaiIso(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0));
  }
  if ((m = /^(\d{1,2})[-/月](\d{1,2})日?(?:\s+(\d{1,2}):(\d{2}))?/.exec(t))) {
    const [mo, d, h, mi] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0)];
    const thisYear = shanghaiIso(today.y, mo, d, h, mi);
    if (thisYear && Date.parse(thisYear) <= nowMs) return thisYear;
    return shanghaiIso(today.y - 1, mo, d, h, mi);
  }
  return null;
}

/** `正文 #法式装修[话题]# …` → ['法式装修', …] */
export function tagsFromDesc(desc: string): string[] {
  return [...desc.matchAll(/#([^#[\]\s]+)\[话题\]#/g)].map((m) => m[1]!);
}

/**
 * The object in `<script>window.__INITIAL_STATE__={…}</script>`: raw JS
 * `undefined` values become null before JSON parsing. Accepts the whole
 * page or only the script text; null when there is none or it does not parse.
 */
export function parseInitialState(source: string): Record<string, unknown> | null {
  const m = /window\.__INITIAL_STATE__\s*=\s*([\s\S]*?)\s*;?\s*(?:<\/script>|$)/.exec(source);
  if (!m) return null;
  try {
    const json = m[1]!.replace(/(?<=[:,[]\s*)undefined(?=\s*[,}\]])/g, 'null');
    const value: unknown = JSON.parse(json);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

// ---- API verdicts ----------------------------------------------------------

export type ApiVerdict =
  | { ok: true; data: Record<string, unknown> }
  | { ok: false; verdict: 'login_wall' | 'captcha' | 'blocked' | 'rate_limited' | 'unavailable' | 'error'; reason: string };

/** Reads an API answer (HTTP status + body) as docs/platforms.md, Xiaohongshu: web API envelope says. */
export function apiVerdict(status: number, body: unknown): ApiVerdict {
  if (status === 461 || status === 471) return { ok: false, verdict: 'captcha', reason: `http_${status}` };
  const b = (body && typeof body === 'object' ? body : {}) as { code?: unknown; success?: unknown; msg?: unknown; data?: unknown };
  const code = typeof b.code === 'number' ? b.code : Number(b.code);
  if (b.success === true && (code === 0 || Number.isNaN(code) || b.code === undefined)) {
    return { ok: true, data: (b.data && typeof b.data === 'object' ? b.data : {}) as Record<string, unknown> };
  }
  const reason = `api_code_${Number.isNaN(code) ? 'none' : code}`;
  if (code === -100 || code === -101 || code === -104) return { ok: false, verdict: 'login_wall', reason };
  if (code === 300012 || code === 300015) return { ok: false, verdict: 'blocked', reason };
  if (code === 300013) return { ok: false, verdict: 'rate_limited', reason };
  if (code === -510001) return { ok: false, verdict: 'unavailable', reason };
  if (status >= 400) return { ok: false, verdict: 'error', reason: `http_${status}` };
  return { ok: false, verdict: 'error', reason };
}

// ---- page verdicts ---------------------------------------------------------

/** What the scraper reads off a loaded page (in the browser) to judge it. */
export interface PageSignals {
  url: string;
  /** the body's text, or its first few thousand characters */
  text: string;
  /** `.side-bar-component.login-btn` (only when logged out) */
  loginButton: boolean;
  /** `.login-modal` / `.login-container` */
  loginModal: boolean;
  /** `li.user.side-bar-component` (only when logged in) */
  userMenu: boolean;
}

export function pageVerdict(s: PageSignals): { verdict: 'ok' | 'login_wall' | 'captcha'; reason: string } {
  if (/\/website-login\/captcha/.test(s.url)) return { verdict: 'captcha', reason: 'captcha_redirect' };
  if (/请通过验证/.test(s.text)) return { verdict: 'captcha', reason: 'captcha_text' };
  if (s.loginModal && !s.userMenu) return { verdict: 'login_wall', reason: 'login_modal' };
  if (s.loginButton && !s.userMenu) return { verdict: 'login_wall', reason: 'login_button' };
  return { verdict: 'ok', reason: 'ok' };
}

// ---- items -----------------------------------------------------------------

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** A search result card worth following (not 大家都在搜 / hot queries). */
export interface NoteRef {
  noteId: string;
  xsecToken: string;
  /** what the card said, for the fallback when the detail is empty */
  title: string;
  publishText: string | null;
}

/** `data.items` of /search/notes → the note cards (rec_query / hot_query dropped). */
export function searchCards(data: Json): NoteRef[] {
  return arr(data['items'])
    .map(obj)
    .filter((it) => (it['model_type'] ?? 'note') === 'note' && /^[0-9a-f]{24}$/.test(str(it['id'])))
    .map((it) => {
      const card = obj(it['note_card']);
      const corner = arr(card['corner_tag_info'])
        .map(obj)
        .find((c) => c['type'] === 'publish_time');
      return { noteId: str(it['id']), xsecToken: str(it['xsec_token']), title: str(card['display_title']), publishText: corner ? str(corner['text']) : null };
    });
}

/** `data.notes` of /user_posted → the note refs. */
export function userPostedRefs(data: Json): NoteRef[] {
  return arr(data['notes'])
    .map(obj)
    .filter((n) => /^[0-9a-f]{24}$/.test(str(n['note_id'])))
    .map((n) => ({ noteId: str(n['note_id']), xsecToken: str(n['xsec_token']), title: str(n['display_title']), publishText: null }));
}

function imageUrl(image: Json): string | null {
  const direct = str(image['url_default'] ?? image['urlDefault']) || str(image['url']);
  if (direct) return absolute(direct);
  const list = arr(image['info_list'] ?? image['infoList']).map(obj);
  const pick = list.find((i) => str(i['image_scene'] ?? i['imageScene']) === 'WB_DFT') ?? list[0];
  return pick ? absolute(str(pick['url'])) || null : null;
}

function absolute(url: string): string {
  return url.startsWith('//') ? `https:${url}` : url;
}

/** Characters (code points) of the text that name a note without a title. */
const TITLE_FROM_TEXT = 255;

/**
 * A note card from /feed (snake_case) or from `noteDetailMap[id].note`
 * (camelCase) → the item. `noteUrl` is the page it can be seen at.
 */
export function noteFromDetail(card: Json, noteUrl: string, fallback?: Partial<NoteRef>): XiaohongshuNote {
  const pick = (snake: string, camel: string): unknown => card[snake] ?? card[camel];
  const user = obj(card['user']);
  const interact = obj(pick('interact_info', 'interactInfo'));
  const ic = (snake: string, camel: string) => parseCount(interact[snake] ?? interact[camel]);
  const desc = str(card['desc']);
  const tagList = arr(pick('tag_list', 'tagList')).map(obj);
  const topicTags = tagList
    .filter((t) => (t['type'] ?? 'topic') === 'topic')
    .map((t) => str(t['name']))
    .filter(Boolean);
  const time = pick('time', 'time');
  const publishedAt = typeof time === 'number' && time > 0 ? msToIso(time) : parseXhsDate(fallback?.publishText ?? null);
  const location = str(pick('ip_location', 'ipLocation'));
  return {
    noteId: str(pick('note_id', 'noteId')) || str(card['id']) || (fallback?.noteId ?? ''),
    type: str(card['type']) === 'video' ? 'video' : 'normal',
    // a note without a title (the platform allows it) is named by the start of its text
    title: str(card['title']) || str(pick('display_title', 'displayTitle')) || fallback?.title || Array.from(desc).slice(0, TITLE_FROM_TEXT).join(''),
    text: desc,
    author: { id: str(user['user_id'] ?? user['userId']), nickname: str(user['nickname'] ?? user['nick_name'] ?? user['nickName']) },
    publishedAt,
    likes: ic('liked_count', 'likedCount'),
    comments: ic('comment_count', 'commentCount'),
    shares: parseCount(interact['share_count'] ?? interact['shareCount'] ?? interact['shared_count'] ?? interact['sharedCount']),
    collects: ic('collected_count', 'collectedCount'),
    images: arr(pick('image_list', 'imageList'))
      .map(obj)
      .map(imageUrl)
      .filter((u): u is string => !!u),
    tags: topicTags.length > 0 ? [...new Set(topicTags)] : tagsFromDesc(desc),
    location: location || null,
    url: noteUrl,
  };
}

/** /feed's `data` → the first note card, or null (soft throttling: success with no items). */
export function feedCard(data: Json): Json | null {
  const first = arr(data['items']).map(obj)[0];
  return first ? obj(first['note_card']) : null;
}

/** `__INITIAL_STATE__` of /explore/<id> → the note (camelCase), or null when the map lacks it (captcha or deleted). */
export function initialStateNote(state: Json, noteId: string): Json | null {
  const map = obj(obj(state['note'])['noteDetailMap']);
  const entry = obj(map[noteId]);
  const note = obj(entry['note']);
  return Object.keys(note).length > 0 ? note : null;
}

/**
 * A message of the (fixture-shaped) IM API → the item. No public source
 * documents messages (docs/platforms.md, Xiaohongshu: private messages); the
 * shape is the web IM's: `{message_id, sender_id,
 * sender_nickname?, message_type, content, create_time(ms)}`. `peer` is
 * the conversation's other side from the conversation list; it rides along
 * on each message (a conversation is known only by its messages).
 */
export function messageFromApi(conversationId: string, raw: Json, selfId: string, peer: { id: string; nickname: string | null }): XiaohongshuMessage {
  const senderId = str(raw['sender_id']) || peer.id;
  const sent = senderId === selfId;
  const created = raw['create_time'];
  return {
    conversationId,
    messageId: str(raw['message_id'] ?? raw['id']),
    direction: sent ? 'sent' : 'received',
    from: { id: senderId, nickname: sent ? str(raw['sender_nickname']) || null : str(raw['sender_nickname']) || peer.nickname },
    messageType: str(raw['message_type']) || 'text',
    text: str(raw['content']),
    sentAt: typeof created === 'number' ? msToIso(created) : (parseXhsDate(str(created)) ?? msToIso(0)),
    ...(peer.id ? { peer: { id: peer.id, nickname: peer.nickname } } : {}),
  };
}
