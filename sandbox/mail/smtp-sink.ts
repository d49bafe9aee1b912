import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';

/**
 * A real SMTP server on 127.0.0.1 (a free port unless `port` is given) that
 * accepts every message and keeps it in memory: the sandbox's mail catcher
 * (mailbox.ts shows what it caught) and the tests' (tests/support/smtp-sink.ts
 * re-exports this). No TLS; authentication is optional, unless `auth` is
 * given: then it is required and checked.
 */

export interface ReceivedMessage {
  /** SMTP envelope: MAIL FROM and RCPT TO addresses */
  envelope: { from: string | undefined; to: string[] };
  /** the user that logged in, if any */
  user: string | undefined;
  /** the DATA as received (dot-stuffing already removed) */
  raw: string;
  /** parsed headers (lower-case names, RFC 2047 words decoded), subject, text and html bodies */
  parsed: ParsedMessage;
  receivedAt: Date;
}

export interface ParsedMessage {
  headers: Map<string, string>;
  subject: string;
  from: string;
  to: string;
  messageId: string;
  /** first text/plain part, transfer-decoded and charset-decoded */
  text: string | undefined;
  /** first text/html part */
  html: string | undefined;
}

export interface SmtpSinkOptions {
  /** require AUTH with these credentials; wrong ones get `535` */
  auth?: { user: string; pass: string };
  /** port on 127.0.0.1; default 0 (a free one) */
  port?: number;
  /** keep only the newest this many messages (default: all, as tests want) */
  maxMessages?: number;
}

export class SmtpSink {
  readonly messages: ReceivedMessage[] = [];
  /** every AUTH attempt, to assert on (e.g. that a wrong password was tried) */
  readonly authAttempts: Array<{ username: string | undefined; ok: boolean }> = [];
  private server: SMTPServer | undefined;
  private port: number | undefined;
  private waiters = new Set<() => void>();

  constructor(private readonly options: SmtpSinkOptions = {}) {}

  async start(): Promise<this> {
    const expected = this.options.auth;
    const server = new SMTPServer({
      secure: false,
      disabledCommands: ['STARTTLS'],
      authOptional: expected === undefined,
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      logger: false,
      banner: 'smtp-sink',
      closeTimeout: 1_000,
      onAuth: (auth, _session, callback) => {
        const ok = expected !== undefined && auth.username === expected.user && auth.password === expected.pass;
        this.authAttempts.push({ username: auth.username, ok });
        if (!ok) return callback(new Error('Invalid username or password'));
        callback(null, { user: auth.username });
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', callback);
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          this.messages.push({
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
              to: session.envelope.rcptTo.map((address: SMTPServerAddress) => address.address),
            },
            user: typeof session.user === 'string' ? session.user : undefined,
            raw,
            parsed: parseMessage(raw),
            receivedAt: new Date(),
          });
          const max = this.options.maxMessages;
          if (max !== undefined && this.messages.length > max) this.messages.splice(0, this.messages.length - max);
          for (const wake of [...this.waiters]) wake();
          callback(null, 'queued in the sink');
        });
      },
    });
    server.on('error', () => {
      /* client-side protocol errors are the tests' business, not the sink's */
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      server.server.once('error', onError);
      server.listen(this.options.port ?? 0, '127.0.0.1', () => {
        server.server.off('error', onError);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.server.address() as AddressInfo).port;
    return this;
  }

  /** `smtp://127.0.0.1:port`, or with `credentials` embedded (percent-encoded) */
  get url(): string {
    return this.urlWith();
  }

  urlWith(credentials?: { user: string; pass: string }): string {
    if (this.port === undefined) throw new Error('the SMTP sink is not started');
    const auth = credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.pass)}@` : '';
    return `smtp://${auth}127.0.0.1:${this.port}`;
  }

  /** Resolves with the first stored message (already here or yet to come) matching `predicate`. */
  waitForMessage(predicate: (message: ReceivedMessage) => boolean = () => true, timeoutMs = 5_000): Promise<ReceivedMessage> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.messages.find(predicate);
        if (!found) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching message in the SMTP sink within ${timeoutMs} ms (${this.messages.length} received)`));
      }, timeoutMs);
      const wake = (): void => void check();
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      this.waiters.add(wake);
      check();
    });
  }

  clear(): void {
    this.messages.length = 0;
    this.authAttempts.length = 0;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------
// A small MIME reader: enough for what nodemailer writes (single part or
// multipart/*, quoted-printable / base64 / 7bit / 8bit, RFC 2047 B and Q
// encoded words, UTF-8 and other charsets TextDecoder knows).

export function parseMessage(raw: string): ParsedMessage {
  const entity = parseEntity(raw);
  const parts = leafParts(entity);
  const text = parts.find((part) => part.type === 'text/plain');
  const html = parts.find((part) => part.type === 'text/html');
  const header = (name: string): string => entity.headers.get(name) ?? '';
  return {
    headers: entity.headers,
    subject: header('subject'),
    from: header('from'),
    to: header('to'),
    messageId: header('message-id').replace(/^<|>$/g, ''),
    text: text ? decodeBody(text) : undefined,
    html: html ? decodeBody(html) : undefined,
  };
}

interface Entity {
  headers: Map<string, string>;
  /** raw (still encoded) header values */
  rawHeaders: Map<string, string>;
  type: string;
  params: Map<string, string>;
  body: string;
}

function parseEntity(raw: string): Entity {
  const normalized = raw.replace(/\r\n/g, '\n');
  const split = normalized.indexOf('\n\n');
  const head = split === -1 ? normalized : normalized.slice(0, split);
  const body = split === -1 ? '' : normalized.slice(split + 2);
  const rawHeaders = new Map<string, string>();
  // unfold: a line starting with whitespace continues the previous header
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!rawHeaders.has(name)) rawHeaders.set(name, line.slice(colon + 1).trim());
  }
  const headers = new Map([...rawHeaders].map(([name, value]) => [name, decodeEncodedWords(value)]));
  const [type, params] = parseContentType(rawHeaders.get('content-type') ?? 'text/plain; charset=us-ascii');
  return { headers, rawHeaders, type, params, body };
}

function parseContentType(value: string): [string, Map<string, string>] {
  const [type = 'text/plain', ...rest] = value.split(';');
  const params = new Map<string, string>();
  for (const param of rest) {
    const eq = param.indexOf('=');
    if (eq === -1) continue;
    params.set(
      param.slice(0, eq).trim().toLowerCase(),
      param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1'),
    );
  }
  return [type.trim().toLowerCase(), params];
}

function leafParts(entity: Entity): Entity[] {
  if (!entity.type.startsWith('multipart/')) return [entity];
  const boundary = entity.params.get('boundary');
  if (!boundary) return [];
  const delimiter = `--${boundary}`;
  const parts: Entity[] = [];
  const sections = entity.body.split(new RegExp(`(?:^|\\n)${escapeRegExp(delimiter)}(?:--)?[ \\t]*(?:\\n|$)`));
  // sections[0] is the preamble, the last one after the closing delimiter the epilogue
  for (const section of sections.slice(1, -1)) parts.push(...leafParts(parseEntity(section)));
  return parts;
}

function decodeBody(part: Entity): string {
  const encoding = (part.rawHeaders.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const charset = part.params.get('charset') ?? 'utf-8';
  let bytes: Uint8Array;
  if (encoding === 'base64') bytes = Buffer.from(part.body.replace(/\s+/g, ''), 'base64');
  else if (encoding === 'quoted-printable') bytes = decodeQuotedPrintable(part.body);
  else bytes = Buffer.from(part.body, 'utf8');
  return new TextDecoder(charset).decode(bytes).replace(/\n$/, '');
}

function decodeQuotedPrintable(body: string): Uint8Array {
  const unwrapped = body.replace(/[ \t]+$/gm, '').replace(/=\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < unwrapped.length; i++) {
    const char = unwrapped[i]!;
    const hex = unwrapped.slice(i + 1, i + 3);
    if (char === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(char, 'utf8'));
    }
  }
  return Uint8Array.from(bytes);
}

/** RFC 2047: adjacent encoded words (only whitespace between) join, their bytes decoded together. */
export function decodeEncodedWords(value: string): string {
  const word = /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g;
  let out = '';
  let last = 0;
  let pending: { charset: string; bytes: number[] } | undefined;
  const flush = (): void => {
    if (!pending) return;
    out += new TextDecoder(pending.charset).decode(Uint8Array.from(pending.bytes));
    pending = undefined;
  };
  for (let match = word.exec(value); match; match = word.exec(value)) {
    const between = value.slice(last, match.index);
    if (!(pending && /^\s*$/.test(between))) {
      flush();
      out += between;
    }
    const charset = match[1]!.split('*')[0]!.toLowerCase();
    const encoded = match[3]!;
    const bytes = match[2]!.toUpperCase() === 'B' ? [...Buffer.from(encoded, 'base64')] : [...decodeQuotedPrintable(encoded.replace(/_/g, ' '))];
    if (pending && pending.charset !== charset) flush();
    pending ??= { charset, bytes: [] };
    pending.bytes.push(...bytes);
    last = match.index + match[0].length;
  }
  flush();
  return out + value.slice(last);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
