import { buildContainer, disposeContainer } from '../container.js';
import { pruneIdempotencyKeys } from '../adapters/http/idempotency.js';
import { DeadlineSweeper, expiryActions, processManagers } from '../process-managers/index.js';
import { awaitingRebuild } from '../operations/projections.js';
import { createProjections } from '../projections/index.js';
import { ConsumerRunner } from '../subscriptions/consumer-runner.js';
import { TOKENS } from '../tokens.js';
import { loadConfigOrExit, prepareDatabase } from './boot.js';
import { every } from './periodic.js';
import { buildProcessManagerWiring } from './automation.js';
import { stopOnSignal } from './shutdown.js';

const config = loadConfigOrExit();
const container = await buildContainer(config, { processName: 'projector' });
const logger = container.get(TOKENS.Logger);

try {
  const knex = container.get(TOKENS.Knex);
  await prepareDatabase(config, knex, logger);
  const deps = { store: container.get(TOKENS.EventStore), knex, databaseUrl: config.DATABASE_URL, logger };
  // The process managers (src/process-managers: pm-…) run here beside the
  // projections: each is a Consumer with its own checkpoint and advisory lock,
  // driven by the same ConsumerRunner, so one projector process hosts both.
  const automation = buildProcessManagerWiring(container, config);
  const consumers = [...createProjections({ timeZone: config.QUOTA_TIME_ZONE }), ...processManagers(automation.wiring)];
  const runners = consumers.map((consumer) => new ConsumerRunner(deps, consumer));
  // A projection version with no tables of its own yet (a version bump) waits
  // until `projections rebuild <name>` has built and swapped it in.
  let stopping = false;
  const gate = async (consumer: (typeof consumers)[number], i: number) => {
    for (;;) {
      const serving = await awaitingRebuild(knex, consumer.name);
      if (serving === null || stopping) break;
      logger.warn({ projection: consumer.name, serving }, `${consumer.name} waits for \`npm run cli -- projections rebuild ${consumer.name}\` (${serving} serves its tables until then)`);
      await new Promise((resolve) => setTimeout(resolve, 10_000).unref());
    }
    if (!stopping) runners[i]!.start();
  };
  consumers.forEach((consumer, i) =>
    void gate(consumer, i).catch((error: unknown) => {
      logger.error({ err: error, consumer: consumer.name }, 'could not check for a pending version rebuild; starting the consumer');
      if (!stopping) runners[i]!.start();
    }),
  );
  // Time-driven work: expiries (deadlines the pm-deadlines consumer wrote) and housekeeping.
  const sweeper = new DeadlineSweeper({ knex, actions: expiryActions(deps.store), logger, intervalMs: config.DEADLINE_SWEEP_INTERVAL_MS });
  sweeper.start();
  const pruning = every(60 * 60 * 1000, 'pruning expired idempotency keys', async () => {
    const removed = await pruneIdempotencyKeys(knex);
    if (removed > 0) logger.info({ removed }, 'expired idempotency keys pruned');
  }, logger);
  // Nothing else need keep the process alive when every consumer idles, and a
  // supervisor (compose, scripts/up.sh) expects it to stay up.
  const keepAlive = setInterval(() => {}, 1 << 30);
  logger.info({ consumers: consumers.map((c) => c.name) }, `projector started with ${runners.length} consumer(s) (projections and process managers)`);

  stopOnSignal(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
    clearInterval(keepAlive);
    stopping = true;
    await Promise.all([sweeper.stop(), pruning.stop(), ...runners.map((runner) => runner.stop())]);
    await automation.close();
    await disposeContainer(container);
  });
} catch (error) {
  logger.fatal({ err: error }, 'projector failed to start');
  process.exit(1);
}
