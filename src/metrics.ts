import { Registry, collectDefaultMetrics } from 'prom-client';

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
