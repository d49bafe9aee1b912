import { hostname } from 'node:os';
import type { Container } from 'inversify';
import type { ScheduleInterval } from '../../src/write-model/workflow/events.js';
import { closeServer, listen } from '../../src/adapters/http/server.js';
import { createApiApp } from '../../src/api-app.js';
import type { Config } from '../../src/config.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { LoggerOptions } from '../../src/logger.js';
import { buildProcessManagerWiring, deadlineActionsFromConfig } from '../../src/main/automation.js';
import { prepareDatabase } from '../../src/main/boot.js';
import { allProcessors, startWorker } from '../../src/main/worker.js';
import { consumerMetrics } from '../../src/metrics.js';
import { DeadlineSweeper, processManagers } from '../../src/process-managers/index.js';
import { createProjections } from '../../src/projections/index.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { LockKeeper } from '../../src/consumers/lock-keeper.js';
import { TOKENS } from '../../src/tokens.js';

/**
 * The platform in one process, each piece the real code the three processes
 * of `npm run up` run (src/main/api.ts, projector.ts, worker.ts): the API on
 * HOST:PORT, every projection and process manager under ConsumerRunner with
 * the deadline sweeper, and a worker taking every queue (scrape,
 * workflow-tick, proxy-health, maintenance, mail) with Chromium. One process
 * is all a demo needs, and it lets the sandbox change two things no
 * deployment can: interval schedules tick every few seconds (SANDBOX_INTERVALS_MS)
 * and the scrapers pause only briefly between requests (the sandbox sites
 * have no rate limits to respect).
 */

/** The sandbox clock: what `realtime`, `hourly` and `daily` schedules mean here. */
export const SANDBOX_INTERVALS_MS: Record<ScheduleInterval, number> = { realtime: 15_000, hourly: 20_000, daily: 30_000 };
/** Pause between platform requests of a scrape ([min, max] ms; the real sites get 1–5 s). */
const SANDBOX_REQUEST_DELAY_MS = [100, 300] as const;

export interface RunningPlatform {
  url: string;
  container: Container;
  stop(): Promise<void>;
}

export async function startPlatform(config: Config, options: { logDestination?: LoggerOptions['destination'] } = {}): Promise<RunningPlatform> {
  const container = await buildContainer(config, { processName: 'demo', ...options });
  const logger = container.get(TOKENS.Logger);
  const knex = container.get(TOKENS.Knex);
  const store = container.get(TOKENS.EventStore);
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (error) {
        logger.error({ err: error }, 'stopping a part of the demo platform failed');
      }
    }
    await disposeContainer(container);
  };

  try {
    await prepareDatabase(config, knex, logger);

    // the projector's part
    const locks = new LockKeeper(config.DATABASE_URL, { applicationName: `demo ${hostname()} ${process.pid}`, group: 'projector', logger });
    stops.push(() => locks.close());
    const automation = buildProcessManagerWiring(container, config, { intervals: SANDBOX_INTERVALS_MS });
    stops.push(() => automation.close());
    const deps = { store, knex, databaseUrl: config.DATABASE_URL, logger, locks, metrics: consumerMetrics(container.get(TOKENS.Metrics)) };
    const runners = [...createProjections({ timeZone: config.QUOTA_TIME_ZONE }), ...processManagers(automation.wiring)].map(
      (consumer) => new ConsumerRunner(deps, consumer, { maxAttempts: config.CONSUMER_MAX_ATTEMPTS }),
    );
    for (const runner of runners) runner.start();
    stops.push(() => Promise.all(runners.map((runner) => runner.stop())));
    const sweeper = new DeadlineSweeper({
      knex,
      actions: deadlineActionsFromConfig(store, config, logger),
      logger,
      intervalMs: config.DEADLINE_SWEEP_INTERVAL_MS,
    });
    sweeper.start();
    stops.push(() => sweeper.stop());

    // the worker's part: the sandbox is on 127.0.0.1, and nothing else may be fetched (images on CDNs)
    const worker = await startWorker(container, {
      workerName: `demo-${hostname()}-${process.pid}`,
      processors: allProcessors({ scraperTuning: { delayMs: SANDBOX_REQUEST_DELAY_MS }, context: { allowHosts: ['127.0.0.1'] } }),
    });
    stops.push(() => worker.stop({ timeoutMs: Math.floor(config.SHUTDOWN_TIMEOUT_MS * 0.6) }));

    // the API's part, last: once it answers, everything behind it runs
    const { server, url } = await listen(createApiApp(container).callback(), config.HOST, config.PORT);
    stops.push(() => closeServer(server));
    logger.info({ url }, 'demo platform started');
    let stopping: Promise<void> | undefined;
    return { url, container, stop: () => (stopping ??= stopAll()) };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
