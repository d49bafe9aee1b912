import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { fastAppendStatement } from '../../src/adapters/event-store/postgres/append.js';
import { TOKENS } from '../../src/tokens.js';
import type { Container } from 'inversify';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { createApiApp } from '../../src/api-app.js';
import type { ConfigVariable } from '../../src/config.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { testConfig } from '../setup/test-env.js';

interface Api {
  url: string;
  container: Container;
  stop(): Promise<void>;
}

/** The real app on a real socket (port 0), against the real Postgres and Redis. */
async function startApi(overrides: Partial<Record<ConfigVariable, string>> = {}): Promise<Api> {
  const container: Container = await buildContainer(testConfig(overrides));
  const running: RunningServer = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  return {
    url: running.url,
    container,
    async stop() {
      await closeServer(running.server);
      await disposeContainer(container);
    },
  };
}

/** The API's envelope; `data` and `details` vary by route. */
interface Envelope {
  success: boolean;
  data?: any;
  error?: { code: string; message: string; details: any };
  timestamp: string;
  request_id: string;
}

async function envelopeOf(res: Response): Promise<Envelope> {
  expect(res.headers.get('content-type')).to.match(/^application\/json/);
  return (await res.json()) as Envelope;
}

const ISO_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('operational endpoints (e2e)', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(async () => {
    await api?.stop();
  });

  it('GET /healthz answers the success envelope with a fresh request id', async () => {
    const res = await fetch(`${api.url}/healthz`);
    expect(res.status).to.equal(200);
    const requestId = res.headers.get('x-request-id');
    expect(requestId).to.match(/^[0-9a-f-]{36}$/);
    const body = await envelopeOf(res);
    expect(body).to.include({ success: true, request_id: requestId });
    expect(body.data.status).to.equal('ok');
    expect(body.timestamp).to.match(ISO_TIMESTAMP);
  });

  it('keeps a sane X-Request-Id from the caller and replaces an unsafe one', async () => {
    const kept = await fetch(`${api.url}/healthz`, { headers: { 'X-Request-Id': 'trace-42.a:b' } });
    expect(kept.headers.get('x-request-id')).to.equal('trace-42.a:b');
    expect((await envelopeOf(kept)).request_id).to.equal('trace-42.a:b');

    const replaced = await fetch(`${api.url}/healthz`, { headers: { 'X-Request-Id': 'x'.repeat(200) } });
    expect(replaced.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
  });

  it('GET /readyz is ready when Postgres, the event store and Redis answer', async () => {
    const res = await fetch(`${api.url}/readyz`);
    const body = await envelopeOf(res);
    expect(res.status, JSON.stringify(body)).to.equal(200);
    expect(body.success).to.equal(true);
    expect({ status: body.data.status, checks: body.data.checks }).to.deep.equal({
      status: 'ready',
      checks: { postgres: 'ok', event_store: 'ok', redis: 'ok' },
    });
  });

  it('GET /readyz warns, still ready, naming a transaction that has held back event delivery; /metrics gives its age', async function () {
    this.timeout(20_000);
    const database = new URL(testConfig().DATABASE_URL).pathname.slice(1);
    // an append left open: only transactions that append hold back delivery
    const blocker = new pg.Client({ connectionString: testConfig().DATABASE_URL, application_name: 'readyz-test-blocker' });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(fastAppendStatement(`readyz-open-${randomUUID()}`, [{ id: randomUUID(), type: 'LeftOpen', data: {} }], 'any'));
      const { rows } = await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const store = api.container.get(TOKENS.EventStore);
      await store.append(`readyz-${randomUUID()}`, [{ id: randomUUID(), type: 'HeldForReadyz', data: {} }]);
      await new Promise((resolve) => setTimeout(resolve, 5_300));
      const res = await fetch(`${api.url}/readyz`);
      const body = await envelopeOf(res);
      expect(res.status).to.equal(200);
      expect(body.data.status).to.equal('ready');
      expect(body.data.warnings, JSON.stringify(body.data)).to.have.length(1);
      expect(body.data.warnings[0]).to.include(`pid ${rows[0]!.pid}`).and.to.include('readyz-test-blocker').and.to.include(`database ${database}`);
      const metrics = await (await fetch(`${api.url}/metrics`)).text();
      const age = Number(/^event_store_horizon_blocked_seconds (\S+)$/m.exec(metrics)?.[1]);
      expect(age).to.be.greaterThan(5);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
  });

  it('GET /metrics serves Prometheus text with default metrics and request durations', async () => {
    await fetch(`${api.url}/healthz`);
    const res = await fetch(`${api.url}/metrics`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/plain/);
    const text = await res.text();
    expect(text).to.include('process_cpu_seconds_total');
    expect(text).to.match(/http_request_duration_seconds_count\{[^}]*route="\/healthz"[^}]*\} \d+/);
  });

  it('answers an unknown route with the NOT_FOUND error envelope', async () => {
    const res = await fetch(`${api.url}/nope`, { headers: { 'X-Request-Id': 'lost-1' } });
    expect(res.status).to.equal(404);
    const body = await envelopeOf(res);
    expect(body).to.deep.include({ success: false, request_id: 'lost-1' });
    expect(body.error).to.deep.equal({ code: 'NOT_FOUND', message: 'no route for GET /nope', details: {} });
    expect(body.timestamp).to.match(ISO_TIMESTAMP);
  });

  it('answers a wrong method on a known route with METHOD_NOT_ALLOWED', async () => {
    const res = await fetch(`${api.url}/healthz`, { method: 'DELETE' });
    expect(res.status).to.equal(405);
    expect((await envelopeOf(res)).error?.code).to.equal('METHOD_NOT_ALLOWED');
  });
});

describe('readiness when Redis is unreachable (e2e)', () => {
  let api: Api;
  before(async () => {
    // port 1: nothing listens there, connections are refused at once
    api = await startApi({ REDIS_URL: 'redis://127.0.0.1:1' });
  });
  after(async () => {
    await api?.stop();
  });

  it('GET /readyz answers 503 naming Redis, and only Redis', async () => {
    const res = await fetch(`${api.url}/readyz`);
    expect(res.status).to.equal(503);
    const body = await envelopeOf(res);
    expect(body.success).to.equal(false);
    expect(body.error?.code).to.equal('NOT_READY');
    expect(body.error?.message).to.match(/redis/);
    expect(body.error?.details.checks).to.deep.equal({ postgres: 'ok', event_store: 'ok', redis: 'failed' });
  });

  it('GET /healthz still answers 200: the process itself is fine', async () => {
    expect((await fetch(`${api.url}/healthz`)).status).to.equal(200);
  });
});

describe('operational endpoints behind the ops token (e2e)', () => {
  const OPS_TOKEN = 'ops-token-for-the-tests-0123456789abcdef';
  let api: Api;
  before(async () => {
    api = await startApi({ OPS_TOKEN });
  });
  after(async () => {
    await api?.stop();
  });

  it('/readyz and /metrics answer 401 without the token (or with another), 200 with it; /healthz stays public', async () => {
    for (const path of ['/readyz', '/metrics']) {
      const none = await fetch(`${api.url}${path}`);
      expect(none.status, path).to.equal(401);
      expect((await envelopeOf(none)).error?.code).to.equal('UNAUTHENTICATED');
      expect((await fetch(`${api.url}${path}`, { headers: { Authorization: `Bearer ${OPS_TOKEN}x` } })).status, path).to.equal(401);
      const allowed = await fetch(`${api.url}${path}`, { headers: { Authorization: `Bearer ${OPS_TOKEN}` } });
      expect(allowed.status, path).to.equal(200);
    }
    expect((await fetch(`${api.url}/healthz`)).status).to.equal(200);
  });
});
