import { expect } from 'chai';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { MATRIX_ROLES, parseMatrix } from '../../src/application/authorization/matrix.js';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { joinOrganization, membershipsSettle, registerMember, type Member } from '../support/members.js';
import { startPlatform, type CallOptions, type Platform, type Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';

/**
 * docs/http-api.md's general conventions and docs/rbac.md read claim by
 * claim, as a new user with only the docs and GET /api/v1/openapi.json would
 * try them: the whole platform over a socket, a sample of real routes, and
 * the bad input a careless client or an attacker sends (broken JSON, wrong
 * types and encodings, text no store keeps, oversized and compressed bodies,
 * odd If-Match values, duplicate and huge query parameters, garbage cursors,
 * unknown routes and methods). Every refusal must be the documented error
 * envelope, never a 500.
 */
const OPS_TOKEN = 'ops-token-for-the-docs-review-0123456789';
const BODY_LIMIT = 64 * 1024;
const PER_USER_PER_SECOND = 50;
const BURST_SECONDS = 2;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const POSITION = /^\d+-\d+$/;

interface Operation {
  method: string;
  path: string;
  op: { security?: unknown[]; responses?: Record<string, unknown>; parameters?: { name: string; in: string }[]; 'x-permission'?: string };
}

/** An HS256 JWT that looks right but is signed with a key the platform does not know. */
function forgedJwt(): string {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: randomUUID(), role: 'admin', sid: randomUUID(), exp: Math.floor(Date.now() / 1000) + 600 })}`;
  return `${unsigned}.${createHmac('sha256', 'not the platform secret').update(unsigned).digest('base64url')}`;
}

/** The documented error envelope, exactly: `{success:false, error:{code, message, details}, timestamp, request_id}`. */
function expectErrorEnvelope(r: Reply, status: number, code: string, what = ''): void {
  const label = `${what} ${r.status} ${r.text.slice(0, 400)}`;
  expect(r.status, label).to.equal(status);
  expect(r.headers.get('content-type'), label).to.match(/^application\/json/);
  expect(Object.keys(r.body ?? {}).sort(), label).to.deep.equal(['error', 'request_id', 'success', 'timestamp']);
  expect(r.body.success, label).to.equal(false);
  expect(Object.keys(r.body.error).sort(), label).to.deep.equal(['code', 'details', 'message']);
  expect(r.body.error.code, label).to.equal(code);
  expect(r.body.error.message, label).to.be.a('string').and.not.equal('');
  expect(Number.isNaN(Date.parse(r.body.timestamp)), label).to.equal(false);
  expect(r.body.request_id, label).to.equal(r.headers.get('x-request-id'));
}

function issuesOf(r: Reply): { in?: string; path: (string | number)[]; code: string; message: string }[] {
  return r.body?.error?.details?.issues ?? [];
}

describe('HTTP conventions and RBAC docs review (e2e, the whole platform)', function () {
  this.timeout(60_000);
  let platform: Platform;
  let sink: SmtpSink;
  let worker: RunningWorker | undefined;
  let operations: Operation[];
  let user: Member;
  let admin: string;

  before(async () => {
    sink = await new SmtpSink().start();
    platform = await startPlatform({
      proxies: 0,
      config: {
        OPS_TOKEN,
        SMTP_URL: sink.url,
        PUBLIC_WEB_URL: 'https://app.example.test',
        HTTP_BODY_LIMIT_BYTES: String(BODY_LIMIT),
        API_RATE_LIMIT_PER_IP: '100000',
        API_RATE_LIMIT_PER_USER: String(PER_USER_PER_SECOND),
        API_RATE_LIMIT_BURST_SECONDS: String(BURST_SECONDS),
      },
    });
    platform.startConsumers();
    worker = await startWorker(platform.container, { workerName: `http-docs-mail-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    const document = await call('GET', '/api/v1/openapi.json');
    expect(document.status, document.text.slice(0, 300)).to.equal(200);
    expect(document.body.openapi).to.match(/^3\.1/);
    operations = Object.entries<Record<string, Operation['op']>>(document.body.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
        .map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
    );
    [user, admin] = await Promise.all([registerMember(platform, 'conventions'), platform.adminToken()]);
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sink?.stop();
  });

  /** platform.call as a client following the docs makes it: a 429 RATE_LIMITED is tried again after its Retry-After */
  async function call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
    for (let attempt = 1; ; attempt++) {
      const r = await platform.call(method, path, options);
      if (r.status !== 429 || r.body?.error?.code !== 'RATE_LIMITED' || attempt === 4) return r;
      await new Promise((resolve) => setTimeout(resolve, Number(r.headers.get('retry-after')) * 1_000));
    }
  }

  async function inParallel<T>(items: readonly T[], width: number, each: (item: T) => Promise<void>): Promise<void> {
    for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(each));
  }

  const anId = () => randomUUID();
  const concrete = (path: string) => path.replace(/\{[^}]+\}/g, anId);
  const bodyMethod = (method: string) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method);

  describe('authentication', () => {
    it('every signed-in route of the OpenAPI document answers 401 UNAUTHENTICATED in the envelope, with WWW-Authenticate, to no token, a forged token, an unknown API key and two credentials at once', async () => {
      const signedIn = operations.filter((o) => (o.op.security ?? []).length > 0);
      expect(signedIn.length).to.be.greaterThan(200);
      const credentials: Record<string, Record<string, string>> = {
        none: {},
        forged: { Authorization: `Bearer ${forgedJwt()}` },
        'unknown API key': { 'X-API-Key': `ck_live_${randomUUID()}_${randomBytes(24).toString('base64url')}` },
        'both headers': { Authorization: `Bearer ${forgedJwt()}`, 'X-API-Key': 'ck_live_x_y' },
      };
      const wrong: string[] = [];
      await inParallel(signedIn, 8, async ({ method, path }) => {
        for (const [label, headers] of Object.entries(credentials)) {
          const r = await call(method, concrete(path), { headers, ...(bodyMethod(method) ? { body: {} } : {}) });
          try {
            expectErrorEnvelope(r, 401, 'UNAUTHENTICATED');
            expect(r.headers.get('www-authenticate')).to.match(/^Bearer/);
          } catch {
            wrong.push(`${label}: ${method} ${path} → ${r.status} ${r.text.slice(0, 160)}`);
          }
        }
      });
      expect(wrong.join('\n')).to.equal('');
    });

    it('every public route answers a stranger below 500 but for the statuses its operation documents (the providers’ callbacks)', async () => {
      const open = operations.filter((o) => (o.op.security ?? []).length === 0);
      expect(open.map((o) => `${o.method} ${o.path}`)).to.include.members(['POST /api/v1/auth/login', 'GET /healthz', 'GET /api/v1/openapi.json']);
      const wrong: string[] = [];
      await inParallel(open, 4, async ({ method, path, op }) => {
        const r = await call(method, concrete(path), bodyMethod(method) ? { body: {} } : { redirect: 'manual' });
        if (r.status >= 500 && !Object.keys(op.responses ?? {}).includes(String(r.status)))
          wrong.push(`${method} ${path} → ${r.status} ${r.text.slice(0, 160)}`);
      });
      expect(wrong.join('\n')).to.equal('');
    });

    it('a valid token is accepted whatever the case of the scheme; a forged, truncated, doubled or Basic credential is 401 as a missing one', async () => {
      const upper = await call('GET', '/api/v1/users/profile', { headers: { Authorization: `Bearer ${user.token}` } });
      const lower = await call('GET', '/api/v1/users/profile', { headers: { Authorization: `bearer ${user.token}` } });
      expect([upper.status, lower.status], lower.text).to.deep.equal([200, 200]);
      const missing = await call('GET', '/api/v1/users/profile');
      const forged = await call('GET', '/api/v1/users/profile', { headers: { Authorization: `Bearer ${forgedJwt()}` } });
      expect(forged.body.error.message).to.equal(missing.body.error.message);
      for (const authorization of [
        `bearer ${forgedJwt()}`,
        `Basic ${Buffer.from('admin:admin').toString('base64')}`,
        'Bearer',
        'Bearer  ',
        `Bearer ${user.token}x`,
        `Bearer ${user.token} ${user.token}`,
      ]) {
        expectErrorEnvelope(
          await call('GET', '/api/v1/users/profile', { headers: { Authorization: authorization } }),
          401,
          'UNAUTHENTICATED',
          authorization.slice(0, 20),
        );
      }
    });
  });

  describe('envelope, request and correlation ids', () => {
    it('a success is {success, data, timestamp, request_id}; a sane X-Request-Id is kept and echoed, another replaced by a generated one', async () => {
      const ok = await call('GET', '/api/v1/users/profile', { token: user.token, headers: { 'X-Request-Id': 'docs-review.1:a_b' } });
      expect(ok.status, ok.text).to.equal(200);
      expect(Object.keys(ok.body).sort()).to.deep.equal(['data', 'request_id', 'success', 'timestamp']);
      expect(ok.body).to.include({ success: true, request_id: 'docs-review.1:a_b' });
      expect(ok.headers.get('x-request-id')).to.equal('docs-review.1:a_b');
      for (const insane of ['has spaces in it', 'x'.repeat(129), '<script>', 'a/b', '%00']) {
        const r = await call('GET', '/api/v1/users/profile', { token: user.token, headers: { 'X-Request-Id': insane } });
        expect(r.body.request_id, insane).to.match(UUID);
        expect(r.headers.get('x-request-id'), insane).to.equal(r.body.request_id);
        // the server chose the request id: it is the correlation too
        expect(r.headers.get('x-correlation-id'), insane).to.equal(r.body.request_id);
      }
      // errors carry the caller's request id the same way
      const refused = await call('GET', '/api/v1/articles/not-an-id', { token: user.token, headers: { 'X-Request-Id': 'docs-review-err' } });
      expectErrorEnvelope(refused, 422, 'VALIDATION_ERROR');
      expect(refused.body.request_id).to.equal('docs-review-err');
    });

    it('the events a command appends carry the request id; the correlation is the server’s, the caller’s X-Correlation-Id only recorded beside it', async () => {
      const r = await call('PUT', '/api/v1/users/profile', {
        token: user.token,
        body: { display_name: 'Correlated' },
        headers: { 'X-Request-Id': 'docs-review-write-1', 'X-Correlation-Id': 'someone-elses-flow' },
      });
      expect(r.status, r.text).to.equal(200);
      const correlation = r.headers.get('x-correlation-id')!;
      expect(correlation).to.match(UUID);
      expect(correlation).to.not.equal('someone-elses-flow');
      const last = (await platform.events(`user-${user.userId}`)).at(-1)!;
      expect(last.metadata).to.include({ requestId: 'docs-review-write-1', $correlationId: correlation, clientCorrelationId: 'someone-elses-flow' });
    });
  });

  describe('unknown routes and methods', () => {
    it('an unknown path is 404 NOT_FOUND and a method the route lacks 405 METHOD_NOT_ALLOWED with Allow, both in the envelope, signed in or not', async () => {
      for (const path of ['/api/v1/no-such-thing', '/api/v2/workflows', '/nope', `/api/v1/workflows/${anId()}/no-such-action`]) {
        expectErrorEnvelope(await call('GET', path), 404, 'NOT_FOUND', path);
        expectErrorEnvelope(await call('POST', path, { token: user.token, body: {} }), 404, 'NOT_FOUND', path);
      }
      for (const [method, path] of [
        ['PATCH', '/api/v1/workflows'],
        ['DELETE', '/api/v1/workflows'],
        ['PUT', '/api/v1/openapi.json'],
        ['POST', '/healthz'],
        ['DELETE', '/api/v1/auth/login'],
      ] as const) {
        for (const token of [undefined, user.token]) {
          const r = await call(method, path, token ? { token } : {});
          expectErrorEnvelope(r, 405, 'METHOD_NOT_ALLOWED', `${method} ${path}`);
          expect(r.headers.get('allow'), `${method} ${path}`).to.be.a('string').and.not.include(method);
        }
      }
    });

    it('no CORS is documented and none is granted: a preflight from another origin gets no Access-Control-Allow-Origin', async () => {
      const preflight = await call('OPTIONS', '/api/v1/users/profile', {
        headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'authorization' },
      });
      expect(preflight.status).to.be.below(500);
      expect(preflight.headers.get('access-control-allow-origin')).to.equal(null);
      const get = await call('GET', '/api/v1/users/profile', { token: user.token, headers: { Origin: 'https://evil.example' } });
      expect(get.headers.get('access-control-allow-origin')).to.equal(null);
    });
  });

  describe('bodies', () => {
    // a sample of body routes: a public one, a POST, a PUT, a PATCH, a DELETE that reads its body
    const samples = () =>
      [
        ['POST', '/api/v1/auth/login', undefined],
        ['POST', '/api/v1/articles', user.token],
        ['PUT', '/api/v1/users/profile', user.token],
        ['PATCH', `/api/v1/organizations/${anId()}`, user.token],
        ['DELETE', '/api/v1/users/mfa/totp', user.token],
      ] as const;
    const send = (method: string, path: string, token: string | undefined, raw: Buffer, type: string, headers: Record<string, string> = {}) =>
      call(method, path, { ...(token ? { token } : {}), raw, type, headers });

    it('malformed JSON and a top level that is no object or array are 400 MALFORMED_JSON; an array where an object is wanted 422', async () => {
      for (const [method, path, token] of samples()) {
        for (const text of ['{"title": "x",', '{', "{'a':1}", '{"a":1}}', 'null', '"text"', '3', 'true', '\u00ff']) {
          expectErrorEnvelope(await send(method, path, token, Buffer.from(text), 'application/json'), 400, 'MALFORMED_JSON', `${method} ${path} ${text}`);
        }
      }
      const array = await send('POST', '/api/v1/articles', user.token, Buffer.from('[{"title":"x"}]'), 'application/json');
      expectErrorEnvelope(array, 422, 'VALIDATION_ERROR');
      expect(issuesOf(array)[0]).to.include({ in: 'body' });
    });

    it('JSON only: another content type is 415; +json and a charset parameter are JSON', async () => {
      for (const [method, path, token] of samples()) {
        for (const type of [
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
          'application/octet-stream',
        ]) {
          expectErrorEnvelope(await send(method, path, token, Buffer.from('{}'), type), 415, 'UNSUPPORTED_MEDIA_TYPE', `${method} ${path} ${type}`);
        }
      }
      for (const type of ['application/json; charset=utf-8', 'application/merge-patch+json', 'APPLICATION/JSON']) {
        const r = await send('PUT', '/api/v1/users/profile', user.token, Buffer.from('{"display_name":"Typed"}'), type);
        expect(r.status, `${type}: ${r.text}`).to.equal(200);
      }
    });

    it('lengths count characters (code points) as the document’s maxLength does, in the schema and in the domain alike: an emoji is one', async () => {
      const writer = await registerMember(platform, 'lengths'); // the listings of `user` below count its articles
      const document = await call('GET', '/api/v1/openapi.json');
      const schemaOf = (path: string, method: string) => document.body.paths[path][method].requestBody.content['application/json'].schema;
      const nameMax = schemaOf('/api/v1/users/profile', 'put').properties.display_name.maxLength;
      expect(nameMax).to.equal(100);
      const fits = await call('PUT', '/api/v1/users/profile', { token: user.token, body: { display_name: '😀'.repeat(nameMax) } });
      expect(fits.status, fits.text).to.equal(200);
      const over = await call('PUT', '/api/v1/users/profile', { token: user.token, body: { display_name: '😀'.repeat(nameMax + 1) } });
      expectErrorEnvelope(over, 422, 'VALIDATION_ERROR');
      expect(issuesOf(over).map((i) => i.path.join('.'))).to.deep.equal(['display_name']);
      // the article's own rules count the same way: 200 emoji are 200 characters (400 UTF-16 units)
      const titleMax = schemaOf('/api/v1/articles', 'post').properties.title.maxLength;
      expect(titleMax).to.equal(200);
      const created = await call('POST', '/api/v1/articles', { token: writer.token, body: { title: '😀'.repeat(titleMax), body: 'text' } });
      expect(created.status, created.text).to.equal(201);
      const refused = await call('POST', '/api/v1/articles', { token: writer.token, body: { title: '😀'.repeat(titleMax + 1), body: 'text' } });
      expectErrorEnvelope(refused, 422, 'VALIDATION_ERROR');
    });

    it('Content-Encoding gzip, deflate and br are read; another encoding is 415, a body that does not decompress 400, never a 500', async () => {
      const json = Buffer.from('{"display_name":"Compressed"}');
      for (const [encoding, raw] of [
        ['gzip', gzipSync(json)],
        ['deflate', deflateSync(json)],
        ['br', brotliCompressSync(json)],
      ] as const) {
        const r = await send('PUT', '/api/v1/users/profile', user.token, raw, 'application/json', { 'Content-Encoding': encoding });
        expect(r.status, `${encoding}: ${r.text}`).to.equal(200);
      }
      for (const [method, path, token] of samples()) {
        for (const encoding of ['compress', 'x-bogus', 'gzip, gzip']) {
          const r = await send(method, path, token, gzipSync(json), 'application/json', { 'Content-Encoding': encoding });
          expectErrorEnvelope(r, 415, 'UNSUPPORTED_MEDIA_TYPE', `${method} ${path} ${encoding}`);
        }
        for (const [encoding, raw] of [
          ['gzip', json],
          ['gzip', gzipSync(json).subarray(0, 12)],
          ['deflate', json],
          ['br', Buffer.from('not brotli at all, not at all')],
        ] as const) {
          const r = await send(method, path, token, raw, 'application/json', { 'Content-Encoding': encoding });
          expectErrorEnvelope(r, 400, 'MALFORMED_JSON', `${method} ${path} ${encoding} (${raw.length} bytes)`);
        }
      }
      // the routes that read their raw bytes (uploads, providers' callbacks) take them as sent: any encoding is 415
      const upload = await call('POST', '/api/v1/media', {
        token: user.token,
        raw: gzipSync(Buffer.from('not an image')),
        type: 'image/png',
        headers: { 'Content-Encoding': 'x-bogus' },
      });
      expectErrorEnvelope(upload, 415, 'UNSUPPORTED_MEDIA_TYPE', 'upload');
      const callback = await call('POST', '/api/v1/payments/callback/alipay', {
        raw: gzipSync(Buffer.from('out_trade_no=x&trade_status=TRADE_SUCCESS')),
        type: 'application/x-www-form-urlencoded',
        headers: { 'Content-Encoding': 'gzip' },
      });
      expectErrorEnvelope(callback, 415, 'UNSUPPORTED_MEDIA_TYPE', 'callback');
    });

    it('at most HTTP_BODY_LIMIT_BYTES: a larger body is 413 PAYLOAD_TOO_LARGE with or without Content-Length, and so is one that only decompresses past it', async () => {
      const big = JSON.stringify({ title: 'x', body: 'y'.repeat(BODY_LIMIT) });
      for (const [method, path, token] of samples()) {
        const declared = await send(method, path, token, Buffer.from(big), 'application/json');
        expectErrorEnvelope(declared, 413, 'PAYLOAD_TOO_LARGE', `${method} ${path}`);
        expect(declared.body.error.details).to.deep.equal({ limit_bytes: BODY_LIMIT });
      }
      // chunked, no Content-Length
      const encoded = new TextEncoder().encode(big);
      const stream = new ReadableStream({
        start(controller) {
          for (let i = 0; i < encoded.length; i += 8_192) controller.enqueue(encoded.subarray(i, i + 8_192));
          controller.close();
        },
      });
      const res = await fetch(`${platform.url}/api/v1/articles`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${user.token}` },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).to.equal(413);
      // 5 MB of spaces in a few kB of gzip
      const bomb = gzipSync(Buffer.from(`{"display_name":"${' '.repeat(5_000_000)}"}`));
      expect(bomb.length).to.be.below(BODY_LIMIT);
      expectErrorEnvelope(
        await send('PUT', '/api/v1/users/profile', user.token, bomb, 'application/json', { 'Content-Encoding': 'gzip' }),
        413,
        'PAYLOAD_TOO_LARGE',
      );
      // just under the limit is read (and then judged by the schema)
      const under = await call('POST', '/api/v1/articles', { token: user.token, body: { title: 'x', body: 'y'.repeat(BODY_LIMIT - 100), nope: 1 } });
      expectErrorEnvelope(under, 422, 'VALIDATION_ERROR');
    });

    it("the providers' callbacks document what is refused before they answer in the provider's format: 422 (text no store keeps), 415 (a body in a Content-Encoding)", async () => {
      const document = await call('GET', '/api/v1/openapi.json');
      const callbacks = Object.entries<Record<string, any>>(document.body.paths).filter(
        ([path]) => path.includes('/callback/') || path.includes('/callbacks/'),
      );
      expect(callbacks.length).to.be.at.least(5);
      for (const [path, operations] of callbacks) {
        for (const [method, operation] of Object.entries<any>(operations)) {
          if (method === 'parameters') continue;
          expect(operation.responses, `${method} ${path} 422`).to.have.property('422');
          if (method === 'post') expect(operation.responses, `${method} ${path} 415`).to.have.property('415');
        }
      }
      // answered in the error envelope (the response check fails this test were they undocumented)
      const nul = await call('POST', '/api/v1/payments/callback/alipay?x=%00', { raw: Buffer.from('a=b'), type: 'application/x-www-form-urlencoded' });
      expectErrorEnvelope(nul, 422, 'VALIDATION_ERROR', 'a NUL in the query');
    });

    it('every POST, PUT, PATCH and DELETE documents 400, 413 and 415 (the body parser reads a body first, a route that takes none too) and 409 (a command outrun by concurrent changes)', async () => {
      const document = await call('GET', '/api/v1/openapi.json');
      const bodiless: string[] = [];
      for (const [path, operations] of Object.entries<Record<string, any>>(document.body.paths)) {
        for (const [method, operation] of Object.entries<any>(operations)) {
          if (!['post', 'put', 'patch', 'delete'].includes(method) || path.includes('/callback')) continue;
          if (!operation.requestBody) bodiless.push(`${method} ${path}`);
          for (const status of ['400', '409', '413', '415']) expect(operation.responses, `${method} ${path} ${status}`).to.have.property(status);
        }
      }
      expect(bodiless).to.include('post /api/v1/users/email-verification');
      // and answers them (the response check fails this test were they undocumented)
      expectErrorEnvelope(await send('POST', '/api/v1/users/email-verification', user.token, Buffer.from('{'), 'application/json'), 400, 'MALFORMED_JSON');
      expectErrorEnvelope(await send('POST', '/api/v1/users/email-verification', user.token, Buffer.from('{}'), 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('the body is read before the token is looked at: a stranger’s broken body is 400/413/415, a well-formed one 401', async () => {
      expectErrorEnvelope(await send('POST', '/api/v1/articles', undefined, Buffer.from('{'), 'application/json'), 400, 'MALFORMED_JSON');
      expectErrorEnvelope(await send('POST', '/api/v1/articles', undefined, Buffer.from('{}'), 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
      expectErrorEnvelope(await call('POST', '/api/v1/articles', { body: { title: 'x', body: 'y\u0000' } }), 401, 'UNAUTHENTICATED');
    });
  });

  describe('validation and text', () => {
    it('422 VALIDATION_ERROR names every problem at once, each with in, path, message and code', async () => {
      const r = await call('POST', `/api/v1/articles?after_position=zzz`, { token: user.token, body: { title: 7, body: ['x'], tags: 'a', extra: true } });
      expectErrorEnvelope(r, 422, 'VALIDATION_ERROR');
      const where = issuesOf(r).map((i) => `${i.in}:${i.path.join('.')}`);
      expect(where).to.include.members(['body:title', 'body:body', 'body:tags']);
      for (const issue of issuesOf(r)) {
        expect(issue).to.have.all.keys('in', 'path', 'message', 'code');
        expect(issue.message).to.be.a('string').and.not.equal('');
      }
      const params = await call('GET', '/api/v1/articles/not-a-uuid?per_page=0', { token: user.token });
      expectErrorEnvelope(params, 422, 'VALIDATION_ERROR');
      expect(issuesOf(params).map((i) => `${i.in}:${i.path.join('.')}`)).to.include('params:id');
    });

    it('NUL and half a surrogate pair anywhere — body values and keys, query, path — are 422 invalid_text, never stored and never a 500', async () => {
      const cases: [string, string, string | undefined, { in: string; path: (string | number)[] }][] = [
        ['POST', '/api/v1/articles', '{"title":"a\\u0000b","body":"x"}', { in: 'body', path: ['title'] }],
        ['POST', '/api/v1/articles', '{"title":"a\\ud800b","body":"x"}', { in: 'body', path: ['title'] }],
        ['POST', '/api/v1/articles', '{"title":"ok","body":"x","tags":["\\udc00"]}', { in: 'body', path: ['tags', 0] }],
        ['PUT', '/api/v1/users/profile', '{"display_name":"ok","k\\u0000":1}', { in: 'body', path: ['k\u0000'] }],
        ['PUT', '/api/v1/users/profile', '{"notification_preferences":{"\\ud83d":{}}}', { in: 'body', path: ['notification_preferences', '\ud83d'] }],
        ['GET', '/api/v1/articles?q=a%00b', undefined, { in: 'query', path: ['q'] }],
        ['GET', '/api/v1/workflows?status=%00', undefined, { in: 'query', path: ['status'] }],
        ['GET', '/api/v1/articles/abc%00def', undefined, { in: 'params', path: ['id'] }],
        ['DELETE', '/api/v1/qidian/keywords/%00', undefined, { in: 'params', path: ['id'] }],
      ];
      for (const [method, path, json, where] of cases) {
        const r = await call(method, path, { token: user.token, ...(json ? { raw: Buffer.from(json), type: 'application/json' } : {}) });
        expectErrorEnvelope(r, 422, 'VALIDATION_ERROR', `${method} ${path} ${json ?? ''}`);
        expect(issuesOf(r), `${method} ${path}`).to.deep.include({ ...where, code: 'invalid_text', message: issuesOf(r)[0]!.message });
      }
      // percent-encoded surrogates are not UTF-8: they arrive as U+FFFD or stay encoded, and are judged as any other value
      for (const path of [
        '/api/v1/articles/%ED%A0%80',
        '/api/v1/articles?q=%ED%A0%80',
        '/api/v1/articles/%E0%A4%A',
        '/api/v1/articles?q=%',
        '/api/v1/articles/%',
      ]) {
        const r = await call('GET', path, { token: user.token });
        expect(r.status, `${path}: ${r.text}`).to.be.oneOf([200, 404, 422]);
        expect(r.body.success, path).to.be.a('boolean');
      }
      const articles = await call('GET', '/api/v1/articles', { token: user.token });
      expect(articles.body.data.pagination.total).to.equal(0);
    });

    it('a body nested deeper than 100 levels is 422 too_deep at the place it passes 100; 100 levels is only judged by the schema', async () => {
      const nest = (depth: number) => `${'['.repeat(depth - 1)}1${']'.repeat(depth - 1)}`;
      const deep = await call('POST', '/api/v1/articles', {
        token: user.token,
        raw: Buffer.from(`{"title":"x","body":"y","tags":${nest(101)}}`),
        type: 'application/json',
      });
      expectErrorEnvelope(deep, 422, 'VALIDATION_ERROR');
      const tooDeep = issuesOf(deep).find((i) => i.code === 'too_deep');
      expect(tooDeep, deep.text.slice(0, 300)).to.not.equal(undefined);
      expect(tooDeep!.path).to.have.length(100);
      const shallow = await call('POST', '/api/v1/articles', {
        token: user.token,
        raw: Buffer.from(`{"title":"x","body":"y","tags":${nest(99)}}`),
        type: 'application/json',
      });
      expectErrorEnvelope(shallow, 422, 'VALIDATION_ERROR');
      expect(issuesOf(shallow).map((i) => i.code)).to.not.include('too_deep');
      // 30,000 levels: refused as fast, and the API keeps answering meanwhile
      const huge = call('POST', '/api/v1/articles', {
        token: user.token,
        raw: Buffer.from(`{"tags":${'['.repeat(30_000)}${']'.repeat(30_000)}}`),
        type: 'application/json',
      });
      expect((await call('GET', '/healthz')).status).to.equal(200);
      expect((await huge).status).to.be.oneOf([413, 422]);
    });

    it('instants want an offset and years 0001–9999; a period whose from is after its to is 422 naming from', async () => {
      for (const from of [
        '2026-01-01',
        '2026-01-01T00:00:00',
        '10000-01-01T00:00:00Z',
        '0000-12-31T23:00:00Z',
        '9999-12-31T23:00:00-02:00',
        'yesterday',
        '2026-13-01T00:00:00Z',
      ]) {
        const r = await call('GET', `/api/v1/ledger/postings?from=${encodeURIComponent(from)}`, { token: user.token });
        expectErrorEnvelope(r, 422, 'VALIDATION_ERROR', from);
        expect(issuesOf(r)[0], from).to.include({ in: 'query' });
        expect(issuesOf(r)[0]!.path, from).to.deep.equal(['from']);
      }
      const ok = await call('GET', `/api/v1/ledger/postings?from=${encodeURIComponent('2026-01-01T08:00:00+08:00')}&to=2026-01-02T00:00:00Z`, {
        token: user.token,
      });
      expect(ok.status, ok.text).to.equal(200);
      const reversed = await call('GET', '/api/v1/ledger/postings?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', { token: user.token });
      expectErrorEnvelope(reversed, 422, 'VALIDATION_ERROR');
      expect(issuesOf(reversed).map((i) => i.path.join('.'))).to.deep.equal(['from']);
      const admins = await call('GET', '/api/v1/admin/users?registered_from=2026-02-01T00:00:00Z&registered_to=2026-01-01T00:00:00Z', { token: admin });
      expectErrorEnvelope(admins, 422, 'VALIDATION_ERROR');
    });
  });

  describe('pages and query parameters', () => {
    it('every list route with ?page&per_page pages as documented: per_page at most 100 (101: 422 naming it), {items, pagination:{page, per_page, total, total_pages, has_next, has_prev}}', async () => {
      const lists = operations.filter((o) => o.method === 'GET' && (o.op.parameters ?? []).some((p) => p.in === 'query' && p.name === 'per_page'));
      expect(lists.length).to.be.greaterThan(20);
      // a few users, so that no one's rate limit is spent on the sweep; an organization's owner for its routes, the platform admin for the platform's
      const [founder, ...pagers] = await Promise.all([0, 1, 2, 3].map((n) => registerMember(platform, `pager-${n}`)));
      const founded = await call('POST', '/api/v1/organizations', { token: founder!.token, body: { name: 'Pages' } });
      expect(founded.status, founded.text).to.equal(201);
      await membershipsSettle();
      const wrong: string[] = [];
      await inParallel(lists, 4, async ({ path, op }) => {
        const permission = op['x-permission'] ?? '';
        const token = permission.startsWith('platform.')
          ? admin
          : permission.startsWith('organization.')
            ? founder!.token
            : pagers[lists.findIndex((l) => l.path === path) % pagers.length]!.token;
        const url = concrete(path);
        const over = await call('GET', `${url}?per_page=101`, { token });
        if (over.status !== 422 || !issuesOf(over).some((i) => i.in === 'query' && i.path.join('.') === 'per_page')) {
          wrong.push(`${path}?per_page=101 → ${over.status} ${over.text.slice(0, 160)}`);
        }
        for (const query of ['per_page=0', 'page=0', 'page=-1', 'page=1.5', 'per_page=abc', 'page=1&page=2', 'per_page=1e400', 'page=99999999999999999999']) {
          const r = await call('GET', `${url}?${query}`, { token });
          if (r.status !== 422 || r.body?.error?.code !== 'VALIDATION_ERROR') wrong.push(`${path}?${query} → ${r.status} ${r.text.slice(0, 160)}`);
        }
        const page = await call('GET', `${url}?page=3&per_page=100`, { token });
        if (page.status === 200) {
          const pagination = page.body.data?.pagination;
          if (!Array.isArray(page.body.data?.items) || pagination?.page !== 3 || pagination?.per_page !== 100 || pagination?.has_prev !== true) {
            wrong.push(`${path}?page=3&per_page=100 → ${page.text.slice(0, 200)}`);
          } else {
            expect(Object.keys(pagination).sort(), path).to.deep.equal(['has_next', 'has_prev', 'page', 'per_page', 'total', 'total_pages']);
          }
        } else if (page.status >= 500 && !Object.keys(op.responses ?? {}).includes(String(page.status))) {
          wrong.push(`${path}?page=3&per_page=100 → ${page.status}`);
        }
      });
      expect(wrong.join('\n')).to.equal('');
    });

    it('defaults page 1 of 20; a page past the end is empty with has_prev; duplicate, unknown and prototype-named parameters never reach a 500', async () => {
      await Promise.all(Array.from({ length: 3 }, (_, i) => call('POST', '/api/v1/articles', { token: user.token, body: { title: `Paged ${i}`, body: 'x' } })));
      const write = await call('POST', '/api/v1/articles', { token: user.token, body: { title: 'Paged 3', body: 'x' } });
      const first = await call('GET', `/api/v1/articles?after_position=${write.body.data.position}`, { token: user.token });
      expect(first.body.data.pagination).to.deep.equal({ page: 1, per_page: 20, total: 4, total_pages: 1, has_next: false, has_prev: false });
      const second = await call('GET', '/api/v1/articles?page=2&per_page=3', { token: user.token });
      expect(second.body.data.items).to.have.length(1);
      expect(second.body.data.pagination).to.deep.equal({ page: 2, per_page: 3, total: 4, total_pages: 2, has_next: false, has_prev: true });
      const past = await call('GET', '/api/v1/articles?page=1000000&per_page=100', { token: user.token });
      expect(past.body.data).to.deep.equal({
        items: [],
        pagination: { page: 1000000, per_page: 100, total: 4, total_pages: 1, has_next: false, has_prev: true },
      });
      for (const query of ['__proto__=1&constructor=2', 'toString=x', 'q=a&q=b', 'sort=title&sort=title', 'q[a]=1', 'unknown=1']) {
        const r = await call('GET', `/api/v1/articles?${query}`, { token: user.token });
        expect(r.status, `${query}: ${r.text}`).to.be.oneOf([200, 422]);
      }
    });

    it('garbage cursors and positions are 422 naming the parameter: after_position, from_position, from_revision, at', async () => {
      const cases: [string, string, string][] = [
        [user.token, '/api/v1/articles?after_position=zzz', 'after_position'],
        [user.token, '/api/v1/articles?after_position=1-', 'after_position'],
        [user.token, '/api/v1/articles?after_position=-1--1', 'after_position'],
        [user.token, '/api/v1/articles?after_position=1-2&after_position=3-4', 'after_position'],
        [admin, '/api/v1/admin/correlations/x?from_position=garbage', 'from_position'],
        [admin, '/api/v1/admin/correlations/x?from_position=99999999999999999999-99999999999999999999', 'from_position'],
        [admin, '/api/v1/admin/streams/user-x/events?from_revision=-1', 'from_revision'],
        [admin, '/api/v1/admin/streams/user-x/events?from_revision=1e3', 'from_revision'],
        [admin, '/api/v1/admin/streams/user-x/state?at=99999999999999999999', 'at'],
        [admin, '/api/v1/admin/events?limit=100000', 'limit'],
        [admin, '/api/v1/admin/dead-letters?limit=0', 'limit'],
      ];
      for (const [token, path, name] of cases) {
        const r = await call('GET', path, { token });
        expectErrorEnvelope(r, 422, 'VALIDATION_ERROR', path);
        expect(
          issuesOf(r).map((i) => i.path.join('.')),
          path,
        ).to.include(name);
      }
    });
  });

  describe('commands: answers, If-Match, Idempotency-Key, read your writes', () => {
    async function article(title = 'Conditional'): Promise<{ id: string; revision: string; position: string }> {
      const r = await call('POST', '/api/v1/articles', { token: user.token, body: { title, body: 'text' } });
      expect(r.status, r.text).to.equal(201);
      return { id: r.body.data.id, revision: r.body.data.revision, position: r.body.data.position };
    }

    it('a command answers {revision, position} with ETag "<revision>"; ?after_position reads the write at once, and GET answers the same ETag', async () => {
      const r = await call('POST', '/api/v1/articles', { token: user.token, body: { title: 'Answered', body: 'text' } });
      expect(r.status, r.text).to.equal(201);
      expect(r.body.data.revision).to.equal('0');
      expect(r.body.data.position).to.match(POSITION);
      expect(r.headers.get('etag')).to.equal('"0"');
      const read = await call('GET', `/api/v1/articles/${r.body.data.id}?after_position=${r.body.data.position}`, { token: user.token });
      expect(read.status, read.text).to.equal(200);
      expect(read.headers.get('etag')).to.equal('"0"');
      expect(read.headers.get('x-projection-lag')).to.equal(null);
    });

    it('If-Match: the current revision passes, a stale one is 412 and changes nothing; every other shape is 400 INVALID_IF_MATCH', async () => {
      const profile = await call('GET', '/api/v1/users/profile', { token: user.token });
      const etag = profile.headers.get('etag')!;
      const revision = etag.slice(1, -1);
      expect(etag).to.match(/^"\d+"$/);
      const malformed = [
        '""',
        '"abc"',
        '"-2"',
        '"0x1"',
        '"1.0"',
        '"+1"',
        '" 1"',
        `"0${revision}"`,
        'W/"0"',
        `W/${etag}`,
        '*',
        `${etag}, ${etag}`,
        revision,
        `'${revision}'`,
        `${etag}x`,
        'x'.repeat(4000),
        '"é"',
      ];
      for (const value of malformed) {
        for (const [method, path, body] of [
          ['PUT', '/api/v1/users/profile', { display_name: 'Never' }],
          ['DELETE', `/api/v1/articles/${anId()}`, undefined],
        ] as const) {
          const r = await call(method, path, { token: user.token, ifMatch: value, ...(body ? { body } : {}) });
          expectErrorEnvelope(r, 400, 'INVALID_IF_MATCH', `${method} ${value.slice(0, 30)}`);
        }
      }
      // tags no resource has (any revision but the current, huge ones, "-1" for a written one) are 412
      for (const value of ['"99999999999999999999"', '"18446744073709551616"', '"-1"', `"${Number(revision) + 1}"`]) {
        const r = await call('PUT', '/api/v1/users/profile', { token: user.token, ifMatch: value, body: { display_name: 'Never' } });
        expectErrorEnvelope(r, 412, 'PRECONDITION_FAILED', value);
      }
      const unchanged = await call('GET', '/api/v1/users/profile', { token: user.token });
      expect(unchanged.headers.get('etag')).to.equal(etag);
      expect(unchanged.body.data.display_name).to.not.equal('Never');
      // surrounding whitespace is not part of the tag
      const current = await call('PUT', '/api/v1/users/profile', { token: user.token, ifMatch: ` ${etag} `, body: { display_name: 'Matched' } });
      expect(current.status, current.text).to.equal(200);
      expect(current.headers.get('etag')).to.equal(`"${Number(revision) + 1}"`);
      const stale = await call('PUT', '/api/v1/users/profile', { token: user.token, ifMatch: etag, body: { display_name: 'Stale' } });
      expectErrorEnvelope(stale, 412, 'PRECONDITION_FAILED');

      // DELETE of an article: stale 412 and it stays; the ETag of GET deletes it
      const made = await article();
      const edited = await call('PUT', `/api/v1/articles/${made.id}`, {
        token: user.token,
        ifMatch: `"${made.revision}"`,
        body: { title: 'Edited', body: 'more' },
      });
      expect(edited.status, edited.text).to.equal(200);
      expectErrorEnvelope(
        await call('DELETE', `/api/v1/articles/${made.id}`, { token: user.token, ifMatch: `"${made.revision}"` }),
        412,
        'PRECONDITION_FAILED',
      );
      const still = await call('GET', `/api/v1/articles/${made.id}?after_position=${edited.body.data.position}`, { token: user.token });
      expect(still.status).to.equal(200);
      const gone = await call('DELETE', `/api/v1/articles/${made.id}`, { token: user.token, ifMatch: still.headers.get('etag')! });
      expect(gone.status, gone.text).to.equal(200);
    });

    it('Idempotency-Key: the same key and body replay the answer and make one article; another body is 422; a bad key 400; a refused request leaves the key free', async () => {
      const key = randomUUID();
      const body = { title: 'Once', body: 'only once' };
      const first = await call('POST', '/api/v1/articles', { token: user.token, body, headers: { 'Idempotency-Key': key } });
      expect(first.status, first.text).to.equal(201);
      expect(first.headers.get('idempotent-replayed')).to.equal(null);
      const again = await call('POST', '/api/v1/articles', { token: user.token, body, headers: { 'Idempotency-Key': key } });
      expect(again.status, again.text).to.equal(201);
      expect(again.headers.get('idempotent-replayed')).to.equal('true');
      expect(again.body.data).to.deep.equal(first.body.data);
      expect(again.headers.get('etag')).to.equal(first.headers.get('etag'));
      expectErrorEnvelope(
        await call('POST', '/api/v1/articles', { token: user.token, body: { ...body, title: 'Other' }, headers: { 'Idempotency-Key': key } }),
        422,
        'IDEMPOTENCY_KEY_REUSED',
      );
      // another user's same key is theirs
      const other = await registerMember(platform, 'idempotent-other');
      const theirs = await call('POST', '/api/v1/articles', { token: other.token, body, headers: { 'Idempotency-Key': key } });
      expect(theirs.status, theirs.text).to.equal(201);
      expect(theirs.headers.get('idempotent-replayed')).to.equal(null);
      for (const bad of ['has space', 'x'.repeat(256), 'tab\there', 'é']) {
        const r = await call('POST', '/api/v1/articles', { token: user.token, body, headers: { 'Idempotency-Key': bad } }).catch(() => undefined);
        // a header fetch cannot send (non-ASCII) never reaches the server
        if (r) expectErrorEnvelope(r, 400, 'INVALID_IDEMPOTENCY_KEY', bad.slice(0, 20));
      }
      // refused by the handler (an image that is not mine), after the key was taken: the key is released
      const fresh = randomUUID();
      const failed = await call('POST', '/api/v1/articles', {
        token: user.token,
        body: { ...body, cover_media_id: anId() },
        headers: { 'Idempotency-Key': fresh },
      });
      expect(failed.status, failed.text).to.be.within(400, 499);
      const corrected = await call('POST', '/api/v1/articles', { token: user.token, body, headers: { 'Idempotency-Key': fresh } });
      expect(corrected.status, corrected.text).to.equal(201);
      const list = await call('GET', `/api/v1/articles?q=Once&after_position=${corrected.body.data.position}`, { token: user.token });
      expect(list.body.data.items.map((a: { id: string }) => a.id).sort()).to.deep.equal([first.body.data.id, corrected.body.data.id].sort());
    });
  });

  describe('domain refusals and rate limits', () => {
    it('NOT_FOUND 404; a resource limit is 429 QUOTA_EXCEEDED with feature and limit, resets_at null and no Retry-After', async () => {
      expectErrorEnvelope(await call('GET', `/api/v1/articles/${anId()}`, { token: user.token }), 404, 'NOT_FOUND');
      const hex = () => randomBytes(8).toString('hex');
      const connect = () =>
        call('POST', '/api/v1/platform-accounts', {
          token: user.token,
          body: {
            platform: 'xiaohongshu',
            credentials: { cookies: `a1=187d2defea8${hex()}; webId=${hex()}; gid=yYjK; web_session=040069b${hex()}` },
            display_name: hex(),
          },
        });
      const held = await connect();
      expect(held.status, held.text).to.equal(201);
      const over = await connect();
      expectErrorEnvelope(over, 429, 'QUOTA_EXCEEDED');
      expect(over.body.error.details).to.include({ feature: 'account_limit', limit: 1, resets_at: null });
      expect(over.headers.get('retry-after')).to.equal(null);
    });

    it('signed-in answers carry RateLimit-* of the tighter bucket (the user’s, rate × burst); past it 429 RATE_LIMITED with Retry-After, and other users go on', async () => {
      const hasty = await registerMember(platform, 'hasty');
      const capacity = PER_USER_PER_SECOND * BURST_SECONDS;
      const one = await call('GET', '/api/v1/users/profile', { token: hasty.token });
      expect(one.headers.get('ratelimit-limit')).to.equal(String(capacity));
      expect(Number(one.headers.get('ratelimit-remaining'))).to.be.within(0, capacity - 1);
      expect(Number(one.headers.get('ratelimit-reset'))).to.be.at.least(0);
      let limited: Reply | undefined;
      // a refused permission is the cheapest answer past the limit: the bucket is taken before it
      for (let round = 0; round < 12 && !limited; round++) {
        const burst = await Promise.all(Array.from({ length: 50 }, () => platform.call('GET', '/api/v1/admin/categories', { token: hasty.token })));
        limited = burst.find((r) => r.status === 429);
        for (const r of burst) expect(r.status, r.text).to.be.oneOf([403, 429]);
      }
      expect(limited, 'never limited').to.not.equal(undefined);
      expectErrorEnvelope(limited!, 429, 'RATE_LIMITED');
      expect(Number(limited!.headers.get('retry-after'))).to.be.at.least(1);
      expect(limited!.body.error.details.retry_after_seconds).to.equal(Number(limited!.headers.get('retry-after')));
      expect((await call('GET', '/api/v1/users/profile', { token: user.token })).status).to.equal(200);
    });
  });

  describe('roles and permissions (docs/rbac.md)', () => {
    let owner: Member;
    let organizationId: string;
    const members = new Map<string, Member>();
    const tokenOf = (role: string) => (role === 'personal' ? user.token : role === 'platform_admin' ? admin : members.get(role)!.token);

    before(async () => {
      owner = await registerMember(platform, 'rbac-owner');
      const founded = await call('POST', '/api/v1/organizations', { token: owner.token, body: { name: 'Conventions' } });
      expect(founded.status, founded.text).to.equal(201);
      organizationId = founded.body.data.id;
      members.set('owner', owner);
      const invited = ['admin', 'operator', 'reviewer', 'analyst', 'billing'];
      await Promise.all(
        invited.map(async (role) => {
          const member = await registerMember(platform, `rbac-${role}`);
          await joinOrganization(platform, sink, { organizationId, inviter: owner, user: member, roles: [role] });
          members.set(role, member);
        }),
      );
      await membershipsSettle();
    });

    // what the prose says each built-in role may do, route by route (made-up ids: an allowed call meets 404 or 422)
    const EXPECTED: [string, string, Record<string, 'allow' | 'deny'>][] = [
      // collection: operators do, analysts view, reviewers and billing see nothing of it
      [
        'GET',
        '/api/v1/workflows',
        { personal: 'allow', owner: 'allow', admin: 'allow', operator: 'allow', reviewer: 'deny', analyst: 'allow', billing: 'deny', platform_admin: 'allow' },
      ],
      [
        'POST',
        '/api/v1/workflows',
        { personal: 'allow', owner: 'allow', admin: 'allow', operator: 'allow', reviewer: 'deny', analyst: 'deny', billing: 'deny', platform_admin: 'allow' },
      ],
      // billing organization-wide: the billing role, owner, admin
      [
        'GET',
        '/api/v1/subscriptions',
        { personal: 'allow', owner: 'allow', admin: 'allow', operator: 'deny', reviewer: 'deny', analyst: 'deny', billing: 'allow', platform_admin: 'allow' },
      ],
      // reports: analysts, not operators
      [
        'POST',
        '/api/v1/reports',
        { personal: 'allow', owner: 'allow', admin: 'allow', operator: 'deny', reviewer: 'deny', analyst: 'allow', billing: 'deny', platform_admin: 'allow' },
      ],
      // statistics: an operator's own, an analyst's, the billing role's of the organization
      [
        'GET',
        '/api/v1/statistics',
        { personal: 'allow', owner: 'allow', admin: 'allow', operator: 'allow', reviewer: 'deny', analyst: 'allow', billing: 'allow', platform_admin: 'allow' },
      ],
      // deciding reviews: reviewers (and owner, admin); never outside an organization
      [
        'POST',
        '/api/v1/reviews/{id}/claim',
        { personal: 'deny', owner: 'allow', admin: 'allow', operator: 'deny', reviewer: 'allow', analyst: 'deny', billing: 'deny', platform_admin: 'allow' },
      ],
      // publishing: operators write, reviewers and analysts view, billing nothing
      [
        'POST',
        '/api/v1/articles',
        { personal: 'allow', owner: 'allow', admin: 'allow', operator: 'allow', reviewer: 'deny', analyst: 'deny', billing: 'deny', platform_admin: 'allow' },
      ],
      [
        'GET',
        '/api/v1/articles',
        { personal: 'allow', owner: 'allow', admin: 'allow', operator: 'allow', reviewer: 'allow', analyst: 'allow', billing: 'deny', platform_admin: 'allow' },
      ],
      // SMS: operators send, reviewers only view batches
      [
        'POST',
        '/api/v1/sms/messages',
        { personal: 'allow', owner: 'allow', admin: 'allow', operator: 'allow', reviewer: 'deny', analyst: 'deny', billing: 'deny', platform_admin: 'allow' },
      ],
      [
        'GET',
        '/api/v1/sms/batches',
        { personal: 'allow', owner: 'allow', admin: 'allow', operator: 'allow', reviewer: 'allow', analyst: 'allow', billing: 'deny', platform_admin: 'allow' },
      ],
      // the organization: owner and admin change it, only its owner hands it on; everyone signed in may look (404 for one that is not theirs)
      [
        'PATCH',
        '/api/v1/organizations/{id}',
        { personal: 'deny', owner: 'allow', admin: 'allow', operator: 'deny', reviewer: 'deny', analyst: 'deny', billing: 'deny', platform_admin: 'deny' },
      ],
      [
        'POST',
        '/api/v1/organizations/{id}/ownership',
        { personal: 'deny', owner: 'allow', admin: 'deny', operator: 'deny', reviewer: 'deny', analyst: 'deny', billing: 'deny', platform_admin: 'deny' },
      ],
      [
        'GET',
        '/api/v1/organizations/{id}',
        {
          personal: 'allow',
          owner: 'allow',
          admin: 'allow',
          operator: 'allow',
          reviewer: 'allow',
          analyst: 'allow',
          billing: 'allow',
          platform_admin: 'allow',
        },
      ],
      // the platform's: its admin only, never an organization role
      [
        'GET',
        '/api/v1/admin/users',
        { personal: 'deny', owner: 'deny', admin: 'deny', operator: 'deny', reviewer: 'deny', analyst: 'deny', billing: 'deny', platform_admin: 'allow' },
      ],
      // one's own account: everyone
      [
        'GET',
        '/api/v1/users/api-keys',
        {
          personal: 'allow',
          owner: 'allow',
          admin: 'allow',
          operator: 'allow',
          reviewer: 'allow',
          analyst: 'allow',
          billing: 'allow',
          platform_admin: 'allow',
        },
      ],
    ];

    it('the prose of each built-in role agrees with the table in docs/rbac.md on the sample', async () => {
      const table = parseMatrix(await readFile(fileURLToPath(new URL('../../docs/rbac.md', import.meta.url)), 'utf8'));
      for (const [method, path, expected] of EXPECTED) {
        const row = table.get(`${method} ${path}`);
        expect(row, `${method} ${path} in the table`).to.not.equal(undefined);
        expect(row!.verdicts, `${method} ${path}`).to.deep.equal(MATRIX_ROLES.map((role) => expected[role.key]));
      }
    });

    it('each role gets exactly that: a refusal is 403 PERMISSION_DENIED with permission, reason role, roles and platform_role, before the input is validated', async () => {
      const wrong: string[] = [];
      await Promise.all(
        MATRIX_ROLES.map(async (role) => {
          for (const [method, path, expected] of EXPECTED) {
            // the garbage body and query a refused caller must learn nothing about
            const r = await call(method, `${concrete(path)}?per_page=abc`, {
              token: tokenOf(role.key),
              ...(bodyMethod(method) ? { body: { nonsense: '\u0000', title: 7 } } : {}),
            });
            const verdict = r.status === 403 && r.body?.error?.details?.reason === 'role' ? 'deny' : 'allow';
            if (verdict !== expected[role.key] || r.status >= 500) wrong.push(`${role.key} ${method} ${path}: ${r.status} ${r.text.slice(0, 200)}`);
            if (verdict === 'deny') {
              const roles = role.key === 'personal' || role.key === 'platform_admin' ? ['personal'] : [role.key];
              expect(r.body.error.code).to.equal('PERMISSION_DENIED');
              expect(r.body.error.details, `${role.key} ${method} ${path}`).to.deep.equal({
                permission: r.body.error.details.permission,
                reason: 'role',
                roles,
                platform_role: role.key === 'platform_admin' ? 'admin' : 'user',
              });
              const documented = operations.find((o) => o.method === method && o.path === path)!.op['x-permission'];
              expect(r.body.error.details.permission, `${method} ${path}`).to.equal(documented);
            }
          }
        }),
      );
      expect(wrong.join('\n')).to.equal('');
    });

    it('the review queue needs the platform’s reviewer role (reviewer_role); a platform reviewer reaches it, and still no platform admin route', async () => {
      const queue = await call('GET', '/api/v1/reviews', { token: members.get('reviewer')!.token });
      expectErrorEnvelope(queue, 403, 'PERMISSION_DENIED');
      expect(queue.body.error.details).to.include({ reason: 'reviewer_role', permission: 'platform.reviews.view' });
      expect((await call('GET', '/api/v1/reviews?mine=true', { token: members.get('reviewer')!.token })).status).to.equal(200);
      const staff = await registerMember(platform, 'platform-reviewer');
      const made = await call('PUT', `/api/v1/admin/users/${staff.userId}/role`, { token: admin, body: { role: 'reviewer' } });
      expect(made.status, made.text).to.equal(200);
      // the role counts from the user's next request (session standing is kept a second)
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect((await call('GET', '/api/v1/reviews', { token: staff.token })).status).to.equal(200);
      expect((await call('POST', `/api/v1/reviews/${anId()}/claim`, { token: staff.token })).status).to.equal(404);
      const users = await call('GET', '/api/v1/admin/users', { token: staff.token });
      expectErrorEnvelope(users, 403, 'PERMISSION_DENIED');
      expect(users.body.error.details).to.include({ reason: 'role', platform_role: 'reviewer' });
    });

    it('a custom role grants what it names at its scope and never platform.*; an organization requiring MFA refuses a member without one (mfa_required) but for account and invitations', async () => {
      const refused = await call('POST', `/api/v1/organizations/${organizationId}/roles`, {
        token: owner.token,
        body: { name: 'Operator of the platform', grants: { 'platform.users.view': 'organization' } },
      });
      expectErrorEnvelope(refused, 422, 'VALIDATION_ERROR');
      const role = await call('POST', `/api/v1/organizations/${organizationId}/roles`, {
        token: owner.token,
        body: { name: 'Collection viewer', grants: { 'collection.*.view': 'organization' } },
      });
      expect(role.status, role.text).to.equal(201);
      const viewer = await registerMember(platform, 'rbac-custom');
      await joinOrganization(platform, sink, { organizationId, inviter: owner, user: viewer, roles: [role.body.data.id] });
      await membershipsSettle();
      expect((await call('GET', '/api/v1/workflows', { token: viewer.token })).status).to.equal(200);
      const create = await call('POST', '/api/v1/workflows', { token: viewer.token, body: {} });
      expectErrorEnvelope(create, 403, 'PERMISSION_DENIED');
      expect(create.body.error.details).to.include({ reason: 'role', permission: 'collection.workflows.create' });

      // last: the whole organization now needs a second factor
      const required = await call('PATCH', `/api/v1/organizations/${organizationId}`, { token: owner.token, body: { mfa_required: true } });
      expect(required.status, required.text).to.equal(200);
      await membershipsSettle();
      const operator = members.get('operator')!.token;
      const blocked = await call('GET', '/api/v1/workflows', { token: operator });
      expectErrorEnvelope(blocked, 403, 'PERMISSION_DENIED');
      expect(blocked.body.error.details).to.include({ reason: 'mfa_required', permission: 'collection.workflows.view' });
      expect(blocked.body.error.message).to.include('/api/v1/users/mfa/totp');
      // what their roles do not grant anyway is refused for the role
      const billing = await call('GET', '/api/v1/subscriptions', { token: operator });
      expect(billing.body.error.details.reason).to.equal('role');
      // still open: their account, seeing the organization, the invitations
      for (const [method, path] of [
        ['GET', '/api/v1/users/profile'],
        ['GET', `/api/v1/organizations/${organizationId}`],
        ['GET', '/api/v1/users/api-keys'],
      ] as const) {
        const r = await call(method, path, { token: operator });
        expect(r.status, `${method} ${path}: ${r.text}`).to.equal(200);
      }
      expect((await call('POST', '/api/v1/users/mfa/totp', { token: operator })).status).to.be.oneOf([200, 201]);
    });
  });
});
