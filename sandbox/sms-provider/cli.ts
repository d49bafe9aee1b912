import { parseArgs } from 'node:util';
import { generateSmsCredentials, generateSmsProviderKeys, smsPlatformEnv } from './keys.js';
import { startSmsSandbox } from './server.js';

/**
 * `npx tsx sandbox/sms-provider/cli.ts [--port 4020] [--host 127.0.0.1]
 *   [--callback-base http://127.0.0.1:3000] [--receipt-delay-ms 500] [--failure-rate 0.1]`
 *
 * Starts the SMS sandbox with a fresh API key and secret and a fresh
 * provider key pair, and prints the platform's environment for it
 * (src/config.ts names) on stdout: source it into the API and the worker,
 * and every SMS goes to the sandbox, whose receipts and inbound messages
 * come back to --callback-base. `POST /sandbox/inbound {from, to, text}`
 * makes a handset send one of our numbers a message; `GET /sandbox/messages`
 * and `GET /sandbox/deliveries` show what was sent and posted back.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4020' },
    host: { type: 'string', default: '127.0.0.1' },
    'callback-base': { type: 'string', default: 'http://127.0.0.1:3000' },
    'receipt-delay-ms': { type: 'string', default: '500' },
    'failure-rate': { type: 'string', default: '0' },
    quiet: { type: 'boolean', default: false },
  },
});

const credentials = generateSmsCredentials();
const keys = generateSmsProviderKeys();
const callbackBaseUrl = values['callback-base'].replace(/\/+$/, '');
const sandbox = await startSmsSandbox({
  host: values.host,
  port: Number(values.port),
  accounts: [credentials],
  keys,
  inboundUrl: `${callbackBaseUrl}/api/v1/sms/callbacks/inbound`,
  settings: { receiptDelayMs: Number(values['receipt-delay-ms']), failureRate: Number(values['failure-rate']) },
  log: values.quiet ? undefined : (line) => console.error(`[sms-sandbox] ${line}`),
});

console.error(`sms sandbox listening on ${sandbox.url}; the platform environment for it (stdout):`);
for (const [name, value] of Object.entries(smsPlatformEnv({ credentials, keys, sandboxUrl: sandbox.url, callbackBaseUrl }))) console.log(`${name}="${value}"`);

const stop = async () => {
  await sandbox.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
