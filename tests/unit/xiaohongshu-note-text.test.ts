import { expect } from 'chai';
import { PublishRefusedError, type PostContent } from '../../src/platforms/publishing/port.js';
import { markdownToNoteText, noteLength, noteTopics } from '../../src/platforms/xiaohongshu/note-text.js';
import { prepareXiaohongshuNote } from '../../src/platforms/xiaohongshu/publisher.js';

describe('xiaohongshu note text (Markdown → plain text, limits)', () => {
  it('keeps what a reader sees and drops the marks', () => {
    const md = [
      '# 标题一 #',
      '',
      'Setext 标题',
      '===',
      '',
      '这是**粗体**、*斜体*、__也粗__、_也斜_、~~删除~~和`代码`，还有[链接](https://example.com "t")与<https://a.example/x>。',
      '![图](media:abc) 图片说明',
      '',
      '> 引用一行',
      '> > 嵌套引用',
      '',
      '- 列表一',
      '* 列表二',
      '  + 子项',
      '- [x] 已完成',
      '1. 有序',
      '',
      '---',
      '',
      '```ts',
      'const a = 1; // **不是粗体**',
      '```',
      '',
      '| 名称 | 价格 |',
      '| --- | ---: |',
      '| 可颂 | 12 |',
      '',
      '<b>HTML</b> &amp; 实体 &lt;tag&gt; &#x4f60;&#22909; \\*不是斜体\\*',
      '[ref]: https://example.com',
      '',
      '',
      '',
      '结尾',
    ].join('\n');
    expect(markdownToNoteText(md)).to.equal(
      [
        '标题一',
        '',
        'Setext 标题',
        '',
        '这是粗体、斜体、也粗、也斜、删除和代码，还有链接与https://a.example/x。',
        ' 图片说明',
        '',
        '引用一行',
        '嵌套引用',
        '',
        '• 列表一',
        '• 列表二',
        '  • 子项',
        '• 已完成',
        '1. 有序',
        '',
        'const a = 1; // **不是粗体**',
        '',
        '名称  价格',
        '可颂  12',
        '',
        'HTML & 实体 <tag> 你好 *不是斜体*',
        '',
        '结尾',
      ].join('\n'),
    );
  });

  it('leaves snake_case words and arithmetic alone, and trims', () => {
    expect(markdownToNoteText('  a_b_c 2*3*4 \r\n\r\n')).to.equal('a_b_c 2*3*4');
    expect(markdownToNoteText('')).to.equal('');
  });

  it('counts code points and normalises topics', () => {
    expect(noteLength('😀ab')).to.equal(3);
    expect(noteTopics(['#早午餐', '法式 料理', '早午餐', '##', '咖啡[话题]#', ' '])).to.deep.equal(['早午餐', '法式料理', '咖啡']);
  });

  const base: PostContent = {
    clientToken: 't',
    title: ' 标题 ',
    body: '**正文**',
    summary: null,
    tags: Array.from({ length: 12 }, (_, i) => `话题${i}`),
    images: [{ mediaId: 'm', contentType: 'image/JPEG', bytes: Buffer.from([0xff, 0xd8, 0xff]) }],
  };
  const code = (c: PostContent) => {
    try {
      prepareXiaohongshuNote(c);
      return null;
    } catch (error) {
      expect(error).to.be.instanceOf(PublishRefusedError);
      return (error as PublishRefusedError).code;
    }
  };

  it('prepares the draft: trimmed title, text body, at most ten topics', () => {
    const draft = prepareXiaohongshuNote(base);
    expect(draft).to.deep.include({ title: '标题', text: '正文' });
    expect(draft.topics).to.have.length(10);
  });

  it('refuses what the page would refuse', () => {
    expect(code({ ...base, title: '一'.repeat(20) })).to.equal(null);
    expect(code({ ...base, title: '一'.repeat(21) })).to.equal('title_too_long');
    expect(code({ ...base, tags: [], body: '字'.repeat(1000) })).to.equal(null);
    expect(code({ ...base, tags: [], body: '字'.repeat(1001) })).to.equal('body_too_long');
    // the topics count: 995 + a line break + "#ab " = 1000
    expect(code({ ...base, tags: ['ab'], body: '字'.repeat(995) })).to.equal(null);
    expect(code({ ...base, tags: ['abc'], body: '字'.repeat(995) })).to.equal('body_too_long');
    expect(code({ ...base, images: [] })).to.equal('no_images');
    expect(code({ ...base, images: [{ mediaId: 'g', contentType: 'image/gif', bytes: Buffer.from('GIF89a') }] })).to.equal('unsupported_image');
    expect(code({ ...base, images: Array.from({ length: 19 }, () => base.images[0]!) })).to.equal('too_many_images');
  });
});
