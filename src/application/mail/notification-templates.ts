import type { NotificationKind } from '../../write-model/notification/events.js';
import { escapeHtml, type RenderedMail } from './templates.js';

/**
 * What each notification kind says, in-app (title + body) and by mail
 * (subject + text + HTML), Chinese first, English after. Built only from the
 * notification's `data` (ids, service, feature, limit, amounts, reasons):
 * no secret ever reaches it, and every value put into HTML is escaped.
 */

const PRODUCT = 'Collector';

export interface NotificationContentInput {
  kind: NotificationKind;
  data: Record<string, unknown>;
  /** the zone times are shown in; default Asia/Shanghai */
  timeZone?: string;
}

export interface NotificationMailInput extends NotificationContentInput {
  /** the web front end; the mail links to `${webUrl}/notifications` */
  webUrl?: string;
}

interface Wording {
  zh: { title: string; lines: string[] };
  en: { title: string; lines: string[] };
}

const str = (v: unknown, fallback = '—'): string => (typeof v === 'string' && v.trim() !== '' ? v : typeof v === 'number' ? String(v) : fallback);

const SERVICE_ZH: Record<string, string> = { xiaohongshu: '小红书', qidian: '起点中文网' };
const SERVICE_EN: Record<string, string> = { xiaohongshu: 'Xiaohongshu', qidian: 'Qidian' };
const FEATURE_ZH: Record<string, string> = {
  daily_api_calls: '每日调用次数',
  daily_publications: '每日发布次数',
  account_limit: '平台账号数',
  automation_workflows: '自动化工作流数',
  novel_tracking_limit: '小说追踪数',
  alert_notifications: '提醒数',
};
const FEATURE_EN: Record<string, string> = {
  daily_api_calls: 'daily API calls',
  daily_publications: 'daily publications',
  account_limit: 'platform accounts',
  automation_workflows: 'automation workflows',
  novel_tracking_limit: 'tracked novels',
  alert_notifications: 'alerts',
};
const REASON_ZH: Record<string, string> = {
  login_wall: '平台要求重新登录',
  captcha: '平台要求验证码',
  credentials_expired: '登录凭证已过期',
  banned: '账号被平台封禁',
  user_reported: '您已将其标记为失效',
};
const REASON_EN: Record<string, string> = {
  login_wall: 'the platform asks to log in again',
  captcha: 'the platform asks for a captcha',
  credentials_expired: 'the login has expired',
  banned: 'the platform banned the account',
  user_reported: 'you reported it as no longer working',
};
const PUBLICATION_FAILURE_ZH: Record<string, string> = {
  refused: '平台拒绝了这篇内容',
  account_invalid: '账号登录已失效，请重新连接或授权',
  account_unavailable: '账号不可用（已断开或失效）',
  attempts_exhausted: '多次尝试均未成功',
  publisher_unavailable: '暂不支持发布到该平台',
};
const PUBLICATION_FAILURE_EN: Record<string, string> = {
  refused: 'the platform refused the content',
  account_invalid: 'the account no longer works: reconnect or authorize it again',
  account_unavailable: 'the account is not available (disconnected or invalid)',
  attempts_exhausted: 'every attempt failed',
  publisher_unavailable: 'publishing to this platform is not available',
};
const PLAN_ZH: Record<string, string> = { free: '免费版', basic: '基础版', pro: '专业版', enterprise: '企业版' };
const CYCLE_ZH: Record<string, string> = { monthly: '月付', yearly: '年付' };

function formatTime(value: unknown, locale: 'zh-CN' | 'en-GB', timeZone: string): string {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) return '—';
  const text = new Intl.DateTimeFormat(locale, {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(ms);
  return `${text} (${timeZone})`;
}

function yuan(fen: unknown): string {
  return typeof fen === 'number' && Number.isFinite(fen) ? `¥${(fen / 100).toFixed(2)}` : '—';
}

function wording({ kind, data, timeZone = 'Asia/Shanghai' }: NotificationContentInput): Wording {
  const zhTime = (v: unknown) => formatTime(v, 'zh-CN', timeZone);
  const enTime = (v: unknown) => formatTime(v, 'en-GB', timeZone);
  const service = str(data.service);
  switch (kind) {
    case 'quota_exceeded': {
      const feature = str(data.feature);
      const daily = data.resetsAt !== null && data.resetsAt !== undefined && data.quotaKind !== 'resource_limit';
      // only daily_api_calls running out pauses workflows; daily_publications refuses publishing until the reset
      const pauses = feature === 'daily_api_calls';
      const zhService = SERVICE_ZH[service] ?? service;
      const enService = SERVICE_EN[service] ?? service;
      return {
        zh: {
          title: `${zhService}：${FEATURE_ZH[feature] ?? feature}已达上限`,
          lines: [
            `您在${zhService}的${FEATURE_ZH[feature] ?? feature}已达到套餐上限（${str(data.limit)}）。`,
            daily
              ? `额度将于 ${zhTime(data.resetsAt)} 重置；${pauses ? '在此之前相关的定时工作流会暂停。' : '在此之前无法发起新的发布。'}`
              : '请释放部分资源，或升级套餐以获得更多额度。',
            '升级套餐可立即获得更多额度。',
          ],
        },
        en: {
          title: `${enService}: ${FEATURE_EN[feature] ?? feature} limit reached`,
          lines: [
            `Your ${enService} plan's limit of ${str(data.limit)} ${FEATURE_EN[feature] ?? feature} is reached.`,
            daily
              ? `It resets at ${enTime(data.resetsAt)}; ${pauses ? 'scheduled workflows of the service pause until then.' : 'no new publication can be requested until then.'}`
              : 'Free some of them, or upgrade the plan for more.',
            'Upgrading the plan raises the limit at once.',
          ],
        },
      };
    }
    case 'account_invalidated': {
      const platform = str(data.platform);
      const reason = str(data.reason);
      const label = str(data.accountName, str(data.accountId));
      return {
        zh: {
          title: `${SERVICE_ZH[platform] ?? platform}账号「${label}」已失效`,
          lines: [`原因：${REASON_ZH[reason] ?? reason}。`, '使用该账号的工作流已暂停。请重新连接账号（更新登录凭证）后恢复它们。'],
        },
        en: {
          title: `${SERVICE_EN[platform] ?? platform} account "${label}" stopped working`,
          lines: [`Reason: ${REASON_EN[reason] ?? reason}.`, 'The workflows that use it are paused. Reconnect the account (new login) to resume them.'],
        },
      };
    }
    case 'execution_failed': {
      const workflow = str(data.workflowName, str(data.workflowId));
      return {
        zh: {
          title: `工作流「${workflow}」执行失败`,
          lines: [
            `执行 ${str(data.executionId)} 于 ${zhTime(data.failedAt)} 在第 ${str(data.attempt)} 次尝试后失败，已采集 ${str(data.itemCount, '0')} 条数据。`,
            `原因：${str(data.reason)}`,
          ],
        },
        en: {
          title: `Workflow "${workflow}" failed`,
          lines: [
            `Execution ${str(data.executionId)} failed at ${enTime(data.failedAt)} after attempt ${str(data.attempt)}, with ${str(data.itemCount, '0')} items collected.`,
            `Reason: ${str(data.reason)}`,
          ],
        },
      };
    }
    case 'payment_received': {
      const plan = str(data.plan);
      const cycle = str(data.billingCycle);
      const amount = yuan(data.amountFen);
      return {
        zh: {
          title: `已收到付款 ${amount}`,
          lines: [
            `订单 ${str(data.orderId)}：${SERVICE_ZH[service] ?? service} ${PLAN_ZH[plan] ?? plan}（${CYCLE_ZH[cycle] ?? cycle}），${amount}，于 ${zhTime(data.paidAt)} 支付成功。`,
            '套餐已生效，感谢您的支持！',
          ],
        },
        en: {
          title: `Payment of ${amount} received`,
          lines: [
            `Order ${str(data.orderId)}: ${SERVICE_EN[service] ?? service} ${plan} plan (${cycle}), ${amount}, paid at ${enTime(data.paidAt)}.`,
            'The plan is in force. Thank you!',
          ],
        },
      };
    }
    case 'novel_alert': {
      const novel = str(data.novelTitle, str(data.novelId));
      const trigger = str(data.trigger);
      const words = str(data.wordCount);
      const chapters = str(data.chapters);
      const zh =
        trigger === 'completion'
          ? { title: `《${novel}》已完本`, line: `您追踪的《${novel}》状态变为完本（共 ${chapters} 章，${words} 字）。` }
          : trigger === 'word_count_threshold'
            ? { title: `《${novel}》字数达到 ${str(data.words)}`, line: `您追踪的《${novel}》字数已达 ${words}（提醒阈值 ${str(data.words)}）。` }
            : { title: `《${novel}》更新了`, line: `您追踪的《${novel}》更新了：${str(data.previousChapters)} → ${chapters} 章，共 ${words} 字。` };
      const en =
        trigger === 'completion'
          ? { title: `"${novel}" is completed`, line: `"${novel}", which you track, is now completed (${chapters} chapters, ${words} words).` }
          : trigger === 'word_count_threshold'
            ? {
                title: `"${novel}" reached ${str(data.words)} words`,
                line: `"${novel}", which you track, has ${words} words (your alert: ${str(data.words)}).`,
              }
            : {
                title: `"${novel}" has new chapters`,
                line: `"${novel}", which you track, was updated: ${str(data.previousChapters)} → ${chapters} chapters, ${words} words.`,
              };
      return {
        zh: { title: zh.title, lines: [zh.line, `采集于 ${zhTime(data.capturedAt)}。`] },
        en: { title: en.title, lines: [en.line, `Captured at ${enTime(data.capturedAt)}.`] },
      };
    }
    case 'keyword_match': {
      const keyword = str(data.keyword);
      const novel = str(data.novelTitle, str(data.novelId));
      const author = str(data.author);
      return {
        zh: {
          title: `关键词「${keyword}」有新书：《${novel}》`,
          lines: [`搜索「${keyword}」发现了新书《${novel}》（作者：${author}，起点书号 ${str(data.novelId)}）。`, `发现于 ${zhTime(data.capturedAt)}。`],
        },
        en: {
          title: `New book for "${keyword}": "${novel}"`,
          lines: [
            `Searching Qidian for "${keyword}" found a new book, "${novel}" by ${author} (book id ${str(data.novelId)}).`,
            `Found at ${enTime(data.capturedAt)}.`,
          ],
        },
      };
    }
    case 'subscription_renewal': {
      const plan = str(data.plan);
      const amount = yuan(data.amountFen);
      const payUrl = typeof data.payUrl === 'string' ? data.payUrl : null;
      const codeUrl = typeof data.codeUrl === 'string' ? data.codeUrl : null;
      const serviceZh = SERVICE_ZH[service] ?? service;
      const serviceEn = SERVICE_EN[service] ?? service;
      return {
        zh: {
          title: `${serviceZh}${PLAN_ZH[plan] ?? plan}续费：请在 ${zhTime(data.periodEnd)} 前付款`,
          lines: [
            `您的${serviceZh}${PLAN_ZH[plan] ?? plan}将于 ${zhTime(data.periodEnd)} 到期。您开启了自动续费，续费订单 ${str(data.orderId)}（续一个月，${amount}）已创建。`,
            payUrl
              ? `请在到期前通过付款链接支付（也可在账单中打开订单 ${str(data.orderId)}）。`
              : codeUrl
                ? `请在到期前用微信扫描订单 ${str(data.orderId)} 的付款二维码支付（在账单中打开订单）。`
                : `请在到期前在账单中打开订单 ${str(data.orderId)} 付款。`,
            '平台暂不支持免密代扣：到期前支付该订单即完成续费，未支付则到期后转为免费版。',
          ],
        },
        en: {
          title: `Renew your ${serviceEn} ${plan} plan: pay before ${enTime(data.periodEnd)}`,
          lines: [
            `Your ${serviceEn} ${plan} plan ends at ${enTime(data.periodEnd)}. Automatic renewal is on: renewal order ${str(data.orderId)} (one more month, ${amount}) is ready.`,
            payUrl
              ? `Pay it before then through the pay link (or open order ${str(data.orderId)} in your billing).`
              : codeUrl
                ? `Pay it before then by scanning the WeChat Pay code of order ${str(data.orderId)} (open the order in your billing).`
                : `Pay it before then: open order ${str(data.orderId)} in your billing.`,
            'We cannot charge you without you: paying this order before the end renews the plan; unpaid, the plan falls back to free when it ends.',
          ],
        },
      };
    }
    case 'publication_published': {
      const title = str(data.title, str(data.publicationId));
      const platform = str(data.platform);
      return {
        zh: {
          title: `《${title}》已发布到${SERVICE_ZH[platform] ?? platform}`,
          lines: [`您的文章《${title}》已于 ${zhTime(data.publishedAt)} 发布。`, `链接：${str(data.url)}`],
        },
        en: {
          title: `"${title}" is published on ${SERVICE_EN[platform] ?? platform}`,
          lines: [`Your article "${title}" was published at ${enTime(data.publishedAt)}.`, `Link: ${str(data.url)}`],
        },
      };
    }
    case 'publication_failed': {
      const title = str(data.title, str(data.publicationId));
      const platform = str(data.platform);
      const code = str(data.code);
      return {
        zh: {
          title: `《${title}》未能发布到${SERVICE_ZH[platform] ?? platform}`,
          lines: [
            `原因：${PUBLICATION_FAILURE_ZH[code] ?? code}（${str(data.reason)}）。`,
            `发布 ${str(data.publicationId)} 于 ${zhTime(data.failedAt)} 结束。`,
          ],
        },
        en: {
          title: `"${title}" could not be published on ${SERVICE_EN[platform] ?? platform}`,
          lines: [
            `Reason: ${PUBLICATION_FAILURE_EN[code] ?? code} (${str(data.reason)}).`,
            `Publication ${str(data.publicationId)} ended at ${enTime(data.failedAt)}.`,
          ],
        },
      };
    }
    case 'review_approved':
    case 'review_rejected': {
      const title = str(data.title, str(data.publicationId));
      const platform = str(data.platform);
      const comment = typeof data.comment === 'string' && data.comment.trim() !== '' ? data.comment : null;
      const approved = kind === 'review_approved';
      return {
        zh: {
          title: approved ? `《${title}》已通过审核` : `《${title}》未通过审核`,
          lines: [
            approved
              ? `您发布到${SERVICE_ZH[platform] ?? platform}的《${title}》已于 ${zhTime(data.decidedAt)} 通过人工审核，即将发布。`
              : `您发布到${SERVICE_ZH[platform] ?? platform}的《${title}》未通过人工审核（${zhTime(data.decidedAt)}），本次发布已取消。`,
            ...(comment ? [`审核意见：${comment}`] : []),
            ...(approved ? [] : ['请根据审核意见修改后重新发布。']),
          ],
        },
        en: {
          title: approved ? `"${title}" passed review` : `"${title}" did not pass review`,
          lines: [
            approved
              ? `"${title}", to be published on ${SERVICE_EN[platform] ?? platform}, was approved by a reviewer at ${enTime(data.decidedAt)}; it goes out now.`
              : `"${title}", to be published on ${SERVICE_EN[platform] ?? platform}, was rejected by a reviewer at ${enTime(data.decidedAt)}; the publication is cancelled.`,
            ...(comment ? [`Reviewer's comment: ${comment}`] : []),
            ...(approved ? [] : ['Change it as the comment says and publish it again.']),
          ],
        },
      };
    }
    case 'queue_blocked': {
      // to admins: a job queue whose waiting jobs have not moved for QUEUE_BLOCKAGE_SECONDS
      const queue = str(data.queue);
      const paused = data.paused === true;
      return {
        zh: {
          title: `队列 ${queue} 阻塞`,
          lines: [
            `队列 ${queue} 自 ${zhTime(data.blockedSince)} 起没有任何进展：${str(data.waiting)} 个任务在等待，无一完成（阈值 ${str(data.thresholdSeconds)} 秒）。`,
            paused ? '该队列已被暂停：如无特殊原因，请在控制台恢复它。' : '请检查 worker 是否在运行，或在控制台（队列）中处理。',
          ],
        },
        en: {
          title: `Queue ${queue} is blocked`,
          lines: [
            `Queue ${queue} has not moved since ${enTime(data.blockedSince)}: ${str(data.waiting)} jobs waiting, none finished (threshold ${str(data.thresholdSeconds)} s).`,
            paused
              ? 'The queue is paused: resume it in the console (Queues) unless that is intended.'
              : 'Check that its workers run, or act on it in the console (Queues).',
          ],
        },
      };
    }
    case 'mfa_reset': {
      // an admin turned the user's second factors off (they lost them): set one up again
      const reason = str(data.reason);
      return {
        zh: {
          title: '您的两步验证已被管理员重置',
          lines: [
            `管理员于 ${zhTime(data.resetAt)} 关闭了您账号的全部两步验证方式（验证器应用、短信验证码、恢复码）。原因：${reason}。`,
            '请尽快重新开启两步验证。如果这不是您本人的请求，请立即修改密码并联系我们。',
          ],
        },
        en: {
          title: 'Your two-factor authentication was reset by an admin',
          lines: [
            `At ${enTime(data.resetAt)} an admin turned off every second factor of your account (authenticator app, SMS codes, recovery codes). Reason: ${reason}.`,
            'Turn two-factor authentication on again soon. If you did not ask for this, change your password and contact us at once.',
          ],
        },
      };
    }
    case 'login_changed': {
      // told at once, on every channel the user keeps for it: a change they did not make is an account taken over
      const reset = data.via === 'reset';
      return {
        zh: {
          title: '您的密码已修改',
          lines: [
            reset
              ? `您账号的密码于 ${zhTime(data.changedAt)} 通过重置链接被修改，所有登录会话均已退出。`
              : `您账号的密码于 ${zhTime(data.changedAt)} 在登录状态下被修改，其他登录会话均已退出。`,
            '如果这不是您本人的操作，请立即通过“忘记密码”重置密码并联系我们。',
          ],
        },
        en: {
          title: 'Your password was changed',
          lines: [
            reset
              ? `Your account's password was changed with a reset link at ${enTime(data.changedAt)}; every session was signed out.`
              : `Your account's password was changed while signed in at ${enTime(data.changedAt)}; every other session was signed out.`,
            'If this was not you, reset your password at once (Forgot password) and contact us.',
          ],
        },
      };
    }
    case 'subscription_expiring': {
      const plan = str(data.plan);
      const fallback = str(data.fallbackPlan, 'free');
      const reason = str(data.reason);
      const serviceZh = SERVICE_ZH[service] ?? service;
      const serviceEn = SERVICE_EN[service] ?? service;
      const whyZh =
        reason === 'cancelled'
          ? '您已取消订阅。'
          : reason === 'renewal_not_placed'
            ? '自动续费订单未能创建，请手动续费。'
            : reason === 'downgrade'
              ? '您已安排降级。'
              : '如需继续使用，请在到期前续费，或开启自动续费。';
      const whyEn =
        reason === 'cancelled'
          ? 'You cancelled it.'
          : reason === 'renewal_not_placed'
            ? 'The automatic renewal order could not be placed: please renew it yourself.'
            : reason === 'downgrade'
              ? 'You scheduled a downgrade.'
              : 'To keep it, renew it before then, or turn on automatic renewal.';
      return {
        zh: {
          title: `${serviceZh}${PLAN_ZH[plan] ?? plan}将于 ${zhTime(data.periodEnd)} 到期`,
          lines: [`您的${serviceZh}${PLAN_ZH[plan] ?? plan}将于 ${zhTime(data.periodEnd)} 到期，之后为${PLAN_ZH[fallback] ?? fallback}。`, whyZh],
        },
        en: {
          title: `Your ${serviceEn} ${plan} plan ends at ${enTime(data.periodEnd)}`,
          lines: [`Your ${serviceEn} ${plan} plan ends at ${enTime(data.periodEnd)}; then you are on the ${fallback} plan.`, whyEn],
        },
      };
    }
  }
}

/** The in-app title and body (both languages). */
export function notificationContent(input: NotificationContentInput): { title: string; body: string } {
  const w = wording(input);
  return { title: `${w.zh.title} / ${w.en.title}`, body: [...w.zh.lines, '', ...w.en.lines].join('\n') };
}

/** The mail of a notification. */
export function notificationMail(input: NotificationMailInput): RenderedMail {
  const w = wording(input);
  const subject = `${w.zh.title} / ${w.en.title} – ${PRODUCT}`;
  const link = input.webUrl ? safeLink(`${input.webUrl.replace(/\/+$/, '')}/notifications`) : undefined;
  // a renewal's pay link (Alipay's cashier; long, so in the mail only, not in the in-app body)
  const pay = input.kind === 'subscription_renewal' && typeof input.data.payUrl === 'string' ? safeLink(input.data.payUrl) : undefined;
  const text = [
    '您好，',
    '',
    ...w.zh.lines,
    ...(pay ? ['', `付款链接：${pay}`] : []),
    ...(link ? ['', `查看全部通知：${link}`] : []),
    '',
    '—',
    '',
    'Hello,',
    '',
    ...w.en.lines,
    ...(pay ? ['', `Pay here: ${pay}`] : []),
    ...(link ? ['', `All your notifications: ${link}`] : []),
    '',
    `— ${PRODUCT}`,
  ].join('\n');
  const paragraphs = (lines: string[]) => lines.map((line) => `<p>${escapeHtml(line)}</p>`);
  const href = link ? escapeHtml(link) : undefined;
  const payHref = pay ? escapeHtml(pay) : undefined;
  const html = [
    '<!doctype html>',
    '<html><head><meta charset="utf-8">',
    `<title>${escapeHtml(subject)}</title></head>`,
    '<body style="font-family:-apple-system,Segoe UI,PingFang SC,Microsoft YaHei,sans-serif;line-height:1.6;color:#222;max-width:560px;margin:0 auto;padding:24px">',
    `<h2 style="font-size:18px">${escapeHtml(w.zh.title)}</h2>`,
    '<p>您好，</p>',
    ...paragraphs(w.zh.lines),
    ...(payHref ? [`<p><a href="${payHref}">去付款</a></p>`] : []),
    ...(href ? [`<p><a href="${href}">查看全部通知</a></p>`] : []),
    '<hr style="border:none;border-top:1px solid #ddd;margin:24px 0">',
    `<h2 style="font-size:18px">${escapeHtml(w.en.title)}</h2>`,
    '<p>Hello,</p>',
    ...paragraphs(w.en.lines),
    ...(payHref ? [`<p><a href="${payHref}">Pay now</a></p>`] : []),
    ...(href ? [`<p><a href="${href}">All your notifications</a></p>`] : []),
    `<p style="color:#999;font-size:12px">${PRODUCT}</p>`,
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}

/** Only http(s) links go into a mail. */
function safeLink(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.toString() : undefined;
  } catch {
    return undefined;
  }
}
