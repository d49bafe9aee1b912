import { expect } from 'chai';
import { noteSchema } from '../../src/platforms/xiaohongshu/items.js';
import {
  apiVerdict,
  feedCard,
  initialStateNote,
  messageFromApi,
  msToIso,
  noteFromDetail,
  pageVerdict,
  parseCount,
  parseInitialState,
  parseXhsDate,
  searchCards,
  tagsFromDesc,
  userPostedRefs,
} from '../../src/platforms/xiaohongshu/parse.js';

const NOW = new Date('2026-08-10T04:00:00.000Z'); // 12:00 in Shanghai
const ID = '65af0c1e000000001203a0b1';

describe('xiaohongshu parse', () => {
  it('parseCount: plain, 万/w/亿, k, 10+, labels and junk', () => {
    expect(parseCount('4311')).to.equal(4311);
    expect(parseCount('1.5万')).to.equal(15000);
    expect(parseCount('1.2w')).to.equal(12000);
    expect(parseCount('2亿')).to.equal(200_000_000);
    expect(parseCount('10+')).to.equal(10);
    expect(parseCount('1k+')).to.equal(1000);
    expect(parseCount('1,234')).to.equal(1234);
    expect(parseCount(' 683 ')).to.equal(683);
    expect(parseCount(27)).to.equal(27);
    for (const zero of ['赞', '收藏', '评论', '', undefined, null, 'abc', -3]) expect(parseCount(zero)).to.equal(0);
  });

  it('parseXhsDate: relative and absolute texts → +08:00 ISO', () => {
    expect(parseXhsDate('刚刚', NOW)).to.equal('2026-08-10T12:00:00.000+08:00');
    expect(parseXhsDate('5分钟前', NOW)).to.equal('2026-08-10T11:55:00.000+08:00');
    expect(parseXhsDate('3小时前', NOW)).to.equal('2026-08-10T09:00:00.000+08:00');
    expect(parseXhsDate('昨天 21:30', NOW)).to.equal('2026-08-09T21:30:00.000+08:00');
    expect(parseXhsDate('前天 08:05', NOW)).to.equal('2026-08-08T08:05:00.000+08:00');
    expect(parseXhsDate('2天前', NOW)).to.equal('2026-08-08T00:00:00.000+08:00');
    expect(parseXhsDate('编辑于 2天前 美国', NOW)).to.equal('2026-08-08T00:00:00.000+08:00');
    expect(parseXhsDate('03-18', NOW)).to.equal('2026-03-18T00:00:00.000+08:00');
    expect(parseXhsDate('12-24', NOW)).to.equal('2025-12-24T00:00:00.000+08:00'); // not in the future
    expect(parseXhsDate('2024-01-23', NOW)).to.equal('2024-01-23T00:00:00.000+08:00');
    expect(parseXhsDate('编辑于 08-03 上海', NOW)).to.equal('2026-08-03T00:00:00.000+08:00');
    expect(parseXhsDate('2024-02-30', NOW)).to.equal(null);
    expect(parseXhsDate('上海', NOW)).to.equal(null);
    expect(parseXhsDate('', NOW)).to.equal(null);
    expect(msToIso(1681220903000)).to.equal('2023-04-11T21:48:23.000+08:00');
  });

  it('tags from the desc, and the __INITIAL_STATE__ with raw undefined', () => {
    expect(tagsFromDesc('正文 #法式装修[话题]# 还有 #奶油风[话题]#')).to.deep.equal(['法式装修', '奶油风']);
    const html = `<html><script>window.__INITIAL_STATE__={"note":{"noteDetailMap":{"${ID}":{"note":{"noteId":"${ID}","title":"t","lastUpdateTime":undefined,"imageList":[undefined]}}}},"x":undefined}</script></html>`;
    const state = parseInitialState(html)!;
    expect(state).to.have.property('x', null);
    expect(initialStateNote(state, ID)).to.include({ noteId: ID, lastUpdateTime: null });
    expect(initialStateNote(state, 'ffffffffffffffffffffffff')).to.equal(null);
    expect(parseInitialState('<html>no state</html>')).to.equal(null);
    expect(parseInitialState('<script>window.__INITIAL_STATE__={broken</script>')).to.equal(null);
  });

  it('apiVerdict: envelope, login codes, blocks, captcha statuses, unavailable notes', () => {
    expect(apiVerdict(200, { code: 0, success: true, data: { a: 1 } })).to.deep.equal({ ok: true, data: { a: 1 } });
    expect(apiVerdict(200, { code: -100, success: false, msg: '登录已过期' })).to.include({ verdict: 'login_wall', reason: 'api_code_-100' });
    expect(apiVerdict(200, { code: -101, success: false })).to.include({ verdict: 'login_wall' });
    expect(apiVerdict(200, { code: 300012, success: false })).to.include({ verdict: 'blocked' });
    expect(apiVerdict(200, { code: 300015, success: false })).to.include({ verdict: 'blocked' });
    expect(apiVerdict(200, { code: 300013, success: false })).to.include({ verdict: 'rate_limited' });
    expect(apiVerdict(461, null)).to.include({ verdict: 'captcha', reason: 'http_461' });
    expect(apiVerdict(471, { code: 0, success: true })).to.include({ verdict: 'captcha' });
    expect(apiVerdict(200, { code: -510001, success: false })).to.include({ verdict: 'unavailable' });
    expect(apiVerdict(500, 'oops')).to.include({ verdict: 'error', reason: 'http_500' });
  });

  it('pageVerdict: captcha redirect and text, login modal and button; logged in is ok', () => {
    const base = { url: 'https://www.xiaohongshu.com/explore', text: '', loginButton: false, loginModal: false, userMenu: true };
    expect(pageVerdict(base).verdict).to.equal('ok');
    expect(pageVerdict({ ...base, url: 'https://www.xiaohongshu.com/website-login/captcha?redirectPath=x' })).to.include({
      verdict: 'captcha',
      reason: 'captcha_redirect',
    });
    expect(pageVerdict({ ...base, text: '请通过验证' })).to.include({ verdict: 'captcha' });
    expect(pageVerdict({ ...base, userMenu: false, loginModal: true })).to.include({ verdict: 'login_wall', reason: 'login_modal' });
    expect(pageVerdict({ ...base, userMenu: false, loginButton: true })).to.include({ verdict: 'login_wall', reason: 'login_button' });
  });

  it('search cards and user_posted refs: rec_query / hot_query dropped', () => {
    const data = {
      has_more: true,
      items: [
        { id: ID, model_type: 'note', xsec_token: 'AB=', note_card: { display_title: '标题', corner_tag_info: [{ type: 'publish_time', text: '3天前' }] } },
        { id: 'abc#rec', model_type: 'rec_query' },
        { id: 'def#hot', model_type: 'hot_query' },
      ],
    };
    expect(searchCards(data)).to.deep.equal([{ noteId: ID, xsecToken: 'AB=', title: '标题', publishText: '3天前' }]);
    expect(userPostedRefs({ notes: [{ note_id: ID, xsec_token: 't', display_title: 'x' }, { note_id: 'bad' }] })).to.have.length(1);
  });

  it('a /feed card (snake_case) and an __INITIAL_STATE__ note (camelCase) give the same valid item', () => {
    const card = {
      note_id: ID,
      type: 'video',
      title: '',
      desc: '正文 #法式装修[话题]#',
      user: { user_id: 'u1', nickname: '小鹿' },
      interact_info: { liked_count: '1.5万', collected_count: '520', comment_count: '33', share_count: '10+' },
      image_list: [
        { url_default: 'https://sns-webpic-qc.xhscdn.com/a.jpg' },
        {
          info_list: [
            { image_scene: 'WB_PRV', url: 'https://x/p.jpg' },
            { image_scene: 'WB_DFT', url: 'https://x/d.jpg' },
          ],
        },
      ],
      tag_list: [
        { id: '1', name: '法式装修', type: 'topic' },
        { id: '2', name: '上海', type: 'location' },
      ],
      time: 1681220903000,
      ip_location: '上海',
    };
    const url = `https://www.xiaohongshu.com/explore/${ID}`;
    const a = noteFromDetail(feedCard({ items: [{ id: ID, note_card: card }] })!, url, { title: '卡片标题' });
    expect(a).to.deep.equal({
      noteId: ID,
      type: 'video',
      title: '卡片标题',
      text: '正文 #法式装修[话题]#',
      author: { id: 'u1', nickname: '小鹿' },
      publishedAt: '2023-04-11T21:48:23.000+08:00',
      likes: 15000,
      comments: 33,
      shares: 10,
      collects: 520,
      images: ['https://sns-webpic-qc.xhscdn.com/a.jpg', 'https://x/d.jpg'],
      tags: ['法式装修'],
      location: '上海',
      url,
    });
    expect(noteSchema.safeParse(a).success).to.equal(true);
    const camel = {
      noteId: ID,
      type: 'video',
      title: '',
      desc: card.desc,
      user: { userId: 'u1', nickname: '小鹿' },
      interactInfo: { likedCount: '1.5万', collectedCount: '520', commentCount: '33', shareCount: '10+' },
      imageList: [{ urlDefault: 'https://sns-webpic-qc.xhscdn.com/a.jpg' }, { infoList: [{ imageScene: 'WB_DFT', url: 'https://x/d.jpg' }] }],
      tagList: [{ name: '法式装修', type: 'topic' }],
      time: 1681220903000,
      ipLocation: '上海',
    };
    expect(noteFromDetail(camel, url, { title: '卡片标题' })).to.deep.equal(a);
    expect(feedCard({ items: [] })).to.equal(null);
    // no time: the card's text date; no topics in tag_list: from the desc
    const b = noteFromDetail({ ...card, time: undefined, tag_list: [] }, url, { publishText: '2024-01-23' });
    expect(b.publishedAt).to.equal('2024-01-23T00:00:00.000+08:00');
    expect(b.tags).to.deep.equal(['法式装修']);
    // no title anywhere: the first 255 characters of the text (whole code points: an emoji is one)
    expect(noteFromDetail(card, url).title).to.equal('正文 #法式装修[话题]#');
    const long = `😀${'长'.repeat(300)}`;
    const untitled = noteFromDetail({ ...card, desc: long }, url, { title: '' });
    expect(Array.from(untitled.title)).to.have.length(255);
    expect(untitled.title.startsWith('😀长')).to.equal(true);
    expect(noteSchema.safeParse(untitled).success).to.equal(true);
  });

  it('messages: direction from the sender', () => {
    const peer = { id: 'p1', nickname: 'Anna' };
    const got = messageFromApi('c1', { message_id: 'm1', sender_id: 'p1', content: '你好', message_type: 'text', create_time: 1681220903000 }, 'me', peer);
    expect(got).to.deep.equal({
      conversationId: 'c1',
      messageId: 'm1',
      direction: 'received',
      from: { id: 'p1', nickname: 'Anna' },
      messageType: 'text',
      text: '你好',
      sentAt: '2023-04-11T21:48:23.000+08:00',
      peer: { id: 'p1', nickname: 'Anna' },
    });
    const sent = messageFromApi('c1', { message_id: 'm2', sender_id: 'me', content: 'hi', create_time: 1 }, 'me', peer);
    expect(sent).to.include({ direction: 'sent' });
    // the peer of a sent message is the conversation's other side, not the sender
    expect(sent.peer).to.deep.equal({ id: 'p1', nickname: 'Anna' });
    // no peer in the conversation list: none on the message
    expect(messageFromApi('c1', { message_id: 'm3', sender_id: 'me', content: 'hi', create_time: 1 }, 'me', { id: '', nickname: null })).to.not.have.property(
      'peer',
    );
  });
});
