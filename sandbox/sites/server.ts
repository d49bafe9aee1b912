import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSandboxCreator, type SandboxCreator } from './xiaohongshu-creator.js';
import { createSandboxIm, type SandboxSentMessage } from './xiaohongshu-im.js';

/**
 * The sandbox sites: Xiaohongshu and Qidian, as far as the scrapers and the
 * account checks see them, on 127.0.0.1: one node:http server, the first two
 * path segments standing in for the host (`/xiaohongshu/www/…` =
 * www.xiaohongshu.com, `/xiaohongshu/edith/…` = edith.xiaohongshu.com,
 * `/xiaohongshu/creator/…` = creator.xiaohongshu.com (the creator center,
 * xiaohongshu-creator.ts), `/qidian/www/…` = www.qidian.com). Content comes from the folders beside
 * this file (see generate.ts). `npm run demo` points the platform at them;
 * the tests start their own (tests/support/fixture-sites.ts re-exports this).
 *
 * Switches per site: `mode` ok | login (login wall) | captcha | blocked; a
 * Xiaohongshu request without a `web_session` cookie also gets the login
 * wall, and Qidian's home page shows a reader logged in only with a `ywkey`
 * cookie. Every request is logged (`requests`) so tests can see what was
 * fetched; `maxLoggedRequests` bounds the log for a long-running sandbox.
 */

export type SiteName = 'xiaohongshu' | 'qidian';
export type SiteMode = 'ok' | 'login' | 'captcha' | 'blocked';

export interface LoggedRequest {
  site: string;
  host: string;
  method: string;
  /** the path under the host prefix, e.g. `/api/sns/web/v1/feed` */
  path: string;
  query: Record<string, string>;
  body: unknown;
  cookies: Record<string, string>;
  userAgent: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  status: number;
}

const ROOT = dirname(fileURLToPath(import.meta.url));

export interface FixtureSites {
  origin: string;
  urls: { xiaohongshuWeb: string; xiaohongshuApi: string; xiaohongshuCreator: string; qidianWeb: string; qidianBook: string };
  requests: LoggedRequest[];
  setMode(site: SiteName, mode: SiteMode): void;
  /** requests to one host path, e.g. hits('xiaohongshu', 'edith', '/api/sns/web/v1/feed') */
  hits(site: SiteName, host: string, pathPrefix: string): LoggedRequest[];
  /** the parsed fixture manifest */
  manifest: FixtureManifest;
  /** private messages sent through the Xiaohongshu IM API (`/api/sns/web/v1/im/send`, see xiaohongshu-im.ts), oldest first */
  sentMessages: SandboxSentMessage[];
  /** the creator center: published notes and its test controls (failNextPublish, setMetrics, addNote), see xiaohongshu-creator.ts */
  creator: Pick<SandboxCreator, 'notes' | 'failNextPublish' | 'setMetrics' | 'addNote'>;
  close(): Promise<void>;
}

export interface FixtureManifest {
  xiaohongshu: {
    keyword: string;
    searchNotes: { id: string; special: 'throttled' | 'unavailable' | null }[];
    userId: string;
    userNotes: string[];
    selfId: string;
    conversations: { id: string; peer: string; messages: number }[];
  };
  qidian: {
    boards: Record<string, { pages: number; perPage: number; obfuscatedScore: boolean; scoreShown: boolean }>;
    /** author, category and status only shape the search page (optional) */
    books: { id: string; name: string; chapters: number; author?: string; category?: string; status?: string }[];
  };
}

function cookiesOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The reader the sandbox's Qidian home page shows for any `ywkey` cookie. */
export const SANDBOX_QIDIAN_READER = { uid: '401986532', nickname: '沙盒书友' } as const;

export interface FixtureSitesOptions {
  /** port on 127.0.0.1; default 0 (a free one) */
  port?: number;
  /** keep only the newest this many requests in `requests` (default: all, as tests want) */
  maxLoggedRequests?: number;
}

export async function startFixtureSites(options: FixtureSitesOptions = {}): Promise<FixtureSites> {
  const modes: Record<SiteName, SiteMode> = { xiaohongshu: 'ok', qidian: 'ok' };
  const requests: LoggedRequest[] = [];
  const manifest = JSON.parse(readFileSync(join(ROOT, 'manifest.json'), 'utf8')) as FixtureManifest;
  const im = createSandboxIm(manifest.xiaohongshu);
  let origin = '';
  const creator = createSandboxCreator({
    selfId: manifest.xiaohongshu.selfId,
    nickname: '采集测试号',
    creatorBase: () => `${origin}/xiaohongshu/creator`,
    webBase: () => `${origin}/xiaohongshu/www`,
  });

  const file = (rel: string): string | null => {
    const path = join(ROOT, rel);
    if (!path.startsWith(ROOT) || !existsSync(path)) return null;
    return readFileSync(path, 'utf8')
      .replaceAll('{{XHS_API}}', `${origin}/xiaohongshu/edith`)
      .replaceAll('{{XHS_WEB}}', `${origin}/xiaohongshu/www`)
      .replaceAll('{{QIDIAN_WEB}}', `${origin}/qidian/www`)
      .replaceAll('{{QIDIAN_FONTS}}', `${origin}/qidian/gtimg`);
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fixture');
    const [, site = '', host = '', ...rest] = url.pathname.split('/');
    const path = `/${rest.join('/')}`;
    const body = req.method === 'POST' ? await readBody(req) : null;
    const entry: LoggedRequest = {
      site,
      host,
      method: req.method ?? 'GET',
      path,
      query: Object.fromEntries(url.searchParams),
      body,
      cookies: cookiesOf(req),
      userAgent: req.headers['user-agent'],
      headers: req.headers,
      status: 0,
    };
    requests.push(entry);
    if (options.maxLoggedRequests !== undefined && requests.length > options.maxLoggedRequests) requests.splice(0, requests.length - options.maxLoggedRequests);
    const cors: Record<string, string> = req.headers.origin
      ? {
          'access-control-allow-origin': req.headers.origin,
          'access-control-allow-credentials': 'true',
          'access-control-allow-headers': 'content-type,x-s,x-t,x-s-common,x-b3-traceid',
        }
      : {};
    const send = (status: number, type: 'html' | 'json', content: string, headers: Record<string, string> = {}) => {
      entry.status = status;
      res
        .writeHead(status, { 'content-type': type === 'html' ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8', ...cors, ...headers })
        .end(content);
    };
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) => send(status, 'json', JSON.stringify(value), headers);
    if (req.method === 'OPTIONS') return send(204, 'json', '');

    if (site === 'xiaohongshu') return xiaohongshu(host, path, url, entry, send, json);
    if (site === 'qidian') return qidian(host, path, entry, send, res);
    if (url.pathname === '/') return send(200, 'html', index());
    send(404, 'html', 'no such site');
  }

  type Send = (status: number, type: 'html' | 'json', content: string, headers?: Record<string, string>) => void;
  type Json = (status: number, value: unknown, headers?: Record<string, string>) => void;
  const apiError = (code: number, msg: string) => ({ code, success: false, msg, data: {} });
  const ok = (data: unknown) => ({ code: 0, success: true, msg: '成功', data });

  function xiaohongshu(host: string, path: string, url: URL, entry: LoggedRequest, send: Send, json: Json): void {
    const web = `${origin}/xiaohongshu/www`;
    const loggedIn = modes.xiaohongshu !== 'login' && Boolean(entry.cookies['web_session']);
    if (host === 'creator') {
      const a = creator.handle({ method: entry.method, path, url, body: entry.body, cookies: entry.cookies, mode: modes.xiaohongshu });
      return send(a.status, a.type, a.content, a.headers);
    }
    if (host === 'www') {
      if (path.startsWith('/website-login/captcha')) return send(200, 'html', file('xiaohongshu/www/captcha.html')!);
      if (modes.xiaohongshu === 'captcha') {
        const back = encodeURIComponent(`${web}${path}${url.search}`);
        return send(302, 'html', '', { location: `${web}/website-login/captcha?redirectPath=${back}&verifyUuid=shield-1&verifyType=102&verifyBiz=461` });
      }
      if (!loggedIn) return send(200, 'html', file('xiaohongshu/www/login.html')!);
      let m: RegExpExecArray | null;
      if (path === '/explore' || path === '/') return send(200, 'html', file('xiaohongshu/www/explore.html')!);
      if (path === '/search_result') return send(200, 'html', file('xiaohongshu/www/search_result.html')!);
      if ((m = /^\/explore\/([0-9a-f]{24})$/.exec(path))) {
        const page = url.searchParams.get('xsec_token') ? (creator.explorePage(m[1]!) ?? file(`xiaohongshu/www/explore/${m[1]}.html`)) : null;
        return page ? send(200, 'html', page) : send(404, 'html', file('xiaohongshu/www/404.html')!);
      }
      if ((m = /^\/user\/profile\/([0-9a-f]{24})$/.exec(path))) {
        const page = file(`xiaohongshu/www/user/${m[1]}.html`);
        return page ? send(200, 'html', page) : send(404, 'html', file('xiaohongshu/www/404.html')!);
      }
      return send(404, 'html', file('xiaohongshu/www/404.html')!);
    }
    if (host !== 'edith') return send(404, 'html', 'no such host');
    if (modes.xiaohongshu === 'captcha') return json(461, apiError(461, ''), { verifytype: '102', verifyuuid: 'shield-fixture' });
    if (modes.xiaohongshu === 'blocked') return json(200, apiError(300012, '网络连接异常，请检查网络设置或重启试试'));
    if (!loggedIn) return json(200, entry.cookies['web_session'] ? apiError(-100, '登录已过期') : apiError(-101, '无登录信息，或登录信息为空'));
    const body = (entry.body ?? {}) as Record<string, unknown>;
    const q = entry.query;
    const jsonFile = (rel: string) => {
      const text = file(rel);
      return text === null ? null : (JSON.parse(text) as unknown);
    };
    switch (path) {
      case '/api/sns/web/v2/user/me':
        return json(200, jsonFile('xiaohongshu/edith/user_me.json'));
      case '/api/sns/web/v1/search/notes':
      case '/api/sns/web/v2/search/notes': {
        const index = jsonFile('xiaohongshu/edith/search/index.json') as Record<string, string>;
        const folder = index[String(body['keyword'] ?? '')];
        const page = Number(body['page'] ?? 1);
        const found = folder && Number.isInteger(page) && page >= 1 ? jsonFile(`xiaohongshu/edith/${folder}/page${page}.json`) : null;
        return json(200, found ?? ok({ has_more: false, items: [] }));
      }
      case '/api/sns/web/v1/feed': {
        const id = String(body['source_note_id'] ?? '');
        const found = /^[0-9a-f]{24}$/.test(id) && body['xsec_token'] ? (creator.feed(id) ?? jsonFile(`xiaohongshu/edith/feed/${id}.json`)) : null;
        return json(200, found ?? apiError(-510001, '当前内容无法展示'));
      }
      case '/api/sns/web/v1/user_posted': {
        const userId = q['user_id'] ?? '';
        const found = /^[0-9a-f]{24}$/.test(userId) ? jsonFile(`xiaohongshu/edith/user_posted/${userId}/${q['cursor'] || 'start'}.json`) : null;
        return json(200, creator.userPosted(userId, !q['cursor'], found) ?? ok({ cursor: '', has_more: false, notes: [] }));
      }
      case '/api/sns/web/v1/im/conversations': {
        const found = jsonFile(`xiaohongshu/edith/im/conversations/${(q['cursor'] || 'start').replace(/[^\w]/g, '')}.json`);
        return json(200, im.conversations(!q['cursor'], found) ?? ok({ conversations: [], cursor: '', has_more: false }));
      }
      case '/api/sns/web/v1/im/messages': {
        const conv = (q['conversation_id'] ?? '').replace(/[^\w]/g, '');
        const found = jsonFile(`xiaohongshu/edith/im/messages/${conv}/${(q['cursor'] || 'start').replace(/[^\w]/g, '')}.json`);
        return json(200, im.messages(conv, !q['cursor'], found) ?? ok({ messages: [], cursor: '', has_more: false }));
      }
      case '/api/sns/web/v1/im/send':
        return entry.method === 'POST' ? json(200, im.send(entry.body, entry.cookies)) : json(405, apiError(-1, 'method not allowed'));
      default:
        return json(404, apiError(-1, 'not found'));
    }
  }

  function index(): string {
    const link = (href: string, text: string) => `<li><a href="${origin}${href}">${text}</a></li>`;
    return `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8"><title>Sandbox sites</title></head><body>
<h1>Sandbox sites</h1><p>Made-up Xiaohongshu and Qidian pages shaped like the real ones; the platform collects from them.</p><ul>
${link('/xiaohongshu/www/explore', 'Xiaohongshu: explore (needs a <code>web_session</code> cookie, else the login wall)')}
${link(`/xiaohongshu/www/search_result?keyword=${encodeURIComponent(manifest.xiaohongshu.keyword)}`, `Xiaohongshu: search ${manifest.xiaohongshu.keyword}`)}
${link('/xiaohongshu/creator/publish/publish?source=official', 'Xiaohongshu creator center: publish a note (needs <code>web_session</code>)')}
${link('/xiaohongshu/creator/new/note-manager', 'Xiaohongshu creator center: my notes')}
${link('/qidian/www/', 'Qidian: home')}
${link('/qidian/www/rank/hotsales/', 'Qidian: 热销榜')}
${manifest.qidian.books.map((b) => link(`/qidian/www/book/${b.id}/`, `Qidian: ${b.name}`)).join('\n')}
</ul></body></html>`;
  }

  /** Qidian's home page: the reader's header with a `ywkey` cookie, the login area without. */
  function qidianHome(entry: LoggedRequest): string {
    const reader = entry.cookies['ywkey'] ? SANDBOX_QIDIAN_READER : null;
    const header = reader
      ? `<div id="login-box" class="login-box"><div class="sign-in" data-uid="${reader.uid}"><a class="nick-name" href="//my.qidian.com/">${reader.nickname}</a><a href="//my.qidian.com/bookcase/">我的书架</a></div></div>`
      : `<script>var buid = "fffffffffffffffffff"</script><div class="login-area-wrap"><a class="login-btn" href="javascript:">登录</a><a href="//passport.qidian.com/reg.html">注册</a></div>`;
    const books = manifest.qidian.books.map((b) => `<li><a href="${origin}/qidian/www/book/${b.id}/" data-bid="${b.id}">${b.name}</a></li>`).join('');
    return `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="UTF-8"><title>起点中文网_阅文集团旗下网站</title></head>
<body><div class="wrap"><div id="j-topHeadBox" class="top-head-box"><div class="box-center cf"><a class="logo" href="${origin}/qidian/www/">起点中文网</a>
${header}
</div></div><div id="rank-list" class="rank-list"><h3>热销榜</h3><ul>${books}</ul></div></div></body></html>`;
  }

  /**
   * Qidian's search page `/so/<keyword>.html`: the manifest's books whose name
   * holds the keyword, in a `#result-list` shaped like the rank boards (a
   * test may add books to `manifest.qidian.books` to make one appear).
   */
  function qidianSearch(encoded: string): string {
    let keyword = '';
    try {
      keyword = decodeURIComponent(encoded).normalize('NFKC').trim().toLowerCase();
    } catch {
      keyword = '';
    }
    const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    const found = keyword ? manifest.qidian.books.filter((b) => b.name.toLowerCase().includes(keyword)) : [];
    const items = found
      .map((b, i) => {
        const at = b.name.toLowerCase().indexOf(keyword);
        const name = `${esc(b.name.slice(0, at))}<cite class="red-kw">${esc(b.name.slice(at, at + keyword.length))}</cite>${esc(b.name.slice(at + keyword.length))}`;
        return `<li data-rid="${i + 1}" class="res-book-item" data-bid="${b.id}"><div class="book-img-box"><a href="//www.qidian.com/book/${b.id}/" data-bid="${b.id}"><img src="//bookcover.yuewen.com/qdbimg/349573/${b.id}/150.webp"></a></div>
<div class="book-mid-info"><h3 class="book-info-title"><a href="//www.qidian.com/book/${b.id}/" data-bid="${b.id}" title="${esc(b.name)}">${name}</a></h3>
<p class="author"><a class="name" href="//my.qidian.com/author/${4000000 + i}/">${esc(b.author ?? '沙盒作者')}</a><em>|</em><a href="//www.qidian.com/xuanhuan/">${esc(b.category ?? '玄幻')}</a><em>|</em><span>${b.status ?? '连载'}</span></p>
<p class="intro">……</p></div></li>`;
      })
      .join('\n');
    return `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="UTF-8"><title>${esc(keyword)}_搜索_起点中文网</title></head>
<body><script>var buid = "fffffffffffffffffff"</script><div class="wrap"><div class="search-result-wrap"><p class="search-result-count">共 ${found.length} 个结果</p>
<div id="result-list" class="book-img-text"><ul>${items}</ul></div></div></div></body></html>`;
  }

  function qidian(host: string, path: string, entry: LoggedRequest, send: Send, res: ServerResponse): void {
    // qidian.gtimg.com: the anti-spider fonts the rank pages draw their scores in
    if (host === 'gtimg') {
      const font = /^\/qd_anti_spider\/([A-Z0-9]+)\.woff$/.exec(path) ? join(ROOT, 'qidian/gtimg', path) : null;
      if (!font || !existsSync(font)) return send(404, 'html', 'no such font');
      entry.status = 200;
      res.writeHead(200, { 'content-type': 'font/woff', 'access-control-allow-origin': '*' }).end(readFileSync(font));
      return;
    }
    if (host !== 'www') return send(404, 'html', 'no such host');
    if (path.startsWith('/C2WF946J0/')) return send(200, 'html', '/* probe */');
    if (modes.qidian === 'captcha') return send(202, 'html', file('qidian/www/captcha.html')!, { 'x-waf-uuid': 'fixture-waf-uuid' });
    if (modes.qidian === 'blocked') return send(200, 'html', file('qidian/www/waf.html')!);
    if (modes.qidian === 'login') return send(200, 'html', file('qidian/www/login.html')!);
    if (path === '/') return send(200, 'html', qidianHome(entry));
    let m: RegExpExecArray | null;
    if ((m = /^\/rank\/(\w+)\/(?:page(\d+)\/)?$/.exec(path))) {
      const page = file(`qidian/www/rank/${m[1]}/page${m[2] ?? '1'}.html`);
      return page ? send(200, 'html', page) : send(404, 'html', file('qidian/www/404.html')!);
    }
    if ((m = /^\/so\/([^/]+)\.html$/.exec(path))) return send(200, 'html', qidianSearch(m[1]!));
    if ((m = /^\/book\/(\d+)\/?$/.exec(path))) {
      const page = file(`qidian/www/book/${m[1]}.html`);
      return page ? send(200, 'html', page) : send(404, 'html', file('qidian/www/404.html')!);
    }
    send(404, 'html', file('qidian/www/404.html')!);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    urls: {
      xiaohongshuWeb: `${origin}/xiaohongshu/www`,
      xiaohongshuApi: `${origin}/xiaohongshu/edith`,
      xiaohongshuCreator: `${origin}/xiaohongshu/creator`,
      qidianWeb: `${origin}/qidian/www`,
      qidianBook: `${origin}/qidian/www`,
    },
    requests,
    manifest,
    sentMessages: im.sent,
    creator,
    setMode(site, mode) {
      modes[site] = mode;
    },
    hits(site, host, pathPrefix) {
      return requests.filter((r) => r.site === site && r.host === host && r.path.startsWith(pathPrefix));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
