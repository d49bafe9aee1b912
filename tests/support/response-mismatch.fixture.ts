import { Router } from '@koa/router';
import Koa from 'koa';
import { z } from 'zod';
import { createHttpApi, defineRoute } from '../../src/adapters/http/define-route.js';
import { errorEnvelope } from '../../src/adapters/http/middleware/error-envelope.js';
import { requestId } from '../../src/adapters/http/middleware/request-id.js';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import type { AppState } from '../../src/adapters/http/state.js';
import { createLogger } from '../../src/logger.js';

/**
 * Not a test of the suite (no .test.ts): tests/unit/response-schema-check.test.ts
 * runs it with mocha to see the harness fail a test that never looks at the
 * status of an answer departing from its schema, and pass one whose answers match.
 */
describe('fixture: answers and their documented schema', () => {
  let server: RunningServer;
  let count: unknown = 3;
  before(async () => {
    const api = createHttpApi();
    const router = new Router<AppState>({ prefix: '/api/v1/fixture' });
    defineRoute(
      router,
      api,
      { method: 'get', path: '/thing', summary: 'A thing', responses: { 200: { description: 'a count', schema: z.object({ count: z.number().int() }) } } },
      () => ({ count: count as number }),
    );
    const app = new Koa<AppState>();
    app.use(requestId(createLogger({ LOG_LEVEL: 'silent' })));
    app.use(errorEnvelope());
    app.use(router.routes());
    server = await listen(app.callback(), '127.0.0.1', 0);
  });
  after(() => closeServer(server.server));

  it('matching answers', async () => {
    count = 3;
    await fetch(`${server.url}/api/v1/fixture/thing`);
  });

  it('an answer outside the schema, status never looked at', async () => {
    count = '3';
    await fetch(`${server.url}/api/v1/fixture/thing`);
  });
});
