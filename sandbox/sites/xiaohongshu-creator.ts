import { createHash, randomBytes } from 'node:crypto';

/**
 * The sandbox Xiaohongshu creator center (creator.xiaohongshu.com), mounted
 * by server.ts under `/xiaohongshu/creator/…`: the pages a creator publishes
 * image notes with, shaped like the live ones as far as docs/platforms.md
 * (Xiaohongshu: creator center) tells, and the JSON calls those pages make.
 *
 * Pages (single-page-app style: a shell whose script asks
 * `GET /api/galaxy/user/info` first and renders only when it answers):
 * - `/login` — the login wall (phone number + code form); any page asked
 *   for without a logged-in session is redirected there, as the live site does;
 * - `/publish/publish` — "发布笔记": tabs (`div.creator-tab`, 上传图文),
 *   `input.upload-input[type=file][multiple]`, previews
 *   `.img-preview-area .pr`, the title `div.d-input input` (20 characters;
 *   over it `div.title-container div.max_suffix` shows `n/20`), the body a
 *   contenteditable `div.tiptap[role=textbox]` (1,000 characters; over it
 *   `div.edit-container div.length-error`), topics by typing `#name` (a
 *   `#creator-editor-topic-container .item` list to click), the publish
 *   button `.publish-page-publish-btn button.bg-red`; a successful publish
 *   goes to `/publish/success`;
 * - `/new/note-manager` — "笔记管理": the account's notes newest first, ten
 *   a page, more on scrolling; a card is `div.note[data-note-id]` with
 *   `.title`, `.time` (`发布于 2026年08月10日 12:00`, Shanghai), `.note-status`,
 *   `.permission_msg`, counts in `.icon_list` (`[data-kind=view|like|comment|collect|share]`),
 *   `a.control.data-view` (the note on www) and `span.control.data-del`
 *   (a `div.d-modal` to confirm with `button.confirm-btn`); `.list-end` when
 *   there are no more.
 *
 * Calls (the usual envelope `{code, success, msg, data}`):
 * - `POST /api/media/v1/upload/web/image` `{name, type, data (base64)}` →
 *   `{file_id, width, height}` (the live page uploads to its storage with a
 *   permit; what matters here is that the bytes arrive) — `-9135` for what
 *   is not a JPEG, PNG or WebP;
 * - `POST /web_api/sns/v1/search/topic` `{keyword}` → `{topic_info_dtos}`;
 * - `POST /web_api/sns/v2/note` `{common: {type, title, desc, hash_tag, …},
 *   image_info: {images: [{file_id, …}]}}` → `{id, score}`; refusals
 *   `-9131` title over 20, `-9132` body over 1,000, `-9133` no image or an
 *   unknown file, `-9134` content refused (a text holding 违禁);
 * - `GET /api/galaxy/creator/note/user/posted?tab=0&page=N` → `{notes, page}`
 *   (`page` -1 at the end);
 * - `POST /api/galaxy/creator/note/delete` `{note_id}`.
 *
 * A published note is a note of the sandbox's Xiaohongshu site too: its
 * page `/explore/<id>` (with any `xsec_token`), `/api/sns/web/v1/feed` and
 * the account's `/api/sns/web/v1/user_posted` show it, with counts a test
 * sets (`setMetrics`); every read of its page or feed adds a view. A
 * deleted note is gone from all of them.
 *
 * Test controls: `failNextPublish('before' | 'after')` answers the next
 * publish with HTTP 500 before the note is made, or after (the note exists,
 * the answer is lost); `notes` holds every note (deleted ones marked);
 * `addNote` puts one in the list as if published earlier.
 */

export type CreatorMode = 'ok' | 'login' | 'captcha' | 'blocked';

export interface SandboxCreatorImage {
  fileId: string;
  contentType: string;
  bytes: number;
  sha256: string;
}

export interface SandboxPublishedNote {
  noteId: string;
  xsecToken: string;
  title: string;
  /** as the page sent it: topics written `#name[话题]#` */
  desc: string;
  topics: string[];
  images: SandboxCreatorImage[];
  /** ms since the epoch */
  time: number;
  status: 'published' | 'deleted';
  deletedAt: number | null;
  views: number;
  likes: number;
  comments: number;
  collects: number;
  shares: number;
  /** the cookies the publish came with (tests check the account's) */
  cookies: Record<string, string>;
}

export type SandboxNoteMetrics = Partial<Pick<SandboxPublishedNote, 'views' | 'likes' | 'comments' | 'collects' | 'shares'>>;

export interface CreatorRequest {
  method: string;
  path: string;
  url: URL;
  body: unknown;
  cookies: Record<string, string>;
  mode: CreatorMode;
}

export interface CreatorAnswer {
  status: number;
  type: 'html' | 'json';
  content: string;
  headers?: Record<string, string>;
}

interface CreatorOptions {
  selfId: string;
  nickname: string;
  /** `${origin}/xiaohongshu/creator` once the server listens */
  creatorBase: () => string;
  webBase: () => string;
}

type Json = Record<string, unknown>;

export const SANDBOX_CREATOR_TITLE_MAX = 20;
export const SANDBOX_CREATOR_DESC_MAX = 1000;
export const SANDBOX_CREATOR_MAX_IMAGES = 18;
const PAGE_SIZE = 10;
/** uploads kept for notes to come (a long-running sandbox forgets the oldest) */
const MAX_UPLOADS = 500;
const SHANGHAI_OFFSET_MS = 8 * 3600_000;

const ok = (data: unknown) => ({ code: 0, success: true, msg: '成功', data });
const refuse = (code: number, msg: string) => ({ code, success: false, msg, data: {} });
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const hex = (seed: string, n: number) => createHash('sha1').update(seed).digest('hex').slice(0, n);
const chars = (s: string) => [...s].length;
/** the body as its counter counts it: a topic is its `#name` */
const descLength = (desc: string) => chars(desc.replace(/#([^#[\]]+)\[话题\]#/g, '#$1'));

/** "1.2万" from 12000, as the platform shows counts */
function shown(n: number): string {
  return n >= 10_000 ? `${(n / 10_000).toFixed(1).replace(/\.0$/, '')}万` : String(n);
}

function shanghai(ms: number): string {
  const d = new Date(ms + SHANGHAI_OFFSET_MS).toISOString();
  return `${d.slice(0, 4)}年${d.slice(5, 7)}月${d.slice(8, 10)}日 ${d.slice(11, 16)}`;
}

/** The kind of image the bytes are, by their magic numbers. */
function imageKind(bytes: Buffer): 'image/jpeg' | 'image/png' | 'image/webp' | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return null;
}

/** Width and height of a PNG (from its header); others get the platform's usual 1080×1440. */
function dimensions(bytes: Buffer, kind: string): { width: number; height: number } {
  if (kind === 'image/png' && bytes.length >= 24) return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  return { width: 1080, height: 1440 };
}

export function createSandboxCreator(options: CreatorOptions) {
  const notes: SandboxPublishedNote[] = [];
  const uploads = new Map<string, SandboxCreatorImage & { width: number; height: number }>();
  let failNext: { when: 'before' | 'after'; status: number } | null = null;
  let seq = 0;

  /** Like the live ids: the creation second in hex, then 16 more hex digits. */
  const newNoteId = (at: number) =>
    `${Math.floor(at / 1000)
      .toString(16)
      .padStart(8, '0')}${hex(`${at}:${seq++}:${randomBytes(4).toString('hex')}`, 16)}`;
  const live = (id: string) => notes.find((n) => n.noteId === id && n.status === 'published') ?? null;
  const noteUrl = (n: SandboxPublishedNote) =>
    `${options.webBase()}/explore/${n.noteId}?xsec_token=${encodeURIComponent(n.xsecToken)}&xsec_source=pc_creatormng`;
  const imageUrl = (img: SandboxCreatorImage, k: 'dft' | 'prv') =>
    `https://sns-webpic-qc.xhscdn.com/202608101200/${img.sha256.slice(0, 32)}/1040g008${img.sha256.slice(0, 32)}!nd_${k}_wlteh_webp_3`;

  function addNote(
    input: {
      title: string;
      desc?: string;
      topics?: string[];
      images?: SandboxCreatorImage[];
      time?: number;
      cookies?: Record<string, string>;
    } & SandboxNoteMetrics,
  ) {
    const time = input.time ?? Date.now();
    const note: SandboxPublishedNote = {
      noteId: newNoteId(time),
      xsecToken: `AB${randomBytes(15).toString('hex')}=`,
      title: input.title,
      desc: input.desc ?? '',
      topics: input.topics ?? [],
      images: input.images ?? [{ fileId: `seed_${seq}`, contentType: 'image/jpeg', bytes: 0, sha256: hex(`seed-image:${seq}`, 40).padEnd(64, '0') }],
      time,
      status: 'published',
      deletedAt: null,
      views: input.views ?? 0,
      likes: input.likes ?? 0,
      comments: input.comments ?? 0,
      collects: input.collects ?? 0,
      shares: input.shares ?? 0,
      cookies: input.cookies ?? {},
    };
    notes.push(note);
    return note;
  }

  /** The note as /feed's `note_card` (snake_case, counts as strings). */
  function noteCard(n: SandboxPublishedNote): Json {
    return {
      note_id: n.noteId,
      type: 'normal',
      title: n.title,
      desc: n.desc,
      user: { user_id: options.selfId, nickname: options.nickname, avatar: 'https://sns-avatar-qc.xhscdn.com/avatar/self.jpg' },
      interact_info: {
        liked: false,
        liked_count: shown(n.likes),
        collected: false,
        collected_count: shown(n.collects),
        comment_count: shown(n.comments),
        share_count: shown(n.shares),
        followed: false,
        relation: 'self',
      },
      image_list: n.images.map((img) => ({
        file_id: img.fileId,
        url: '',
        url_default: imageUrl(img, 'dft'),
        url_pre: imageUrl(img, 'prv'),
        width: 1080,
        height: 1440,
        info_list: [
          { image_scene: 'WB_PRV', url: imageUrl(img, 'prv') },
          { image_scene: 'WB_DFT', url: imageUrl(img, 'dft') },
        ],
      })),
      tag_list: n.topics.map((t) => ({ id: hex(`topic:${t}`, 24), name: t, type: 'topic' })),
      at_user_list: [],
      time: n.time,
      last_update_time: n.time,
      ip_location: '上海',
      share_info: { un_share: false },
    };
  }

  function camel(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(camel);
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), camel(v)]));
    return value;
  }

  // ---- the Xiaohongshu site's reads of published notes ------------------------------------------

  /** /api/sns/web/v1/feed for a published note (null: not one of ours). */
  function feed(noteId: string): unknown {
    const n = notes.find((x) => x.noteId === noteId);
    if (!n) return null;
    if (n.status !== 'published') return refuse(-510001, '笔记状态异常，请稍后查看');
    n.views++;
    return ok({ cursor_score: '', current_time: Date.now(), items: [{ id: n.noteId, model_type: 'note', note_card: noteCard(n) }] });
  }

  /** www /explore/<id> for a published note: the page (null: not ours or deleted, the site's 404). */
  function explorePage(noteId: string): string | null {
    const n = live(noteId);
    if (!n) return null;
    n.views++;
    const card = noteCard(n);
    const state = {
      global: { appSettings: { notificationInterval: 30 } },
      user: { loggedIn: true, userInfo: { userId: options.selfId, nickname: options.nickname } },
      note: {
        currentNoteId: n.noteId,
        firstNoteId: n.noteId,
        noteDetailMap: {
          [n.noteId]: {
            comments: { list: [], cursor: '', hasMore: false, loading: false },
            currentTime: Date.now(),
            note: { ...(camel(card) as Json), xsecToken: n.xsecToken },
          },
        },
        serverRequestInfo: { state: 'success', errorCode: 0 },
      },
    };
    const zero = (v: number, label: string) => (v === 0 ? label : shown(v));
    const tags = n.topics.map((t) => `<a class="tag" href="/search_result?keyword=${encodeURIComponent(t)}">#${esc(t)}</a>`).join(' ');
    const text = n.desc.replace(/#[^#]+\[话题\]#/g, '').trim();
    return `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${esc(n.title || text.slice(0, 20))} - 小红书</title></head>
<body><div id="app"><div class="layout"><div class="side-bar"><ul class="channel-list"><li class="active-channel side-bar-component"><a href="/explore">发现</a></li><li class="user side-bar-component"><a href="/user/profile/${options.selfId}"><span class="channel">我</span></a></li></ul></div>
<div class="main-container"><div class="note-detail-mask"><div id="noteContainer" class="note-container" data-type="normal">
<div class="media-container">${n.images.map((img) => `<img class="note-slider-img" src="${imageUrl(img, 'dft')}">`).join('')}</div>
<div class="interaction-container"><div class="author-container"><div class="info"><a class="name" href="/user/profile/${options.selfId}"><span class="username">${esc(options.nickname)}</span></a></div></div>
<div class="note-scroller"><div class="note-content"><div id="detail-title" class="title">${esc(n.title)}</div><div id="detail-desc" class="desc"><span class="note-text"><span>${esc(text)}</span>${tags}</span></div>
<div class="bottom-container"><span class="date">${shanghai(n.time).slice(5, 11).replace('月', '-').replace('日', '')} 上海</span></div></div></div>
<div class="engage-bar-style"><span class="like-wrapper"><span class="count">${zero(n.likes, '赞')}</span></span><span class="collect-wrapper"><span class="count">${zero(n.collects, '收藏')}</span></span><span class="chat-wrapper"><span class="count">${zero(n.comments, '评论')}</span></span></div></div></div></div></div></div></div>
<script>window.__INITIAL_STATE__=${JSON.stringify(state).replace(/</g, '\\u003c')}</script></body></html>
`;
  }

  /** /api/sns/web/v1/user_posted of the account itself: its published notes first on the first page. */
  function userPosted(userId: string, firstPage: boolean, found: unknown): unknown {
    const mine = userId === options.selfId && firstPage ? notes.filter((n) => n.status === 'published').sort((a, b) => b.time - a.time) : [];
    if (mine.length === 0) return found;
    const page = (found as { data?: Json } | null)?.data ?? { cursor: '', has_more: false, notes: [] };
    const listed = mine.map((n) => ({
      note_id: n.noteId,
      type: 'normal',
      display_title: n.title,
      xsec_token: n.xsecToken,
      user: { user_id: options.selfId, nickname: options.nickname },
      interact_info: { liked: false, liked_count: shown(n.likes) },
      cover: {
        url_default: n.images[0] ? imageUrl(n.images[0], 'dft') : '',
        url_pre: n.images[0] ? imageUrl(n.images[0], 'prv') : '',
        height: 1440,
        width: 1080,
      },
    }));
    return ok({ ...page, notes: [...listed, ...((page['notes'] as unknown[] | undefined) ?? [])] });
  }

  // ---- the creator host -------------------------------------------------------------------------

  function api(req: CreatorRequest): CreatorAnswer {
    const json = (status: number, value: unknown, headers?: Record<string, string>): CreatorAnswer => ({
      status,
      type: 'json',
      content: JSON.stringify(value),
      ...(headers ? { headers } : {}),
    });
    if (req.mode === 'captcha') return json(461, refuse(461, ''), { verifytype: '102', verifyuuid: 'shield-creator' });
    if (req.mode === 'blocked') return json(200, refuse(300012, '网络连接异常，请检查网络设置或重启试试'));
    const session = req.cookies['web_session'];
    if (req.mode === 'login' || !session) return json(200, session ? refuse(-100, '登录已过期') : refuse(-101, '无登录信息，或登录信息为空'));
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Json;
    const post = req.method === 'POST';
    switch (req.path) {
      case '/api/galaxy/user/info':
        return json(
          200,
          ok({
            userId: options.selfId,
            userName: options.nickname,
            redId: '95123456789',
            role: 'creator',
            userAvatar: 'https://sns-avatar-qc.xhscdn.com/avatar/self.jpg',
          }),
        );
      case '/api/media/v1/upload/web/image': {
        if (!post) return json(405, refuse(-1, 'method not allowed'));
        const bytes = Buffer.from(typeof body['data'] === 'string' ? body['data'] : '', 'base64');
        const kind = imageKind(bytes);
        if (!kind) return json(200, refuse(-9135, '图片格式不支持，请上传 JPG、PNG 或 WebP'));
        const fileId = `spectrum/${hex(`${Date.now()}:${seq++}`, 8)}${createHash('sha256').update(bytes).digest('hex').slice(0, 24)}`;
        const size = dimensions(bytes, kind);
        uploads.set(fileId, { fileId, contentType: kind, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), ...size });
        while (uploads.size > MAX_UPLOADS) uploads.delete(uploads.keys().next().value!);
        return json(200, ok({ file_id: fileId, ...size }));
      }
      case '/web_api/sns/v1/search/topic': {
        const keyword = String(body['keyword'] ?? '')
          .replace(/\s+/g, '')
          .slice(0, 40);
        const names = keyword ? [keyword, `${keyword}日常`, `${keyword}分享`] : [];
        return json(
          200,
          ok({ topic_info_dtos: names.map((name, i) => ({ id: hex(`topic:${name}`, 24), name, type: 'topic', view_num: 120_000_000 / (i + 1), link: '' })) }),
        );
      }
      case '/web_api/sns/v2/note':
        return post ? publish(body, req.cookies, json) : json(405, refuse(-1, 'method not allowed'));
      case '/api/galaxy/creator/note/user/posted': {
        const page = Math.max(0, Number.parseInt(req.url.searchParams.get('page') ?? '0', 10) || 0);
        const all = notes.filter((n) => n.status === 'published').sort((a, b) => b.time - a.time);
        const slice = all.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
        return json(
          200,
          ok({
            notes: slice.map((n) => ({
              id: n.noteId,
              display_title: n.title,
              type: 'normal',
              time: shanghai(n.time),
              status_text: '已发布',
              permission_msg: '公开可见',
              xsec_token: n.xsecToken,
              url: noteUrl(n),
              cover: n.images[0] ? imageUrl(n.images[0], 'prv') : '',
              view_count: n.views,
              likes: n.likes,
              comments_count: n.comments,
              collected_count: n.collects,
              shared_count: n.shares,
            })),
            page: (page + 1) * PAGE_SIZE < all.length ? page + 1 : -1,
          }),
        );
      }
      case '/api/galaxy/creator/note/delete': {
        if (!post) return json(405, refuse(-1, 'method not allowed'));
        const n = live(String(body['note_id'] ?? ''));
        if (!n) return json(200, refuse(-510001, '笔记不存在或已删除'));
        n.status = 'deleted';
        n.deletedAt = Date.now();
        return json(200, ok({}));
      }
      default:
        return json(404, refuse(-1, 'not found'));
    }
  }

  function publish(body: Json, cookies: Record<string, string>, json: (status: number, value: unknown) => CreatorAnswer): CreatorAnswer {
    const fail = failNext;
    if (fail?.when === 'before') {
      failNext = null;
      return json(fail.status, refuse(-1, '服务器开小差了，请稍后再试'));
    }
    const common = (body['common'] && typeof body['common'] === 'object' ? body['common'] : {}) as Json;
    const title = typeof common['title'] === 'string' ? common['title'] : '';
    const desc = typeof common['desc'] === 'string' ? common['desc'] : '';
    const images = ((body['image_info'] as Json | undefined)?.['images'] ?? []) as Json[];
    if (chars(title) > SANDBOX_CREATOR_TITLE_MAX) return json(200, refuse(-9131, '标题最多20个字'));
    if (descLength(desc) > SANDBOX_CREATOR_DESC_MAX) return json(200, refuse(-9132, '正文最多1000个字'));
    const files = Array.isArray(images) ? images.map((i) => uploads.get(String(i?.['file_id'] ?? ''))) : [];
    if (files.length === 0 || files.length > SANDBOX_CREATOR_MAX_IMAGES || files.some((f) => !f)) return json(200, refuse(-9133, '请上传1到18张图片'));
    if (`${title}${desc}`.includes('违禁')) return json(200, refuse(-9134, '内容违规，发布失败'));
    const hashTags = Array.isArray(common['hash_tag']) ? (common['hash_tag'] as Json[]) : [];
    const note = addNote({
      title,
      desc,
      topics: hashTags.map((t) => String(t?.['name'] ?? '')).filter(Boolean),
      images: files.map((f) => ({ fileId: f!.fileId, contentType: f!.contentType, bytes: f!.bytes, sha256: f!.sha256 })),
      cookies: { ...cookies },
    });
    if (fail?.when === 'after') {
      failNext = null;
      return json(fail.status, refuse(-1, '服务器开小差了，请稍后再试'));
    }
    return json(200, ok({ id: note.noteId, score: 10 }));
  }

  function page(req: CreatorRequest): CreatorAnswer {
    const html = (content: string, status = 200): CreatorAnswer => ({ status, type: 'html', content });
    const redirect = (location: string): CreatorAnswer => ({ status: 302, type: 'html', content: '', headers: { location } });
    const here = `${options.creatorBase()}${req.path}${req.url.search}`;
    if (req.mode === 'captcha')
      return redirect(
        `${options.webBase()}/website-login/captcha?redirectPath=${encodeURIComponent(here)}&verifyUuid=shield-creator&verifyType=102&verifyBiz=461`,
      );
    if (req.path === '/login') return html(loginPage());
    const loggedIn = req.mode !== 'login' && Boolean(req.cookies['web_session']);
    if (!loggedIn) return redirect(`${options.creatorBase()}/login?source=official&redirectReason=401&lastUrl=${encodeURIComponent(here)}`);
    switch (req.path) {
      case '/':
      case '/new/home':
        return html(shell('创作服务平台', 'home'));
      case '/publish/publish':
        return html(shell('发布笔记', 'publish'));
      case '/publish/success':
        return html(shell('发布成功', 'success'));
      case '/new/note-manager':
        return html(shell('笔记管理', 'manager'));
      default:
        return html(shell('页面不存在', 'missing'), 404);
    }
  }

  function loginPage(): string {
    return `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>小红书创作服务平台</title></head>
<body><div id="page"><div class="login-box-container"><div class="login-box"><div class="title">短信登录</div>
<div class="d-input"><input class="d-text" placeholder="手机号" type="text"></div>
<div class="d-input"><input class="d-text" placeholder="验证码" type="text"><span class="code-btn">发送验证码</span></div>
<button class="d-button beer-login-btn">登 录</button><div class="qrcode-tips">扫码登录</div></div></div></div></body></html>
`;
  }

  /** The app shell: the script asks for the user, then renders the page. */
  function shell(title: string, view: 'home' | 'publish' | 'success' | 'manager' | 'missing'): string {
    return `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>${esc(title)} - 小红书创作服务平台</title>
<style>.tiptap{min-height:120px;border:1px solid #ddd;white-space:pre-wrap}.topic-tag{color:#13386c}[hidden]{display:none!important}</style></head>
<body><div id="app"><div class="creator-header"><a class="logo" href="${options.creatorBase()}/new/home">小红书创作服务平台</a><div class="user-info" hidden><span class="name"></span></div></div>
<div class="menu-container"><a class="menu-item publish-video" href="${options.creatorBase()}/publish/publish?source=official">发布笔记</a><a class="menu-item" href="${options.creatorBase()}/new/note-manager">笔记管理</a></div>
<div id="content" class="main-content"><div class="loading">加载中…</div></div><div class="d-toast" hidden></div></div>
<script>window.__CREATOR__ = ${JSON.stringify({ base: options.creatorBase(), view })};</script>
<script>${APP_SCRIPT}</script></body></html>
`;
  }

  return {
    notes,
    /** The next publish answers HTTP `status` (default 500): before the note is made, or after it (a lost answer). */
    failNextPublish(when: 'before' | 'after', status = 500): void {
      failNext = { when, status };
    },
    setMetrics(noteId: string, metrics: SandboxNoteMetrics): void {
      const n = notes.find((x) => x.noteId === noteId);
      if (!n) throw new Error(`no sandbox note ${noteId}`);
      Object.assign(n, metrics);
    },
    /** A note in the account's list as if published earlier (not through the page). */
    addNote,
    handle(req: CreatorRequest): CreatorAnswer {
      return req.path.startsWith('/api/') || req.path.startsWith('/web_api/') ? api(req) : page(req);
    },
    feed,
    explorePage,
    userPosted,
  };
}

export type SandboxCreator = ReturnType<typeof createSandboxCreator>;

/**
 * The creator pages' script (plain browser JavaScript, one string so no
 * transpiler helpers reach the page): the user check, then the publish form,
 * the success page or the note manager.
 */
const APP_SCRIPT = String.raw`
(function () {
  var C = window.__CREATOR__;
  var content = document.getElementById('content');
  function esc(s) { return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'); }
  function toast(msg) { var t = document.querySelector('.d-toast'); t.textContent = msg; t.hidden = false; setTimeout(function () { t.hidden = true; }, 3000); }
  function call(method, path, body) {
    return fetch(C.base + path, { method: method, credentials: 'include', headers: body ? { 'content-type': 'application/json;charset=UTF-8' } : {}, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.text().then(function (text) { var json = null; try { json = JSON.parse(text); } catch (e) {} return { status: r.status, body: json }; }); })
      .catch(function (e) { return { status: 0, body: null, error: String(e) }; });
  }
  function okOf(r) { return r.status === 200 && r.body && r.body.success === true; }
  function msgOf(r) { return (r.body && r.body.msg) || ('请求失败 ' + r.status); }

  call('GET', '/api/galaxy/user/info').then(function (r) {
    if (!okOf(r)) { content.innerHTML = '<div class="error-page"><p class="error-msg">' + esc(msgOf(r)) + '</p></div>'; return; }
    var info = document.querySelector('.user-info'); info.hidden = false; info.querySelector('.name').textContent = r.body.data.userName;
    if (C.view === 'publish') publishView();
    else if (C.view === 'manager') managerView();
    else if (C.view === 'success') content.innerHTML = '<div class="publish-success"><div class="title">发布成功</div><a href="' + C.base + '/new/note-manager">查看笔记</a><a href="' + C.base + '/publish/publish?source=official">继续发布</a></div>';
    else if (C.view === 'missing') content.innerHTML = '<div class="not-found">页面不存在</div>';
    else content.innerHTML = '<div class="home"><a class="btn publish" href="' + C.base + '/publish/publish?source=official">发布笔记</a></div>';
  });

  // ---- 发布笔记 --------------------------------------------------------------------------------
  function publishView() {
    content.innerHTML =
      '<div class="publish-container"><div class="header-tabs"><div class="creator-tab" data-tab="video">上传视频</div><div class="creator-tab" data-tab="image">上传图文</div><div class="creator-tab" data-tab="article">写长文</div></div>' +
      '<div class="upload-content"><div class="tab-hint">拖拽视频到此或点击上传</div></div></div>';
    var uploaded = [];
    var topics = [];
    var upload = content.querySelector('.upload-content');
    Array.prototype.forEach.call(content.querySelectorAll('.creator-tab'), function (tab) {
      tab.addEventListener('click', function () {
        Array.prototype.forEach.call(content.querySelectorAll('.creator-tab'), function (t) { t.classList.toggle('active', t === tab); });
        if (tab.getAttribute('data-tab') === 'image') imageForm(); else upload.innerHTML = '<div class="tab-hint">' + esc(tab.textContent) + '</div>';
      });
    });

    function imageForm() {
      upload.innerHTML =
        '<div class="upload-wrapper"><input class="upload-input" type="file" multiple accept=".jpg,.jpeg,.png,.webp"><button class="d-button upload-button">上传图片</button><div class="upload-error" hidden></div></div>' +
        '<div class="img-preview-area"></div>' +
        '<div class="title-container"><div class="d-input"><input class="d-text" type="text" placeholder="填写标题会有更多赞哦～"></div><span class="title-count">0/20</span></div>' +
        '<div class="edit-container"><div class="tiptap ProseMirror" contenteditable="true" role="textbox" data-placeholder="输入正文描述，真诚有价值的分享予人温暖"></div><span class="content-count">0/1000</span></div>' +
        '<div id="creator-editor-topic-container" hidden></div>' +
        '<div class="publish-page-publish-btn"><button class="d-button bg-red publishBtn" disabled>发布</button><button class="d-button cancelBtn">暂存离开</button></div>';
      var input = upload.querySelector('.upload-input');
      var previews = upload.querySelector('.img-preview-area');
      var uploadError = upload.querySelector('.upload-error');
      var title = upload.querySelector('.d-input input');
      var editor = upload.querySelector('.tiptap');
      var topicBox = upload.querySelector('#creator-editor-topic-container');
      var button = upload.querySelector('.publishBtn');
      function refreshButton() { button.disabled = uploaded.length === 0; }

      input.addEventListener('change', function () {
        var files = Array.prototype.slice.call(input.files);
        input.value = '';
        uploadError.hidden = true;
        files.reduce(function (done, f) {
          return done.then(function () {
            return new Promise(function (resolve) { var fr = new FileReader(); fr.onload = function () { resolve(String(fr.result).replace(/^data:[^,]*,/, '')); }; fr.readAsDataURL(f); })
              .then(function (data) { return call('POST', '/api/media/v1/upload/web/image', { name: f.name, type: f.type, data: data }); })
              .then(function (r) {
                if (!okOf(r)) { uploadError.textContent = msgOf(r); uploadError.hidden = false; return; }
                uploaded.push({ file_id: r.body.data.file_id, width: r.body.data.width, height: r.body.data.height, type: f.type });
                var pr = document.createElement('div'); pr.className = 'pr'; pr.innerHTML = '<img src="' + URL.createObjectURL(f) + '">';
                previews.appendChild(pr);
                refreshButton();
              });
          });
        }, Promise.resolve());
      });

      function titleLength() { return Array.from(title.value).length; }
      title.addEventListener('input', function () {
        upload.querySelector('.title-count').textContent = titleLength() + '/20';
        var over = upload.querySelector('.title-container .max_suffix');
        if (titleLength() > 20 && !over) { over = document.createElement('div'); over.className = 'max_suffix'; upload.querySelector('.title-container').appendChild(over); }
        if (over) { if (titleLength() > 20) over.textContent = titleLength() + '/20'; else over.remove(); }
      });

      // the body as text: lines from the editor's blocks, topics as #name[话题]#
      function serialize(node, counting) {
        var out = '';
        Array.prototype.forEach.call(node.childNodes, function (c) {
          if (c.nodeType === 3) out += c.nodeValue.replace(/\u00a0/g, ' ');
          else if (c.classList && c.classList.contains('topic-tag')) out += counting ? '#' + c.getAttribute('data-name') : '#' + c.getAttribute('data-name') + '[话题]#';
          else if (c.nodeName === 'BR') out += '\n';
          else if (c.nodeName === 'DIV' || c.nodeName === 'P') { if (out !== '' && out.slice(-1) !== '\n') out += '\n'; var inner = serialize(c, counting); out += inner === '\n' ? '\n' : inner; if (out.slice(-1) !== '\n') out += '\n'; }
          else out += serialize(c, counting);
        });
        return out;
      }
      function bodyText(counting) { return serialize(editor, counting).replace(/[ \t]+\n/g, '\n').replace(/\n+$/, '').replace(/^\n+/, ''); }
      function refreshCount() {
        var n = Array.from(bodyText(true)).length;
        upload.querySelector('.content-count').textContent = n + '/1000';
        var over = upload.querySelector('.edit-container .length-error');
        if (n > 1000 && !over) { over = document.createElement('div'); over.className = 'length-error'; upload.querySelector('.edit-container').appendChild(over); }
        if (over) { if (n > 1000) over.textContent = n + '/1000'; else over.remove(); }
      }

      // typing "#name" asks for topics; clicking one turns the typed text into a topic
      var pending = null;
      editor.addEventListener('input', function () {
        refreshCount();
        var sel = window.getSelection();
        var node = sel && sel.anchorNode;
        var m = node && node.nodeType === 3 ? /#([^\s#]{1,40})$/.exec(node.nodeValue.slice(0, sel.anchorOffset)) : null;
        if (!m) { topicBox.hidden = true; pending = null; return; }
        pending = { node: node, end: sel.anchorOffset, start: sel.anchorOffset - m[0].length };
        var asked = m[1];
        call('POST', '/web_api/sns/v1/search/topic', { keyword: asked, suggest_topic_request: { title: title.value, desc: '' }, page: { page_size: 20, page: 1 } }).then(function (r) {
          if (!pending || !okOf(r)) return;
          topicBox.innerHTML = r.body.data.topic_info_dtos.map(function (t) {
            return '<div class="item" data-id="' + esc(t.id) + '" data-name="' + esc(t.name) + '"><span class="name">#' + esc(t.name) + '</span><span class="num">' + Math.round(t.view_num / 1e8 * 10) / 10 + '亿浏览</span></div>';
          }).join('');
          topicBox.hidden = false;
        });
      });
      topicBox.addEventListener('mousedown', function (e) {
        var item = e.target.closest('.item');
        if (!item || !pending) return;
        e.preventDefault();
        var name = item.getAttribute('data-name');
        var text = pending.node;
        var after = text.splitText(pending.end);
        text.nodeValue = text.nodeValue.slice(0, pending.start);
        var chip = document.createElement('span');
        chip.className = 'topic-tag'; chip.contentEditable = 'false'; chip.setAttribute('data-name', name); chip.setAttribute('data-id', item.getAttribute('data-id'));
        chip.textContent = '#' + name;
        after.parentNode.insertBefore(chip, after);
        var space = document.createTextNode(' ');
        after.parentNode.insertBefore(space, after);
        var range = document.createRange(); range.setStart(space, 1); range.collapse(true);
        var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
        topics.push({ id: item.getAttribute('data-id'), name: name });
        topicBox.hidden = true; pending = null;
        refreshCount();
      });

      button.addEventListener('click', function () {
        if (button.disabled) return;
        button.disabled = true;
        var chips = Array.prototype.map.call(editor.querySelectorAll('.topic-tag'), function (c) { return { id: c.getAttribute('data-id'), name: c.getAttribute('data-name'), link: '', type: 'topic' }; });
        call('POST', '/web_api/sns/v2/note', {
          common: {
            type: 'normal', note_id: '', title: title.value, desc: bodyText(false), ats: [], hash_tag: chips, post_loc: {}, business_binds: '{"version":1,"noteId":0,"bizType":0,"noteOrderBind":{},"notePostTiming":{},"noteCollectionBind":{"id":""}}',
            privacy_info: { op_type: 1, type: 0 }, source: JSON.stringify({ type: 'web', ids: '', extraInfo: JSON.stringify({ subType: 'official' }) })
          },
          image_info: { images: uploaded.map(function (u) { return { file_id: u.file_id, width: u.width, height: u.height, metadata: { source: -1 }, stickers: { version: 2, floating: [] }, extra_info_json: JSON.stringify({ mimeType: u.type }) }; }) },
          video_info: null
        }).then(function (r) {
          if (okOf(r)) { location.href = C.base + '/publish/success?source=official&noteId=' + encodeURIComponent(r.body.data.id); return; }
          toast(msgOf(r)); refreshButton();
        });
      });
    }
  }

  // ---- 笔记管理 --------------------------------------------------------------------------------
  function managerView() {
    content.innerHTML = '<div class="note-manager"><div class="search-box"><input class="d-text" placeholder="搜索已发布笔记"></div><div class="content"></div><div class="list-end" hidden>没有更多了</div></div>' +
      '<div class="d-modal" role="dialog" hidden><div class="d-modal-content">确定删除该笔记吗？删除后不可恢复</div><div class="footer"><button class="d-button cancel-btn">取消</button><button class="d-button confirm-btn">确定</button></div></div>';
    var list = content.querySelector('.note-manager .content');
    var end = content.querySelector('.list-end');
    var modal = content.querySelector('.d-modal');
    var next = 0;
    var loading = false;
    var deleting = null;
    function card(n) {
      var counts = [['view', n.view_count], ['like', n.likes], ['comment', n.comments_count], ['collect', n.collected_count], ['share', n.shared_count]];
      return '<div class="note" data-note-id="' + esc(n.id) + '" data-impression="' + esc(JSON.stringify({ noteTarget: { type: 'NoteTarget', value: { noteId: n.id } } })) + '">' +
        '<div class="img"><img src="' + esc(n.cover) + '"></div><div class="info"><div class="title">' + esc(n.display_title) + '</div><div class="time">发布于 ' + esc(n.time) + '</div>' +
        '<div class="note-status">' + esc(n.status_text) + '</div><div class="permission_msg">' + esc(n.permission_msg) + '</div>' +
        '<div class="icon_list">' + counts.map(function (c) { return '<span class="icon" data-kind="' + c[0] + '"><span class="count">' + c[1] + '</span></span>'; }).join('') + '</div></div>' +
        '<div class="controls"><a class="control data-view" target="_blank" href="' + esc(n.url) + '">查看</a><span class="control data-edit">编辑</span><span class="control data-del">删除</span></div></div>';
    }
    function more() {
      if (loading || next < 0) return;
      loading = true;
      call('GET', '/api/galaxy/creator/note/user/posted?tab=0&page=' + next).then(function (r) {
        loading = false;
        if (!okOf(r)) { toast(msgOf(r)); return; }
        list.insertAdjacentHTML('beforeend', r.body.data.notes.map(card).join(''));
        next = r.body.data.page;
        end.hidden = next >= 0;
      });
    }
    more();
    window.addEventListener('scroll', function () { if (window.innerHeight + window.scrollY >= document.body.scrollHeight - 200) more(); });
    list.addEventListener('click', function (e) {
      var del = e.target.closest('.data-del');
      if (!del) return;
      deleting = del.closest('.note');
      modal.hidden = false;
    });
    modal.querySelector('.cancel-btn').addEventListener('click', function () { modal.hidden = true; deleting = null; });
    modal.querySelector('.confirm-btn').addEventListener('click', function () {
      var target = deleting;
      modal.hidden = true; deleting = null;
      if (!target) return;
      call('POST', '/api/galaxy/creator/note/delete', { note_id: target.getAttribute('data-note-id') }).then(function (r) {
        if (okOf(r)) { target.remove(); toast('删除成功'); } else toast(msgOf(r));
      });
    });
  }
})();
`;
