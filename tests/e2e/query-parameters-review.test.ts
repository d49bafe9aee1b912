import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { formatPosition } from '../../src/event-store/position.js';
import { membershipsSettle, registerMember, type Member } from '../support/members.js';
import { startPlatform, type CallOptions, type Platform, type Reply } from '../support/platform.js';

/**
 * How the API reads query parameters and path ids (docs/http-api.md: query
 * parameters, path ids, pages, read your writes), tried black-box on every
 * route of the OpenAPI document: numbers only in decimal digits, a
 * parameter given twice refused as such, a malformed path id 422 like every
 * other, and a read-your-writes position no event has refused at once.
 */
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: { type?: string; format?: string; pattern?: string; enum?: unknown[] };
}
interface Operation {
  method: string;
  path: string;
  op: { parameters?: Parameter[]; 'x-permission'?: string; requestBody?: unknown };
}
interface Issue {
  in?: string;
  path: (string | number)[];
  code: string;
  message: string;
}

const issuesOf = (r: Reply): Issue[] => r.body?.error?.details?.issues ?? [];
const named = (r: Reply, where: string, name: string): Issue[] => issuesOf(r).filter((i) => i.in === where && i.path[0] === name);

describe('query parameters and path ids (e2e, the whole platform)', function () {
  this.timeout(120_000);
  let platform: Platform;
  let operations: Operation[];
  let user: Member;
  let founder: Member;
  let admin: string;

  before(async () => {
    platform = await startPlatform({ proxies: 0, config: { API_RATE_LIMIT_PER_IP: '100000', API_RATE_LIMIT_PER_USER: '100000' } });
    platform.startConsumers();
    const document = await platform.call('GET', '/api/v1/openapi.json');
    expect(document.status, document.text.slice(0, 300)).to.equal(200);
    operations = Object.entries<Record<string, Operation['op']>>(document.body.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
        .map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
    );
    [user, founder, admin] = await Promise.all([registerMember(platform, 'query-review'), registerMember(platform, 'query-founder'), platform.adminToken()]);
    const founded = await platform.call('POST', '/api/v1/organizations', { token: founder.token, body: { name: 'Query review' } });
    expect(founded.status, founded.text).to.equal(201);
    await membershipsSettle();
  });
  after(async () => {
    await platform?.stop();
  });

  const call = (method: string, path: string, options: CallOptions = {}) => platform.call(method, path, options);
  /** the admin for the platform's own routes, an organization's owner for its routes, the user (every business permission on their own things) for the rest */
  const tokenFor = (o: Operation) => {
    const permission = o.op['x-permission'] ?? '';
    return permission.startsWith('platform.') ? admin : permission.startsWith('organization.') ? founder.token : user.token;
  };
  /** the path with each parameter filled: a UUID, or what its pattern wants (a note id, a book id, a month) */
  const concrete = (o: Operation) =>
    o.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const pattern = o.op.parameters?.find((p) => p.in === 'path' && p.name === name)?.schema?.pattern ?? '';
      if (pattern.includes('0-9a-f]{24}')) return 'a'.repeat(24);
      if (/^\^\\d/.test(pattern)) return '1';
      if (pattern.includes('\\d{4}-')) return '2026-01';
      return randomUUID();
    });
  const queryOf = (o: Operation) => (o.op.parameters ?? []).filter((p) => p.in === 'query');
  const gets = () => operations.filter((o) => o.method === 'GET' && queryOf(o).length > 0);

  async function inParallel<T>(items: readonly T[], width: number, each: (item: T) => Promise<void>): Promise<void> {
    for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(each));
  }

  describe('numbers are decimal digits', () => {
    it('page, per_page and every other integer query parameter refuse 0x10, 1e1, a sign, spaces, a fraction and an empty value with 422 naming it', async () => {
      const integers = gets().flatMap((o) =>
        queryOf(o)
          .filter((p) => p.schema?.type === 'integer')
          .map((p) => ({ o, name: p.name })),
      );
      expect(integers.length, 'the document declares integer query parameters').to.be.greaterThan(20);
      const wrong: string[] = [];
      await inParallel(integers, 8, async ({ o, name }) => {
        for (const value of ['0x10', '1e1', '%2B3', '%202', '2.0', '']) {
          const r = await call('GET', `${concrete(o)}?${name}=${value}`, { token: tokenFor(o) });
          if (r.status !== 422 || r.body?.error?.code !== 'VALIDATION_ERROR' || named(r, 'query', name).length === 0) {
            wrong.push(`${o.path}?${name}=${value} → ${r.status} ${r.text.slice(0, 160)}`);
          }
        }
      });
      expect(wrong, wrong.join('\n')).to.deep.equal([]);
    });

    it('plain digits still count: page=2&per_page=5 is page 2 of 5, and a whole number in a path (an article version) wants digits too', async () => {
      const r = await call('GET', '/api/v1/workflows?page=2&per_page=5', { token: user.token });
      expect(r.status, r.text).to.equal(200);
      expect(r.body.data.pagination).to.include({ page: 2, per_page: 5 });
      const hex = await call('GET', '/api/v1/workflows?page=0x10', { token: user.token });
      expect(hex.status, hex.text).to.equal(422);
      expect(named(hex, 'query', 'page')[0]?.message).to.match(/decimal digits/);

      const created = await call('POST', '/api/v1/articles', { token: user.token, body: { title: 'Versioned', body: 'text' } });
      expect(created.status, created.text).to.equal(201);
      const base = `/api/v1/articles/${created.body.data.id}/versions`;
      const one = await call('GET', `${base}/1?after_position=${created.body.data.position}`, { token: user.token });
      expect(one.status, one.text).to.equal(200);
      for (const version of ['0x1', '1e0', '%2B1', '1.0']) {
        const r2 = await call('GET', `${base}/${version}`, { token: user.token });
        expect(r2.status, `${version}: ${r2.text}`).to.equal(422);
        expect(named(r2, 'params', 'version'), version).to.have.length(1);
      }
    });
  });

  describe('a parameter given twice', () => {
    it('is 422 with one issue, code repeated, saying it may be given once, on every GET route and parameter', async () => {
      const cases = gets().flatMap((o) => queryOf(o).map((p) => ({ o, name: p.name })));
      const wrong: string[] = [];
      await inParallel(cases, 8, async ({ o, name }) => {
        const r = await call('GET', `${concrete(o)}?${name}=1&${name}=2`, { token: tokenFor(o) });
        const issues = named(r, 'query', name);
        if (r.status !== 422 || issues.length !== 1 || issues[0]!.code !== 'repeated' || !/given once/.test(issues[0]!.message)) {
          wrong.push(`${o.path}?${name}=1&${name}=2 → ${r.status} ${r.text.slice(0, 200)}`);
        }
      });
      expect(wrong, wrong.join('\n')).to.deep.equal([]);
    });

    it('names every repeated parameter at once, never "NaN", and leaves the others judged as usual', async () => {
      const r = await call('GET', '/api/v1/workflows?page=1&page=2&status=active&status=paused&per_page=101', { token: user.token });
      expect(r.status, r.text).to.equal(422);
      expect(r.text).to.not.match(/NaN/);
      expect(named(r, 'query', 'page').map((i) => i.code)).to.deep.equal(['repeated']);
      expect(named(r, 'query', 'status').map((i) => i.code)).to.deep.equal(['repeated']);
      expect(named(r, 'query', 'per_page')).to.have.length(1);
      // a parameter the route does not have is ignored, given once or twice
      const unknown = await call('GET', '/api/v1/workflows?colour=red&colour=blue', { token: user.token });
      expect(unknown.status, unknown.text).to.equal(200);
    });
  });

  describe('path ids', () => {
    it('the ids of workflows, executions, platform accounts, subscriptions and notifications are documented as UUIDs', () => {
      for (const path of [
        '/api/v1/workflows/{id}',
        '/api/v1/workflows/executions/{id}',
        '/api/v1/platform-accounts/{id}',
        '/api/v1/xiaohongshu/accounts/{id}',
        '/api/v1/subscriptions/{id}',
        '/api/v1/notifications/{id}/read',
      ]) {
        const ops = operations.filter((o) => o.path === path);
        expect(ops, path).to.not.be.empty;
        for (const o of ops) expect(o.op.parameters?.find((p) => p.in === 'path' && p.name === 'id')?.schema?.format, `${o.method} ${path}`).to.equal('uuid');
      }
    });

    it('every route whose path id is a UUID answers 422 naming it for one that is not, and 404 for a UUID of nothing', async () => {
      const withUuid = operations.filter((o) => (o.op.parameters ?? []).some((p) => p.in === 'path' && p.schema?.format === 'uuid'));
      expect(withUuid.length).to.be.greaterThan(40);
      const wrong: string[] = [];
      await inParallel(withUuid, 8, async (o) => {
        const names = (o.op.parameters ?? []).filter((p) => p.in === 'path' && p.schema?.format === 'uuid').map((p) => p.name);
        for (const name of names) {
          // the other parameters filled as they should be, this one broken
          const filled = concrete(o).split('/');
          const path = o.path
            .split('/')
            .map((segment, i) => (segment === `{${name}}` ? 'not-a-uuid' : filled[i]))
            .join('/');
          const r = await call(o.method, path, { token: tokenFor(o), ...(o.method === 'GET' ? {} : { body: {} }) });
          if (r.status !== 422 || named(r, 'params', name).length === 0) wrong.push(`${o.method} ${o.path} (${name}) → ${r.status} ${r.text.slice(0, 160)}`);
        }
      });
      expect(wrong, wrong.join('\n')).to.deep.equal([]);

      for (const path of ['/api/v1/workflows', '/api/v1/workflows/executions', '/api/v1/platform-accounts', '/api/v1/subscriptions']) {
        const missing = await call('GET', `${path}/${randomUUID()}`, { token: user.token });
        expect(missing.status, `${path}: ${missing.text}`).to.equal(404);
        expect(missing.body.error.code).to.equal('NOT_FOUND');
        const malformed = await call('GET', `${path}/nope`, { token: user.token });
        expect(malformed.status, `${path}/nope: ${malformed.text}`).to.equal(422);
        expect(named(malformed, 'params', 'id')[0]?.message).to.match(/UUID/);
      }
    });
  });

  describe('read your writes', () => {
    it('a position past the newest event is 422 naming after_position at once on every route that takes it; one a command answered is read as usual', async () => {
      const created = await call('POST', '/api/v1/articles', { token: user.token, body: { title: 'Written', body: 'text' } });
      expect(created.status, created.text).to.equal(201);
      const head = await platform.store.headPosition();
      const beyond = [
        formatPosition({ commit: head.commit + 1_000n, prepare: 0n }),
        formatPosition({ commit: head.commit, prepare: head.prepare + 1n }),
        '99999999999999999999-99999999999999999999',
      ];
      const routes = gets().filter((o) => queryOf(o).some((p) => p.name === 'after_position'));
      expect(routes.length).to.be.greaterThan(30);
      // the routes that answer this caller without it (no plan, permission or parameter stands in the way)
      const answering: Operation[] = [];
      await inParallel(routes, 10, async (o) => {
        if ((await call('GET', concrete(o), { token: tokenFor(o) })).status === 200) answering.push(o);
      });
      expect(answering.length).to.be.greaterThan(20);
      const wrong: string[] = [];
      await inParallel(answering, 10, async (o) => {
        const started = Date.now();
        const r = await call('GET', `${concrete(o)}?after_position=${beyond[0]}`, { token: tokenFor(o) });
        const took = Date.now() - started;
        if (r.status !== 422 || named(r, 'query', 'after_position').length !== 1 || took > 2_000) {
          wrong.push(`${o.path} → ${r.status} in ${took} ms ${r.headers.get('x-projection-lag') ?? ''} ${r.text.slice(0, 160)}`);
        }
      });
      expect(wrong, wrong.join('\n')).to.deep.equal([]);

      for (const position of beyond) {
        const started = Date.now();
        const r = await call('GET', `/api/v1/workflows?after_position=${position}`, { token: user.token });
        expect(r.status, `${position}: ${r.text}`).to.equal(422);
        expect(Date.now() - started, position).to.be.below(2_000);
        expect(named(r, 'query', 'after_position').map((i) => i.code)).to.deep.equal(['too_big']);
      }
      const read = await call('GET', `/api/v1/articles/${created.body.data.id}?after_position=${created.body.data.position}`, { token: user.token });
      expect(read.status, read.text).to.equal(200);
      expect(read.headers.get('x-projection-lag')).to.equal(null);
      const atHead = await call('GET', `/api/v1/workflows?after_position=${formatPosition(await platform.store.headPosition())}`, { token: user.token });
      expect(atHead.status, atHead.text).to.equal(200);
    });
  });
});
