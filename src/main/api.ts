import { closeServer, listen } from '../adapters/http/server.js';
import { createApiApp } from '../api-app.js';
import { buildContainer, disposeContainer } from '../container.js';
import { TOKENS } from '../tokens.js';
import { checkPasswordHasherOrExit, loadConfigOrExit, prepareDatabase, warnIfDevelopment } from './boot.js';
import { stopOnSignal } from './shutdown.js';

const config = loadConfigOrExit();
checkPasswordHasherOrExit();
warnIfDevelopment(config);
const container = await buildContainer(config, { processName: 'api' });
const logger = container.get(TOKENS.Logger);

try {
  await prepareDatabase(config, container.get(TOKENS.Knex), logger);
  const { server, url } = await listen(createApiApp(container).callback(), config.HOST, config.PORT);
  console.log(`API listening on ${url}`);
  logger.info({ url, eventStore: container.get(TOKENS.EventStore).kind }, 'api started');

  stopOnSignal(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
    await closeServer(server);
    await disposeContainer(container);
  });
} catch (error) {
  logger.fatal({ err: error }, 'api failed to start');
  process.exit(1);
}
