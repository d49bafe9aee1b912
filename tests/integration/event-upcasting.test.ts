import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { z } from 'zod';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { recordObservation } from '../../src/application/proxy-observations.js';
import { streamStateAt } from '../../src/operations/streams.js';
import { createProxiesProjection } from '../../src/projections/proxies.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import { eventCodec } from '../../src/write-model/core/event-codec.js';
import { domainEvents } from '../../src/write-model/events.js';
import { proxyAggregate } from '../../src/write-model/proxy/index.js';
import { proxyHealthAggregate, proxyHealthDayId, proxyHealthEvents, utcDay, type ProxyHealthEvent } from '../../src/write-model/proxy-health/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

/**
 * ProxyHealthChecked is at version 2 (it gained `day` when observations moved
 * to day streams). An event stored in the version 1 shape — no `day`, no
 * schemaVersion in its metadata — must reach every consumer upcast.
 */
describe('upcasting a stored event of an older shape (ProxyHealthChecked v1 → v2)', function () {
  this.timeout(30_000);
  let store: PostgresEventStore;
  let knex: Knex;
  const projection = createProxiesProjection(`proxies-upcast-test-${randomUUID().slice(0, 8)}`);

  before(() => {
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 4 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 4 } });
  });
  after(async () => {
    await knex('consumer_checkpoints').where({ consumer: projection.name }).delete();
    await store.close();
    await knex.destroy();
  });

  it('reaches the aggregate, the next command, the read model, the $all decoder and the operator tooling as version 2', async () => {
    const proxyId = randomUUID();
    const now = new Date();
    const checkedAt = new Date(now.getTime() - 60_000).toISOString();
    const day = utcDay(checkedAt);
    await handle(
      store,
      proxyAggregate,
      proxyId,
      {
        type: 'RegisterProxy',
        proxyId,
        host: '127.0.0.1',
        port: 3128,
        protocol: 'http',
        credentials: null,
        country: null,
        region: null,
        provider: null,
        registeredBy: 'test',
        now: new Date(now.getTime() - 120_000).toISOString(),
      },
      { context },
    );
    const stream = proxyHealthAggregate.streamName(proxyHealthDayId(proxyId, day));
    const v1 = {
      proxyId,
      source: 'probe',
      ok: false,
      latencyMs: null,
      error: 'timeout',
      platform: null,
      jobId: null,
      consecutiveFailures: 1,
      consecutiveSuccesses: 0,
      checkedAt,
    };
    await store.append(stream, [{ id: randomUUID(), type: 'ProxyHealthChecked', data: v1, metadata: { $correlationId: 'old' } }], 'no_stream');
    const [stored] = await store.readStream(stream);

    // without its upcaster the old shape does not decode: the mechanism is what carries it
    const withoutUpcaster = eventCodec<ProxyHealthEvent>({ ProxyHealthChecked: { version: 2, schema: z.object({ day: z.string() }).passthrough() as never } });
    expect(() => withoutUpcaster.decode(stored!)).to.throw(/no upcaster from version 1/);

    // the aggregate's decoder and the $all decoder
    const expected = { type: 'ProxyHealthChecked', data: { ...v1, day } };
    expect(proxyHealthEvents.decode(stored!)).to.deep.equal(expected);
    expect(domainEvents.decode(stored!)).to.deep.equal(expected);

    // the aggregate folds it, and the next command counts on from it
    const { state } = await load(store, proxyHealthAggregate, proxyHealthDayId(proxyId, day));
    expect(state).to.deep.include({ lastCheckedAt: checkedAt, consecutiveFailures: 1 });
    const outcome = await recordObservation(
      { store, context, thresholds: { failure: 2, recovery: 2 }, at: now },
      { proxyId, source: 'probe', ok: false, error: 'timeout' },
    );
    expect(outcome.failed, 'the second failure in a row fails the proxy').to.equal(true);
    const [, next] = await store.readStream(stream);
    expect(next!.metadata.schemaVersion).to.equal(2);
    expect(proxyHealthEvents.decode(next!).data).to.deep.include({ day, consecutiveFailures: 2 });

    // the read model
    await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, projection);
    const row = (await knex('proxies').where({ id: proxyId }).first('total_checks', 'consecutive_failures', 'status')) as {
      total_checks: number;
      consecutive_failures: number;
      status: string;
    };
    expect(row).to.deep.equal({ total_checks: 2, consecutive_failures: 2, status: 'failed' });

    // the console's and the CLI's state at a revision
    const at0 = await streamStateAt({ store, knex, databaseUrl: testDatabaseUrl, timeZone: 'Asia/Shanghai' }, stream, 0n);
    expect(at0.state).to.deep.include({ lastCheckedAt: checkedAt, consecutiveFailures: 1 });
  });
});
