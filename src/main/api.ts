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
  const app = createApiApp(container);
  const { server, url } = await listen(app.callback(), config.HOST, config.PORT);
  console.log(`API listening on ${url}`);
  logger.info({ url, eventStore: container.get(TOKENS.EventStore).kind }, 'api started');

  stopOnSignal(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
    // long-lived responses (the live queue stats) end first, or the server would wait for them
    app.emit('closing');
    await closeServer(server);
    await disposeContainer(container);
  });
} catch (error) {
  logger.fatal({ err: error }, 'api failed to start');
  process.exit(1);
}
