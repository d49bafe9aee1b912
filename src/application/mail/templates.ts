/**
 * The platform's transactional mails as plain functions: data in, subject +
 * text + HTML out. Bilingual (Chinese first, English below) so one mail fits
 * every account. Every value interpolated into HTML goes through `escapeHtml`.
 */

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

const PRODUCT = 'Collector';

export interface PasswordResetMailInput {
  /** the single-use link, token included */
  resetUrl: string;
  /** how long the link stays valid */
  expiresInMinutes: number;
}

export function passwordResetMail({ resetUrl, expiresInMinutes }: PasswordResetMailInput): RenderedMail {
  const url = safeHttpUrl(resetUrl);
  const minutes = formatMinutes(expiresInMinutes);

  const subject = `重置密码 / Reset your password – ${PRODUCT}`;
  const text = [
    '您好，',
    '',
    `我们收到了重置您 ${PRODUCT} 账户密码的请求。请打开以下链接设置新密码（${minutes.zh}内有效，仅可使用一次）：`,
    '',
    url,
    '',
    '如果这不是您本人的操作，请忽略本邮件，您的密码不会改变。',
    '',
    '—',
    '',
    'Hello,',
    '',
    `We received a request to reset the password of your ${PRODUCT} account. Open the link below to choose a new one (valid for ${minutes.en}, single use):`,
    '',
    url,
    '',
    'If you did not ask for this, ignore this email: your password stays unchanged.',
    '',
    `— ${PRODUCT}`,
  ].join('\n');

  const link = escapeHtml(url);
  const html = layout(subject, [
    '<p>您好，</p>',
    `<p>我们收到了重置您 ${PRODUCT} 账户密码的请求。请点击下面的按钮设置新密码（${escapeHtml(minutes.zh)}内有效，仅可使用一次）。</p>`,
    button(link, '重置密码'),
    '<p>如果这不是您本人的操作，请忽略本邮件，您的密码不会改变。</p>',
    '<hr style="border:none;border-top:1px solid #ddd;margin:24px 0">',
    '<p>Hello,</p>',
    `<p>We received a request to reset the password of your ${PRODUCT} account. Use the button below to choose a new one (valid for ${escapeHtml(minutes.en)}, single use).</p>`,
    button(link, 'Reset password'),
    '<p>If you did not ask for this, ignore this email: your password stays unchanged.</p>',
    `<p style="color:#666;font-size:12px">如果按钮无法点击，请复制此链接 / If the button does not work, copy this link:<br><a href="${link}">${link}</a></p>`,
  ]);

  return { subject, text, html };
}

export interface EmailVerificationMailInput {
  /** the single-use link, token included */
  verifyUrl: string;
  /** how long the link stays valid */
  expiresInMinutes: number;
}

export function emailVerificationMail({ verifyUrl, expiresInMinutes }: EmailVerificationMailInput): RenderedMail {
  const url = safeHttpUrl(verifyUrl);
  const minutes = formatMinutes(expiresInMinutes);
  const subject = `验证邮箱 / Verify your email – ${PRODUCT}`;
  const text = [
    '您好，',
    '',
    `请打开以下链接验证您 ${PRODUCT} 账户的邮箱（${minutes.zh}内有效）。验证之前，账户不能付款，也不能绑定平台账号：`,
    '',
    url,
    '',
    '如果您没有注册，请忽略本邮件。',
    '',
    '—',
    '',
    'Hello,',
    '',
    `Open the link below to verify the email of your ${PRODUCT} account (valid for ${minutes.en}). Until it is verified, the account cannot pay or connect platform accounts:`,
    '',
    url,
    '',
    'If you did not sign up, ignore this email.',
    '',
    `— ${PRODUCT}`,
  ].join('\n');
  const link = escapeHtml(url);
  const html = layout(subject, [
    '<p>您好，</p>',
    `<p>请点击下面的按钮验证您 ${PRODUCT} 账户的邮箱（${escapeHtml(minutes.zh)}内有效）。验证之前，账户不能付款，也不能绑定平台账号。</p>`,
    button(link, '验证邮箱'),
    '<hr style="border:none;border-top:1px solid #ddd;margin:24px 0">',
    '<p>Hello,</p>',
    `<p>Use the button below to verify the email of your ${PRODUCT} account (valid for ${escapeHtml(minutes.en)}). Until it is verified, the account cannot pay or connect platform accounts.</p>`,
    button(link, 'Verify email'),
    '<p>If you did not sign up, ignore this email.</p>',
    `<p style="color:#666;font-size:12px">如果按钮无法点击，请复制此链接 / If the button does not work, copy this link:<br><a href="${link}">${link}</a></p>`,
  ]);
  return { subject, text, html };
}

export function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function layout(title: string, blocks: string[]): string {
  return [
    '<!doctype html>',
    '<html><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title></head>`,
    '<body style="font-family:-apple-system,Segoe UI,PingFang SC,Microsoft YaHei,sans-serif;line-height:1.6;color:#222;max-width:560px;margin:0 auto;padding:24px">',
    ...blocks,
    `<p style="color:#999;font-size:12px">${PRODUCT}</p>`,
    '</body></html>',
  ].join('\n');
}

function button(escapedHref: string, label: string): string {
  return `<p><a href="${escapedHref}" style="display:inline-block;padding:10px 20px;background:#2563eb;color:#fff;text-decoration:none;border-radius:4px">${escapeHtml(label)}</a></p>`;
}

/** Only http(s) links go into a mail: a `javascript:` URL in an href would be an injection. */
function safeHttpUrl(value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new TypeError('resetUrl must be an absolute URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new TypeError('resetUrl must be an http(s) URL');
  return parsed.toString();
}

function formatMinutes(minutes: number): { zh: string; en: string } {
  if (!Number.isFinite(minutes) || minutes <= 0) throw new RangeError('expiresInMinutes must be a positive number');
  const whole = Math.round(minutes);
  if (whole % 60 === 0) {
    const hours = whole / 60;
    return { zh: `${hours} 小时`, en: hours === 1 ? '1 hour' : `${hours} hours` };
  }
  return { zh: `${whole} 分钟`, en: whole === 1 ? '1 minute' : `${whole} minutes` };
}
