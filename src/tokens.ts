import type { ServiceIdentifier } from 'inversify';
import type { Knex } from 'knex';
import type { Config } from './config.js';
import type { EventStore } from './event-store/index.js';
import type { Logger } from './logger.js';
import type { Registry } from './metrics.js';
import type { Redis } from './adapters/redis/redis.js';

/** Container keys. Typed, so `container.get(TOKENS.Knex)` is a Knex. */
export const TOKENS = {
  Config: Symbol('Config') as ServiceIdentifier<Config>,
  Logger: Symbol('Logger') as ServiceIdentifier<Logger>,
  Metrics: Symbol('Metrics') as ServiceIdentifier<Registry>,
  Knex: Symbol('Knex') as ServiceIdentifier<Knex>,
  EventStore: Symbol('EventStore') as ServiceIdentifier<EventStore>,
  Redis: Symbol('Redis') as ServiceIdentifier<Redis>,
} as const;
