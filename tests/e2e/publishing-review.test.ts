import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';

// a real 3×4 PNG
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAMAAAAECAIAAADETxJQAAAAEElEQVR4nGO4o2EDQQx4WQAztw8BKa2zawAAAABJRU5ErkJggg==', 'base64');

/**
 * What docs/publishing.md promises at the edges of publishing and content
 * review, over HTTP: an article naming an image deleted since is refused at
 * publish (nothing written, no quota spent), and a rule the rule set refuses
 * names the body's field it came from.
 */
describe('publishing and review rules: refusals as documented (e2e)', function () {
  this.timeout(120_000);
  let platform: Platform;
  let admin: string;
  let alice: { userId: string; token: string };

  const call = (method: string, path: string, token: string, body?: unknown): Promise<Reply> =>
    platform.call(method, path, body === undefined ? { token } : { token, body });

  async function upload(token: string): Promise<string> {
    const res = await fetch(`${platform.url}/api/v1/media`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'image/png' },
      body: new Uint8Array(PNG),
    });
    const text = await res.text();
    expect(res.status, text).to.equal(201);
    return JSON.parse(text).data.id as string;
  }

  before(async () => {
    platform = await startPlatform({ proxies: 0 });
    admin = await platform.adminToken();
    alice = await platform.signUp('alice');
  });
  after(async () => {
    await platform?.stop();
  });

  it('refuses to publish an article whose image was deleted since (422, details.mediaIds), writing nothing', async () => {
    const cover = await upload(alice.token);
    const image = await upload(alice.token);
    const created = await call('POST', '/api/v1/articles', alice.token, { title: '露营', body: '帐篷', cover_media_id: cover, image_media_ids: [image] });
    expect(created.status, created.text).to.equal(201);
    const articleId = created.body.data.id as string;
    const removed = await call('DELETE', `/api/v1/media/${image}`, alice.token);
    expect(removed.status, removed.text).to.equal(200);

    const refused = await call('POST', `/api/v1/articles/${articleId}/publish`, alice.token, { account_ids: [randomUUID()] });
    expect(refused.status, refused.text).to.equal(422);
    expect(refused.body.error.code).to.equal('VALIDATION_ERROR');
    expect(refused.body.error.details.mediaIds).to.deep.equal([image]);
    expect(refused.body.error.details.issues).to.have.length(1);

    // nothing was requested, and the day's publications quota is untouched
    const written = await platform
      .knex('es_events')
      .where('stream_name', 'like', 'publication-%')
      .orWhere((w) => w.where({ event_type: 'UsageRecorded' }).andWhereRaw("data::text LIKE '%daily_publications%'"))
      .count<{ count: string }[]>({ count: '*' });
    expect(Number(written[0]!.count)).to.equal(0);

    // named images that exist again: the refusal is gone (the account is then what is wrong)
    const revised = await call('PUT', `/api/v1/articles/${articleId}`, alice.token, { title: '露营', body: '帐篷', cover_media_id: cover });
    expect(revised.status, revised.text).to.equal(200);
    const next = await call('POST', `/api/v1/articles/${articleId}/publish`, alice.token, { account_ids: [randomUUID()] });
    expect(next.status, next.text).to.equal(404);
  });

  it('names the body field a refused rule came from: issues[].path as the request spells it', async () => {
    const cases: { body: Record<string, unknown>; path: (string | number)[] }[] = [
      { body: { kind: 'red_line', name: 'rl', phrases: ['赌博'] }, path: ['category'] },
      { body: { kind: 'length', name: 'len', params: { field: 'title', min: 10, max: 5 } }, path: ['params', 'min'] },
      { body: { kind: 'link', name: 'link', params: { allowed_domains: ['not a domain!'] } }, path: ['params', 'allowed_domains'] },
      { body: { kind: 'contact', name: 'c', phrases: ['x'] }, path: ['phrases'] },
      { body: { kind: 'image', name: 'img', params: { max: 3 }, platforms: ['XHS!'] }, path: ['platforms'] },
    ];
    for (const c of cases) {
      const r = await call('POST', '/api/v1/review-rules', admin, { scope: 'platform', ...c.body });
      expect(r.status, r.text).to.equal(422);
      expect(r.body.error.details.issues, r.text).to.have.length(1);
      expect(r.body.error.details.issues[0].path, r.text).to.deep.equal(c.path);
    }
    // and when a rule is changed
    const added = await call('POST', '/api/v1/review-rules', admin, { scope: 'platform', kind: 'length', name: 'len', params: { field: 'body', max: 5000 } });
    expect(added.status, added.text).to.equal(201);
    const changed = await call('PUT', `/api/v1/review-rules/${added.body.data.id}`, admin, {
      kind: 'length',
      name: 'len',
      params: { field: 'body', min: 9, max: 1 },
    });
    expect(changed.status, changed.text).to.equal(422);
    expect(changed.body.error.details.issues[0].path).to.deep.equal(['params', 'min']);
  });
});
