import { createHash } from 'node:crypto';

/**
 * The sandbox Xiaohongshu's private messages as the web IM API sends them
 * (beside the collected fixtures of `edith/im/…`): POST
 * `/api/sns/web/v1/im/send` with the logged-in cookies (`a1` and
 * `web_session`, as the real web API wants) and
 * `{conversation_id | receiver_id, message_type: "text", content, client_msg_id}`
 * answers the usual envelope `{code, success, msg, data}` with
 * `data = {message_id, conversation_id, receiver_id, client_msg_id, create_time}`.
 * The platform echoes `client_msg_id` in the conversation's messages, so a
 * sender can find a message it sent before it crashed. Every send is kept
 * (`sent`), nothing is deduplicated: a client that sends twice is seen to.
 *
 * What was sent joins the IM API's reads: the conversation's messages
 * (`/im/messages`, first page, newest first) and the conversation list
 * (`/im/conversations`: its latest message; a new conversation first).
 *
 * Refusals (HTTP 200, as the platform's errors): `-9101` no such user
 * (receiver not 24 hex), `-9102` no such conversation, `-9103` a message to
 * oneself, `-9104` content refused (a text holding 违禁), `-9105` empty or
 * too long a text (over 1000 characters).
 */

export interface SandboxSentMessage {
  message_id: string;
  conversation_id: string;
  sender_id: string;
  receiver_id: string;
  message_type: 'text';
  content: string;
  client_msg_id: string | null;
  /** ms since the epoch */
  create_time: number;
  /** the cookies it came with (tests check the account's) */
  cookies: Record<string, string>;
}

interface ImManifest {
  selfId: string;
  conversations: { id: string; peer: string; messages: number }[];
}

type Json = Record<string, unknown>;
type Answer = { code: number; success: boolean; msg: string; data: unknown };

const ok = (data: unknown): Answer => ({ code: 0, success: true, msg: '成功', data });
const refuse = (code: number, msg: string): Answer => ({ code, success: false, msg, data: {} });

export const SANDBOX_IM_MAX_TEXT = 1000;

export function createSandboxIm(manifest: ImManifest) {
  const sent: SandboxSentMessage[] = [];
  /** conversation id → peer, the manifest's and those sending started */
  const peers = new Map(manifest.conversations.map((c) => [c.id, c.peer]));
  const started: string[] = [];
  let seq = 0;

  const conversationOf = (peer: string): string => {
    for (const [id, p] of peers) if (p === peer) return id;
    const id = `conv_${createHash('sha256').update(`${manifest.selfId}:${peer}`).digest('hex').slice(0, 16)}`;
    peers.set(id, peer);
    started.unshift(id);
    return id;
  };

  const echoed = (m: SandboxSentMessage): Json => ({
    message_id: m.message_id,
    sender_id: m.sender_id,
    message_type: m.message_type,
    content: m.content,
    create_time: m.create_time,
    client_msg_id: m.client_msg_id,
  });

  return {
    sent,

    send(body: unknown, cookies: Record<string, string>): Answer {
      if (!cookies['a1']) return refuse(-101, '无登录信息，或登录信息为空');
      const b = (body && typeof body === 'object' ? body : {}) as Json;
      const content = typeof b['content'] === 'string' ? b['content'] : '';
      if (content.trim() === '' || content.length > SANDBOX_IM_MAX_TEXT) return refuse(-9105, '消息内容不能为空或过长');
      let conversationId: string;
      let receiver: string;
      if (typeof b['conversation_id'] === 'string' && b['conversation_id'] !== '') {
        conversationId = b['conversation_id'];
        const peer = peers.get(conversationId);
        if (!peer) return refuse(-9102, '会话不存在');
        receiver = peer;
      } else {
        receiver = typeof b['receiver_id'] === 'string' ? b['receiver_id'] : '';
        if (!/^[0-9a-f]{24}$/.test(receiver)) return refuse(-9101, '用户不存在');
        if (receiver === manifest.selfId) return refuse(-9103, '不能给自己发私信');
        conversationId = conversationOf(receiver);
      }
      if (content.includes('违禁')) return refuse(-9104, '内容违规，发送失败');
      const now = Date.now();
      const message: SandboxSentMessage = {
        message_id: `${now}${String(seq++ % 1000).padStart(3, '0')}`,
        conversation_id: conversationId,
        sender_id: manifest.selfId,
        receiver_id: receiver,
        message_type: 'text',
        content,
        client_msg_id: typeof b['client_msg_id'] === 'string' ? b['client_msg_id'] : null,
        create_time: now,
        cookies: { ...cookies },
      };
      sent.push(message);
      return ok({
        message_id: message.message_id,
        conversation_id: conversationId,
        receiver_id: receiver,
        client_msg_id: message.client_msg_id,
        create_time: now,
      });
    },

    /** The conversation's first page of messages with what was sent in it (newest first); `found` is the fixture page, if any. */
    messages(conversationId: string, firstPage: boolean, found: unknown): unknown {
      const mine = firstPage
        ? sent
            .filter((m) => m.conversation_id === conversationId)
            .reverse()
            .map(echoed)
        : [];
      if (mine.length === 0) return found;
      const page = (found as { data?: Json } | null)?.data ?? { messages: [], cursor: '', has_more: false };
      return ok({ ...page, messages: [...mine, ...((page['messages'] as unknown[] | undefined) ?? [])] });
    },

    /** The conversation list with each conversation's latest sent message; conversations sending started come first. */
    conversations(firstPage: boolean, found: unknown): unknown {
      if (sent.length === 0) return found;
      const page = (found as { data?: Json } | null)?.data ?? { conversations: [], cursor: '', has_more: false };
      const latest = (id: string) => sent.filter((m) => m.conversation_id === id).at(-1);
      const listed = ((page['conversations'] as Json[] | undefined) ?? []).map((c) => {
        const m = latest(String(c['conversation_id']));
        return m ? { ...c, last_message: { content: m.content, create_time: m.create_time } } : c;
      });
      const fresh = firstPage
        ? started.map((id) => {
            const m = latest(id)!;
            return {
              conversation_id: id,
              user: { user_id: peers.get(id)!, nickname: null },
              unread_count: 0,
              last_message: { content: m.content, create_time: m.create_time },
            };
          })
        : [];
      return ok({ ...page, conversations: [...fresh, ...listed] });
    },
  };
}
