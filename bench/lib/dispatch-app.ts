import { randomUUID } from 'node:crypto';
import { registerProxy } from '../../src/application/proxies.js';
import { loadConfig, type Config } from '../../src/config.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/port.js';
import { buildProcessManagerWiring } from '../../src/main/automation.js';
import { createDispatchExecutions } from '../../src/process-managers/dispatch-executions.js';
import { createProxiesProjection } from '../../src/projections/proxies.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/decider.js';
import { migrate, recreateDatabase } from './db.js';
import { progress } from './timing.js';

/**
 * The dispatch benchmark's platform: a fresh database `bench_pipeline`, the
 * real container, 4 proxies in the read model, 50 users on Qidian's free plan
 * (qidian.rankings runs: a plan check and no account, so the figure is the
 * dispatch path itself), a queue prefix of its own in Redis.
 */
export async function application(): Promise<{
  store: EventStore;
  config: Config;
  users: string[];
  startDispatcher(): { stop(): Promise<void> };
  close(): Promise<void>;
}> {
  const databaseUrl = await recreateDatabase('bench_pipeline');
  await migrate(databaseUrl);
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    QUEUE_PREFIX: `bench-${randomUUID().slice(0, 8)}`,
  });
  const container = await buildContainer(config, { processName: 'bench' });
  const store = container.get(TOKENS.EventStore);
  const knex = container.get(TOKENS.Knex);
  const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'bench' };

  progress('dispatch: 4 proxies and 50 users on the free plan');
  for (let i = 0; i < 4; i++) {
    await registerProxy(
      { store, context, secretBox: container.get(TOKENS.SecretBox) },
      { host: '127.0.0.1', port: 18_080 + i, protocol: 'http', registeredBy: 'bench' },
    );
  }
  const proxies = new ConsumerRunner({ store, knex, databaseUrl }, createProxiesProjection(), { idleCheckpointMs: 50 });
  proxies.start();
  while ((await knex('proxies').count<{ n: string }[]>({ n: '*' }))[0]!.n !== '4') await new Promise((r) => setTimeout(r, 20));
  await proxies.stop();
  const users = Array.from({ length: 50 }, () => randomUUID());
  for (const userId of users) {
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(userId, 'qidian'),
      {
        type: 'StartSubscription',
        subscriptionId: randomUUID(),
        userId,
        service: 'qidian',
        plan: 'free',
        periodEnd: null,
        now: new Date().toISOString(),
      },
      { context },
    );
  }

  const automation = buildProcessManagerWiring(container, config);
  return {
    store,
    config,
    users,
    startDispatcher() {
      const consumer = createDispatchExecutions({
        store,
        dispatcher: automation.wiring.dispatcher,
        timeZone: config.QUOTA_TIME_ZONE,
        ...(automation.wiring.leases ? { leases: automation.wiring.leases } : {}),
      });
      const runner = new ConsumerRunner({ store, knex, databaseUrl }, consumer, { idleCheckpointMs: 100 });
      runner.start();
      return { stop: () => runner.stop() };
    },
    async close() {
      await automation.close();
      const redis = container.get(TOKENS.Redis);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${config.QUEUE_PREFIX}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      await disposeContainer(container);
    },
  };
}
