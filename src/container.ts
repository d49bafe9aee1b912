import { Container } from 'inversify';
import type { Config } from './config.js';
import type { EventStore } from './event-store/index.js';
import { createLogger, type Logger, type LoggerOptions } from './logger.js';
import { createMetricsRegistry } from './metrics.js';
import { createKnex, type SessionLimits } from './adapters/db/knex.js';
import { closeRedis, createRedis } from './adapters/redis/redis.js';
import { createAccessTokens } from './adapters/auth/access-tokens.js';
import { createPasswordHasher } from './adapters/crypto/password-hasher.js';
import { createSecretBox } from './adapters/crypto/secret-box.js';
import { createSmtpMailer } from './adapters/mail/smtp-mailer.js';
import { mediaStorageFromConfig } from './adapters/media/from-config.js';
import { EventStoreMembershipDirectory } from './adapters/auth/membership-directory.js';
import { EventStoreLedgerCharges } from './application/ledger/charges.js';
import { ledgerWriterOf } from './application/ledger/writer.js';
import { TOKENS } from './tokens.js';
import { useStateCache } from './write-model/core/state-cache.js';

/**
 * The composition root. Everything is a lazy singleton: a process builds only
 * what it asks for, and `disposeContainer` closes only what was built.
 * No decorators: bindings are plain factories.
 */
export async function buildContainer(
  config: Config,
  options: { processName?: string; logDestination?: LoggerOptions['destination'] } = {},
): Promise<Container> {
  // logs go to stdout unless told otherwise (`npm run demo` writes them to a file, keeping its terminal for progress)
  const logger = createLogger(config, { name: options.processName, destination: options.logDestination });
  const createEventStore = await eventStoreFactory(config);
  const container = new Container();

  container.bind(TOKENS.Config).toConstantValue(config);
  container.bind(TOKENS.Logger).toConstantValue(logger);
  container.bind(TOKENS.Metrics).toDynamicValue(createMetricsRegistry).inSingletonScope();
  container
    .bind(TOKENS.Knex)
    .toDynamicValue(() => createKnex(config.DATABASE_URL, config.DB_POOL_SIZE, sessionLimits(config)))
    .inSingletonScope()
    .onDeactivation((knex) => closeQuietly(logger, 'knex', () => knex.destroy()));
  container
    .bind(TOKENS.EventStore)
    .toDynamicValue(createEventStore)
    .inSingletonScope()
    .onDeactivation((store) => closeQuietly(logger, `${store.kind} event store`, () => store.close()));
  container
    .bind(TOKENS.Redis)
    .toDynamicValue(() => createRedis(config.REDIS_URL, logger))
    .inSingletonScope()
    .onDeactivation((redis) => closeQuietly(logger, 'redis', () => closeRedis(redis)));

  container.bind(TOKENS.PasswordHasher).toConstantValue(createPasswordHasher(config));
  container.bind(TOKENS.AccessTokens).toConstantValue(createAccessTokens(config));
  container.bind(TOKENS.SecretBox).toConstantValue(createSecretBox(config));
  // lazy: the pool connects on the first send, so processes that never mail pay nothing
  container
    .bind(TOKENS.Mailer)
    .toDynamicValue(() => createSmtpMailer({ url: config.SMTP_URL, from: config.MAIL_FROM, logger }))
    .inSingletonScope()
    .onDeactivation((mailer) => closeQuietly(logger, 'mailer', () => mailer.close()));
  // lazy: opens nothing until asked for (a disk folder is made on the first write)
  container
    .bind(TOKENS.MediaStorage)
    .toDynamicValue(() => mediaStorageFromConfig(config))
    .inSingletonScope();
  // a user's organization and roles, from the event store (kept a second per user)
  container
    .bind(TOKENS.MembershipDirectory)
    .toDynamicValue((ctx) => new EventStoreMembershipDirectory(ctx.get(TOKENS.EventStore)))
    .inSingletonScope();
  // metered charges to prepaid balances: one group-commit writer per process and store (docs/ledger.md)
  container
    .bind(TOKENS.LedgerCharges)
    .toDynamicValue((ctx) => {
      const store = ctx.get(TOKENS.EventStore);
      const writer = ledgerWriterOf(store, { timeZone: config.QUOTA_TIME_ZONE });
      return new EventStoreLedgerCharges({ store, writer, memberships: ctx.get(TOKENS.MembershipDirectory) });
    })
    .inSingletonScope();

  return container;
}

/** Closes every connection the container opened (the knex pool, the event store, Redis). */
export async function disposeContainer(container: Container): Promise<void> {
  await container.unbindAllAsync();
}

/**
 * EventStoreDB when a connection string is set, else Postgres. Only the chosen
 * adapter's module is loaded: the EventStoreDB client brings gRPC with it.
 */
async function eventStoreFactory(config: Config): Promise<() => EventStore> {
  const withCache = (store: EventStore) => {
    useStateCache(store, config.STATE_CACHE_ENTRIES);
    return store;
  };
  const connectionString = config.EVENTSTORE_CONNECTION_STRING;
  if (connectionString) {
    const { createEventStoreDbEventStore } = await import('./adapters/event-store/eventstoredb/eventstoredb-event-store.js');
    const { PostgresSnapshotStore } = await import('./adapters/event-store/postgres/snapshot-store.js');
    // snapshots stay in Postgres, beside the read tables
    return () =>
      withCache(
        createEventStoreDbEventStore(connectionString, { snapshots: PostgresSnapshotStore.open(config.DATABASE_URL, 4, { asynchronousCommit: true }) }),
      );
  }
  const { createPostgresEventStore } = await import('./adapters/event-store/postgres/index.js');
  return () =>
    withCache(createPostgresEventStore({ connectionString: config.DATABASE_URL, poolSize: config.DB_POOL_SIZE, sessionLimits: sessionLimits(config) }));
}

/** One failing close must not keep the others from running. */
async function closeQuietly(logger: Logger, what: string, close: () => Promise<unknown>): Promise<void> {
  try {
    await close();
  } catch (error) {
    logger.error({ err: error }, `closing ${what} failed`);
  }
}

/** The database session limits every pool of the platform applies. */
export function sessionLimits(config: Config): SessionLimits {
  return { statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS, idleInTransactionTimeoutMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS };
}
