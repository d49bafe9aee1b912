import { createHmac, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle } from '../write-model/core/command-handler.js';
import type { SealedSecret } from '../write-model/core/sealed-secret.js';
import { smsMessageAggregate } from '../write-model/sms-message/decider.js';
import type { SmsCodePurpose } from '../write-model/sms-message/events.js';
import { smsUnitPriceFen } from '../write-model/sms-message/prices.js';
import type { SecretBox } from './ports/secret-box.js';
import { parseSmsNumber } from './sms.js';

/**
 * One-time codes sent by SMS (phone verification, login codes), the
 * pieces both flows share:
 * - a code is 6 random digits; what is kept of it is an HMAC-SHA256 under a
 *   server key (`smsCodeKey`), bound to its purpose, user and subject (the
 *   number, or the login challenge): a plain hash of six digits could be
 *   tried offline in a second, a keyed one cannot;
 * - the SMS carrying it has its body sealed in the `sms_message` events
 *   (context `sms-text:{messageId}`, opened by the worker only) and shows
 *   the masked body everywhere else (`••••••` where the code is);
 * - sending is limited per user (one per SMS_CODE_RESEND_SECONDS, at most
 *   SMS_CODES_PER_USER_HOURLY an hour: `CodeSendLimits`), wrong codes per
 *   code (SMS_CODE_MAX_ATTEMPTS: `CodeAttempts`), both in Redis, so the user
 *   stream records no attempt.
 */

export const SMS_CODE = /^[0-9]{6}$/;
const MASK = '••••••';

/** The HMAC key of code hashes, derived from a server secret (JWT_SECRET): every API instance derives the same. */
export function smsCodeKey(serverSecret: string): Buffer {
  return createHmac('sha256', serverSecret).update('sms-one-time-codes').digest();
}

export function generateSmsCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

/** HMAC-SHA256 hex of a code for one purpose, user and subject (a number in E.164, or a login challenge's nonce). */
export function hashSmsCode(key: Buffer, purpose: SmsCodePurpose, userId: string, subject: string, code: string): string {
  return createHmac('sha256', key).update(`${purpose}\n${userId}\n${subject}\n${code}`, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex digests. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/**
 * The SMS text of a code. The code's six characters are the only difference
 * from the masked text, both are UCS-2 (the Chinese part), so segments and
 * price are the same for both.
 */
export function smsCodeText(purpose: SmsCodePurpose, code: string, ttlMinutes: number): string {
  const minutes = Math.max(1, Math.round(ttlMinutes));
  return purpose === 'login_code'
    ? `Collector 登录验证码 / login code: ${code} (${minutes} min)`
    : `Collector 手机验证码 / phone code: ${code} (${minutes} min)`;
}

export function maskedSmsCodeText(purpose: SmsCodePurpose, ttlMinutes: number): string {
  return smsCodeText(purpose, MASK, ttlMinutes);
}

const textContext = (messageId: string) => `sms-text:${messageId}`;

export function sealSmsText(secretBox: SecretBox, messageId: string, text: string): SealedSecret {
  return secretBox.encrypt(text, textContext(messageId));
}

/** The body as sent; only the worker calls this, for the provider. */
export function openSmsText(secretBox: SecretBox, messageId: string, sealed: SealedSecret): string {
  return secretBox.decrypt(sealed, textContext(messageId));
}

/** `+86•••••••8000`: enough for the user to recognise the number in an answer. */
export function maskPhone(e164: string): string {
  return `${e164.slice(0, e164.length > 8 ? 3 : 1)}${'•'.repeat(Math.max(0, e164.length - 7))}${e164.slice(-4)}`;
}

/** A fixed-window counter (adapters/rate-limit/fixed-window.ts). */
export interface WindowCounter {
  hit(key: string): Promise<{ allowed: boolean; retryAfterSeconds: number }>;
  peek(key: string): Promise<{ allowed: boolean; retryAfterSeconds: number }>;
}

/** How often codes are sent to one user: `resend` (one a window) and `hourly`. */
export interface CodeSendLimits {
  resend: WindowCounter | null;
  hourly: WindowCounter;
}

/** Wrong attempts per code (keyed by what names the code); `peek` says whether another try is allowed. */
export type CodeAttempts = WindowCounter;

/** Another code too soon after the last, or too many this hour: 429 with Retry-After. */
export class CodeThrottledError extends Error {
  override readonly name = 'CodeThrottledError';
  constructor(readonly retryAfterSeconds: number) {
    super(`a code was sent a moment ago or too many were sent; try again in ${retryAfterSeconds} s`);
  }
}

/** Counts one code send for the user, or throws CodeThrottledError (the send is not counted against the other limit then). */
export async function throttleCodeSend(limits: CodeSendLimits, userId: string): Promise<void> {
  if (limits.resend) {
    const resend = await limits.resend.hit(userId);
    if (!resend.allowed) throw new CodeThrottledError(resend.retryAfterSeconds);
  }
  const hourly = await limits.hourly.hit(userId);
  if (!hourly.allowed) throw new CodeThrottledError(hourly.retryAfterSeconds);
}

export interface CodeSmsDeps {
  store: EventStore;
  secretBox: SecretBox;
  now: () => Date;
}

/** The number is no SMS destination we serve (checked when it is given). */
export class CodeNumberError extends Error {
  override readonly name = 'CodeNumberError';
}

/**
 * The number as E.164 with its country, for a code SMS: a number that is not
 * valid for SMS, or of a country not served, is CodeNumberError.
 */
export function codeNumber(input: string, defaultRegion: string): { e164: string; country: string; callingCode: string } {
  const number = parseSmsNumber(input, defaultRegion);
  if (!number.ok) throw new CodeNumberError(number.problem);
  if (smsUnitPriceFen(number.country) === null) throw new CodeNumberError(`SMS is not sent to ${number.country}`);
  return number;
}

/**
 * Requests the SMS carrying a code: SmsRequested on a fresh `sms_message`
 * stream with the masked text and the real one sealed. pm-sms-messages
 * queues it like any other; the user sees it (masked) in GET /sms/messages.
 */
export async function requestCodeSms(
  deps: CodeSmsDeps,
  input: { userId: string; phoneE164: string; purpose: SmsCodePurpose; code: string; ttlMinutes: number },
  context: CommandContext,
): Promise<string> {
  const number = codeNumber(input.phoneE164, 'CN');
  const messageId = randomUUID();
  await handle(
    deps.store,
    smsMessageAggregate,
    messageId,
    {
      type: 'RequestSms',
      messageId,
      ownerId: input.userId,
      to: number.e164,
      country: number.country,
      callingCode: number.callingCode,
      text: maskedSmsCodeText(input.purpose, input.ttlMinutes),
      sealedText: sealSmsText(deps.secretBox, messageId, smsCodeText(input.purpose, input.code, input.ttlMinutes)),
      purpose: input.purpose,
      now: deps.now().toISOString(),
    },
    { context, expectedRevision: 'no_stream' },
  );
  return messageId;
}
