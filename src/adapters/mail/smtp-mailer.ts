import nodemailer, { type NodemailerError, type SMTPPoolOptions } from 'nodemailer';
import type { Logger } from '../../logger.js';
import { MailDeliveryError, type MailFailureKind } from '../../application/ports/mail-errors.js';
import type { Mailer, MailMessage } from '../../application/ports/mailer.js';

export { MailDeliveryError } from '../../application/ports/mail-errors.js';

export interface SmtpMailerOptions {
  /**
   * `smtp://[user:pass@]host[:port]` (port 587 by default; STARTTLS is used when the
   * relay offers it, add `?requireTLS=true` to insist on it) or
   * `smtps://[user:pass@]host[:port]` (TLS from the start, port 465 by default).
   * User and password are percent-decoded.
   */
  url: string;
  /** the From header and envelope sender, e.g. `"Collector" <no-reply@example.com>` */
  from: string;
  logger?: Logger;
  /** TCP connect (DNS included), default 10 s */
  connectionTimeoutMs?: number;
  /** connected until the server's 220 greeting, default 10 s */
  greetingTimeoutMs?: number;
  /** inactivity on an open connection, default 30 s */
  socketTimeoutMs?: number;
  /** whole send, queueing in the pool included; the delivery is aborted after it, default 60 s */
  sendTimeoutMs?: number;
  /** how long `close()` waits for in-flight sends before cutting them, default 10 s */
  closeTimeoutMs?: number;
  /** pooled connections, default 3 */
  maxConnections?: number;
  /** pooled connections close after this long unused, default 30 s */
  idleTimeoutMs?: number;
}

interface RelayTarget {
  host: string;
  port: number;
  secure: boolean;
  requireTLS: boolean;
  user: string | undefined;
  pass: string | undefined;
  /** `smtp://host:port`, what messages and logs may show */
  display: string;
}

/** A pooled nodemailer SMTP transport behind the `Mailer` port. */
export function createSmtpMailer(options: SmtpMailerOptions): Mailer {
  const target = parseSmtpUrl(options.url);
  const logger = options.logger?.child({ component: 'mailer', relay: target.display });
  const sendTimeoutMs = options.sendTimeoutMs ?? 60_000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 10_000;

  const transportOptions: SMTPPoolOptions & { pool: true } = {
    pool: true,
    host: target.host,
    port: target.port,
    secure: target.secure,
    requireTLS: target.requireTLS,
    auth: target.user !== undefined ? { user: target.user, pass: target.pass ?? '' } : undefined,
    maxConnections: options.maxConnections ?? 3,
    maxMessages: 100,
    idleTimeout: options.idleTimeoutMs ?? 30_000,
    connectionTimeout: options.connectionTimeoutMs ?? 10_000,
    greetingTimeout: options.greetingTimeoutMs ?? 10_000,
    socketTimeout: options.socketTimeoutMs ?? 30_000,
    dnsTimeout: options.connectionTimeoutMs ?? 10_000,
    // nodemailer's own logging stays off: it is chatty per connection, and with
    // `debug` it would write the SMTP traffic (AUTH included); we log outcomes.
    logger: false,
    debug: false,
  };
  const transport = nodemailer.createTransport(transportOptions, { from: options.from });
  // a pooled transport reports connection-level failures as 'error' events too;
  // without a listener the process would crash on them
  transport.on('error', (error: unknown) => {
    logger?.warn({ err: describe(error, target) }, 'mail transport error');
  });

  const inFlight = new Set<Promise<unknown>>();
  let closed = false;

  async function deliver(message: MailMessage): Promise<{ messageId: string }> {
    if (closed) {
      throw new MailDeliveryError(`mail delivery via ${target.display} refused: the mailer is closed`, { kind: 'config', retryable: false });
    }
    try {
      const info = await transport.sendMail({
        to: typeof message.to === 'string' ? message.to : [...message.to],
        subject: message.subject,
        text: message.text,
        html: message.html,
        ...(message.attachments
          ? { attachments: message.attachments.map((a) => ({ filename: a.filename, content: a.content, contentType: a.contentType })) }
          : {}),
        signal: AbortSignal.timeout(sendTimeoutMs),
      });
      const messageId = stripBrackets(info.messageId);
      logger?.debug({ messageId, recipients: info.accepted.length }, 'mail sent');
      return { messageId };
    } catch (error) {
      const failure = toDeliveryError(error, target, sendTimeoutMs);
      logger?.warn({ err: { kind: failure.kind, code: failure.code, responseCode: failure.responseCode, message: failure.message } }, 'mail delivery failed');
      throw failure;
    }
  }

  return {
    send(message) {
      const sending = deliver(message);
      const tracked = sending.catch(() => undefined);
      inFlight.add(tracked);
      void tracked.finally(() => inFlight.delete(tracked));
      return sending;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), closeTimeoutMs);
        });
        const outcome = await Promise.race([Promise.allSettled([...inFlight]).then(() => 'done' as const), deadline]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
          logger?.warn({ pending: inFlight.size }, 'closing the mailer with deliveries still in flight');
          transport.close({ force: true });
          return;
        }
      }
      transport.close();
    },
  };
}

/** Splits the relay URL; the password leaves here only inside the transport's auth options. */
function parseSmtpUrl(url: string): RelayTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // the input may hold a password: do not echo it
    throw new MailDeliveryError('SMTP url is not a valid URL (expected smtp://user:pass@host:port or smtps://...)', { kind: 'config', retryable: false });
  }
  const protocol = parsed.protocol.replace(/:$/, '');
  if (protocol !== 'smtp' && protocol !== 'smtps') {
    throw new MailDeliveryError(`SMTP url must use smtp:// or smtps://, got ${protocol}://`, { kind: 'config', retryable: false });
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new MailDeliveryError('SMTP url has no host', { kind: 'config', retryable: false });
  const secure = protocol === 'smtps';
  const port = parsed.port ? Number(parsed.port) : secure ? 465 : 587;
  const requireTLS = parsed.searchParams.get('requireTLS') === 'true';
  return {
    host,
    port,
    secure,
    requireTLS,
    user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    pass: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    display: `${protocol}://${parsed.host}`,
  };
}

function toDeliveryError(error: unknown, target: RelayTarget, sendTimeoutMs: number): MailDeliveryError {
  const details = describe(error, target);
  const what = details.kind === 'auth' ? 'authentication failed' : details.kind === 'connection' ? 'connection failed' : 'failed';
  const reason = details.aborted ? `no answer within ${sendTimeoutMs} ms` : details.message;
  return new MailDeliveryError(`mail delivery via ${target.display} ${what}: ${reason}`, details);
}

interface Described {
  kind: MailFailureKind;
  retryable: boolean;
  code: string | undefined;
  responseCode: number | undefined;
  command: string | undefined;
  message: string;
  aborted: boolean;
}

function describe(error: unknown, target: RelayTarget): Described {
  const err = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as NodemailerError;
  const code = typeof err.code === 'string' ? err.code : undefined;
  const responseCode = typeof err.responseCode === 'number' ? err.responseCode : undefined;
  const aborted = code === 'EABORT' || err.name === 'AbortError' || err.name === 'TimeoutError';
  const kind = classify(code, responseCode, aborted);
  const retryable = kind === 'connection' || (responseCode !== undefined && ((responseCode >= 400 && responseCode < 500) || responseCode === 503));
  // the command is cut to its verb: never `AUTH PLAIN <token>`
  const command = typeof err.command === 'string' ? err.command.split(' ').slice(0, 2).join(' ') : undefined;
  return { kind, retryable, code, responseCode, command, message: scrub(String(err.message ?? 'unknown error'), target), aborted };
}

function classify(code: string | undefined, responseCode: number | undefined, aborted: boolean): MailFailureKind {
  if (aborted) return 'connection';
  // 530 authentication required, 534 mechanism too weak, 535 bad credentials, 538 encryption required for it
  if (responseCode === 530 || responseCode === 534 || responseCode === 535 || responseCode === 538) return 'auth';
  switch (code) {
    case 'EAUTH':
    case 'ENOAUTH':
    case 'EOAUTH2':
      return 'auth';
    case 'ECONNECTION':
    case 'ETIMEDOUT':
    case 'ESOCKET':
    case 'EDNS':
    case 'ETLS':
    case 'EPROXY':
      return responseCode !== undefined && responseCode >= 500 ? 'rejected' : 'connection';
    case 'EENVELOPE':
    case 'EMESSAGE':
    case 'EREQUIRETLS':
    case 'EMAXRECIPIENTS':
      return 'rejected';
    case 'ECONFIG':
      return 'config';
    default:
      return responseCode !== undefined ? 'rejected' : 'unknown';
  }
}

/** Defence in depth: the password (raw, percent-encoded, base64 and inside an AUTH PLAIN token) never survives into a message. */
function scrub(text: string, target: RelayTarget): string {
  const pass = target.pass;
  if (!pass) return text;
  const forms = new Set([
    pass,
    encodeURIComponent(pass),
    Buffer.from(pass).toString('base64'),
    Buffer.from(`\u0000${target.user ?? ''}\u0000${pass}`).toString('base64'),
  ]);
  let out = text;
  for (const form of forms) if (form) out = out.split(form).join('***');
  return out;
}

function stripBrackets(messageId: string): string {
  return messageId.replace(/^<|>$/g, '');
}
