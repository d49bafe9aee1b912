import {
  SmsProviderError,
  type SmsAccepted,
  type SmsBatchOutcome,
  type SmsProvider,
  type SmsProviderStatus,
  type SmsToSend,
} from '../../application/ports/sms-provider.js';
import { newNonce, signSmsRequest, verifySmsProviderSignature } from './signature.js';

/**
 * The SMS provider's HTTP API (JSON over HTTPS, SMS_PROVIDER_URL):
 * - `POST /v1/messages` `{to, text, client_ref, callback_url}` with
 *   `Idempotency-Key: {our message id}` → 201 (200 for a repeat of the same
 *   key and body: the first answer again, no second SMS)
 *   `{message_id, client_ref, to, from, country, status: "ACCEPTED", segments, price, currency, accepted_at}`;
 * - `POST /v1/messages/batch` `{messages: [{to, text, client_ref, callback_url}, …]}`
 *   (1–SMS_BATCH_MAX) → 200 `{results: [...]}` in the order sent, each the
 *   message as above or `{client_ref, error: {code, message}}`; the
 *   client_ref is each message's idempotency key (a repeat: the first
 *   answer; another body under it: IDEMPOTENCY_KEY_REUSED);
 * - `GET /v1/messages?client_ref={our id}` → the message with `status`
 *   ACCEPTED, DELIVERED or UNDELIVERED (`error_code`); 404 when unknown.
 * Errors: `{code, message}` — 400 INVALID_NUMBER / INVALID_TEXT, 401
 * BAD_SIGNATURE, 409 IDEMPOTENCY_KEY_REUSED, 422 COUNTRY_NOT_SUPPORTED /
 * CONTENT_REJECTED, 429 THROTTLED (Retry-After), 5xx.
 * Requests are signed with our API secret, answers with the provider's key
 * (signature.ts); an answer that does not verify is not believed.
 */
export interface SmsClientOptions {
  /** SMS_PROVIDER_URL: the API's base (a path prefix is kept) */
  baseUrl: string;
  apiKey: string;
  apiSecret: string;
  /** SMS_PROVIDER_PUBLIC_KEY (SPKI PEM, Ed25519) */
  providerPublicKeyPem: string;
  /** where receipts go: {SMS_CALLBACK_BASE_URL}/api/v1/sms/callbacks/receipts */
  receiptUrl: string;
  timeoutMs: number;
  now?: () => Date;
  fetch?: typeof fetch;
}

/** A decimal amount (`0.0420`) → integer millionths; null when it is not one. */
export function decimalToMicros(value: unknown): number | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const text = String(value);
  const match = /^(\d{1,9})(?:\.(\d{1,6}))?$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * 1_000_000 + Number((match[2] ?? '').padEnd(6, '0'));
}

/** The most messages one batch call carries. */
export const SMS_BATCH_MAX = 100;

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

export class HttpSmsProvider implements SmsProvider {
  private readonly base: URL;

  constructor(private readonly options: SmsClientOptions) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  }

  /** A signed call; the verified JSON answer with its status. 5xx, 429 and network → unavailable; a bad answer signature → invalid_answer. */
  private async call(method: 'GET' | 'POST', relative: string, payload?: unknown, headers: Record<string, string> = {}) {
    const url = new URL(relative, this.base);
    const pathWithQuery = `${url.pathname}${url.search}`;
    const body = payload === undefined ? '' : JSON.stringify(payload);
    const now = this.options.now?.() ?? new Date();
    const nonce = newNonce();
    const signed = signSmsRequest({ method, pathWithQuery, body, apiKey: this.options.apiKey, apiSecret: this.options.apiSecret, now, nonce });
    const all: Record<string, string> = { ...signed, ...headers, Accept: 'application/json', 'User-Agent': 'collector-sms/1' };
    if (payload !== undefined) all['Content-Type'] = 'application/json';
    let status: number;
    let answer: string;
    let responseHeaders: Headers;
    try {
      const res = await (this.options.fetch ?? fetch)(url, {
        method,
        headers: all,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
        ...(payload !== undefined ? { body } : {}),
      });
      status = res.status;
      responseHeaders = res.headers;
      answer = await res.text();
    } catch (error) {
      const timedOut = (error as Error)?.name === 'TimeoutError' || (error as Error)?.name === 'AbortError';
      throw new SmsProviderError(
        'unavailable',
        timedOut ? 'TIMEOUT' : 'NETWORK',
        timedOut ? `no answer within ${this.options.timeoutMs} ms` : `could not reach ${url.host}`,
      );
    }
    if (status === 429) {
      const seconds = Number(responseHeaders.get('retry-after'));
      throw new SmsProviderError('unavailable', 'THROTTLED', 'the provider throttles us', Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : null);
    }
    if (status >= 500) throw new SmsProviderError('unavailable', `HTTP_${status}`, `the provider answered ${status}`);
    const verified = verifySmsProviderSignature({
      method: 'ANSWER',
      path: nonce,
      headers: Object.fromEntries(responseHeaders),
      body: answer,
      publicKeyPem: this.options.providerPublicKeyPem,
      now: this.options.now?.() ?? new Date(),
    });
    if (!verified.ok) throw new SmsProviderError('invalid_answer', 'BAD_SIGNATURE', `the answer does not verify: ${verified.reason}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer);
    } catch {
      throw new SmsProviderError('invalid_answer', 'NOT_JSON', 'the answer is not JSON');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new SmsProviderError('invalid_answer', 'NOT_JSON', 'the answer is not a JSON object');
    return { status, body: parsed as Record<string, unknown> };
  }

  private refused(body: Record<string, unknown>, status: number): SmsProviderError {
    return new SmsProviderError('refused', text(body['code']) ?? `HTTP_${status}`, (text(body['message']) ?? `answered ${status}`).slice(0, 300));
  }

  private accepted(body: Record<string, unknown>, clientRef: string): SmsAccepted {
    const providerMessageId = text(body['message_id']);
    if (!providerMessageId || !/^[A-Za-z0-9_.-]{1,100}$/.test(providerMessageId))
      throw new SmsProviderError('invalid_answer', 'NO_MESSAGE_ID', 'the answer has no usable message_id');
    if (body['client_ref'] !== clientRef) throw new SmsProviderError('invalid_answer', 'FOREIGN', 'the answer is about another message');
    const priceMicros = decimalToMicros(body['price']);
    const currency = priceMicros !== null && typeof body['currency'] === 'string' && /^[A-Z]{3}$/.test(body['currency']) ? body['currency'] : null;
    const acceptedAt = text(body['accepted_at']);
    return {
      providerMessageId,
      senderNumber: text(body['from']),
      priceMicros: currency ? priceMicros : null,
      currency,
      segments: Number.isSafeInteger(body['segments']) ? (body['segments'] as number) : null,
      acceptedAt: acceptedAt && !Number.isNaN(Date.parse(acceptedAt)) ? new Date(acceptedAt).toISOString() : (this.options.now?.() ?? new Date()).toISOString(),
    };
  }

  async send(sms: SmsToSend): Promise<SmsAccepted> {
    const { status, body } = await this.call(
      'POST',
      'v1/messages',
      { to: sms.to, text: sms.text, client_ref: sms.messageId, callback_url: this.options.receiptUrl },
      { 'Idempotency-Key': sms.messageId },
    );
    if (status !== 200 && status !== 201) throw this.refused(body, status);
    return this.accepted(body, sms.messageId);
  }

  async sendBatch(list: readonly SmsToSend[]): Promise<SmsBatchOutcome[]> {
    if (list.length === 0) return [];
    if (list.length > SMS_BATCH_MAX) throw new RangeError(`a batch carries at most ${SMS_BATCH_MAX} messages`);
    const messages = list.map((sms) => ({ to: sms.to, text: sms.text, client_ref: sms.messageId, callback_url: this.options.receiptUrl }));
    const { status, body } = await this.call('POST', 'v1/messages/batch', { messages });
    if (status !== 200) throw this.refused(body, status);
    const results = body['results'];
    if (!Array.isArray(results) || results.length !== list.length)
      throw new SmsProviderError('invalid_answer', 'BAD_RESULTS', 'the answer does not have one result per message');
    return list.map((sms, i): SmsBatchOutcome => {
      const result = results[i] as Record<string, unknown> | null;
      try {
        if (!result || typeof result !== 'object') throw new SmsProviderError('invalid_answer', 'BAD_RESULTS', 'a result is not an object');
        const error = result['error'] as Record<string, unknown> | undefined;
        if (error && typeof error === 'object') {
          if (result['client_ref'] !== sms.messageId) throw new SmsProviderError('invalid_answer', 'FOREIGN', 'the answer is about another message');
          return { ok: false, error: this.refused(error, 400) };
        }
        return { ok: true, accepted: this.accepted(result, sms.messageId) };
      } catch (failure) {
        if (failure instanceof SmsProviderError) return { ok: false, error: failure };
        throw failure;
      }
    });
  }

  async status(messageId: string): Promise<SmsProviderStatus> {
    const { status, body } = await this.call('GET', `v1/messages?client_ref=${encodeURIComponent(messageId)}`);
    if (status === 404) return { state: 'absent' };
    if (status !== 200) throw this.refused(body, status);
    const accepted = this.accepted(body, messageId);
    switch (body['status']) {
      case 'ACCEPTED':
        return { state: 'accepted', ...accepted };
      case 'DELIVERED':
        return { state: 'delivered', ...accepted };
      case 'UNDELIVERED':
        return { state: 'undelivered', errorCode: text(body['error_code']) ?? 'UNKNOWN', ...accepted };
      default:
        throw new SmsProviderError('invalid_answer', 'BAD_STATUS', `unknown status ${String(body['status'])}`);
    }
  }
}
