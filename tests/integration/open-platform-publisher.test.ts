import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { startOpenPlatformSandbox, type OpenPlatformSandbox } from '../../sandbox/open-platform/server.js';
import { loadConfig } from '../../src/config.js';
import { oauthPlatforms, openPlatformPublishers } from '../../src/platforms/open-platform/clients.js';
import { authorizeUrl, exchangeCode } from '../../src/platforms/open-platform/oauth-client.js';
import { newPkceVerifier } from '../../src/platforms/open-platform/signature.js';
import {
  PublishAuthError,
  PublishRefusedError,
  TransientPublishError,
  type PostContent,
  type Publisher,
  type PublishTarget,
} from '../../src/platforms/publishing/port.js';
import { consent } from '../support/open-platform-consent.js';

const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
);

/**
 * The open-platform Publisher against the sandbox: posts by client token
 * (a repeat is the same post), the lost answer found by findExisting and
 * never posted twice, and each kind of failure mapped to the port's errors.
 */
describe('open platform publisher (sandbox)', function () {
  this.timeout(30_000);
  let sandbox: OpenPlatformSandbox;
  const publishers = new Map<string, Publisher>();
  const targets = new Map<string, PublishTarget>();

  before(async () => {
    sandbox = await startOpenPlatformSandbox({ redirectBaseUrl: 'http://collector-api.test' });
    const config = loadConfig({ NODE_ENV: 'test', ...sandbox.env() });
    for (const p of openPlatformPublishers(config)) publishers.set(p.platform, p);
    for (const client of oauthPlatforms(config)) {
      const verifier = client.pkce ? newPkceVerifier() : null;
      const back = await consent(authorizeUrl(client, { state: 's', codeVerifier: verifier }));
      const tokens = await exchangeCode(client, { code: back.searchParams.get('code')!, codeVerifier: verifier });
      targets.set(client.platform, {
        accountId: randomUUID(),
        credentials: { kind: 'oauth', accessToken: tokens.accessToken, platformUserId: 'alice' },
        proxyUrl: null,
      });
    }
  });
  after(() => sandbox?.close());
  afterEach(() => {
    sandbox.faults.tamperResponses = false;
  });

  const content = (over: Partial<PostContent> = {}): PostContent => ({
    clientToken: `pub-${randomUUID()}`,
    title: '春天的第一篇游记',
    body: '# 出发\n\n今天去了西湖。\n\n![断桥](media:m1)',
    summary: '西湖一日',
    tags: ['旅行', '杭州'],
    images: [{ mediaId: 'm1', contentType: 'image/png', bytes: PNG }],
    ...over,
  });
  const thrown = async (work: Promise<unknown>) =>
    work.then(
      () => expect.fail('expected an error'),
      (e: unknown) => e,
    );

  it('offers a publisher per configured platform, able to unpublish and read metrics', () => {
    expect([...publishers.keys()]).to.deep.equal(['baidu', 'sohu', 'netease']);
    for (const p of publishers.values()) expect([p.canUnpublish, p.canReadMetrics]).to.deep.equal([true, true]);
  });

  it('publishes (images as base64), and the same client token again is the same post', async () => {
    const publisher = publishers.get('baidu')!;
    const target = targets.get('baidu')!;
    const post = content();
    const first = await publisher.publish(target, post);
    expect(first.postId).to.be.a('string');
    expect(first.url).to.equal(`${sandbox.url}/baidu/p/${first.postId}`);
    expect(Date.parse(first.publishedAt!)).to.be.closeTo(Date.now(), 10_000);
    const again = await publisher.publish(target, post);
    expect(again).to.deep.equal(first);
    const held = sandbox.posts('baidu', { clientToken: post.clientToken });
    expect(held).to.have.length(1);
    expect(held[0]).to.include({ title: post.title, body: post.body, format: 'markdown', summary: '西湖一日' });
    expect(held[0]!.tags).to.deep.equal(['旅行', '杭州']);
    expect(held[0]!.images).to.have.length(1);
    expect(held[0]!.images[0]).to.include({ mediaId: 'm1', contentType: 'image/png', bytes: PNG.length });
    expect(await publisher.findExisting(target, post, new Date(0))).to.deep.equal(first);
    expect(await publisher.findExisting(target, content(), new Date(0))).to.equal(null);
  });

  it('a lost answer (stored, then 503): the retry finds the post instead of posting twice', async () => {
    const publisher = publishers.get('sohu')!;
    const target = targets.get('sohu')!;
    const post = content();
    sandbox.failNextPublish('sohu', 1, 'after');
    expect(await thrown(publisher.publish(target, post))).to.be.instanceOf(TransientPublishError);
    // what the publish job does before posting again
    const found = await publisher.findExisting(target, post, new Date(Date.now() - 60_000));
    expect(found, 'the platform holds it').to.not.equal(null);
    expect(sandbox.posts('sohu', { clientToken: post.clientToken })).to.have.length(1);
    // even a blind retry is the same post (the platform keeps the client token)
    expect((await publisher.publish(target, post)).postId).to.equal(found!.postId);
    expect(sandbox.posts('sohu', { clientToken: post.clientToken })).to.have.length(1);
  });

  it('a 503 before storing, a 429 and a forged answer are transient; the retry posts once', async () => {
    const publisher = publishers.get('netease')!;
    const target = targets.get('netease')!;
    const post = content();
    sandbox.failNextPublish('netease', 2, 'before');
    expect(await thrown(publisher.publish(target, post))).to.be.instanceOf(TransientPublishError);
    expect(await thrown(publisher.publish(target, post))).to.be.instanceOf(TransientPublishError);
    expect(await publisher.findExisting(target, post, new Date(0))).to.equal(null);
    sandbox.rateLimitNextPublish('netease', 1);
    const limited = await thrown(publisher.publish(target, post));
    expect(limited).to.be.instanceOf(TransientPublishError);
    expect((limited as Error).message).to.include('429');
    sandbox.faults.tamperResponses = true;
    expect(await thrown(publisher.publish(target, post))).to.be.instanceOf(TransientPublishError);
    sandbox.faults.tamperResponses = false;
    // the forged answer's post was made; the retry finds it
    expect(await publisher.findExisting(target, post, new Date(0))).to.not.equal(null);
    await publisher.publish(target, post);
    expect(sandbox.posts('netease', { clientToken: post.clientToken })).to.have.length(1);
  });

  it('content the platform refuses is PublishRefusedError with its code', async () => {
    const publisher = publishers.get('baidu')!;
    const target = targets.get('baidu')!;
    const banned = await thrown(publisher.publish(target, content({ title: '这是违禁内容' })));
    expect(banned).to.be.instanceOf(PublishRefusedError);
    expect(banned).to.include({ code: 'content_rejected' });
    const image = await thrown(publisher.publish(target, content({ images: [{ mediaId: 'x', contentType: 'image/png', bytes: Buffer.from('not a png') }] })));
    expect(image).to.be.instanceOf(PublishRefusedError);
    expect(image).to.include({ code: 'invalid_image' });
    const long = await thrown(publisher.publish(target, content({ title: '长'.repeat(101) })));
    expect(long).to.be.instanceOf(PublishRefusedError);
    expect(long).to.include({ code: 'invalid_request' });
  });

  it('a revoked or unknown token is PublishAuthError; so are cookie credentials', async () => {
    const publisher = publishers.get('sohu')!;
    const bad: PublishTarget = { accountId: 'a', credentials: { kind: 'oauth', accessToken: 'at_nothing', platformUserId: 'x' }, proxyUrl: null };
    expect(await thrown(publisher.publish(bad, content()))).to.be.instanceOf(PublishAuthError);
    expect(await thrown(publisher.findExisting(bad, content(), new Date(0)))).to.be.instanceOf(PublishAuthError);
    const cookies: PublishTarget = { accountId: 'a', credentials: { kind: 'cookies', cookies: 'a=b', userAgent: null, platformUserId: null }, proxyUrl: null };
    expect(await thrown(publisher.publish(cookies, content()))).to.be.instanceOf(PublishAuthError);
  });

  it('unpublishes (again is fine), and reads metrics that grow or are set', async () => {
    const publisher = publishers.get('netease')!;
    const target = targets.get('netease')!;
    const post = content();
    const made = await publisher.publish(target, post);
    sandbox.setMetrics('netease', made.postId, { views: 1200, likes: 88, comments: 9, shares: 3 });
    expect(await publisher.metrics(target, made.postId)).to.deep.equal({ views: 1200, likes: 88, comments: 9, extra: { shares: 3 } });

    const other = await publisher.publish(target, content());
    await new Promise((r) => setTimeout(r, 1_100));
    const grown = await publisher.metrics(target, other.postId);
    expect(grown.views).to.be.greaterThan(0);

    await publisher.unpublish(target, made.postId);
    expect(sandbox.posts('netease', { clientToken: post.clientToken })[0]!.status).to.equal('deleted');
    expect(await publisher.findExisting(target, post, new Date(0))).to.equal(null);
    await publisher.unpublish(target, made.postId);
    expect(await thrown(publisher.metrics(target, made.postId))).to.be.instanceOf(PublishRefusedError);
  });
});
