import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { DEFAULT_BODY_LIMIT_BYTES } from '../../src/adapters/http/body.js';
import { parsePosition } from '../../src/event-store/position.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import { post, startTestApi, TEST_CONSUMER, type Envelope, type TestApi } from './http-test-api.js';

describe('HTTP conventions across routes (e2e)', () => {
  let t: TestApi;
  let base: string;
  before(async () => {
    t = await startTestApi();
    base = `${t.url}/api/v1/test`;
  });
  after(async () => {
    await t?.stop();
  });

  async function open(id = randomUUID(), limit = 10) {
    const { res, body } = await post(`${base}/counters/${id}/open`, { limit });
    expect(res.status, JSON.stringify(body)).to.equal(201);
    return { id, res, body };
  }

  describe('security headers', () => {
    it('every answer says nosniff, no framing, no referrer, a CSP that allows nothing; no HSTS over plain HTTP, whatever X-Forwarded-Proto claims', async () => {
      for (const path of ['/healthz', '/api/v1/openapi.json', `/api/v1/test/counters/${randomUUID()}`]) {
        const res = await fetch(`${t.url}${path}`, { headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '203.0.113.5' } });
        expect(res.headers.get('x-content-type-options'), path).to.equal('nosniff');
        expect(res.headers.get('x-frame-options'), path).to.equal('DENY');
        expect(res.headers.get('referrer-policy'), path).to.equal('no-referrer');
        expect(res.headers.get('content-security-policy'), path).to.equal("default-src 'none'; frame-ancestors 'none'");
        expect(res.headers.get('strict-transport-security'), `${path}: no trusted proxy, plain HTTP`).to.equal(null);
      }
    });
  });

  describe('request bodies', () => {
    it('answers malformed JSON with 400 MALFORMED_JSON in the envelope', async () => {
      const { res, body } = await post(`${base}/counters/${randomUUID()}/open`, '{"limit": 3,', { 'X-Request-Id': 'bad-json-1' });
      expect(res.status).to.equal(400);
      expect(body).to.include({ success: false, request_id: 'bad-json-1' });
      expect(body.error?.code).to.equal('MALFORMED_JSON');
    });

    it('answers a top level that is not an object or array (null, a string, a number) with 400 MALFORMED_JSON, and an array with 422', async () => {
      for (const text of ['null', '"text"', '3']) {
        const { res, body } = await post(`${base}/counters/${randomUUID()}/open`, text);
        expect(res.status, text).to.equal(400);
        expect(body.error?.code, text).to.equal('MALFORMED_JSON');
      }
      // an array is JSON the parser takes: the route's schema refuses it
      const array = await post(`${base}/counters/${randomUUID()}/open`, '[1]');
      expect(array.res.status).to.equal(422);
      expect(array.body.error?.code).to.equal('VALIDATION_ERROR');
    });

    it('answers a body over the limit with 413 PAYLOAD_TOO_LARGE, with or without Content-Length', async () => {
      const big = JSON.stringify({ limit: 1, label: 'x'.repeat(DEFAULT_BODY_LIMIT_BYTES) });
      const declared = await post(`${base}/counters/${randomUUID()}/open`, big);
      expect(declared.res.status).to.equal(413);
      expect(declared.body.error?.code).to.equal('PAYLOAD_TOO_LARGE');

      const chunks = new TextEncoder().encode(big);
      const stream = new ReadableStream({
        start(controller) {
          for (let i = 0; i < chunks.length; i += 16_384) controller.enqueue(chunks.subarray(i, i + 16_384));
          controller.close();
        },
      });
      const res = await fetch(`${base}/counters/${randomUUID()}/open`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).to.equal(413);
      expect(((await res.json()) as Envelope).error?.code).to.equal('PAYLOAD_TOO_LARGE');
    });

    it('answers a body that is not JSON with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      const res = await fetch(`${base}/counters/${randomUUID()}/open`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'limit=3' });
      expect(res.status).to.equal(415);
      expect(((await res.json()) as Envelope).error?.code).to.equal('UNSUPPORTED_MEDIA_TYPE');
      const form = await fetch(`${base}/counters/${randomUUID()}/open`, { method: 'POST', body: new URLSearchParams({ limit: '3' }) });
      expect(form.status).to.equal(415);
    });

    it('answers wrong types with 422 VALIDATION_ERROR naming each issue by location and path', async () => {
      const { res, body } = await post(`${base}/counters/not-a-uuid/open`, { limit: 'three', label: 7 });
      expect(res.status).to.equal(422);
      expect(body.error?.code).to.equal('VALIDATION_ERROR');
      const where = (body.error!.details.issues as { in: string; path: unknown[]; message: string }[]).map((i) => `${i.in}:${i.path.join('.')}`);
      expect(where).to.have.members(['params:id', 'body:limit', 'body:label']);
      for (const issue of body.error!.details.issues) expect(issue.message).to.be.a('string').and.not.empty;
    });

    it('refuses a body nested too deep with 422 too_deep at once, however deep, and keeps serving meanwhile', async () => {
      // 100,000 levels in under 200 kB: walking it must cost its size, not its size squared
      const deep = `{"limit":1,"label":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
      const sent = fetch(`${base}/counters/${randomUUID()}/open`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: deep });
      const health = await fetch(`${t.url}/healthz`);
      expect(health.status).to.equal(200);
      const res = await sent;
      expect(res.status).to.equal(422);
      const issues = ((await res.json()) as Envelope).error!.details.issues as { in: string; path: unknown[]; code: string }[];
      const tooDeep = issues.find((i) => i.code === 'too_deep');
      expect(tooDeep, JSON.stringify(issues).slice(0, 500)).to.not.equal(undefined);
      expect(tooDeep!.in).to.equal('body');
      expect(tooDeep!.path.slice(0, 3)).to.deep.equal(['label', 0, 0]);
      expect(tooDeep!.path).to.have.length(100);
      // a NUL deep inside is named by its whole path
      const nul = await post(`${base}/counters/${randomUUID()}/open`, { limit: 1, label: { a: [{ b: 'x\u0000y' }] } });
      expect(nul.res.status).to.equal(422);
      expect(nul.body.error!.details.issues).to.deep.include({
        in: 'body',
        path: ['label', 'a', 0, 'b'],
        message: 'must not contain NUL (U+0000)',
        code: 'invalid_text',
      });
    });

    it('validates a POST without a body against the schema', async () => {
      const res = await fetch(`${base}/counters/${randomUUID()}/open`, { method: 'POST' });
      expect(res.status).to.equal(422);
      expect(((await res.json()) as Envelope).error?.details.issues[0].path).to.deep.equal(['limit']);
    });
  });

  describe('commands: revision, position, If-Match', () => {
    it('answer the revision and global position written, with the revision as ETag', async () => {
      const { res, body } = await open();
      expect(body.data.revision).to.equal('0');
      expect(body.data.position).to.match(/^\d+-\d+$/);
      expect(res.headers.get('etag')).to.equal('"0"');
    });

    it('If-Match with a stale revision → 412 PRECONDITION_FAILED; the current one → 200 with the new ETag', async () => {
      const { id } = await open();
      const first = await post(`${base}/counters/${id}/increment`, { by: 1 });
      expect(first.res.status).to.equal(200);
      expect(first.res.headers.get('etag')).to.equal('"1"');

      const stale = await post(`${base}/counters/${id}/increment`, { by: 1 }, { 'If-Match': '"0"' });
      expect(stale.res.status).to.equal(412);
      expect(stale.body.error?.code).to.equal('PRECONDITION_FAILED');

      const current = await post(`${base}/counters/${id}/increment`, { by: 1 }, { 'If-Match': '"1"' });
      expect(current.res.status).to.equal(200);
      expect(current.res.headers.get('etag')).to.equal('"2"');
      expect(current.body.data.revision).to.equal('2');
    });

    it('a weak or malformed If-Match → 400 INVALID_IF_MATCH', async () => {
      const { id } = await open();
      for (const tag of ['W/"0"', '0', '*', '"0", "1"']) {
        const { res, body } = await post(`${base}/counters/${id}/increment`, { by: 1 }, { 'If-Match': tag });
        expect(res.status, tag).to.equal(400);
        expect(body.error?.code).to.equal('INVALID_IF_MATCH');
      }
    });

    it('maps DomainErrors to their statuses: CONFLICT 409, NOT_FOUND 404', async () => {
      const { id } = await open();
      const again = await post(`${base}/counters/${id}/open`, { limit: 1 });
      expect(again.res.status).to.equal(409);
      expect(again.body.error?.code).to.equal('CONFLICT');
      const missing = await post(`${base}/counters/${randomUUID()}/increment`, { by: 1 });
      expect(missing.res.status).to.equal(404);
      expect(missing.body.error?.code).to.equal('NOT_FOUND');
    });

    it('QUOTA_EXCEEDED → 429 with feature, limit, resets_at and Retry-After', async () => {
      const { res, body } = await post(`${t.url}/api/v1/test/quota`, {});
      expect(res.status).to.equal(429);
      expect(body.error?.code).to.equal('QUOTA_EXCEEDED');
      expect(body.error?.details).to.include({ feature: 'scrapes', limit: 10 });
      expect(Date.parse(body.error?.details.resets_at)).to.be.greaterThan(Date.now());
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(retryAfter).to.be.within(85, 90);
    });
  });

  describe('queries', () => {
    it('pages: {items, pagination} with defaults, bounds and flags', async () => {
      const first = (await (await fetch(`${base}/items`)).json()) as Envelope;
      expect(first.data.items).to.have.length(20);
      expect(first.data.pagination).to.deep.equal({ page: 1, per_page: 20, total: 45, total_pages: 3, has_next: true, has_prev: false });

      const last = (await (await fetch(`${base}/items?page=5&per_page=10`)).json()) as Envelope;
      expect(last.data.items.map((i: { n: number }) => i.n)).to.deep.equal([41, 42, 43, 44, 45]);
      expect(last.data.pagination).to.include({ page: 5, per_page: 10, total_pages: 5, has_next: false, has_prev: true });

      const tooMany = await fetch(`${base}/items?per_page=101`);
      expect(tooMany.status).to.equal(422);
      expect(((await tooMany.json()) as Envelope).error?.details.issues[0]).to.include({ in: 'query' });
    });

    it('after_position waits until the projection has caught up (read-your-writes)', async () => {
      const { body } = await open();
      const position = parsePosition(body.data.position);
      setTimeout(() => void resetCheckpoint(t.knex, TEST_CONSUMER, position), 100);
      const started = Date.now();
      const res = await fetch(`${base}/items?after_position=${body.data.position}`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('x-projection-lag')).to.equal(null);
      expect(Date.now() - started).to.be.at.least(90);
    });

    it('answers anyway after the bound, marked X-Projection-Lag; an unparsable position is a 422', async () => {
      // a position the store has, which the projection (moved only by this test) has not passed
      const { body } = await open();
      const res = await fetch(`${base}/items?after_position=${body.data.position}`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('x-projection-lag')).to.equal('true');

      const bad = await fetch(`${base}/items?after_position=yesterday`);
      expect(bad.status).to.equal(422);
      expect(((await bad.json()) as Envelope).error?.details.issues[0].path).to.deep.equal(['after_position']);
    });
  });

  describe('GET /api/v1/openapi.json', () => {
    it('is an OpenAPI 3.1 document with the routes, bearer auth and the envelopes', async () => {
      const res = await fetch(`${t.url}/api/v1/openapi.json`);
      expect(res.status).to.equal(200);
      const doc = (await res.json()) as any;
      expect(doc.openapi).to.match(/^3\.1\./);
      expect(doc.info.title).to.be.a('string');
      expect(doc.components.securitySchemes.bearerAuth).to.include({ type: 'http', scheme: 'bearer' });
      expect(doc.components.schemas.ErrorEnvelope).to.be.an('object');

      const increment = doc.paths['/api/v1/test/counters/{id}/increment'].post;
      expect(increment.summary).to.equal('Increment a test counter');
      expect(increment.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).to.include.members([
        'path:id',
        'header:Idempotency-Key',
        'header:If-Match',
      ]);
      expect(increment.requestBody.content['application/json'].schema.properties.by).to.be.an('object');
      expect(increment.responses['200'].content['application/json'].schema.properties.data.properties.revision).to.be.an('object');
      for (const status of ['412', '422', '429']) {
        expect(increment.responses[status].content['application/json'].schema.$ref).to.equal('#/components/schemas/ErrorEnvelope');
      }
      const items = doc.paths['/api/v1/test/items'].get;
      expect(items.parameters.map((p: { name: string }) => p.name)).to.include.members(['page', 'per_page', 'after_position']);
      // the operational endpoints are documented too
      expect(Object.keys(doc.paths)).to.include.members(['/healthz', '/readyz', '/metrics', '/api/v1/openapi.json']);
      expect(doc.paths['/readyz'].get.responses['200'].content['application/json'].schema.properties.data.properties.warnings).to.be.an('object');
      // the ops token, or none when none is configured
      expect(doc.components.securitySchemes.opsToken).to.include({ type: 'http', scheme: 'bearer' });
      for (const path of ['/readyz', '/metrics']) expect(doc.paths[path].get.security).to.deep.equal([{ opsToken: [] }, {}]);
      expect(doc.paths['/healthz'].get.security).to.equal(undefined);
    });
  });
});
