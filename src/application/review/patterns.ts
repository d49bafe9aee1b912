import type { ContactType } from '../../write-model/review-rules/events.js';

/**
 * Contact details and links, found by regular expressions in normalized text
 * (src/application/review/normalize.ts: NFKC has already turned full-width
 * digits, letters and colons into ASCII, and everything is lower case).
 * Offsets are into the normalized text.
 */

export interface PatternMatch {
  start: number;
  end: number;
  match: string;
}

export interface ContactMatch extends PatternMatch {
  type: ContactType;
}

export interface LinkMatch extends PatternMatch {
  /** the host the link points to, lower case */
  host: string;
}

const SEP = '[-\\s.]?';

/**
 * One pass for every contact type; the named group says which matched.
 * - mobile: mainland numbers 1[3-9]x xxxx xxxx, optionally +86, with spaces, dots or dashes between the groups;
 * - landline: an area code (0 + 2–3 digits, optionally in brackets) and 7–8 digits, or a 400/800 service number;
 * - email: local@domain.tld;
 * - qq: "qq", "扣扣" or "企鹅" (号, a colon) then 5–12 digits;
 * - wechat: "vx", "wx", "v信", "微信", "薇信", "威信", "weixin", "wechat" (号, a colon) then an id of 6–20 letters, digits, - and _.
 */
const CONTACT_RE = new RegExp(
  [
    `(?<mobile>(?<![\\d])(?:\\+?86${SEP})?1[3-9]\\d${SEP}\\d{4}${SEP}\\d{4}(?!\\d))`,
    `(?<landline>(?<![\\d])(?:(?:\\(0\\d{2,3}\\)|0\\d{2,3})${SEP}\\d{7,8}|[48]00${SEP}\\d{3}${SEP}\\d{4})(?!\\d))`,
    '(?<email>[a-z0-9._%+-]{1,64}@[a-z0-9-]+(?:\\.[a-z0-9-]+)*\\.[a-z]{2,24})',
    '(?<qq>(?:qq|扣扣|企鹅)(?:号|號)?\\s*:?\\s*[1-9]\\d{4,11}(?!\\d))',
    '(?<wechat>(?:vx|wx|v信|微信|薇信|威信|weixin|wechat)(?:号|號|id)?\\s*:?\\s*[a-z0-9][-_a-z0-9]{5,19}(?![-_a-z0-9]))',
  ].join('|'),
  'g',
);

export function findContacts(text: string): ContactMatch[] {
  const found: ContactMatch[] = [];
  CONTACT_RE.lastIndex = 0;
  for (let m = CONTACT_RE.exec(text); m !== null; m = CONTACT_RE.exec(text)) {
    const groups = m.groups!;
    const type: ContactType = groups.mobile ? 'mobile' : groups.landline ? 'landline' : groups.email ? 'email' : groups.qq ? 'qq' : 'wechat';
    found.push({ type, start: m.index, end: m.index + m[0].length, match: m[0] });
  }
  return found;
}

/**
 * Top-level domains a bare domain is recognised by ("example.com" without a
 * scheme): the common generic ones and the region's country codes; a bare
 * "v1.2" or "file.txt" is no link.
 */
const TLDS = [
  'com',
  'cn',
  'net',
  'org',
  'io',
  'cc',
  'co',
  'me',
  'tv',
  'info',
  'top',
  'xyz',
  'vip',
  'shop',
  'site',
  'online',
  'app',
  'dev',
  'link',
  'ly',
  'gl',
  'tk',
  'hk',
  'tw',
  'mo',
  'jp',
  'kr',
  'sg',
  'us',
  'uk',
  'ru',
  'club',
  'live',
  'fun',
  'ink',
  'wang',
  'work',
  'biz',
  'edu',
  'gov',
  'mobi',
  'pro',
  'store',
  'tech',
  'world',
  'asia',
];

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const PATH = '(?:[/?#][^\\s<>"\'，。；！？、）】》]*)?';
/** a URL with a scheme (any host), or a bare domain ending in one of TLDS; never the domain of an email */
const LINK_RE = new RegExp(
  `(?:https?://(?<host>[^\\s/?#<>"'，。；！？、）】》:]+)(?::\\d{1,5})?${PATH})` +
    `|(?<![a-z0-9@.-])(?<bare>(?:www\\.)?(?:${LABEL}\\.)+(?:${TLDS.join('|')}))(?![a-z0-9-]|\\.[a-z0-9])(?::\\d{1,5})?${PATH}`,
  'g',
);

export function findLinks(text: string): LinkMatch[] {
  const found: LinkMatch[] = [];
  LINK_RE.lastIndex = 0;
  for (let m = LINK_RE.exec(text); m !== null; m = LINK_RE.exec(text)) {
    const host = (m.groups!.host ?? m.groups!.bare ?? '').replace(/\.$/, '');
    found.push({ host, start: m.index, end: m.index + m[0].length, match: m[0] });
  }
  return found;
}

/** Whether the host is one of the domains or under one of them. */
export function hostAllowed(host: string, allowedDomains: readonly string[]): boolean {
  for (const domain of allowedDomains) {
    if (host === domain || host.endsWith(`.${domain}`)) return true;
  }
  return false;
}
