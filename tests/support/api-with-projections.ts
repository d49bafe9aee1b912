import type { Container } from 'inversify';
import type { Knex } from 'knex';
import type { AccessTokens } from '../../src/adapters/auth/access-tokens.js';
import type { PasswordHasher } from '../../src/adapters/crypto/password-hasher.js';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { createApiApp } from '../../src/api-app.js';
import type { Config } from '../../src/config.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/port.js';
import { createProjections } from '../../src/projections/index.js';
import { TOKENS } from '../../src/tokens.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';

export interface ApiWithProjections {
  config: Config;
  container: Container;
  store: EventStore;
  knex: Knex;
  running: RunningServer;
  /** what signedIn needs */
  deps(): { store: EventStore; passwordHasher: PasswordHasher; accessTokens: AccessTokens };
  stop(): Promise<void>;
}

/**
 * The API on a socket of its own with every projection following the store
 * (no process managers, no workers: lighter than startPlatform, on the test
 * database), for the sweeps that call many routes and read back what they
 * wrote. `config`: settings over the test configuration.
 */
export async function startApiWithProjections(config: Record<string, string> = {}): Promise<ApiWithProjections> {
  const settings = testConfig(config);
  const container = await buildContainer(settings);
  const store = container.get(TOKENS.EventStore);
  const knex = container.get(TOKENS.Knex);
  const runners: ConsumerRunner[] = [];
  let running: RunningServer | undefined;
  const stop = async () => {
    await Promise.all(runners.map((r) => r.stop()));
    if (running) await closeServer(running.server);
    await disposeContainer(container);
  };
  try {
    for (const projection of createProjections({ timeZone: settings.QUOTA_TIME_ZONE })) {
      const runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, projection, { idleCheckpointMs: 100, lockRetryMs: 100 });
      runners.push(runner);
      runner.start();
    }
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    config: settings,
    container,
    store,
    knex,
    running,
    deps: () => ({ store, passwordHasher: container.get(TOKENS.PasswordHasher), accessTokens: container.get(TOKENS.AccessTokens) }),
    stop,
  };
}
