import type { Job } from 'bullmq';
import { createMaintenanceQueue, createMaintenanceWorker, upsertRetentionScheduler } from '../adapters/queue/maintenance.js';
import { REBUILD_JOB_NAME, rebuildProcessor } from '../adapters/queue/rebuild-job.js';
import { PAYMENTS_RECONCILE_JOB_NAME, paymentsReconcileProcessor, upsertPaymentsReconcileScheduler } from '../adapters/queue/payments-reconcile.js';
import { paymentProvidersFromConfig } from '../adapters/payments/from-config.js';
import { httpProxyProber } from '../adapters/proxies/prober.js';
import { createProxyHealthWorker, scheduleProxyHealth } from '../adapters/queue/proxy-health-worker.js';
import { QUEUE_NAMES, type ProxyHealthJobData } from '../adapters/queue/queues.js';
import { createWorkflowTickWorker } from '../adapters/queue/workflow-tick-worker.js';
import { createMailWorker } from '../adapters/queue/mail-queue.js';
import { TOKENS } from '../tokens.js';
// types only: worker.ts imports this module, and a runtime cycle with its top-level await would deadlock
import type { ProcessorFactory } from './worker.js';

/**
 * The queues `npm run worker` takes jobs from, beside scraping:
 * - workflow-tick: each scheduled workflow's tick becomes one execution request;
 * - proxy-health: every proxy probed through itself each PROXY_HEALTH_INTERVAL_MS;
 * - maintenance: the daily retention job (04:00 in QUOTA_TIME_ZONE),
 *   projection rebuilds started from the console, and the payments
 *   reconcile job (every PAYMENT_RECONCILE_INTERVAL_MS);
 * - mail: the outbox the process managers queue mail into, sent through
 *   the SMTP relay (SMTP_URL) with back-off while it is down.
 * The repeating ones upsert their job schedulers at start (idempotent), so any
 * worker process keeps them in place.
 */

export function workflowTickProcessor(): ProcessorFactory {
  return (ctx) => {
    const runtime = createWorkflowTickWorker({
      factory: ctx.factory,
      deps: { store: ctx.container.get(TOKENS.EventStore), knex: ctx.container.get(TOKENS.Knex), now: () => new Date() },
      logger: ctx.logger,
    });
    return { name: QUEUE_NAMES.workflowTick, start: () => runtime.start(), stop: async (graceMs) => void (await runtime.stop({ timeoutMs: graceMs })) };
  };
}

export function proxyHealthProcessor(): ProcessorFactory {
  return (ctx) => {
    const { container, config, logger } = ctx;
    const runtime = createProxyHealthWorker({
      factory: ctx.factory,
      logger,
      deps: {
        store: container.get(TOKENS.EventStore),
        knex: container.get(TOKENS.Knex),
        secretBox: container.get(TOKENS.SecretBox),
        thresholds: { failure: config.PROXY_FAILURE_THRESHOLD, recovery: config.PROXY_RECOVERY_THRESHOLD },
        target: config.PROXY_HEALTH_TARGET_URL,
        prober: httpProxyProber,
      },
    });
    const queue = ctx.factory.queue<ProxyHealthJobData>(QUEUE_NAMES.proxyHealth);
    return {
      name: QUEUE_NAMES.proxyHealth,
      async start() {
        await scheduleProxyHealth(queue, config.PROXY_HEALTH_INTERVAL_MS);
        await runtime.start();
      },
      async stop(graceMs) {
        await runtime.stop({ timeoutMs: graceMs });
        await queue.close();
      },
    };
  };
}

export function maintenanceProcessor(): ProcessorFactory {
  return (ctx) => {
    const { container, config, logger } = ctx;
    const queue = createMaintenanceQueue(ctx.factory);
    let worker: ReturnType<typeof createMaintenanceWorker> | undefined;
    return {
      name: 'maintenance',
      async start() {
        await upsertRetentionScheduler(queue, { timeZone: config.QUOTA_TIME_ZONE });
        const providers = paymentProvidersFromConfig(config);
        await upsertPaymentsReconcileScheduler(queue as never, { everyMs: config.PAYMENT_RECONCILE_INTERVAL_MS, enabled: Object.keys(providers).length > 0 });
        const knex = container.get(TOKENS.Knex);
        const store = container.get(TOKENS.EventStore);
        const ops = { store, knex, databaseUrl: config.DATABASE_URL, timeZone: config.QUOTA_TIME_ZONE, logger };
        worker = createMaintenanceWorker(
          ctx.factory,
          { knex, store, logger },
          {
            [REBUILD_JOB_NAME]: rebuildProcessor(ops) as (job: Job) => Promise<unknown>,
            [PAYMENTS_RECONCILE_JOB_NAME]: paymentsReconcileProcessor({
              knex,
              store,
              providers,
              logger,
              minAgeSeconds: config.PAYMENT_RECONCILE_MIN_AGE_SECONDS,
              batch: config.PAYMENT_RECONCILE_BATCH,
            }),
          },
        );
      },
      async stop() {
        // a retention run is a series of short deletes: closing waits for the current one
        await worker?.close();
        await queue.close();
      },
    };
  };
}

export function mailProcessor(): ProcessorFactory {
  return (ctx) => {
    const { container, config, logger } = ctx;
    let worker: ReturnType<typeof createMailWorker> | undefined;
    return {
      name: QUEUE_NAMES.mail,
      async start() {
        worker = createMailWorker(ctx.factory, {
          store: container.get(TOKENS.EventStore),
          mailer: container.get(TOKENS.Mailer),
          webUrl: config.PUBLIC_WEB_URL,
          timeZone: config.QUOTA_TIME_ZONE,
          logger,
          verification: { secretBox: container.get(TOKENS.SecretBox), webUrl: config.PUBLIC_WEB_URL, ttlMinutes: config.EMAIL_VERIFICATION_TTL_HOURS * 60 },
          reset: { secretBox: container.get(TOKENS.SecretBox), webUrl: config.PUBLIC_WEB_URL, ttlMinutes: config.PASSWORD_RESET_TTL_MINUTES },
          // scheduled reports: the file read from report_files, mailed to the account's own (verified) address
          reports: { knex: container.get(TOKENS.Knex), emailVerification: config.EMAIL_VERIFICATION },
          // organizations' invitations: the link to PUBLIC_WEB_URL/invitations/accept
          invitations: { secretBox: container.get(TOKENS.SecretBox), webUrl: config.PUBLIC_WEB_URL },
        });
      },
      async stop() {
        // a send in flight finishes (the mailer bounds it); the rest stay queued
        await worker?.close();
      },
    };
  };
}
