import type { Container } from 'inversify';
import type { Config } from '../config.js';
import { processManagers } from '../process-managers/index.js';
import { createProjections } from '../projections/index.js';
import type { Consumer } from '../consumers/consumer.js';
import { buildProcessManagerWiring } from './automation.js';

export interface ConsumerCatalogue {
  /** the projections, then the process managers */
  consumers: Consumer[];
  find(name: string): Consumer | undefined;
  /** closes the process managers' queues */
  close(): Promise<void>;
}

/**
 * Every consumer the projector runs, with its real adapters (queues,
 * schedulers, mailer): the projector runs them, and a retry of a parked event
 * (CLI, console) handles it through the same code.
 */
export function consumerCatalogue(container: Container, config: Config): ConsumerCatalogue {
  const automation = buildProcessManagerWiring(container, config);
  const consumers = [...createProjections({ timeZone: config.QUOTA_TIME_ZONE }), ...processManagers(automation.wiring)];
  return {
    consumers,
    find: (name) => consumers.find((c) => c.name === name),
    close: () => automation.close(),
  };
}

/** Builds the catalogue for one piece of work and closes it afterwards. */
export async function withConsumerCatalogue<T>(container: Container, config: Config, run: (catalogue: ConsumerCatalogue) => Promise<T>): Promise<T> {
  const catalogue = consumerCatalogue(container, config);
  try {
    return await run(catalogue);
  } finally {
    await catalogue.close();
  }
}
