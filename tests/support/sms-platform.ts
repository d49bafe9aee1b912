import { randomUUID } from 'node:crypto';
import { LedgerWriter } from '../../src/application/ledger/writer.js';
import { smsSendProcessor } from '../../src/main/sms-send-processor.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { generateSmsCredentials, generateSmsProviderKeys, smsPlatformEnv, type SmsCredentials, type SmsProviderKeys } from '../../sandbox/sms-provider/keys.js';
import { startSmsSandbox, type SmsSandbox } from '../../sandbox/sms-provider/server.js';
import { startPlatform, type Platform } from './platform.js';

/**
 * The platform wired to the SMS provider sandbox, as the SMS e2e tests run
 * it: the sandbox (fast receipts, time scaled down), the whole platform with
 * the sandbox's credentials and keys, the callback host the provider was
 * given resolving to this platform, and (unless `worker: false`) an
 * sms-send worker.
 */
export interface SmsPlatform {
  sandbox: SmsSandbox;
  platform: Platform;
  credentials: SmsCredentials;
  keys: SmsProviderKeys;
  /** the host the provider calls back (receipts, inbound messages), resolved to the platform */
  callbackHost: string;
  worker: RunningWorker | undefined;
  /** starts the sms-send worker now (for a test that first wants messages to stay pending) */
  startWorker(): Promise<RunningWorker>;
  stop(): Promise<void>;
}

export interface SmsPlatformOptions {
  /** environment beside the SMS settings (SMS_SEND_BACKOFF_MS is 100 unless given) */
  config?: Record<string, string>;
  /** start the sms-send worker with the platform; default true */
  worker?: boolean;
  /** the sandbox posts inbound messages to the platform; default true */
  inbound?: boolean;
  /** names the worker and the callback host in logs */
  name?: string;
}

export async function startSmsPlatform(options: SmsPlatformOptions = {}): Promise<SmsPlatform> {
  const name = options.name ?? 'sms';
  const callbackHost = `${name}-callbacks.test`;
  const credentials = generateSmsCredentials();
  const keys = generateSmsProviderKeys();
  const sandbox = await startSmsSandbox({
    accounts: [credentials],
    keys,
    ...(options.inbound === false ? {} : { inboundUrl: `http://${callbackHost}/api/v1/sms/callbacks/inbound` }),
    settings: { receiptDelayMs: 50 },
    timeScale: 0.01,
  });
  let platform: Platform;
  try {
    platform = await startPlatform({
      proxies: 0,
      config: {
        ...smsPlatformEnv({ credentials, keys, sandboxUrl: sandbox.url, callbackBaseUrl: `http://${callbackHost}` }),
        SMS_SEND_BACKOFF_MS: '100',
        ...options.config,
      },
    });
  } catch (error) {
    await sandbox.stop();
    throw error;
  }
  sandbox.resolve.set(callbackHost, platform.url);
  const running: SmsPlatform = {
    sandbox,
    platform,
    credentials,
    keys,
    callbackHost,
    worker: undefined,
    async startWorker() {
      running.worker ??= await startWorker(platform.container, {
        workerName: `${name}-${randomUUID().slice(0, 6)}`,
        processors: [smsSendProcessor({ lockDurationMs: 5_000, stalledIntervalMs: 2_000 })],
      });
      return running.worker;
    },
    async stop() {
      await running.worker?.stop({ timeoutMs: 2_000 });
      await sandbox.stop();
      await platform.stop();
    },
  };
  if (options.worker !== false) await running.startWorker();
  return running;
}

/** A top-up of a user's prepaid balance, by a ledger writer of its own (as another process, the projector's pm-ledger-deposits, would). */
export async function depositFor(platform: Platform, userId: string, amountCents: number): Promise<void> {
  const writer = new LedgerWriter(platform.store, { timeZone: platform.config.QUOTA_TIME_ZONE });
  const outcome = await writer.submit({
    kind: 'deposit',
    holder: { kind: 'user', id: userId },
    orderId: randomUUID(),
    provider: 'test',
    amountCents,
    reason: 'test top-up',
    context: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' },
  });
  if (outcome.status !== 'posted') throw new Error(`the deposit was not posted: ${outcome.status}`);
}
