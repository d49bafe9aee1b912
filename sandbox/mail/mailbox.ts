import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SmtpSink, type ReceivedMessage } from './smtp-sink.js';

/**
 * The sandbox's mail catcher: an SMTP server that keeps every mail (SmtpSink)
 * and a tiny web page listing them, newest first: `GET /` (HTML) and
 * `GET /messages.json` (JSON). Nothing leaves the machine.
 */
export interface Mailbox {
  /** what SMTP_URL is set to */
  smtpUrl: string;
  /** the page listing the caught mails */
  url: string;
  sink: SmtpSink;
  /** called for every mail caught from now on */
  onMessage(listener: (message: ReceivedMessage) => void): void;
  stop(): Promise<void>;
}

const KEEP = 500;

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function asJson(message: ReceivedMessage) {
  const { parsed } = message;
  return {
    received_at: message.receivedAt.toISOString(),
    from: parsed.from,
    to: parsed.to,
    envelope_to: message.envelope.to,
    subject: parsed.subject,
    text: parsed.text ?? null,
    html: parsed.html ?? null,
  };
}

function page(messages: ReceivedMessage[]): string {
  const rows = messages
    .map((m) => {
      const body = m.parsed.text ?? m.parsed.html?.replace(/<[^>]+>/g, ' ') ?? '';
      return `<article><h2>${escapeHtml(m.parsed.subject || '(no subject)')}</h2>
<p class="meta">${escapeHtml(m.receivedAt.toLocaleString())} · to ${escapeHtml(m.parsed.to || m.envelope.to.join(', '))} · from ${escapeHtml(m.parsed.from)}</p>
<pre>${escapeHtml(body)}</pre></article>`;
    })
    .join('\n');
  return `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8"><meta http-equiv="refresh" content="5"><title>Sandbox mailbox (${messages.length})</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}article{border:1px solid #ccc;border-radius:6px;padding:0 1rem;margin:1rem 0}
.meta{color:#666;font-size:.9rem}pre{white-space:pre-wrap}</style></head><body>
<h1>Sandbox mailbox</h1><p>Every mail the platform sent while the demo ran (newest first; this page reloads every 5 s; <a href="messages.json">JSON</a>).</p>
${rows || '<p><em>No mail yet.</em></p>'}
</body></html>`;
}

export async function startMailbox(options: { smtpPort?: number; httpPort?: number } = {}): Promise<Mailbox> {
  const sink = await new SmtpSink({ maxMessages: KEEP, ...(options.smtpPort !== undefined ? { port: options.smtpPort } : {}) }).start();
  const listeners: ((message: ReceivedMessage) => void)[] = [];
  const told = new WeakSet<ReceivedMessage>();
  // SmtpSink keeps its messages in an array; a short poll tells the listeners (its waiters are one-shot)
  const poll = setInterval(() => {
    for (const message of sink.messages) {
      if (told.has(message)) continue;
      told.add(message);
      for (const listener of listeners) listener(message);
    }
  }, 250);
  poll.unref();

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://mailbox').pathname;
    const newest = [...sink.messages].reverse();
    if (path === '/messages.json') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ messages: newest.map(asJson) }, null, 1));
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(newest));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.httpPort ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    smtpUrl: sink.url,
    url: `http://127.0.0.1:${port}/`,
    sink,
    onMessage: (listener) => void listeners.push(listener),
    async stop() {
      clearInterval(poll);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sink.stop();
    },
  };
}
