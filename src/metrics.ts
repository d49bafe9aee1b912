import type { Knex } from 'knex';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export type { Registry };

/**
 * One registry per process, served at /metrics. A registry of our own rather
 * than prom-client's global one, so tests can build several apps in one process.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** What the consumer runner counts, per consumer (a projection or process manager). */
export interface ConsumerMetrics {
  /** handler failures: kind `event` (counts toward parking the event) or `transient` (connection, deadlock, timeout, fenced) */
  failures: Counter<'consumer' | 'kind'>;
  /** events parked in consumer_dead_letters after their retry budget */
  parked: Counter<'consumer'>;
  /** 1 while this process holds the consumer's advisory lock (runs it) */
  lockHeld: Gauge<'consumer'>;
}

/** The consumer metrics of a registry (created once per registry). */
export function consumerMetrics(registry: Registry): ConsumerMetrics {
  const get = <T>(name: string, create: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? create();
  return {
    failures: get(
      'consumer_handler_failures_total',
      () =>
        new Counter({
          name: 'consumer_handler_failures_total',
          help: 'Batches or events a consumer failed to handle, by kind (event: counts toward parking it; transient: retried without counting)',
          labelNames: ['consumer', 'kind'] as const,
          registers: [registry],
        }),
    ),
    parked: get(
      'consumer_events_parked_total',
      () =>
        new Counter({
          name: 'consumer_events_parked_total',
          help: 'Events parked in consumer_dead_letters after their retry budget (the consumer moved on without them)',
          labelNames: ['consumer'] as const,
          registers: [registry],
        }),
    ),
    lockHeld: get(
      'consumer_lock_held',
      () =>
        new Gauge({
          name: 'consumer_lock_held',
          help: "1 while this process holds the consumer's advisory lock and runs it",
          labelNames: ['consumer'] as const,
          registers: [registry],
        }),
    ),
  };
}

/**
 * `consumer_dead_letters_parked{consumer}`: the events parked now, read from
 * the table when scraped, so any process's /metrics shows every projector's.
 */
export function deadLetterMetrics(registry: Registry, knex: Knex): void {
  const name = 'consumer_dead_letters_parked';
  if (registry.getSingleMetric(name)) return;
  new Gauge({
    name,
    help: 'Events parked in consumer_dead_letters (status parked), per consumer',
    labelNames: ['consumer'] as const,
    registers: [registry],
    async collect() {
      const rows = (await knex('consumer_dead_letters')
        .select('consumer')
        .count<{ consumer: string; count: string }[]>('* as count')
        .where({ status: 'parked' })
        .groupBy('consumer')
        .catch(() => undefined)) as { consumer: string; count: string }[] | undefined;
      // the database did not answer: the last counts stay, rather than every series vanishing as if nothing were parked
      if (!rows) return;
      this.reset();
      for (const row of rows) this.set({ consumer: row.consumer }, Number(row.count));
    },
  });
}
