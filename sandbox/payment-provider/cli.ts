import { parseArgs } from 'node:util';
import { generateMerchant, generateProviderKeys, platformEnv, registrationOf } from './keys.js';
import { startPaymentSandbox } from './server.js';

/**
 * `npx tsx sandbox/payment-provider/cli.ts [--port 4010] [--host 127.0.0.1]
 *   [--notify-base http://127.0.0.1:3000] [--time-scale 1] [--refund-settle-ms 3000]`
 *
 * Starts the payment sandbox with a fresh merchant and fresh provider keys,
 * and prints the platform's environment for it (src/config.ts names): source
 * it into the API, projector and worker, and every order is placed with the
 * sandbox, whose notifications come back to --notify-base. Open an order's
 * pay_url in a browser (Alipay cashier), or GET /sandbox/wechat/scan/{pr} for a
 * WeChat code_url `weixin://wxpay/bizpayurl?pr={pr}`, and pay.
 * GET /sandbox/deliveries lists the notifications sent and their answers.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4010' },
    host: { type: 'string', default: '127.0.0.1' },
    'notify-base': { type: 'string', default: 'http://127.0.0.1:3000' },
    'time-scale': { type: 'string', default: '1' },
    'refund-settle-ms': { type: 'string', default: '3000' },
    quiet: { type: 'boolean', default: false },
  },
});

const merchant = generateMerchant();
const keys = generateProviderKeys();
const sandbox = await startPaymentSandbox({
  host: values.host,
  port: Number(values.port),
  merchant: registrationOf(merchant),
  keys,
  timeScale: Number(values['time-scale']),
  refundSettleMs: Number(values['refund-settle-ms']),
  log: values.quiet ? undefined : (line) => console.error(`[payment-sandbox] ${line}`),
});

const env = platformEnv({ merchant, keys, sandboxUrl: sandbox.url, notifyBaseUrl: values['notify-base'] });
console.error(`payment sandbox listening on ${sandbox.url} (Alipay gateway ${sandbox.alipayGatewayUrl}, WeChat Pay API ${sandbox.wechatApiUrl})`);
console.error('the platform environment for it (stdout):');
for (const [name, value] of Object.entries(env)) console.log(`${name}="${value}"`);

const stop = async () => {
  await sandbox.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
