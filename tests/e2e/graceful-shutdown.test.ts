import { Router } from '@koa/router';
import { expect } from 'chai';
import type { Container } from 'inversify';
import { createApp } from '../../src/adapters/http/app.js';
import { ok } from '../../src/adapters/http/envelope.js';
import { closeServer, listen } from '../../src/adapters/http/server.js';
import type { AppState } from '../../src/adapters/http/state.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { TOKENS } from '../../src/tokens.js';
import { testConfig } from '../setup/test-env.js';

describe('graceful HTTP shutdown (e2e)', () => {
  let container: Container;
  before(async () => {
    container = await buildContainer(testConfig());
  });
  after(async () => {
    await disposeContainer(container);
  });

  it('finishes the request in flight, then refuses new connections', async () => {
    const slow = new Router<AppState>().get('/slow', async (ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      ok(ctx, { done: true });
    });
    const app = createApp({
      logger: container.get(TOKENS.Logger),
      metrics: container.get(TOKENS.Metrics),
      knex: container.get(TOKENS.Knex),
      store: container.get(TOKENS.EventStore),
      redis: container.get(TOKENS.Redis),
      routers: [slow],
    });
    const { server, url } = await listen(app.callback(), '127.0.0.1', 0);

    // a kept-alive connection from an earlier request must not hold the close up
    await (await fetch(`${url}/healthz`)).text();
    const inFlight = fetch(`${url}/slow`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closeStarted = Date.now();
    const closing = closeServer(server);

    const res = await inFlight;
    expect(res.status).to.equal(200);
    expect(((await res.json()) as { data: unknown }).data).to.deep.equal({ done: true });
    await closing;
    // well under the 5 s keep-alive timeout that an idle connection would otherwise hold it for
    expect(Date.now() - closeStarted).to.be.below(1_500);
    expect(server.listening).to.equal(false);
    let refused: unknown;
    await fetch(`${url}/healthz`).catch((error: unknown) => (refused = error));
    expect(refused).to.be.instanceOf(Error);
  });
});
