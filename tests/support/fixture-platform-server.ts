import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the platforms' login checks on 127.0.0.1:0, shaped as in
 * docs/platforms.md: Xiaohongshu's GET /api/sns/web/v2/user/me envelope
 * ({code, success, msg, data}) and Qidian's home page (logged-in header, or
 * the login area; the WAF shell on demand). Who is logged in is decided by
 * the cookie: tests register sessions and the faults they want.
 */

export interface XhsUser {
  user_id: string;
  nickname: string;
}

export interface FixturePlatformServer {
  url: string;
  xiaohongshu: {
    /** web_session value → the logged-in user; any other value is a guest */
    sessions: Map<string, XhsUser>;
    /** web_session values answered with code -100 登录已过期 */
    expired: Set<string>;
    /** web_session values answered with HTTP 461 (captcha) */
    captcha: Set<string>;
    /** web_session values answered with code 300013 (frequency limit, not the account) */
    rateLimited: Set<string>;
  };
  qidian: {
    /** ywkey cookie value → the logged-in reader */
    sessions: Map<string, { uid: string; nickname: string }>;
    /** answer every page with the 202 WAF shell */
    waf: boolean;
  };
  /** every request, with the Cookie and User-Agent headers it carried */
  requests: { method: string; path: string; cookie: string | undefined; userAgent: string | undefined }[];
  close(): Promise<void>;
}

/** A 24-hex id, like Xiaohongshu's. */
export const xhsId = (): string => randomBytes(12).toString('hex');

function cookies(req: IncomingMessage): Map<string, string> {
  const jar = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) jar.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return jar;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(body);
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function qidianHome(header: string): string {
  return `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="UTF-8"><title>起点中文网_阅文集团旗下网站</title></head>
<body><div class="wrap"><div id="j-topHeadBox" class="top-head-box"><div class="box-center cf">
<a class="logo" href="//www.qidian.com/">起点中文网</a>
${header}
</div></div>
<div id="rank-list" class="rank-list"><h3>热销榜</h3><ul><li class="unfold"><a href="//www.qidian.com/book/1041637443/" data-bid="1041637443">书名</a></li></ul></div>
</div></body></html>`;
}

export async function startFixturePlatformServer(): Promise<FixturePlatformServer> {
  const state: Omit<FixturePlatformServer, 'url' | 'close'> = {
    xiaohongshu: { sessions: new Map(), expired: new Set(), captcha: new Set(), rateLimited: new Set() },
    qidian: { sessions: new Map(), waf: false },
    requests: [],
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://fixture').pathname;
    state.requests.push({ method: req.method ?? 'GET', path, cookie: req.headers.cookie, userAgent: req.headers['user-agent'] });
    const jar = cookies(req);

    if (req.method === 'GET' && path === '/api/sns/web/v2/user/me') {
      const session = jar.get('web_session');
      const x = state.xiaohongshu;
      if (session && x.captcha.has(session)) {
        return json(res, 461, { code: 300011, success: false, msg: '请完成验证' }, { Verifytype: '102', Verifyuuid: xhsId() });
      }
      if (session && x.expired.has(session)) return json(res, 200, { code: -100, success: false, msg: '登录已过期', data: {} });
      if (session && x.rateLimited.has(session)) {
        return json(res, 200, { code: 300013, success: false, msg: '访问频次异常，请勿频繁操作或重启试试', data: {} });
      }
      const user = session ? x.sessions.get(session) : undefined;
      if (!user) return json(res, 200, { code: 0, success: true, msg: '成功', data: { guest: true, user_id: xhsId() } });
      return json(res, 200, {
        code: 0,
        success: true,
        msg: '成功',
        data: {
          guest: false,
          user_id: user.user_id,
          red_id: `9527${user.user_id.slice(0, 6)}`,
          nickname: user.nickname,
          desc: '',
          gender: 1,
          images: `https://sns-avatar-qc.xhscdn.com/avatar/${user.user_id}.jpg?imageView2/2/w/360/format/webp`,
          imageb: `https://sns-avatar-qc.xhscdn.com/avatar/${user.user_id}.jpg?imageView2/2/w/540/format/webp`,
        },
      });
    }

    if (req.method === 'GET' && path === '/') {
      if (state.qidian.waf) {
        res.writeHead(202, { 'Content-Type': 'text/html; charset=utf-8', 'X-WAF-UUID': xhsId() });
        return res.end('<script>var buid = "fffffffffffffffffff"</script><script src="/C2WF946J0/probe.js?v=vc1jasc"></script>');
      }
      const reader = state.qidian.sessions.get(jar.get('ywkey') ?? '');
      if (reader) {
        return html(
          res,
          200,
          qidianHome(
            `<div id="login-box" class="login-box"><div class="sign-in" data-uid="${reader.uid}"><a class="nick-name" href="//my.qidian.com/" target="_blank">${escapeHtml(reader.nickname)}</a><a href="//my.qidian.com/bookcase/">我的书架</a></div></div>`,
          ),
        );
      }
      return html(
        res,
        200,
        qidianHome(
          `<script>var buid = "fffffffffffffffffff"</script><div class="login-area-wrap"><a class="login-btn" href="javascript:">登录</a><a href="//passport.qidian.com/reg.html">注册</a></div>`,
        ),
      );
    }

    json(res, 404, { code: -1, success: false, msg: 'not found' });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...state,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
