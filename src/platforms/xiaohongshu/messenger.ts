import type { Page } from 'playwright';
import { MessageRefusedError, type OutgoingPlatformMessage, type PlatformMessageReceipt, type PlatformMessenger } from '../../adapters/scrapers/messaging.js';
import { bareUrl, BlockedError, CaptchaError, LoginWallError } from '../../adapters/scrapers/errors.js';
import { joinUrl, pause } from '../../adapters/scrapers/types.js';
import { apiVerdict, msToIso, pageVerdict, type PageSignals } from './parse.js';

/**
 * Sends a private message as the connected account, in a real browser, the
 * way the web client does: the explore page (which shows the login wall or
 * captcha as the site does), `GET /api/sns/web/v2/user/me`, then the IM API
 * from inside the page with its cookies and signature:
 *
 * 1. the conversation: the one named, or the one with the peer found in
 *    `GET /api/sns/web/v1/im/conversations` (up to MAX_LIST_PAGES pages);
 *    none yet: the send starts it;
 * 2. never twice: the conversation's latest messages
 *    (`GET /api/sns/web/v1/im/messages`, newest first, back to the request
 *    time) are searched for the message's `client_msg_id`; found → that
 *    message, `recovered`;
 * 3. `POST /api/sns/web/v1/im/send` `{conversation_id | receiver_id,
 *    message_type: "text", content, client_msg_id}` → `{message_id,
 *    conversation_id, create_time}`.
 *
 * Refusals of the message itself (-9101 no such user, -9102 no such
 * conversation, -9103/-9104/-9105 not allowed / content / length) are
 * MessageRefusedError; login wall, captcha and blocks are the scrapers'
 * errors; anything else is transient.
 */

export interface XiaohongshuMessengerOptions {
  /** XIAOHONGSHU_WEB_URL */
  webUrl: string;
  /** XIAOHONGSHU_API_URL */
  apiUrl: string;
  /** pause between platform requests, ms [min, max]; default [1000, 3000] */
  delayMs?: readonly [number, number];
  navigationTimeoutMs?: number;
}

const PLATFORM = 'xiaohongshu';
const MAX_LIST_PAGES = 5;
const MAX_MESSAGE_PAGES = 5;
/** clocks differ: a message found this long before the request still counts */
const CLOCK_SLACK_MS = 10 * 60_000;

const REFUSALS: Record<number, MessageRefusedError['code']> = {
  [-9101]: 'peer_not_found',
  [-9102]: 'conversation_not_found',
  [-9103]: 'rejected',
  [-9104]: 'rejected',
  [-9105]: 'rejected',
};

type Json = Record<string, unknown>;

const PAGE_SIGNALS = `(() => ({
  url: location.href,
  text: (document.body && document.body.textContent || '').slice(0, 5000),
  loginButton: !!document.querySelector('.side-bar-component.login-btn'),
  loginModal: !!document.querySelector('.login-modal .login-container, .login-container'),
  userMenu: !!document.querySelector('li.user.side-bar-component'),
}))()`;

/** In the page: one API call with the page's cookies and signature (as the scraper's). */
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

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const list = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);

export function createXiaohongshuMessenger(options: XiaohongshuMessengerOptions): PlatformMessenger {
  const delay = options.delayMs ?? [1000, 3000];

  async function open(page: Page, url: string): Promise<void> {
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: options.navigationTimeoutMs ?? 30_000 });
    const signals = (await page.evaluate(PAGE_SIGNALS)) as PageSignals;
    const { verdict, reason } = pageVerdict(signals);
    if (verdict === 'captcha') throw new CaptchaError(PLATFORM, reason, bareUrl(signals.url));
    if (verdict === 'login_wall') throw new LoginWallError(PLATFORM, reason, bareUrl(signals.url));
  }

  async function api(page: Page, method: 'GET' | 'POST', path: string, params: Json): Promise<Json> {
    await pause(delay);
    let url = joinUrl(options.apiUrl, path);
    let signPath = path;
    if (method === 'GET') {
      const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
      url += `?${query}`;
      signPath += `?${query}`;
    }
    const call = `(${API_CALL})(${JSON.stringify({ url, path: signPath, method, body: method === 'POST' ? params : null })})`;
    const { status, body } = (await page.evaluate(call)) as { status: number; body: unknown };
    const v = apiVerdict(status, body);
    if (v.ok) return v.data;
    const code = Number((body as { code?: unknown } | null)?.code);
    const refusal = REFUSALS[code];
    if (refusal) throw new MessageRefusedError(refusal, v.reason);
    switch (v.verdict) {
      case 'login_wall':
        throw new LoginWallError(PLATFORM, v.reason, bareUrl(url));
      case 'captcha':
        throw new CaptchaError(PLATFORM, v.reason, bareUrl(url));
      case 'blocked':
        throw new BlockedError(PLATFORM, v.reason, bareUrl(url));
      case 'rate_limited':
        throw new BlockedError(PLATFORM, v.reason, bareUrl(url), true);
      default:
        throw new Error(`xiaohongshu ${bareUrl(url)} answered ${v.reason}`);
    }
  }

  /** The conversation with the peer, from the conversation list; null when there is none yet. */
  async function conversationWith(page: Page, peerId: string): Promise<string | null> {
    let cursor = '';
    for (let i = 0; i < MAX_LIST_PAGES; i++) {
      const data = await api(page, 'GET', '/api/sns/web/v1/im/conversations', { cursor, num: 20 });
      for (const c of list(data['conversations'])) {
        if (str((c['user'] as Json | undefined)?.['user_id']) === peerId) return str(c['conversation_id']) || null;
      }
      cursor = str(data['cursor']);
      if (data['has_more'] !== true || !cursor) return null;
    }
    return null;
  }

  /** The message an earlier attempt sent (by its client id), searched back to the request time. */
  async function alreadySent(page: Page, conversationId: string, message: OutgoingPlatformMessage): Promise<Json | null> {
    const since = Date.parse(message.requestedAt) - CLOCK_SLACK_MS;
    let cursor = '';
    for (let i = 0; i < MAX_MESSAGE_PAGES; i++) {
      const data = await api(page, 'GET', '/api/sns/web/v1/im/messages', { conversation_id: conversationId, cursor, num: 20 });
      const messages = list(data['messages']);
      const found = messages.find((m) => str(m['client_msg_id']) === message.clientMessageId);
      if (found) return found;
      const oldest = messages.at(-1);
      cursor = str(data['cursor']);
      if (data['has_more'] !== true || !cursor || !oldest || Number(oldest['create_time']) < since) return null;
    }
    return null;
  }

  const sentAt = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? msToIso(value) : new Date().toISOString());

  return {
    async send(page, message): Promise<PlatformMessageReceipt> {
      await open(page, joinUrl(options.webUrl, '/explore'));
      const me = await api(page, 'GET', '/api/sns/web/v2/user/me', {});
      if (me['guest'] === true || typeof me['user_id'] !== 'string')
        throw new LoginWallError(PLATFORM, 'guest_session', bareUrl(joinUrl(options.apiUrl, '/api/sns/web/v2/user/me')));
      const conversationId = message.conversationId ?? (message.peerId ? await conversationWith(page, message.peerId) : null);
      if (conversationId) {
        const found = await alreadySent(page, conversationId, message);
        if (found) {
          return { platformMessageId: str(found['message_id']), conversationId, peerId: message.peerId, sentAt: sentAt(found['create_time']), recovered: true };
        }
      }
      const data = await api(page, 'POST', '/api/sns/web/v1/im/send', {
        ...(conversationId ? { conversation_id: conversationId } : { receiver_id: message.peerId }),
        message_type: 'text',
        content: message.text,
        client_msg_id: message.clientMessageId,
      });
      const platformMessageId = str(data['message_id']);
      const sentIn = str(data['conversation_id']) || conversationId;
      if (!platformMessageId || !sentIn) throw new Error('xiaohongshu answered the send without a message or conversation id');
      const peer = str(data['receiver_id']) || message.peerId;
      return { platformMessageId, conversationId: sentIn, peerId: peer || null, sentAt: sentAt(data['create_time']), recovered: false };
    },
  };
}
