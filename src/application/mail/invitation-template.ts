import { escapeHtml, type RenderedMail } from './templates.js';

const PRODUCT = 'Collector';

export interface InvitationMailInput {
  /** the organization's name as it stands when the mail is sent */
  organizationName: string;
  /** the single-use link, token included */
  acceptUrl: string;
  /** how long the link stays valid */
  expiresInHours: number;
}

/** Only http(s) links go into a mail: a `javascript:` URL in an href would be an injection. */
function httpUrl(value: string): string {
  const parsed = new URL(value);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new TypeError('acceptUrl must be an http(s) URL');
  return parsed.toString();
}

/** An invitation to join an organization (bilingual, Chinese first, like the other mails). */
export function invitationMail({ organizationName, acceptUrl, expiresInHours }: InvitationMailInput): RenderedMail {
  const url = httpUrl(acceptUrl);
  const hours = Math.max(1, Math.round(expiresInHours));
  const en = hours === 1 ? '1 hour' : `${hours} hours`;
  const subject = `加入 ${organizationName} / Join ${organizationName} – ${PRODUCT}`;
  const text = [
    '您好，',
    '',
    `您被邀请加入 ${PRODUCT} 上的组织「${organizationName}」。请用收到本邮件的邮箱登录（或注册）后打开以下链接接受邀请（${hours} 小时内有效，仅可使用一次）：`,
    '',
    url,
    '',
    '如果您不认识该组织，请忽略本邮件。',
    '',
    '—',
    '',
    'Hello,',
    '',
    `You are invited to join the organization "${organizationName}" on ${PRODUCT}. Sign in (or sign up) with this email address, then open the link below to accept (valid for ${en}, single use):`,
    '',
    url,
    '',
    'If you do not know this organization, ignore this email.',
    '',
    `— ${PRODUCT}`,
  ].join('\n');
  const link = escapeHtml(url);
  const name = escapeHtml(organizationName);
  const button = (label: string) =>
    `<p><a href="${link}" style="display:inline-block;padding:10px 20px;background:#2563eb;color:#fff;text-decoration:none;border-radius:4px">${label}</a></p>`;
  const html = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    '<body style="font-family:-apple-system,Segoe UI,PingFang SC,Microsoft YaHei,sans-serif;line-height:1.6;color:#222;max-width:560px;margin:0 auto;padding:24px">',
    '<p>您好，</p>',
    `<p>您被邀请加入 ${PRODUCT} 上的组织「${name}」。请用收到本邮件的邮箱登录（或注册）后接受邀请（${hours} 小时内有效，仅可使用一次）。</p>`,
    button('接受邀请'),
    '<hr style="border:none;border-top:1px solid #ddd;margin:24px 0">',
    '<p>Hello,</p>',
    `<p>You are invited to join the organization "${name}" on ${PRODUCT}. Sign in (or sign up) with this email address, then accept (valid for ${en}, single use).</p>`,
    button('Accept invitation'),
    `<p style="color:#666;font-size:12px">如果按钮无法点击，请复制此链接 / If the button does not work, copy this link:<br><a href="${link}">${link}</a></p>`,
    `<p style="color:#999;font-size:12px">${PRODUCT}</p>`,
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}
