import { buildContainer, disposeContainer } from '../container.js';
import { pruneIdempotencyKeys } from '../adapters/http/idempotency.js';
import { startMetricsListener } from '../adapters/http/metrics-listener.js';
import { runScavenge } from '../adapters/event-store/scavenge-run.js';
import { hostname } from 'node:os';
import { DeadlineSweeper } from '../process-managers/index.js';
import { deadlineActionsFromConfig } from './automation.js';
import { awaitingRebuild } from '../operations/projections.js';
import { consumerMetrics } from '../metrics.js';
import { ConsumerRunner } from '../consumers/consumer-runner.js';
import { LockKeeper } from '../consumers/lock-keeper.js';
import { TOKENS } from '../tokens.js';
import { loadConfigOrExit, prepareDatabase } from './boot.js';
import { every } from './periodic.js';
import { consumerCatalogue } from './consumers.js';
import { stopOnSignal } from './shutdown.js';
import { startQueueBlockageDetector } from './queue-blockage.js';

const config = loadConfigOrExit();
const container = await buildContainer(config, { processName: 'projector' });
const logger = container.get(TOKENS.Logger);

try {
  // what the consumers count lives in this process's registry, so it is scraped here, not from the API; started
  // first, so a port already taken stops the process before it migrates or takes consumers
  const metricsListener =
    config.METRICS_PORT === undefined
      ? undefined
      : await startMetricsListener(container.get(TOKENS.Metrics), { host: config.HOST, port: config.METRICS_PORT, opsToken: config.OPS_TOKEN });
  if (metricsListener) logger.info({ url: `${metricsListener.url}/metrics` }, 'projector metrics listening');
  const knex = container.get(TOKENS.Knex);
  await prepareDatabase(config, knex, logger);
  // every consumer lock of this process on one connection; its application_name says which process runs a consumer (pg_locks)
  // (group: the projectors share the consumers out evenly, see docs/scaling.md)
  const locks = new LockKeeper(config.DATABASE_URL, { applicationName: `projector ${hostname()} ${process.pid}`, group: 'projector', logger });
  const deps = {
    store: container.get(TOKENS.EventStore),
    knex,
    databaseUrl: config.DATABASE_URL,
    logger,
    locks,
    metrics: consumerMetrics(container.get(TOKENS.Metrics)),
  };
  // The process managers (src/process-managers: pm-…) run here beside the
  // projections: each is a Consumer with its own checkpoint and advisory lock,
  // driven by the same ConsumerRunner, so one projector process hosts both.
  const automation = consumerCatalogue(container, config);
  const consumers = automation.consumers;
  const runners = consumers.map((consumer) => new ConsumerRunner(deps, consumer, { maxAttempts: config.CONSUMER_MAX_ATTEMPTS }));
  // A projection version with no tables of its own yet (a version bump) waits
  // until `projections rebuild <name>` has built and swapped it in.
  let stopping = false;
  const gate = async (consumer: (typeof consumers)[number], i: number) => {
    for (;;) {
      const serving = await awaitingRebuild(knex, consumer.name);
      if (serving === null || stopping) break;
      logger.warn(
        { projection: consumer.name, serving },
        `${consumer.name} waits for \`npm run cli -- projections rebuild ${consumer.name}\` (${serving} serves its tables until then)`,
      );
      await new Promise((resolve) => setTimeout(resolve, 10_000).unref());
    }
    if (!stopping) runners[i]!.start();
  };
  consumers.forEach(
    (consumer, i) =>
      void gate(consumer, i).catch((error: unknown) => {
        logger.error({ err: error, consumer: consumer.name }, 'could not check for a pending version rebuild; starting the consumer');
        if (!stopping) runners[i]!.start();
      }),
  );
  // Time-driven work: expiries (deadlines the pm-deadlines consumer wrote) and housekeeping.
  const sweeper = new DeadlineSweeper({
    knex,
    actions: deadlineActionsFromConfig(deps.store, config, logger),
    logger,
    intervalMs: config.DEADLINE_SWEEP_INTERVAL_MS,
  });
  sweeper.start();
  // the queue blockage detector: one projector at a time runs it (an advisory lock through the same keeper)
  const blockage = startQueueBlockageDetector({ config, store: deps.store, redis: container.get(TOKENS.Redis), locks, logger });
  const pruning = every(
    60 * 60 * 1000,
    'pruning expired idempotency keys',
    async () => {
      const removed = await pruneIdempotencyKeys(knex);
      if (removed > 0) logger.info({ removed }, 'expired idempotency keys pruned');
    },
    logger,
  );
  // Events past their stream's maxAge (finished executions' items) leave the Postgres event store for good
  // (EventStoreDB deletes them in its own scavenge).
  const scavenging =
    deps.store.kind === 'postgres'
      ? every(60 * 60 * 1000, 'scavenging expired events', () => runScavenge({ knex, store: deps.store, logger }), logger)
      : undefined;
  // Nothing else need keep the process alive when every consumer idles, and a
  // supervisor (compose, scripts/up.sh) expects it to stay up.
  const keepAlive = setInterval(() => {}, 1 << 30);
  logger.info({ consumers: consumers.map((c) => c.name) }, `projector started with ${runners.length} consumer(s) (projections and process managers)`);

  stopOnSignal(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
    clearInterval(keepAlive);
    stopping = true;
    await Promise.all([
      metricsListener?.close(),
      sweeper.stop(),
      blockage.stop(),
      pruning.stop(),
      scavenging?.stop(),
      ...runners.map((runner) => runner.stop()),
    ]);
    await Promise.all([automation.close(), locks.close()]);
    await disposeContainer(container);
  });
} catch (error) {
  logger.fatal({ err: error }, 'projector failed to start');
  process.exit(1);
}
