import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { NONCE, sha256Hex, signSmsProviderMessage, verifySmsRequest } from '../../src/adapters/sms/signature.js';
import { countSegments } from '../../src/write-model/sms-message/segments.js';
import { generateSmsProviderKeys, type SmsCredentials, type SmsProviderKeys } from './keys.js';

/**
 * A sandbox of an international SMS provider's HTTP API (node:http): it
 * stands in for the network, not for our code. It speaks the protocol of
 * src/adapters/sms — verifies our HMAC-SHA256 request signatures (API key,
 * timestamp window, nonce never reused), answers signed with its own
 * Ed25519 key, keeps messages by idempotency key (the same key and body
 * again: the first answer, no second SMS; another body: 409), and POSTs
 * signed delivery receipts to each message's callback_url and inbound
 * messages to the inbound URL, retrying until they are acknowledged (2xx).
 *
 * - `POST /v1/messages` `{to, text, client_ref, callback_url}` + `Idempotency-Key`
 *   → 201 `{message_id, client_ref, to, from, country, status: "ACCEPTED", segments, encoding, price, currency, accepted_at}`;
 * - `POST /v1/messages/batch` `{messages: [{to, text, client_ref, callback_url}, …]}` (1-100), each under its client_ref as
 *   its idempotency key → 200 `{results: [...]}` in order, each the message or `{client_ref, error: {code, message}}`;
 * - `GET /v1/messages?client_ref=` → the message (status ACCEPTED, DELIVERED, UNDELIVERED + error_code), 404 unknown.
 * Errors `{code, message}`: 400 INVALID_NUMBER / INVALID_TEXT / MALFORMED, 401 BAD_SIGNATURE,
 * 409 IDEMPOTENCY_KEY_REUSED, 422 COUNTRY_NOT_SUPPORTED, 429 THROTTLED, 503 UNAVAILABLE.
 *
 * Per country (`countries`): the price per segment (USD) and the sender
 * number; a country missing there is not supported. Receipts come
 * `receiptDelayMs` after acceptance: UNDELIVERED with an error code for a
 * `failureRate` share (per country too) or a number given an outcome, else
 * DELIVERED; one request per receipt, or with `receiptBatchMax` > 1 those
 * due to one URL within `receiptBatchWindowMs` gathered into
 * `{type: "receipts", receipts: [...]}`. Test controls: `settings`, `outcomes`, `rejections`, `faults`,
 * `injectInbound`, `resendReceipt`, `deliveries`; over HTTP under
 * `/sandbox/…` (GET messages, GET deliveries, POST settings, POST inbound,
 * POST receipts/{id}/resend).
 */

export interface CountryRule {
  /** USD per segment, decimal */
  price: string;
  /** the number messages to this country are sent from */
  sender: string;
}

export const DEFAULT_COUNTRIES: Readonly<Record<string, CountryRule>> = {
  CN: { price: '0.0075', sender: '+8610690000001' },
  HK: { price: '0.0450', sender: '+85258000001' },
  MO: { price: '0.0450', sender: '+85368000001' },
  TW: { price: '0.0560', sender: '+886900000001' },
  SG: { price: '0.0380', sender: '+6580000001' },
  MY: { price: '0.0310', sender: '+60110000001' },
  JP: { price: '0.0720', sender: '+81800000001' },
  KR: { price: '0.0440', sender: '+82100000001' },
  US: { price: '0.0079', sender: '+12025550100' },
  CA: { price: '0.0079', sender: '+16135550100' },
  GB: { price: '0.0400', sender: '+447700900001' },
  DE: { price: '0.0850', sender: '+4915100000001' },
  FR: { price: '0.0760', sender: '+33600000001' },
  AU: { price: '0.0520', sender: '+61400000001' },
};

/** Error codes an UNDELIVERED receipt carries, with their wording. */
export const UNDELIVERED_CODES: Readonly<Record<string, string>> = {
  ABSENT_SUBSCRIBER: 'the handset is off or out of coverage',
  UNKNOWN_SUBSCRIBER: 'the number is not in service',
  HANDSET_FULL: "the handset's memory is full",
  CARRIER_REJECTED: 'the destination carrier refused it',
};

export interface SmsSandboxSettings {
  /** how long after acceptance the receipt is sent */
  receiptDelayMs: number;
  /** the share of messages that end UNDELIVERED (0..1) */
  failureRate: number;
  /** per country: a failure rate of its own */
  countryFailureRate: Record<string, number>;
  /** countries refused with 422 COUNTRY_NOT_SUPPORTED although in the table */
  unsupportedCountries: Set<string>;
  /** receipts per callback request: 1 (default) posts each alone; more gathers those due to one URL into `{type: "receipts", receipts: [...]}` */
  receiptBatchMax: number;
  /** how long a gathered receipt waits for others before its request goes */
  receiptBatchWindowMs: number;
}

export interface SmsSandboxFaults {
  /** every API call answers 503 */
  unavailable: boolean;
  /** every API call answers 429 THROTTLED */
  throttle: boolean;
  /** messages are taken, but the answer is lost (503): a retry must not send twice */
  loseAnswers: boolean;
  /** answers are altered after signing (the platform must not believe them) */
  tamperAnswers: boolean;
  /** callbacks are altered after signing (the platform must refuse them) */
  tamperCallbacks: boolean;
  /** receipts are never sent */
  dropReceipts: boolean;
}

export interface SandboxSms {
  id: string;
  clientRef: string;
  idempotencyKey: string;
  to: string;
  from: string;
  country: string;
  text: string;
  segments: number;
  encoding: string;
  price: string;
  currency: 'USD';
  status: 'ACCEPTED' | 'DELIVERED' | 'UNDELIVERED';
  errorCode: string | null;
  errorMessage: string | null;
  acceptedAt: string;
  doneAt: string | null;
  callbackUrl: string;
  receiptId: string | null;
}

export interface SmsDelivery {
  kind: 'receipt' | 'inbound';
  /** the provider's id of the message it is about */
  messageId: string;
  url: string;
  attempt: number;
  /** 0 when the platform could not be reached */
  status: number;
  answer: string;
  acknowledged: boolean;
  at: string;
  /** how long the platform took to answer */
  ms: number;
  /** what was sent, as sent (a test may replay it) */
  request: { headers: Record<string, string>; body: string };
}

export interface SmsSandboxOptions {
  host?: string;
  port?: number;
  /** our account(s) at the provider */
  accounts: SmsCredentials[];
  keys?: SmsProviderKeys;
  /** where inbound messages are posted (the provider console's setting) */
  inboundUrl?: string;
  countries?: Record<string, CountryRule>;
  settings?: Partial<Omit<SmsSandboxSettings, 'unsupportedCountries'>> & { unsupportedCountries?: Iterable<string> };
  /** multiplies the callbacks' retry schedule (tests: 0.001) */
  timeScale?: number;
  /** host (or host:port) → origin the callback URLs' hosts resolve to (a DNS stand-in) */
  resolve?: Record<string, string>;
  log?: (line: string) => void;
}

export interface SmsSandbox {
  url: string;
  keys: SmsProviderKeys;
  settings: SmsSandboxSettings;
  faults: SmsSandboxFaults;
  /** number → the outcome its receipts say */
  outcomes: Map<string, { status: 'DELIVERED' } | { status: 'UNDELIVERED'; errorCode: string }>;
  /** number → the code its sends are refused with (INVALID_NUMBER, CONTENT_REJECTED, …) */
  rejections: Map<string, string>;
  /** provider id → message */
  messages: Map<string, SandboxSms>;
  /** how many times each client_ref was accepted as a new message (never more than 1) */
  acceptedCount(clientRef: string): number;
  byClientRef(clientRef: string): SandboxSms | undefined;
  deliveries: SmsDelivery[];
  inboundUrl: string | null;
  resolve: Map<string, string>;
  /** a handset sends a message to one of our numbers: posted to the inbound URL */
  injectInbound(input: { from: string; to: string; text: string }): { messageId: string };
  /** sends a message's receipt again (a fresh signature, as a provider retrying does) */
  resendReceipt(providerMessageId: string): void;
  waitForDelivery(predicate: (d: SmsDelivery) => boolean, timeoutMs?: number): Promise<SmsDelivery>;
  stop(): Promise<void>;
}

/** The most messages a batch call carries. */
export const BATCH_MAX = 100;
/** The largest request body taken (413 PAYLOAD_TOO_LARGE above it). */
export const MAX_BODY_BYTES = 512 * 1024;

class BodyTooLargeError extends Error {}

export const CALLBACK_RETRY_MS = [1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000];

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function microsToDecimal(micros: number): string {
  return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000)
    .padStart(6, '0')
    .slice(0, 4)}`;
}

function decimalMicros(text: string): number {
  const [whole = '0', fraction = ''] = text.split('.');
  return Number(whole) * 1_000_000 + Number(fraction.padEnd(6, '0').slice(0, 6));
}

export async function startSmsSandbox(options: SmsSandboxOptions): Promise<SmsSandbox> {
  const keys = options.keys ?? generateSmsProviderKeys();
  const log = options.log ?? (() => undefined);
  const timeScale = options.timeScale ?? 1;
  const countries = options.countries ?? DEFAULT_COUNTRIES;
  const secrets = new Map(options.accounts.map((a) => [a.apiKey, a.apiSecret]));
  const settings: SmsSandboxSettings = {
    receiptDelayMs: options.settings?.receiptDelayMs ?? 200,
    failureRate: options.settings?.failureRate ?? 0,
    countryFailureRate: options.settings?.countryFailureRate ?? {},
    unsupportedCountries: new Set(options.settings?.unsupportedCountries ?? []),
    receiptBatchMax: Math.min(BATCH_MAX, Math.max(1, options.settings?.receiptBatchMax ?? 1)),
    receiptBatchWindowMs: options.settings?.receiptBatchWindowMs ?? 20,
  };
  const faults: SmsSandboxFaults = {
    unavailable: false,
    throttle: false,
    loseAnswers: false,
    tamperAnswers: false,
    tamperCallbacks: false,
    dropReceipts: false,
  };
  const outcomes: SmsSandbox['outcomes'] = new Map();
  const rejections = new Map<string, string>();
  const messages = new Map<string, SandboxSms>();
  const byKey = new Map<string, { bodyHash: string; messageId: string }>();
  const byRef = new Map<string, SandboxSms>();
  const accepted = new Map<string, number>();
  const seenNonces = new Map<string, number>();
  const deliveries: SmsDelivery[] = [];
  const waiters = new Set<{ predicate: (d: SmsDelivery) => boolean; resolve: (d: SmsDelivery) => void }>();
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  const resolve = new Map(Object.entries(options.resolve ?? {}));
  /** callback URL → receipts waiting to go together (receiptBatchMax > 1) */
  const gathered = new Map<string, SandboxSms[]>();
  let stopped = false;

  function later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!stopped) run();
    }, ms);
    timer.unref();
    timers.add(timer);
  }

  function target(url: string): string {
    const parsed = new URL(url);
    const mapped = resolve.get(parsed.host) ?? resolve.get(parsed.hostname);
    if (!mapped) return url;
    return `${new URL(mapped).origin}${parsed.pathname}${parsed.search}`;
  }

  /** Posts a signed callback about one message or several (a receipt batch), again on the schedule until it is acknowledged. */
  function callback(kind: SmsDelivery['kind'], messageIds: string | readonly string[], url: string, payload: () => Record<string, unknown>): void {
    const ids = typeof messageIds === 'string' ? [messageIds] : messageIds;
    const messageId = ids.length === 1 ? ids[0]! : `${ids[0]}+${ids.length - 1}`;
    const attempt = (n: number) => {
      if (stopped) return;
      const run = (async () => {
        const body = JSON.stringify(payload());
        const signed = signSmsProviderMessage({ method: 'POST', path: new URL(url).pathname, body, privateKeyPem: keys.privateKeyPem });
        const sent = faults.tamperCallbacks ? body.replace(/"status":"DELIVERED"/, '"status":"UNDELIVERED"').replace(/"text":"/, '"text":"!') : body;
        const headers = { 'Content-Type': 'application/json', 'User-Agent': 'sms-sandbox/1', ...signed };
        let status = 0;
        let answer = '';
        const began = performance.now();
        try {
          const res = await fetch(target(url), { method: 'POST', headers, body: sent, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
          status = res.status;
          answer = (await res.text()).slice(0, 500);
        } catch (error) {
          answer = `unreachable: ${(error as Error).message}`;
        }
        const base = {
          kind,
          url,
          attempt: n,
          status,
          answer,
          acknowledged: status >= 200 && status < 300,
          at: new Date().toISOString(),
          ms: Math.round(performance.now() - began),
          request: { headers, body: sent },
        };
        // one record per message the request was about (a receipt batch: each of its messages)
        for (const id of ids) {
          const delivery: SmsDelivery = { ...base, messageId: id };
          deliveries.push(delivery);
          for (const waiter of waiters) {
            if (waiter.predicate(delivery)) {
              waiters.delete(waiter);
              waiter.resolve(delivery);
            }
          }
        }
        const delivery = base;
        if (!delivery.acknowledged) {
          log(`${kind} ${messageId} #${n} → ${status} (${answer.slice(0, 80)})`);
          const delay = CALLBACK_RETRY_MS[n - 1];
          if (delay !== undefined) later(Math.max(1, Math.round(delay * timeScale)), () => attempt(n + 1));
        }
      })();
      inFlight.add(run);
      void run.finally(() => inFlight.delete(run));
    };
    attempt(1);
  }

  function receiptPayload(sms: SandboxSms): Record<string, unknown> {
    return {
      type: 'receipt',
      receipt_id: sms.receiptId,
      message_id: sms.id,
      client_ref: sms.clientRef,
      to: sms.to,
      from: sms.from,
      status: sms.status,
      error_code: sms.errorCode,
      error_message: sms.errorMessage,
      price: sms.price,
      currency: sms.currency,
      done_at: sms.doneAt,
    };
  }

  function settle(sms: SandboxSms): void {
    const forced = outcomes.get(sms.to);
    const rate = settings.countryFailureRate[sms.country] ?? settings.failureRate;
    const undelivered = forced ? forced.status === 'UNDELIVERED' : Math.random() < rate;
    const codes = Object.keys(UNDELIVERED_CODES);
    const code = forced?.status === 'UNDELIVERED' ? forced.errorCode : codes[randomInt(codes.length)]!;
    sms.status = undelivered ? 'UNDELIVERED' : 'DELIVERED';
    sms.errorCode = undelivered ? code : null;
    sms.errorMessage = undelivered ? (UNDELIVERED_CODES[code] ?? 'not delivered') : null;
    sms.doneAt = new Date().toISOString();
    sms.receiptId = `DR${randomBytes(10).toString('hex')}`;
    if (faults.dropReceipts) return log(`receipt of ${sms.id} dropped`);
    if (settings.receiptBatchMax <= 1) return callback('receipt', sms.id, sms.callbackUrl, () => receiptPayload(sms));
    const pending = gathered.get(sms.callbackUrl);
    if (pending) pending.push(sms);
    else {
      gathered.set(sms.callbackUrl, [sms]);
      later(settings.receiptBatchWindowMs, () => postGathered(sms.callbackUrl));
    }
    if ((gathered.get(sms.callbackUrl)?.length ?? 0) >= settings.receiptBatchMax) postGathered(sms.callbackUrl);
  }

  /** The receipts gathered for one URL, in one signed request. */
  function postGathered(url: string): void {
    const batch = gathered.get(url);
    gathered.delete(url);
    if (!batch || batch.length === 0) return;
    callback(
      'receipt',
      batch.map((sms) => sms.id),
      url,
      () => ({ type: 'receipts', receipts: batch.map(receiptPayload) }),
    );
  }

  function answer(res: ServerResponse, status: number, requestNonce: string, payload: Record<string, unknown>, extra: Record<string, string> = {}): void {
    const body = JSON.stringify(payload);
    const signed = signSmsProviderMessage({ method: 'ANSWER', path: requestNonce, body, privateKeyPem: keys.privateKeyPem });
    const sent = faults.tamperAnswers ? body.replace(/"to":"\+/, '"to":"+9') : body;
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...signed, ...extra });
    res.end(sent);
  }

  function view(sms: SandboxSms): Record<string, unknown> {
    return {
      message_id: sms.id,
      client_ref: sms.clientRef,
      to: sms.to,
      from: sms.from,
      country: sms.country,
      status: sms.status,
      segments: sms.segments,
      encoding: sms.encoding,
      price: sms.price,
      currency: sms.currency,
      accepted_at: sms.acceptedAt,
      error_code: sms.errorCode,
      done_at: sms.doneAt,
    };
  }

  /** One message offered under its idempotency key: the answer's status and body (the message, or `{code, message}`). */
  function offer(input: Record<string, unknown>, key: string): { status: number; payload: Record<string, unknown> } {
    const { to, text: message, client_ref: clientRef, callback_url: callbackUrl } = input;
    // the key's body: what the message is, however the request around it was laid out
    const bodyHash = sha256Hex(JSON.stringify([to, message, clientRef, callbackUrl]));
    const known = byKey.get(key);
    if (known) {
      if (known.bodyHash !== bodyHash) return { status: 409, payload: { code: 'IDEMPOTENCY_KEY_REUSED', message: 'this key was used with another body' } };
      return { status: 200, payload: view(messages.get(known.messageId)!) };
    }
    if (typeof clientRef !== 'string' || clientRef === '' || clientRef.length > 64)
      return { status: 400, payload: { code: 'MALFORMED', message: 'client_ref is required' } };
    if (typeof callbackUrl !== 'string' || !URL.canParse(callbackUrl))
      return { status: 400, payload: { code: 'MALFORMED', message: 'callback_url is required' } };
    if (typeof message !== 'string' || message === '' || message.length > 1600)
      return { status: 400, payload: { code: 'INVALID_TEXT', message: 'text must be 1-1600 characters' } };
    const number = typeof to === 'string' && to.startsWith('+') ? parsePhoneNumberFromString(to) : undefined;
    if (!number?.isValid() || !number.country) return { status: 400, payload: { code: 'INVALID_NUMBER', message: 'to is not a valid E.164 number' } };
    const refused = rejections.get(number.number);
    if (refused) return { status: refused === 'COUNTRY_NOT_SUPPORTED' ? 422 : 400, payload: { code: refused, message: `refused: ${refused}` } };
    const rule = countries[number.country];
    if (!rule || settings.unsupportedCountries.has(number.country))
      return { status: 422, payload: { code: 'COUNTRY_NOT_SUPPORTED', message: `no route to ${number.country}` } };
    const { segments, encoding } = countSegments(message);
    const sms: SandboxSms = {
      id: `SM${randomBytes(12).toString('hex')}`,
      clientRef,
      idempotencyKey: key,
      to: number.number,
      from: rule.sender,
      country: number.country,
      text: message,
      segments,
      encoding,
      price: microsToDecimal(decimalMicros(rule.price) * segments),
      currency: 'USD',
      status: 'ACCEPTED',
      errorCode: null,
      errorMessage: null,
      acceptedAt: new Date().toISOString(),
      doneAt: null,
      callbackUrl,
      receiptId: null,
    };
    messages.set(sms.id, sms);
    byKey.set(key, { bodyHash, messageId: sms.id });
    byRef.set(clientRef, sms);
    accepted.set(clientRef, (accepted.get(clientRef) ?? 0) + 1);
    later(settings.receiptDelayMs, () => settle(sms));
    return { status: 201, payload: view(sms) };
  }

  function parseObject(text: string): Record<string, unknown> | null {
    try {
      const parsed = JSON.parse(text) as unknown;
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  function sendMessage(res: ServerResponse, nonce: string, headers: IncomingMessage['headers'], text: string): void {
    const input = parseObject(text);
    if (!input) return answer(res, 400, nonce, { code: 'MALFORMED', message: 'the body is not a JSON object' });
    const key = headers['idempotency-key'];
    if (typeof key !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(key))
      return answer(res, 400, nonce, { code: 'MALFORMED', message: 'Idempotency-Key is required' });
    const { status, payload } = offer(input, key);
    if (faults.loseAnswers && status === 201) return answer(res, 503, nonce, { code: 'UNAVAILABLE', message: 'the answer was lost on the way' });
    answer(res, status, nonce, payload);
  }

  /** Several messages in one call, each under its client_ref as its idempotency key; one result per message, in order. */
  function sendBatch(res: ServerResponse, nonce: string, text: string): void {
    const list = parseObject(text)?.['messages'];
    if (!Array.isArray(list) || list.length === 0 || list.length > BATCH_MAX)
      return answer(res, 400, nonce, { code: 'MALFORMED', message: `messages: 1-${BATCH_MAX} messages` });
    let taken = 0;
    const results = list.map((item: unknown) => {
      const input = item && typeof item === 'object' && !Array.isArray(item) ? (item as Record<string, unknown>) : {};
      const clientRef = input['client_ref'];
      if (typeof clientRef !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(clientRef))
        return { client_ref: clientRef ?? null, error: { code: 'MALFORMED', message: 'client_ref is required (1-64 of A-Z a-z 0-9 _ -)' } };
      const { status, payload } = offer(input, clientRef);
      if (status === 201) taken += 1;
      return status < 300 ? payload : { client_ref: clientRef, error: payload };
    });
    if (faults.loseAnswers && taken > 0) return answer(res, 503, nonce, { code: 'UNAVAILABLE', message: 'the answer was lost on the way' });
    answer(res, 200, nonce, { results });
  }

  function json(res: ServerResponse, status: number, payload: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(payload));
  }

  async function controls(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = req.method === 'POST' ? await readBody(req) : '';
    const input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    if (req.method === 'GET' && url.pathname === '/sandbox/messages') return json(res, 200, [...messages.values()]);
    if (req.method === 'GET' && url.pathname === '/sandbox/deliveries') return json(res, 200, deliveries);
    if (req.method === 'POST' && url.pathname === '/sandbox/settings') {
      if (typeof input['receipt_delay_ms'] === 'number') settings.receiptDelayMs = input['receipt_delay_ms'];
      if (typeof input['failure_rate'] === 'number') settings.failureRate = input['failure_rate'];
      if (Array.isArray(input['unsupported_countries'])) settings.unsupportedCountries = new Set(input['unsupported_countries'].map(String));
      if (typeof input['receipt_batch_max'] === 'number') settings.receiptBatchMax = Math.min(BATCH_MAX, Math.max(1, input['receipt_batch_max']));
      if (typeof input['receipt_batch_window_ms'] === 'number') settings.receiptBatchWindowMs = input['receipt_batch_window_ms'];
      return json(res, 200, { ...settings, unsupportedCountries: [...settings.unsupportedCountries] });
    }
    if (req.method === 'POST' && url.pathname === '/sandbox/inbound') {
      return json(res, 202, sandbox.injectInbound({ from: String(input['from']), to: String(input['to']), text: String(input['text'] ?? '') }));
    }
    const resend = /^\/sandbox\/receipts\/([A-Za-z0-9]+)\/resend$/.exec(url.pathname);
    if (req.method === 'POST' && resend) {
      if (!messages.get(resend[1]!)?.receiptId) return json(res, 404, { code: 'NOT_FOUND', message: 'no receipt for that message yet' });
      sandbox.resendReceipt(resend[1]!);
      return json(res, 202, { resent: true });
    }
    json(res, 404, { code: 'NOT_FOUND', message: `no sandbox control ${req.method} ${url.pathname}` });
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let body: string;
    try {
      body = await readBody(req);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return json(res, 413, { code: 'PAYLOAD_TOO_LARGE', message: `at most ${MAX_BODY_BYTES} bytes` });
      throw error;
    }
    const pathWithQuery = `${url.pathname}${url.search}`;
    const rawNonce = req.headers['x-nonce'];
    const nonce = typeof rawNonce === 'string' && NONCE.test(rawNonce) ? rawNonce : '';
    const check = verifySmsRequest({ method: req.method ?? 'GET', pathWithQuery, headers: req.headers, body, secretOf: (k) => secrets.get(k) });
    if (!check.ok) return answer(res, 401, nonce, { code: 'BAD_SIGNATURE', message: check.reason });
    const now = Date.now();
    if ((seenNonces.get(check.nonce) ?? 0) > now) return answer(res, 401, nonce, { code: 'BAD_SIGNATURE', message: 'nonce reused (replayed request)' });
    seenNonces.set(check.nonce, now + 11 * 60_000);
    if (seenNonces.size > 100_000) for (const [n, until] of seenNonces) if (until <= now) seenNonces.delete(n);
    if (faults.unavailable) return answer(res, 503, nonce, { code: 'UNAVAILABLE', message: 'down for maintenance' });
    if (faults.throttle) return answer(res, 429, nonce, { code: 'THROTTLED', message: 'slow down' }, { 'Retry-After': '1' });
    if (req.method === 'POST' && url.pathname === '/v1/messages') return sendMessage(res, nonce, req.headers, body);
    if (req.method === 'POST' && url.pathname === '/v1/messages/batch') return sendBatch(res, nonce, body);
    if (req.method === 'GET' && url.pathname === '/v1/messages') {
      const sms = byRef.get(url.searchParams.get('client_ref') ?? '');
      return sms ? answer(res, 200, nonce, view(sms)) : answer(res, 404, nonce, { code: 'NOT_FOUND', message: 'no message with that client_ref' });
    }
    answer(res, 404, nonce, { code: 'NOT_FOUND', message: `no route ${req.method} ${url.pathname}` });
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const handler = url.pathname.startsWith('/sandbox/') ? controls : api;
    handler(req, res, url).catch((error: unknown) => {
      log(`error: ${(error as Error).message}`);
      if (!res.headersSent) json(res, 500, { code: 'INTERNAL', message: 'sandbox error' });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((done) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', done));
  const address = server.address() as AddressInfo;
  const baseUrl = `http://${options.host ?? '127.0.0.1'}:${address.port}`;

  const sandbox: SmsSandbox = {
    url: baseUrl,
    keys,
    settings,
    faults,
    outcomes,
    rejections,
    messages,
    acceptedCount: (clientRef) => accepted.get(clientRef) ?? 0,
    byClientRef: (clientRef) => byRef.get(clientRef),
    deliveries,
    inboundUrl: options.inboundUrl ?? null,
    resolve,
    injectInbound(input) {
      if (!sandbox.inboundUrl) throw new Error('no inbound URL configured');
      const messageId = `IN${randomBytes(12).toString('hex')}`;
      const receivedAt = new Date().toISOString();
      callback('inbound', messageId, sandbox.inboundUrl, () => ({
        type: 'inbound',
        message_id: messageId,
        from: input.from,
        to: input.to,
        text: input.text,
        received_at: receivedAt,
      }));
      return { messageId };
    },
    resendReceipt(providerMessageId) {
      const sms = messages.get(providerMessageId);
      if (!sms?.receiptId) throw new Error(`no receipt for ${providerMessageId} yet`);
      callback('receipt', sms.id, sms.callbackUrl, () => receiptPayload(sms));
    },
    waitForDelivery(predicate, timeoutMs = 10_000) {
      const found = deliveries.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolveWait, reject) => {
        const waiter = {
          predicate,
          resolve: (d: SmsDelivery) => {
            clearTimeout(timer);
            resolveWait(d);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching sms callback within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.allSettled([...inFlight]);
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
  return sandbox;
}
