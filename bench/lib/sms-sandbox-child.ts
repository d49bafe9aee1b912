import { startSmsSandbox } from '../../sandbox/sms-provider/server.js';

/**
 * The SMS sandbox in a process of its own for bench/sms.ts: the provider is
 * not the platform's CPU. Its settings come as JSON in SMS_SANDBOX (accounts,
 * keys, resolve, receiptDelayMs, receiptBatchMax); it prints `ready <url>` once listening and
 * stops on SIGTERM.
 */
const options = JSON.parse(process.env.SMS_SANDBOX ?? '{}');
const sandbox = await startSmsSandbox({
  accounts: options.accounts,
  keys: options.keys,
  resolve: options.resolve,
  settings: { receiptDelayMs: options.receiptDelayMs, receiptBatchMax: options.receiptBatchMax ?? 1 },
});
console.log(`ready ${sandbox.url}`);
process.once('SIGTERM', () => {
  void sandbox.stop().then(() => process.exit(0));
});
