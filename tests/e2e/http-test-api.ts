import { Router } from '@koa/router';
import type { Container } from 'inversify';
import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { createApp } from '../../src/adapters/http/app.js';
import { commandContext } from '../../src/adapters/http/command-context.js';
import { createHttpApi, defineRoute, type HttpApi } from '../../src/adapters/http/define-route.js';
import { ok } from '../../src/adapters/http/envelope.js';
import { pageOf, pageSchema, paginationQuery, offsetOf } from '../../src/adapters/http/pagination.js';
import { afterPositionQuery, awaitPosition } from '../../src/adapters/http/read-your-writes.js';
import { commandResult, ifMatchRevision } from '../../src/adapters/http/revision.js';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import type { AppState } from '../../src/adapters/http/state.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { TOKENS } from '../../src/tokens.js';
import { TEST_IDEMPOTENCY_KEY, testConfig } from '../setup/test-env.js';
import { counterAggregate } from '../support/counter-decider.js';

/** A test-only consumer name whose checkpoint the tests move by hand. */
export const TEST_CONSUMER = `http-test-${randomUUID()}`;
export const counterStream = (id: string) => `httptestcounter-${id}`;
const counter = { ...counterAggregate(null), streamName: counterStream };

export interface TestApi {
  url: string;
  knex: Knex;
  store: EventStore;
  api: HttpApi;
  /** the slow command waits for this; the test releases it */
  gate: { entered: Promise<void>; release(): void; reset(): void };
  stop(): Promise<void>;
}

const counterParams = z.object({ id: z.string().uuid() });
const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });
const ITEMS = Array.from({ length: 45 }, (_, i) => ({ n: i + 1 }));

/** A small router on the real building blocks: the counter decider on the real Postgres event store. */
function testRouter(api: HttpApi, deps: { store: EventStore; knex: Knex; gate: TestApi['gate']; gateWait: () => Promise<void> }): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/test' });

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/counters/:id/open',
      summary: 'Open a test counter',
      tags: ['test'],
      request: { params: counterParams, body: z.object({ limit: z.number().int().min(1), label: z.string().optional() }) },
      responses: { 201: { description: 'opened', schema: commandResultSchema } },
      errors: [409],
    },
    async ({ params, body }, ctx) => {
      const result = await handle(
        deps.store,
        counter,
        params.id,
        { type: 'Open', limit: body.limit },
        {
          context: commandContext(ctx),
        },
      );
      commandResult(ctx, result, { status: 201 });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/counters/:id/increment',
      summary: 'Increment a test counter',
      tags: ['test'],
      ifMatch: true,
      request: { params: counterParams, body: z.object({ by: z.number().int().positive() }) },
      responses: { 200: { description: 'incremented', schema: commandResultSchema } },
      errors: [404, 429],
    },
    async ({ params, body }, ctx) => {
      const result = await handle(
        deps.store,
        counter,
        params.id,
        { type: 'Increment', by: body.by },
        {
          context: commandContext(ctx),
          expectedRevision: ifMatchRevision(ctx),
        },
      );
      commandResult(ctx, result);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/slow',
      summary: 'Waits for the test',
      request: { body: z.object({ n: z.number() }) },
      responses: { 200: { description: 'done', schema: z.object({ n: z.number() }) } },
    },
    async ({ body }) => {
      await deps.gateWait();
      return { n: body.n };
    },
  );

  defineRoute(
    router,
    api,
    { method: 'post', path: '/quota', summary: 'Always over quota', responses: { 200: { description: 'never' } }, errors: [429] },
    () => {
      throw new DomainError('QUOTA_EXCEEDED', 'monthly scrapes used up', {
        feature: 'scrapes',
        limit: 10,
        resets_at: new Date(Date.now() + 90_000).toISOString(),
      });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/items',
      summary: 'A paged list',
      request: { query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page', schema: pageSchema(z.object({ n: z.number() })) } },
    },
    async ({ query }, ctx) => {
      await awaitPosition(ctx, deps.knex, TEST_CONSUMER, { timeoutMs: 300 });
      return pageOf(ITEMS.slice(offsetOf(query), offsetOf(query) + query.per_page), query, ITEMS.length);
    },
  );

  defineRoute(router, api, { method: 'get', path: '/echo-headers', summary: 'Plain answer', responses: { 200: { description: 'ok' } } }, (_input, ctx) =>
    ok(ctx, { ok: true }),
  );

  return router;
}

/** The real createApp, on a real socket, with the test router, against the test Postgres. */
export async function startTestApi(options: { bodyLimitBytes?: number } = {}): Promise<TestApi> {
  const container: Container = await buildContainer(testConfig());
  const knex = container.get(TOKENS.Knex);
  const store = container.get(TOKENS.EventStore);
  const api = createHttpApi({ knex, idempotency: { hashKey: TEST_IDEMPOTENCY_KEY } });

  let release!: () => void;
  let markEntered!: () => void;
  let released!: Promise<void>;
  const gate = {
    entered: Promise.resolve(),
    release: () => release(),
    reset() {
      released = new Promise<void>((resolve) => (release = resolve));
      gate.entered = new Promise<void>((resolve) => (markEntered = resolve));
    },
  };
  gate.reset();
  const gateWait = async () => {
    markEntered();
    await released;
  };

  const app = createApp({
    logger: container.get(TOKENS.Logger),
    metrics: container.get(TOKENS.Metrics),
    knex,
    store,
    redis: container.get(TOKENS.Redis),
    api,
    bodyLimitBytes: options.bodyLimitBytes,
    routers: [testRouter(api, { store, knex, gate, gateWait })],
  });
  const running: RunningServer = await listen(app.callback(), '127.0.0.1', 0);
  return {
    url: running.url,
    knex,
    store,
    api,
    gate,
    async stop() {
      await closeServer(running.server);
      await disposeContainer(container);
    },
  };
}

/** The API's envelope. */
export interface Envelope {
  success: boolean;
  data?: any;
  error?: { code: string; message: string; details: any };
  timestamp: string;
  request_id: string;
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ res: Response; body: Envelope }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { res, body: (await res.json()) as Envelope };
}
