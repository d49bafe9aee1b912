import type { Job, Queue } from 'bullmq';
import type { Knex } from 'knex';
import { reconcilePayments, type ReconcileReport } from '../../application/payments.js';
import type { EventStore } from '../../event-store/port.js';
import type { Logger } from '../../logger.js';
import type { PaymentProviders } from '../../application/ports/payment-providers.js';

/**
 * The payments reconcile job on the `maintenance` queue (the worker runs it;
 * src/application/payments.ts reconcilePayments does the work):
 *
 * - job name `payments-reconcile`, made by the job scheduler
 *   `payments-reconcile-every` every PAYMENT_RECONCILE_INTERVAL_MS; every
 *   worker start upserts it (one scheduler, one pending job), and a worker
 *   with no provider configured removes it;
 * - one attempt per run: a failed run is harmless (each order's outcome is
 *   recorded by itself, a repeat is a no-op) and the next run comes anyway;
 * - the return value is the run's report (kept a day, BullMQ UI).
 */

export const PAYMENTS_RECONCILE_JOB_NAME = 'payments-reconcile';
export const PAYMENTS_RECONCILE_SCHEDULER_ID = 'payments-reconcile-every';

/** Creates or updates the reconcile scheduler (idempotent); with no provider configured, removes it. */
export async function upsertPaymentsReconcileScheduler(queue: Queue, options: { everyMs: number; enabled: boolean }): Promise<void> {
  if (!options.enabled) {
    await queue.removeJobScheduler(PAYMENTS_RECONCILE_SCHEDULER_ID);
    return;
  }
  await queue.upsertJobScheduler(
    PAYMENTS_RECONCILE_SCHEDULER_ID,
    { every: options.everyMs },
    {
      name: PAYMENTS_RECONCILE_JOB_NAME,
      data: {},
      opts: { attempts: 1, removeOnComplete: { age: 86_400, count: 1_000 }, removeOnFail: { age: 7 * 86_400 } },
    },
  );
}

export interface PaymentsReconcileJobDeps {
  knex: Knex;
  store: EventStore;
  providers: PaymentProviders;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  minAgeSeconds: number;
  batch: number;
  now?: () => Date;
}

/** The handler the maintenance worker runs for `payments-reconcile` jobs. */
export function paymentsReconcileProcessor(deps: PaymentsReconcileJobDeps) {
  return async (_job: Job): Promise<ReconcileReport> =>
    reconcilePayments(
      {
        knex: deps.knex,
        store: deps.store,
        providers: deps.providers,
        ...(deps.logger ? { logger: deps.logger } : {}),
        ...(deps.now ? { now: deps.now } : {}),
      },
      { minAgeSeconds: deps.minAgeSeconds, batch: deps.batch },
    );
}
