/**
 * Writes the committed fixture sites (run once: `npx tsx sandbox/sites/generate.ts`).
 * Shapes follow the live sites (URLs, JSON envelopes, pages); the data is made up but realistic.
 * Deterministic: running it again gives the same files.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { antiSpiderFont, obfuscatedCodePoint } from './anti-spider-font.js';

const root = dirname(fileURLToPath(import.meta.url));
function write(rel: string, content: string | object): void {
  const file = join(root, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, typeof content === 'string' ? content : `${JSON.stringify(content, null, 1)}\n`);
}
const hex = (seed: string, n = 24) => createHash('sha1').update(seed).digest('hex').slice(0, n);
const pick = <T>(list: readonly T[], i: number): T => list[i % list.length]!;
const ok = (data: object) => ({ code: 0, success: true, msg: '成功', data });

// ---------------------------------------------------------------- xiaohongshu
const KEYWORD = '法式装修';
const SEARCH_PAGES = [20, 20, 4];
const USER_ID = hex('user:小鹿的家');
const USER_PAGES = [30, 6];
const nicknames = ['小鹿的家', '住范儿阿May', '装修日记Lily', '一只软装师', 'Tina的小窝', '北欧控老王', '设计师Coco', '奶油风研究所'];
const topics = ['法式装修', '奶油风', '软装搭配', '小户型改造', '家居好物', '装修避坑', '客厅设计', '卧室布置'];
const titles = [
  '法式奶油风客厅｜90平也能住出高级感',
  '装修三个月的血泪教训',
  '这盏吊灯真的绝了',
  '小户型卧室这样放床更大',
  '软装预算清单分享',
  '我家的拱门终于做好了',
  '玄关柜尺寸一定要看',
  '原木风厨房收纳思路',
];
const counts = ['4311', '1.5万', '683', '10+', '1k+', '2.3万', '97', '1147', '0', '520'];
const locations = ['上海', '北京', '广东', '浙江', '四川', '美国'];
const BASE_TIME = Date.UTC(2026, 7, 10, 4, 0, 0); // 2026-08-10 12:00 +08:00

interface NoteSeed {
  id: string;
  token: string;
  i: number;
  userId: string;
  nickname: string;
  video: boolean;
  special?: 'throttled' | 'unavailable';
}

function noteSeed(scope: string, i: number, userId?: string, nickname?: string): NoteSeed {
  const nick = nickname ?? pick(nicknames, i + 3);
  return {
    id: hex(`${scope}:note:${i}`),
    token: `AB${hex(`${scope}:tok:${i}`, 30)}=`,
    i,
    userId: userId ?? hex(`user:${nick}`),
    nickname: nick,
    video: i % 7 === 3,
  };
}
function image(seed: string, w = 1080, h = 1440) {
  const k = hex(seed, 32);
  return {
    url_default: `https://sns-webpic-qc.xhscdn.com/202608101200/${k}/1040g008${k}!nd_dft_wlteh_webp_3`,
    url_pre: `https://sns-webpic-qc.xhscdn.com/202608101200/${k}/1040g008${k}!nd_prv_wlteh_webp_3`,
    width: w,
    height: h,
  };
}
function detailCard(n: NoteSeed) {
  const tags = [pick(topics, n.i), pick(topics, n.i + 2)];
  const images = Array.from({ length: 1 + (n.i % 4) }, (_, k) => ({
    file_id: '',
    trace_id: '',
    url: '',
    ...image(`${n.id}:${k}`),
    info_list: [
      { image_scene: 'CRD_PRV_WEBP', url: image(`${n.id}:${k}`).url_pre },
      { image_scene: 'CRD_WM_WEBP', url: image(`${n.id}:${k}`).url_default },
    ],
  }));
  return {
    note_id: n.id,
    type: n.video ? 'video' : 'normal',
    title: n.i % 11 === 5 ? '' : pick(titles, n.i),
    desc: `${pick(titles, n.i + 1)}，记录一下第${n.i + 1}篇。 #${tags[0]}[话题]# #${tags[1]}[话题]#`,
    user: { user_id: n.userId, nickname: n.nickname, avatar: `https://sns-avatar-qc.xhscdn.com/avatar/${hex(n.userId, 16)}.jpg` },
    interact_info: {
      liked: false,
      liked_count: pick(counts, n.i),
      collected: false,
      collected_count: pick(counts, n.i + 3),
      comment_count: pick(counts, n.i + 5),
      share_count: pick(counts, n.i + 7),
      followed: false,
      relation: 'none',
    },
    image_list: images,
    tag_list: [...tags.map((t) => ({ id: hex(`topic:${t}`, 24), name: t, type: 'topic' })), { id: hex('loc', 24), name: '上海·徐汇', type: 'location' }],
    at_user_list: [],
    time: BASE_TIME - n.i * 3_600_000 * 7,
    last_update_time: BASE_TIME - n.i * 3_600_000 * 6,
    ip_location: pick(locations, n.i),
    share_info: { un_share: false },
    ...(n.video
      ? {
          video: {
            capa: { duration: 122 },
            consumer: { origin_video_key: `pre_post/${hex(n.id, 32)}` },
            media: { stream: { h264: [{ master_url: `https://sns-video-bd.xhscdn.com/stream/${hex(n.id, 32)}.mp4`, backup_urls: [] }] } },
          },
        }
      : {}),
  };
}
function searchItem(n: NoteSeed, i: number) {
  const d = detailCard(n);
  const corner = pick(['2026-08-09', '08-03', '3天前', '2025-12-24'], i);
  return {
    id: n.id,
    model_type: 'note',
    xsec_token: n.token,
    note_card: {
      type: d.type,
      display_title: d.title || d.desc.slice(0, 20),
      user: { user_id: n.userId, nickname: n.nickname, nick_name: n.nickname, avatar: d.user.avatar, xsec_token: `AB${hex(`u:${n.userId}`, 30)}=` },
      interact_info: {
        liked: false,
        liked_count: d.interact_info.liked_count,
        collected: false,
        collected_count: d.interact_info.collected_count,
        comment_count: d.interact_info.comment_count,
        shared_count: d.interact_info.share_count,
      },
      cover: {
        height: 1440,
        width: 1080,
        url_default: d.image_list[0]!.url_default,
        url_pre: d.image_list[0]!.url_pre,
        info_list: [
          { image_scene: 'WB_PRV', url: d.image_list[0]!.url_pre },
          { image_scene: 'WB_DFT', url: d.image_list[0]!.url_default },
        ],
      },
      image_list: d.image_list.map((im) => ({ height: im.height, width: im.width })),
      corner_tag_info: [{ type: 'publish_time', text: corner }],
    },
  };
}
function camel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camel);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), camel(v)]));
  return value;
}
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** like the live page: JSON with raw JS `undefined` values */
const stateScript = (state: object) =>
  `<script>window.__INITIAL_STATE__=${JSON.stringify(state)
    .replace(/"__undefined__"/g, 'undefined')
    .replace(/</g, '\\u003c')}</script>`;

const sideBar = (loggedIn: boolean) =>
  loggedIn
    ? `<ul class="channel-list"><li class="active-channel side-bar-component"><a href="/explore">发现</a></li><li class="side-bar-component"><a href="/notification">通知</a></li><li class="user side-bar-component"><a href="/user/profile/me"><span class="channel">我</span></a></li></ul>`
    : `<ul class="channel-list"><li class="active-channel side-bar-component"><a href="/explore">发现</a></li></ul><button class="side-bar-component login-btn">登录</button>`;
const signScript = `<script>/* stand-in for the page's signing function (real: obfuscated, X-s = XYW_…) */
window._webmsxyw = function (path, body) { var s = 0, t = path + (body ? JSON.stringify(body) : ''); for (var i = 0; i < t.length; i++) s = (s * 31 + t.charCodeAt(i)) >>> 0; return { 'X-s': 'XYW_eyJzaWduU3ZuIjoiNTYiLCJzaWduVHlwZSI6IngyIn0' + s.toString(36), 'X-t': Date.now() }; };</script>`;
const xhsPage = (title: string, body: string, extraHead = '') => `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${esc(title)} - 小红书</title>
<meta name="description" content="小红书是年轻人的生活方式平台">${extraHead}
<link rel="stylesheet" href="//fe-static.xhscdn.com/formula-static/xhs-pc-web/public/resource/css/main.css"></head>
<body><div id="app"><div class="layout"><div class="side-bar">${sideBar(true)}</div><div class="main-container">${body}</div></div></div>${signScript}</body></html>
`;

// search: page 1 also carries a "大家都在搜" block and a hot query, which scrapers drop
const searchNotes: NoteSeed[] = [];
let idx = 0;
SEARCH_PAGES.forEach((size, p) => {
  const items: object[] = [];
  for (let k = 0; k < size; k++, idx++) {
    const n = noteSeed('search', idx);
    if (idx === 7) n.special = 'throttled';
    if (idx === 12) n.special = 'unavailable';
    searchNotes.push(n);
    items.push(searchItem(n, idx));
    if (p === 0 && k === 5)
      items.push({
        id: `${hex('rq', 16)}#rec`,
        model_type: 'rec_query',
        rec_query: { title: '大家都在搜', queries: [{ id: 'q1', name: '法式装修效果图', search_word: '法式装修效果图' }] },
      });
  }
  if (p === 1) items.splice(3, 0, { id: `${hex('hq', 16)}#hot`, model_type: 'hot_query', hot_query: { title: '热门搜索', queries: [{ name: '奶油风' }] } });
  write(`xiaohongshu/edith/search/page${p + 1}.json`, ok({ has_more: p < SEARCH_PAGES.length - 1, items }));
});
write('xiaohongshu/edith/search/index.json', { [KEYWORD]: 'search', _comment: 'keyword → folder with page<N>.json; other keywords get an empty result' });

const userNotes: NoteSeed[] = [];
idx = 0;
USER_PAGES.forEach((size, p) => {
  const notes: object[] = [];
  for (let k = 0; k < size; k++, idx++) {
    const n = noteSeed('user', idx, USER_ID, '小鹿的家');
    userNotes.push(n);
    const d = detailCard(n);
    notes.push({
      note_id: n.id,
      type: d.type,
      display_title: d.title || d.desc.slice(0, 20),
      xsec_token: n.token,
      user: { user_id: USER_ID, nickname: '小鹿的家', avatar: d.user.avatar },
      interact_info: { liked: false, liked_count: d.interact_info.liked_count, sticky: p === 0 && k === 0 },
      cover: { url_default: d.image_list[0]!.url_default, url_pre: d.image_list[0]!.url_pre, height: 1440, width: 1080 },
    });
  }
  const last = userNotes[userNotes.length - 1]!.id;
  const cursorIn = p === 0 ? 'start' : userNotes[USER_PAGES.slice(0, p).reduce((a, b) => a + b, 0) - 1]!.id;
  write(`xiaohongshu/edith/user_posted/${USER_ID}/${cursorIn}.json`, ok({ cursor: last, has_more: p < USER_PAGES.length - 1, notes }));
});

for (const n of [...searchNotes, ...userNotes]) {
  const card = detailCard(n);
  if (n.special === 'unavailable') write(`xiaohongshu/edith/feed/${n.id}.json`, { code: -510001, success: false, msg: '笔记状态异常，请稍后查看', data: {} });
  else if (n.special === 'throttled') write(`xiaohongshu/edith/feed/${n.id}.json`, ok({ cursor_score: '', current_time: BASE_TIME, items: [] }));
  else
    write(`xiaohongshu/edith/feed/${n.id}.json`, ok({ cursor_score: '', current_time: BASE_TIME, items: [{ id: n.id, model_type: 'note', note_card: card }] }));
  if (n.special === 'unavailable') continue;
  const note = camel(card) as Record<string, unknown>;
  const state = {
    global: { appSettings: { notificationInterval: 30 } },
    user: { loggedIn: true, userInfo: { userId: hex('self'), nickname: '采集测试号' } },
    note: {
      currentNoteId: n.id,
      firstNoteId: n.id,
      noteDetailMap: {
        [n.id]: {
          comments: { list: [], cursor: '', hasMore: true, loading: false },
          currentTime: BASE_TIME,
          note: { ...note, xsecToken: n.token, lastUpdateTime: '__undefined__' },
        },
      },
      serverRequestInfo: { state: 'success', errorCode: 0 },
    },
  };
  const tagLinks = (card.tag_list as { name: string; type: string }[])
    .filter((t) => t.type === 'topic')
    .map((t) => `<a class="tag" href="/search_result?keyword=${encodeURIComponent(t.name)}">#${esc(t.name)}</a>`)
    .join(' ');
  const zero = (v: string, label: string) => (v === '0' ? label : v);
  write(
    `xiaohongshu/www/explore/${n.id}.html`,
    xhsPage(
      card.title || card.desc.slice(0, 20),
      `<div class="note-detail-mask"><div id="noteContainer" class="note-container" data-type="${card.type}">
<div class="media-container">${card.image_list.map((im) => `<img class="note-slider-img" src="${im.url_default}">`).join('')}</div>
<div class="interaction-container"><div class="author-container"><div class="info"><a class="name" href="/user/profile/${card.user.user_id}"><span class="username">${esc(card.user.nickname)}</span></a></div></div>
<div class="note-scroller"><div class="note-content"><div id="detail-title" class="title">${esc(card.title)}</div><div id="detail-desc" class="desc"><span class="note-text"><span>${esc(card.desc.replace(/#[^#]+\[话题\]#/g, ''))}</span>${tagLinks}</span></div>
<div class="bottom-container"><span class="date">编辑于 ${new Date(card.time + 8 * 3600_000).toISOString().slice(5, 10)} ${card.ip_location}</span></div></div>
<div class="comments-el"><div class="comments-container"><div class="total">共 ${esc(card.interact_info.comment_count)} 条评论</div><div class="list-container"></div></div></div></div>
<div class="engage-bar-style"><span class="like-wrapper"><span class="count">${zero(card.interact_info.liked_count, '赞')}</span></span><span class="collect-wrapper"><span class="count">${zero(card.interact_info.collected_count, '收藏')}</span></span><span class="chat-wrapper"><span class="count">${zero(card.interact_info.comment_count, '评论')}</span></span></div></div></div></div>`,
      stateScript(state),
    ),
  );
}

write(
  'xiaohongshu/www/explore.html',
  xhsPage(
    '发现',
    `<div class="feeds-page"><div class="channel-container"><div class="channel active">推荐</div><div class="channel">穿搭</div><div class="channel">美食</div></div><div class="feeds-container" id="exploreFeeds"></div></div>`,
    stateScript({ global: {}, user: { loggedIn: true, userInfo: { userId: hex('self'), nickname: '采集测试号' } }, feed: { feeds: [] } }),
  ),
);

write(
  'xiaohongshu/www/search_result.html',
  xhsPage(
    '搜索',
    `<div class="search-layout"><div class="search-layout__top"><div class="filter">全部</div></div>
<div class="feeds-container" id="searchFeeds"></div><div class="feeds-loading" id="loading" style="display:none">加载中</div></div>
<script>
(function () {
  var API = '{{XHS_API}}', params = new URLSearchParams(location.search), keyword = params.get('keyword') || '';
  var page = 0, hasMore = true, busy = false, searchId = Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  function card(it) {
    var c = it.note_card, corner = (c.corner_tag_info || [])[0];
    return '<section class="note-item" data-index="' + it.id + '"><div class="footer"><a class="cover mask ld" href="/explore/' + it.id + '?xsec_token=' + encodeURIComponent(it.xsec_token) + '&xsec_source=pc_search"><img src="' + c.cover.url_pre + '"></a>' +
      '<a class="title" href="/explore/' + it.id + '"><span>' + c.display_title + '</span></a><div class="card-bottom-wrapper"><a class="author"><span class="name">' + c.user.nickname + '</span></a>' +
      '<span class="time">' + (corner ? corner.text : '') + '</span><span class="like-wrapper like-active"><span class="count">' + c.interact_info.liked_count + '</span></span></div></div></section>';
  }
  function more() {
    if (busy || !hasMore) return; busy = true; page++;
    var body = { keyword: keyword, page: page, page_size: 20, search_id: searchId, sort: 'general', note_type: 0, ext_flags: [], image_formats: ['jpg', 'webp', 'avif'] };
    var sign = window._webmsxyw('/api/sns/web/v1/search/notes', body);
    fetch(API + '/api/sns/web/v1/search/notes', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json;charset=UTF-8', 'X-s': sign['X-s'], 'X-t': String(sign['X-t']) }, body: JSON.stringify(body) })
      .then(function (r) { return r.json(); })
      .then(function (res) {
        busy = false; if (!res.success) return;
        hasMore = res.data.has_more;
        document.getElementById('searchFeeds').insertAdjacentHTML('beforeend', res.data.items.map(function (it) {
          return it.model_type === 'note' ? card(it) : '<section class="note-item"><div class="query-note-wrapper">大家都在搜</div></section>';
        }).join(''));
      });
  }
  window.addEventListener('scroll', function () { if (window.innerHeight + window.scrollY >= document.body.scrollHeight - 300) more(); });
  more();
})();
</script>`,
    stateScript({
      global: {},
      user: { loggedIn: true },
      search: { searchContext: { keyword: '', page: 1, pageSize: 20, searchId: '', sort: 'general' }, feeds: [], hasMore: true },
    }),
  ),
);

// profile: the first page of notes is in the state; the rest load on scroll (user_posted)
const profileFirst = userNotes.slice(0, USER_PAGES[0]).map((n) => ({
  id: n.id,
  noteCard: {
    noteId: n.id,
    displayTitle: detailCard(n).title,
    type: detailCard(n).type,
    xsecToken: n.token,
    interactInfo: { likedCount: detailCard(n).interact_info.liked_count },
    user: { userId: USER_ID, nickname: '小鹿的家' },
    cover: { urlDefault: detailCard(n).image_list[0]!.url_default },
  },
}));
write(
  `xiaohongshu/www/user/${USER_ID}.html`,
  xhsPage(
    '小鹿的家的个人主页',
    `<div class="user-page"><div class="user-info"><div class="user-name">小鹿的家</div><div class="user-redId">小红书号：${hex(USER_ID, 9)}</div><div class="user-desc">90平法式奶油风｜装修记录</div>
<div class="user-interactions"><div><span class="count">126</span><span class="shows">关注</span></div><div><span class="count">3.2万</span><span class="shows">粉丝</span></div><div><span class="count">41.6万</span><span class="shows">获赞与收藏</span></div></div></div>
<div class="feeds-tab-container"><div class="reds-tab-item active">笔记</div><div class="reds-tab-item">收藏</div></div><div class="feeds-container" id="userPostedFeeds">
${profileFirst.map((n) => `<section class="note-item"><div class="footer"><a class="cover mask ld" href="/explore/${n.id}?xsec_token=${encodeURIComponent(n.noteCard.xsecToken)}&amp;xsec_source=pc_user"><img src="${n.noteCard.cover.urlDefault}"></a><a class="title"><span>${esc(n.noteCard.displayTitle)}</span></a><div class="card-bottom-wrapper"><span class="name">小鹿的家</span><span class="like-wrapper"><span class="count">${esc(n.noteCard.interactInfo.likedCount)}</span></span></div></div></section>`).join('\n')}
</div></div>
<script>
(function () {
  var API = '{{XHS_API}}', state = window.__INITIAL_STATE__, userId = location.pathname.split('/').filter(Boolean).pop();
  var cursor = state.user.noteQueries[0].cursor, hasMore = state.user.noteQueries[0].hasMore, busy = false;
  function more() {
    if (busy || !hasMore) return; busy = true;
    var q = '/api/sns/web/v1/user_posted?num=30&cursor=' + encodeURIComponent(cursor) + '&user_id=' + userId + '&image_formats=jpg,webp,avif&xsec_source=pc_feed';
    var sign = window._webmsxyw(q);
    fetch(API + q, { credentials: 'include', headers: { 'X-s': sign['X-s'], 'X-t': String(sign['X-t']) } }).then(function (r) { return r.json(); }).then(function (res) {
      busy = false; if (!res.success) return;
      cursor = res.data.cursor; hasMore = res.data.has_more;
      document.getElementById('userPostedFeeds').insertAdjacentHTML('beforeend', res.data.notes.map(function (n) {
        return '<section class="note-item"><div class="footer"><a class="cover mask ld" href="/explore/' + n.note_id + '?xsec_token=' + encodeURIComponent(n.xsec_token) + '&xsec_source=pc_user"></a><a class="title"><span>' + n.display_title + '</span></a></div></section>';
      }).join(''));
    });
  }
  window.addEventListener('scroll', function () { if (window.innerHeight + window.scrollY >= document.body.scrollHeight - 300) more(); });
})();
</script>`,
    stateScript({
      global: {},
      user: {
        loggedIn: true,
        userPageData: {
          basicInfo: { nickname: '小鹿的家', redId: hex(USER_ID, 9), desc: '90平法式奶油风｜装修记录', ipLocation: '上海', gender: 1, imageb: '__undefined__' },
          interactions: [
            { type: 'follows', name: '关注', count: '126' },
            { type: 'fans', name: '粉丝', count: '3.2万' },
            { type: 'interaction', name: '获赞与收藏', count: '41.6万' },
          ],
          tags: [{ tagType: 'location', name: '上海徐汇' }],
        },
        notes: [profileFirst, [], [], []],
        noteQueries: [{ num: 30, cursor: userNotes[USER_PAGES[0]! - 1]!.id, userId: USER_ID, hasMore: true }],
      },
    }),
  ),
);

write(
  'xiaohongshu/www/login.html',
  `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>小红书 - 你的生活指南</title></head>
<body><div id="app"><div class="layout"><div class="side-bar">${sideBar(false)}</div><div class="main-container"><div class="feeds-container"></div></div></div>
<div class="login-modal" style="display:block"><div class="login-container"><div class="close-button"></div><div class="left"><div class="title">扫码登录</div><img class="qrcode-img" src="data:image/png;base64,iVBORw0KGgo="><div class="tips">可用小红书或微信扫码</div></div>
<div class="right"><div class="title">手机号登录</div><label class="phone"><span>+86</span><input placeholder="输入手机号" type="text"></label><label class="auth-code"><input placeholder="输入验证码" type="number"><span class="code-button">获取验证码</span></label><button class="submit">登录</button>
<div class="agreements">我已阅读并同意《用户协议》《隐私政策》</div></div></div></div>
<div class="floating-box visible"><div class="tip">登录后推荐更懂你的笔记</div></div></div></body></html>
`,
);
write(
  'xiaohongshu/www/captcha.html',
  `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>安全验证 - 小红书</title></head>
<body><div id="app"><div class="captcha-page"><div class="red-captcha"><div class="red-captcha-title">请通过验证</div><div class="red-captcha-desc">拖动滑块完成拼图</div>
<div class="red-captcha-slider"><img class="captcha-bg" src="data:image/png;base64,iVBORw0KGgo="><div class="red-captcha-slider-btn"></div></div></div></div></div>
<script>window.__verifyType = '102'; window.__verifyUuid = 'shield-${hex('uuid', 32)}';</script></body></html>
`,
);
write(
  'xiaohongshu/www/404.html',
  `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>小红书</title></head><body><div class="not-found"><p>当前笔记暂时无法浏览</p><a href="/explore">返回首页</a></div></body></html>\n`,
);

// private messages (a made-up IM API in the web API's style)
const SELF_ID = hex('self');
write(
  'xiaohongshu/edith/user_me.json',
  ok({ user_id: SELF_ID, nickname: '采集测试号', guest: false, red_id: '95123456789', images: 'https://sns-avatar-qc.xhscdn.com/avatar/self.jpg' }),
);
const peers = ['家居买手Anna', '瓷砖店小周', '设计师Coco', '软装工作室', '小鹿的家'].map((nickname) => ({ user_id: hex(`user:${nickname}`), nickname }));
const texts = ['你好，请问吊灯是哪家的？', '链接发你啦', '谢谢！', '我们店可以上门量尺寸', '方便留个联系方式吗', '好的，周末过去看看', '[图片]', '收到'];
const conversations = peers.map((p, c) => ({
  conversation_id: `conv_${hex(`conv:${p.user_id}`, 16)}`,
  user: p,
  unread_count: c % 2,
  last_message: { content: pick(texts, c + 1), create_time: BASE_TIME - c * 600_000 },
}));
write(
  'xiaohongshu/edith/im/conversations/start.json',
  ok({ conversations: conversations.slice(0, 3), cursor: conversations[2]!.conversation_id, has_more: true }),
);
write(
  `xiaohongshu/edith/im/conversations/${conversations[2]!.conversation_id}.json`,
  ok({ conversations: conversations.slice(3), cursor: conversations[4]!.conversation_id, has_more: false }),
);
conversations.forEach((conv, c) => {
  const total = c === 0 ? 25 : 2 + c;
  const all = Array.from({ length: total }, (_, m) => ({
    message_id: `${BASE_TIME - (total - m) * 60_000}${String(m).padStart(3, '0')}`,
    sender_id: m % 2 === 0 ? conv.user.user_id : SELF_ID,
    message_type: pick(texts, m + c) === '[图片]' ? 'image' : 'text',
    content: pick(texts, m + c),
    create_time: BASE_TIME - (total - m) * 60_000 - c * 600_000,
  })).reverse(); // newest first, like the web IM
  const pages = c === 0 ? [all.slice(0, 20), all.slice(20)] : [all];
  pages.forEach((msgs, p) =>
    write(
      `xiaohongshu/edith/im/messages/${conv.conversation_id}/${p === 0 ? 'start' : pages[p - 1]!.at(-1)!.message_id}.json`,
      ok({ messages: msgs, cursor: msgs.at(-1)!.message_id, has_more: p < pages.length - 1 }),
    ),
  );
});

// ---------------------------------------------------------------- qidian
const books = [
  '诡秘之主',
  '宿命之环',
  '大奉打更人',
  '夜的命名术',
  '深海余烬',
  '灵境行者',
  '道诡异仙',
  '赤心巡天',
  '我的治愈系游戏',
  '光阴之外',
  '十日终焉',
  '玄鉴仙族',
  '捞尸人',
  '苟在初圣魔门当人材',
  '我本无意成仙',
  '没钱上大学的我只能去屠龙了',
  '谁让他修仙的',
  '宇宙职业选手',
  '这游戏也太真实了',
  '北宋大表哥',
  '家父汉高祖',
  '我在精神病院学斩神',
  '星门',
  '万相之王',
  '长夜余火',
  '不科学御兽',
  '择日飞升',
  '人道大圣',
  '神秘复苏',
  '修仙就是这样子的',
  '轮回乐园',
  '全球高武',
  '异度旅社',
  '明克街13号',
  '稳住别浪',
  '剑来',
  '从红月开始',
  '我的师兄太强了',
  '青山',
  '半仙',
];
const authors = [
  '爱潜水的乌贼',
  '卖报小郎君',
  '会说话的肘子',
  '远瞳',
  '秦简',
  '狐尾的笔',
  '情何以甚',
  '我会修空调',
  '宅猪',
  '杀虫队队员',
  '季越人',
  '陈词懒调',
  '芒鞋居士',
  '纯洁滴小龙',
  '言归正传',
  '青衫取醉',
  '尾鱼',
  '齐佩甲',
  '老鹰吃小鸡',
  '烟雨江南',
];
const cats: [string, string, string, number][] = [
  ['玄幻', 'xuanhuan', '东方玄幻', 21],
  ['奇幻', 'qihuan', '史诗奇幻', 1],
  ['仙侠', 'xianxia', '古典仙侠', 22],
  ['都市', 'dushi', '异术超能', 4],
  ['科幻', 'kehuan', '未来世界', 9],
  ['悬疑', 'xuanyi', '诡秘悬疑', 10],
  ['历史', 'lishi', '架空历史', 5],
  ['游戏', 'youxi', '虚拟网游', 7],
];
const bid = (i: number) => String(1010868264 + i * 7919 + (i % 5) * 1000003);
// each rank page's anti-spider font (anti-spider-font.ts) maps its own shuffle of codepoints to 0-9 and "."; the page text is as opaque as the live one
const obfuscate = (digits: string, page: number) => [...digits].map((ch) => `&#${obfuscatedCodePoint(ch, page)};`).join('');
function writeFont(rel: string, bytes: Uint8Array): void {
  const file = join(root, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bytes);
}
const BOARDS: { board: string; pages: number; label: string; offset: number; font: boolean }[] = [
  { board: 'hotsales', pages: 3, label: '', offset: 0, font: false },
  { board: 'collect', pages: 2, label: '收藏', offset: 9, font: false },
  { board: 'recom', pages: 2, label: '推荐', offset: 17, font: true },
  { board: 'yuepiao', pages: 1, label: '月票', offset: 5, font: true },
  { board: 'readIndex', pages: 1, label: '', offset: 11, font: false },
  { board: 'signnewbook', pages: 1, label: '推荐', offset: 13, font: false },
  { board: 'pubnewbook', pages: 1, label: '推荐', offset: 19, font: false },
  { board: 'newsign', pages: 1, label: '推荐', offset: 23, font: false },
  { board: 'newauthor', pages: 1, label: '推荐', offset: 29, font: false },
];
const BOARD_NAMES: Record<string, string> = {
  hotsales: '畅销榜',
  collect: '收藏榜',
  recom: '推荐榜',
  yuepiao: '月票榜',
  readIndex: '阅读指数榜',
  signnewbook: '签约作者新书榜',
  pubnewbook: '公众作者新书榜',
  newsign: '新人签约新书榜',
  newauthor: '新人作者新书榜',
};
const bookIndex = (board: number, rank: number) => (BOARDS[board]!.offset + rank * 3) % books.length;
const qdHead = (title: string) => `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="UTF-8"><title>${esc(title)}</title><meta name="keywords" content="小说排行榜,起点中文网"><link rel="stylesheet" href="//qdfepccdn.qidian.com/www.qidian.com/css/rank.css"></head>
<body><script>var buid = "fffffffffffffffffff"</script><div class="wrap"><div id="j-topHeadBox" class="top-head-box"><div class="login-area-wrap"><a class="sign-in" href="//passport.qidian.com/">登录</a><a href="//passport.qidian.com/reg">注册</a></div></div>`;
BOARDS.forEach(({ board, pages, label, font }, b) => {
  for (let page = 1; page <= pages; page++) {
    // the font the live page links on qidian.gtimg.com; here on the sandbox's stand-in for that host
    if (font) writeFont(`qidian/gtimg/qd_anti_spider/${hex(`font:${page}`, 8).toUpperCase()}.woff`, antiSpiderFont(page));
    const lis = Array.from({ length: 20 }, (_, k) => {
      const rank = (page - 1) * 20 + k + 1;
      const i = bookIndex(b, rank) + Math.floor(rank / books.length) * 0;
      const id = bid(i * 10 + b + rank),
        cat = pick(cats, i + rank),
        status = rank % 4 === 0 ? '完本' : '连载';
      const name = rank > books.length ? `${pick(books, i)}之${['归来', '续章', '新篇'][rank % 3]}` : pick(books, i);
      const score = String(Math.round(500000 / (rank + 2)) + ((b * 1301) % 997));
      const scoreHtml =
        b === 0 || board === 'readIndex'
          ? ''
          : font
            ? `<div class="total"><p><span><style>@font-face { font-family: ${hex(`font:${page}`, 8).toUpperCase()}; src: url('{{QIDIAN_FONTS}}/qd_anti_spider/${hex(`font:${page}`, 8).toUpperCase()}.woff') format('woff'); } .${hex(`font:${page}`, 8).toUpperCase()} { font-family: '${hex(`font:${page}`, 8).toUpperCase()}' !important; }</style><span class="${hex(`font:${page}`, 8).toUpperCase()}">${obfuscate(score, page)}</span></span>${label}</p></div>`
            : `<div class="total"><p><span>${Number(score) >= 10000 ? `${(Number(score) / 10000).toFixed(2)}万` : score}</span>${label}</p></div>`;
      return `<li data-rid="${rank}">
 <div class="book-img-box"><span class="rank-tag no${rank}">${rank}<cite></cite></span><a href="//www.qidian.com/book/${id}/" target="_blank" data-eid="qd_C39" data-bid="${id}"><img src="//bookcover.yuewen.com/qdbimg/349573/${id}/150.webp"></a></div>
 <div class="book-mid-info"><h2><a href="//www.qidian.com/book/${id}/" target="_blank" data-eid="qd_C40" data-bid="${id}" title="${esc(name)}最新章节在线阅读">${esc(name)}</a></h2>
  <p class="author"><img src="//qidian.gtimg.com/qd/images/ico/user.f22d3.png"><a class="name" href="//my.qidian.com/author/${3780268 + i}/" data-eid="qd_C41" target="_blank">${esc(pick(authors, i))}</a><em>|</em><a href="//www.qidian.com/${cat[1]}/" data-eid="qd_C42" target="_blank">${cat[0]}</a><i>·</i><a class="go-sub-type" href="//www.qidian.com/all/chanId${cat[3]}-subCateId${74 + k}/" data-eid="qd_C43">${cat[2]}</a><em>|</em><span>${status}</span></p>
  <p class="intro">${esc(pick(books, i + 1))}之后，${esc(name)}的故事开始了。</p>
  <p class="update"><a href="//www.qidian.com/chapter/${id}/${800000000 + rank}/" target="_blank">最新更新 第${700 + rank}章 风起</a><em>·</em><span>2026-08-${String(22 - (rank % 9)).padStart(2, '0')} 23:${String(10 + (rank % 49)).padStart(2, '0')}</span></p></div>
 <div class="book-right-info">${scoreHtml}<p class="btn"><a class="red-btn" href="//www.qidian.com/book/${id}/" data-bid="${id}">书籍详情</a><a class="blue-btn add-book" href="javascript:" data-bid="${id}">加入书架</a></p></div>
</li>`;
    }).join('\n');
    const prefix = `//www.qidian.com/rank/${board}/`;
    const link = (p: number) => (p === 1 ? prefix : `${prefix}page${p}/`);
    const pager = Array.from({ length: pages }, (_, p) =>
      p + 1 === page
        ? `<a class="lbf-pagination-page lbf-pagination-current">${p + 1}</a>`
        : `<a class="lbf-pagination-page" href="${link(p + 1)}">${p + 1}</a>`,
    ).join('');
    write(
      `qidian/www/rank/${board}/page${page}.html`,
      `${qdHead(`${BOARD_NAMES[board]}_小说排行榜_起点中文网`)}
<div class="rank-box box-center cf"><div class="main-content-wrap fl"><div class="rank-header"><h3 class="lang">${BOARD_NAMES[board]}</h3><p class="type-list"><a class="act" href="${prefix}">全部</a><a href="${prefix}chn21/">玄幻</a><a href="${prefix}chn4/">都市</a></p></div>
<div id="rank-view-list" class="rank-view-list"><div class="book-img-text"><ul>
${lis}
</ul></div></div>
<div class="pagination" id="page-container" data-page="${page}" data-pagemax="${pages}"><div class="lbf-pagination"><ul class="lbf-pagination-item-list">${page > 1 ? `<a class="lbf-pagination-prev" href="${link(page - 1)}">&lt;</a>` : '<a class="lbf-pagination-prev lbf-pagination-disabled">&lt;</a>'}${pager}${page < pages ? `<a class="lbf-pagination-next" href="${link(page + 1)}">&gt;</a>` : '<a class="lbf-pagination-next lbf-pagination-disabled">&gt;</a>'}</ul></div></div>
</div></div></div><div class="footer">Copyright © 2002-2026 www.qidian.com All Rights Reserved</div></body></html>
`,
    );
  }
});

// book pages: current layout; one completed book with 月票 and 收藏, one serializing without the catalog count text
const BOOKS: {
  id: string;
  name: string;
  author: string;
  cat: [string, string];
  status: string;
  counts: [string, string][];
  chapters: number;
  desc: boolean;
  update: string;
}[] = [
  {
    id: '1010868264',
    name: '诡秘之主',
    author: '爱潜水的乌贼',
    cat: ['玄幻', '异世大陆'],
    status: '完本',
    counts: [
      ['446.52', '万字'],
      ['2055.83万', '总推荐'],
      ['1.08万', '周推荐'],
      ['168.3万', '总收藏'],
      ['6233', '月票'],
    ],
    chapters: 1432,
    desc: true,
    update: '2020-05-01 23:59:59',
  },
  {
    id: '1036370336',
    name: '深海余烬',
    author: '远瞳',
    cat: ['科幻', '未来世界'],
    status: '连载',
    counts: [
      ['13.33万', '字'],
      ['1.54万', '总推荐'],
      ['2311', '周推荐'],
    ],
    chapters: 51,
    desc: true,
    update: '2026-08-22 23:56:01',
  },
  {
    id: '1041637443',
    name: '十日终焉',
    author: '杀虫队队员',
    cat: ['悬疑', '诡秘悬疑'],
    status: '连载',
    counts: [
      ['286.1万', '字'],
      ['98.7万', '总推荐'],
      ['3.1万', '周推荐'],
    ],
    chapters: 24,
    desc: false,
    update: '2026-08-21 08:03:00',
  },
];
for (const b of BOOKS) {
  const volumes = [Math.ceil(b.chapters / 2), Math.floor(b.chapters / 2)];
  let ch = 0;
  const catalog = volumes
    .map(
      (size, v) =>
        `<div class="catalog-volume"><h3 class="volume-name">第${v + 1}卷 ${v === 0 ? '序章' : '正文'}<span class="volume-count">· 共${size}章</span></h3><ul class="volume-chapters">${Array.from(
          { length: size },
          () => {
            ch++;
            return `<li class="chapter-item"><a class="chapter-name" href="//www.qidian.com/chapter/${b.id}/${700000000 + ch}/">第${ch}章 章节${ch}</a>${v === 1 && ch % 3 === 0 ? '<em class="iconfont chapter-locked"></em>' : ''}</li>`;
          },
        ).join('')}</ul></div>`,
    )
    .join('\n');
  write(
    `qidian/www/book/${b.id}.html`,
    `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="UTF-8"><title>${esc(b.name)}(${esc(b.author)})全本在线阅读-起点中文网官方正版</title>
<meta property="og:type" content="novel"><meta property="og:title" content="${esc(b.name)}"><meta property="og:description" content="${esc(b.name)}的简介">
<meta property="og:novel:category" content="${b.cat[0]}"><meta property="og:novel:author" content="${esc(b.author)}"><meta property="og:novel:book_name" content="${esc(b.name)}">
<meta property="og:novel:status" content="${b.status === '完本' ? '完本' : '连载中'}"><meta property="og:novel:update_time" content="${b.update}"><meta property="og:novel:latest_chapter_name" content="第${b.chapters}章 章节${b.chapters}"></head>
<body><script>var buid = "fffffffffffffffffff"</script><div class="login-area-wrap"><a href="//passport.qidian.com/">登录</a></div>
<div class="book-detail-wrap"><div class="book-information cf"><div class="book-img"><a id="bookImg" href="javascript:" data-bid="${b.id}"><img src="//bookcover.yuewen.com/qdbimg/349573/${b.id}/600.webp"></a></div>
<div class="book-info-top"><h1 id="bookName">${esc(b.name)}</h1><span class="author">${esc(b.author)} 著</span><a class="writer-name" href="//my.qidian.com/author/4362386/">${esc(b.author)}</a>
<p class="book-attribute"><span>${b.status}</span><span class="dot">·</span><span>签约</span><span class="dot">·</span><span>VIP</span><a href="//www.qidian.com/${b.cat[0]}/">${b.cat[0]}</a><span class="dot">·</span><a href="//www.qidian.com/all/subCateId1/">${b.cat[1]}</a></p>
<p class="all-label"><a href="javascript:">克苏鲁</a><a href="javascript:">蒸汽朋克</a></p>
<p class="count">${b.counts.map(([v, l]) => `<em>${v}</em><cite>${l}</cite><i class="point">·</i>`).join('')}</p>
<p class="update"><span class="book-latest-chapter">最新章节：第${b.chapters}章 章节${b.chapters}</span><span class="update-time">更新时间:${b.update}</span></p></div></div>
<div class="book-intro"><p class="intro">${esc(b.name)}，一部关于命运的小说。</p><p id="book-intro-detail">蒸汽与机械的浪潮中，谁能触及非凡？</p></div>
<div id="allCatalog" class="catalog-all"><div class="catalog-header"><h3>目录</h3>${b.desc ? `<span class="catalog-header-desc">${b.status === '完本' ? '完本' : '连载'}共${b.chapters}章</span>` : ''}</div>
${catalog}</div></div><div class="footer">Copyright © 2002-2026 www.qidian.com All Rights Reserved</div></body></html>
`,
  );
}
// a missing book: the logged-out header every page carries, then the error
write(
  'qidian/www/404.html',
  `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="UTF-8"><title>起点中文网</title></head><body><script>var buid = "fffffffffffffffffff"</script><div class="login-area-wrap"><a href="//passport.qidian.com/">登录</a></div><div class="error-wrap"><h1>抱歉，页面无法访问...</h1><p>可能是网址错误或者页面已删除</p></div></body></html>\n`,
);
// the ~209-byte JS-challenge shell the PC site answers with HTTP 202
write(
  'qidian/www/captcha.html',
  `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><script>var buid = "fffffffffffffffffff"</script><script src="/C2WF946J0/probe.js?v=vc1jasc"></script></body></html>\n`,
);
write(
  'qidian/www/waf.html',
  `<!DOCTYPE html><html><head><meta charset="utf-8"><title>WAF拦截页面</title></head><body><div class="waf-block"><p>您的访问请求可能对网站造成安全威胁，请求已被拦截。</p><p>事件ID：${hex('waf', 32)}</p></div></body></html>\n`,
);
write(
  'qidian/www/login.html',
  `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="UTF-8"><title>登录 - 阅文通行证</title></head>
<body><script>var buid = "fffffffffffffffffff"</script><div class="login-area-wrap"><div class="login-box"><h3>请登录后继续访问</h3><iframe id="loginIfr" src="https://passport.yuewen.com/login.html?appid=10&amp;areaid=1&amp;returnurl=https%3A%2F%2Fwww.qidian.com%2F"></iframe>
<div class="qr-login"><img class="qrcode" src="data:image/png;base64,iVBORw0KGgo="><p>QQ / 微信 扫码登录</p></div></div></div></body></html>
`,
);

write('manifest.json', {
  xiaohongshu: {
    keyword: KEYWORD,
    searchNotes: searchNotes.map((n) => ({ id: n.id, special: n.special ?? null })),
    userId: USER_ID,
    userNotes: userNotes.map((n) => n.id),
    selfId: SELF_ID,
    conversations: conversations.map((c, i) => ({ id: c.conversation_id, peer: c.user.user_id, messages: i === 0 ? 25 : 2 + i })),
  },
  qidian: {
    boards: Object.fromEntries(BOARDS.map((b) => [b.board, { pages: b.pages, perPage: 20, obfuscatedScore: b.font, scoreShown: b.board !== 'hotsales' }])),
    books: BOOKS.map((b) => ({ id: b.id, name: b.name, chapters: b.chapters })),
  },
});
console.log('fixtures written to', root);
