import { Router } from '@koa/router';
import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Koa from 'koa';
import pino from 'pino';
import { commandContext } from '../../src/adapters/http/command-context.js';
import { requestId } from '../../src/adapters/http/middleware/request-id.js';
import type { AppState } from '../../src/adapters/http/state.js';
import { toMetadata } from '../../src/write-model/core/command-context.js';

describe('HTTP request → command metadata', () => {
  let server: Server;
  let base: string;

  before(async () => {
    const app = new Koa<AppState>();
    app.use(requestId(pino({ level: 'silent' })));
    const router = new Router<AppState>();
    router.get('/metadata', (ctx) => {
      ctx.body = toMetadata(commandContext(ctx, 'user-7'));
    });
    app.use(router.routes());
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  it('starts a correlation with the request id when the server made it', async () => {
    const response = await fetch(`${base}/metadata`);
    const requestId = response.headers.get('x-request-id')!;
    expect(requestId).to.match(/^[0-9a-f-]{36}$/);
    expect(await response.json()).to.deep.equal({ $correlationId: requestId, $causationId: requestId, userId: 'user-7', requestId });
    expect(response.headers.get('x-correlation-id')).to.equal(requestId);
  });

  it("never lets a caller's ids become the correlation: X-Request-Id is kept as the request's, X-Correlation-Id recorded as the client's", async () => {
    const response = await fetch(`${base}/metadata`, { headers: { 'X-Request-Id': 'req-abc', 'X-Correlation-Id': 'flow-1' } });
    const metadata = await response.json();
    const correlation = response.headers.get('x-correlation-id')!;
    expect(correlation).to.match(/^[0-9a-f-]{36}$/);
    expect(metadata).to.deep.equal({
      $correlationId: correlation,
      $causationId: 'req-abc',
      userId: 'user-7',
      requestId: 'req-abc',
      clientCorrelationId: 'flow-1',
    });
    const insane = await fetch(`${base}/metadata`, { headers: { 'X-Request-Id': 'req-3', 'X-Correlation-Id': 'a b <script>' } });
    expect(await insane.json()).to.not.have.property('clientCorrelationId');
  });
});
