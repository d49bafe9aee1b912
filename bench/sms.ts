/**
 * SMS benchmark: `npm run bench:sms [-- --json]`. Progress goes to stderr,
 * the tables (or JSON) to stdout.
 *
 * Everything real but the handsets: messages requested through the
 * application's requestSms (as POST /api/v1/sms/messages records them), the
 * real pm-sms-messages queueing `sms-send` jobs in bulk, the worker's
 * sms-send processor sending each through the HTTP adapter to the sandbox
 * provider (sandbox/sms-provider, in a process of its own: our HMAC
 * verified, its Ed25519 answer verified), the sandbox posting each signed
 * receipt to the API's callback route (signature, nonce, SmsDelivered). The
 * clock runs from the first request to the last receipt recorded; beside
 * it, the requests alone, one message's latency (request → delivered), and
 * the platform process's CPU per message.
 * Target: ≥ 500 messages/s through the whole loop. Fresh database
 * `bench_sms`, a queue prefix of its own in REDIS_URL.
 *
 * Env: BENCH_SMS (messages, default 10000), BENCH_SMS_CONCURRENCY (requests
 * at once, default 32), BENCH_SMS_WORKERS (sms-send jobs at once, default
 * 64), BENCH_SMS_RECEIPT_DELAY_MS (the provider's delay before a receipt,
 * default 1000: receipts come seconds after the send), BENCH_SMS_RECEIPT_BATCH
 * (receipts per callback request, as a provider gathers them, default 100;
 * 1: one request each), BENCH_PG, REDIS_URL.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { Queue } from 'bullmq';
import { closeServer, listen } from '../src/adapters/http/server.js';
import { BullMqSmsSendOutbox, smsSendRetryPolicy } from '../src/adapters/queue/sms-send-queue.js';
import { QUEUE_NAMES } from '../src/adapters/queue/queues.js';
import { createApiApp } from '../src/api-app.js';
import { requestSms } from '../src/application/sms.js';
import { loadConfig } from '../src/config.js';
import { ConsumerRunner } from '../src/consumers/consumer-runner.js';
import { buildContainer, disposeContainer } from '../src/container.js';
import { smsSendProcessor } from '../src/main/sms-send-processor.js';
import { startWorker } from '../src/main/worker.js';
import { createSmsMessages } from '../src/process-managers/sms-messages.js';
import { TOKENS } from '../src/tokens.js';
import { generateSmsCredentials, generateSmsProviderKeys, smsPlatformEnv } from '../sandbox/sms-provider/keys.js';
import { migrate, recreateDatabase } from './lib/db.js';
import { envNumber } from './lib/env.js';
import { fmtMs, fmtRate, fmtRatio, renderTable } from './lib/table.js';
import { progress } from './lib/timing.js';

export const TARGET_SMS_PER_SECOND = 500;

const asJson = process.argv.includes('--json');
const count = Math.round(envNumber('BENCH_SMS', 10_000, { integer: true }));
const concurrency = Math.round(envNumber('BENCH_SMS_CONCURRENCY', 32, { integer: true }));
const workers = Math.round(envNumber('BENCH_SMS_WORKERS', 64, { integer: true }));
const receiptDelayMs = Math.round(envNumber('BENCH_SMS_RECEIPT_DELAY_MS', 1_000, { integer: true }));
const receiptBatchMax = Math.round(envNumber('BENCH_SMS_RECEIPT_BATCH', 100, { integer: true }));
const CALLBACK_HOST = 'sms-bench.test';
const NUMBERS = ['+8613800138000', '+8613912345678', '+85291234567', '+12025550123', '+819012345678', '+6591234567'];
const TEXTS = ['您的验证码是 482913，5 分钟内有效。', 'Your verification code is 482913.', '【示例】您预约的服务将于明天上午十点开始，请准时到达。'];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;
  await new Promise((done) => server.close(done));
  return port;
}

/** The sandbox provider in a child process; resolves with its URL once it listens. */
async function startSandboxProcess(options: Record<string, unknown>): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./lib/sms-sandbox-child.ts', import.meta.url).pathname], {
    env: { ...process.env, SMS_SANDBOX: JSON.stringify(options) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the sandbox exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('ready ')) resolve(line.slice('ready '.length));
    });
  });
  return {
    url,
    stop: () =>
      new Promise<void>((done) => {
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

async function main(): Promise<void> {
  const databaseUrl = await recreateDatabase('bench_sms');
  await migrate(databaseUrl);
  const credentials = generateSmsCredentials();
  const keys = generateSmsProviderKeys();
  const apiPort = await freePort();
  const sandbox = await startSandboxProcess({
    accounts: [credentials],
    keys,
    resolve: { [CALLBACK_HOST]: `http://127.0.0.1:${apiPort}` },
    receiptDelayMs,
    receiptBatchMax,
  });
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    QUEUE_PREFIX: `bench-sms-${randomUUID().slice(0, 8)}`,
    ...smsPlatformEnv({ credentials, keys, sandboxUrl: sandbox.url, callbackBaseUrl: `http://${CALLBACK_HOST}` }),
    SMS_WORKER_CONCURRENCY: String(workers),
    // the sending pipeline alone: no prepaid balance to charge, no organization pacing in the way
    SMS_CHARGE_LEDGER: 'false',
    SMS_SENDS_PER_ORGANIZATION_PER_MINUTE: '1000000',
    DB_POOL_SIZE: process.env.DB_POOL_SIZE ?? '30',
  });
  const container = await buildContainer(config, { processName: 'bench' });
  const store = container.get(TOKENS.EventStore);
  const knex = container.get(TOKENS.Knex);
  const server = await listen(createApiApp(container).callback(), '127.0.0.1', apiPort);
  const queue = new Queue(QUEUE_NAMES.smsSend, { connection: { url: config.REDIS_URL }, prefix: config.QUEUE_PREFIX });
  const pm = new ConsumerRunner(
    { store, knex, databaseUrl },
    createSmsMessages({ store, outbox: new BullMqSmsSendOutbox(queue as never, smsSendRetryPolicy(config)) }),
    { idleCheckpointMs: 100 },
  );
  const worker = await startWorker(container, { workerName: 'bench-sms', processors: [smsSendProcessor()] });
  pm.start();
  const outcomes = async () => Number((await knex('es_events').whereIn('event_type', ['SmsDelivered', 'SmsUndelivered']).count({ n: '*' }).first())?.n ?? 0);
  try {
    progress(
      `sms: ${count} messages, ${concurrency} requests at once, ${workers} sends at once (in batch calls), receipts ${receiptDelayMs} ms after the send, up to ${receiptBatchMax} per callback`,
    );
    const owners = Array.from({ length: 200 }, () => randomUUID());
    const limits = { hit: async () => ({ allowed: true, limit: Number.MAX_SAFE_INTEGER, retryAfterSeconds: 1 }) };
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < count; i = next++) {
          const userId = owners[i % owners.length]!;
          await requestSms(
            { store, now: () => new Date(), limits, defaultRegion: 'CN' },
            { userId, context: { correlationId: randomUUID(), causationId: randomUUID(), actor: userId } },
            { to: NUMBERS[i % NUMBERS.length]!, text: TEXTS[i % TEXTS.length]! },
          );
        }
      }),
    );
    const requestsDone = performance.now();
    progress(`sms: ${count} requested in ${((requestsDone - started) / 1000).toFixed(1)} s; waiting for the receipts`);
    let recorded = 0;
    let lastAt = performance.now();
    let progressAt = lastAt;
    for (let report = 0, before = 0; recorded < count; ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      recorded = await outcomes();
      lastAt = performance.now();
      if (recorded > before) [before, progressAt] = [recorded, lastAt];
      if (lastAt - started > (report + 1) * 5_000) progress(`sms: ${recorded}/${count} receipts recorded (${(report += 1) * 5} s)`);
      if (lastAt - progressAt > 60_000) throw new Error(`only ${recorded} of ${count} receipts recorded, none for a minute`);
    }
    const cpu = process.cpuUsage(cpuBefore);
    const seconds = (lastAt - started) / 1000;
    const perSecond = count / seconds;
    const requestsPerSecond = count / ((requestsDone - started) / 1000);
    // request → receipt recorded, per message, from the events' own times
    const latency = (
      await knex.raw(`
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS p95
        FROM (SELECT 1000 * extract(epoch FROM max(created_at) - min(created_at)) AS ms FROM es_events WHERE stream_name LIKE 'sms_message-%' GROUP BY stream_name) t`)
    ).rows[0] as { p50: number; p95: number };
    const atProvider = (await (await fetch(`${sandbox.url}/sandbox/messages`)).json()) as { clientRef: string }[];
    const sentTwice = atProvider.length - new Set(atProvider.map((m) => m.clientRef)).size;
    const cpuMsPerMessage = (cpu.user + cpu.system) / 1000 / count;
    const result = {
      messages: count,
      concurrency,
      workers,
      receiptDelayMs,
      requestsPerSecond,
      deliveredPerSecond: perSecond,
      latencyP50Ms: Number(latency.p50),
      latencyP95Ms: Number(latency.p95),
      platformCpuMsPerMessage: cpuMsPerMessage,
      sentTwice,
      target: { wanted: `>= ${TARGET_SMS_PER_SECOND} messages/s requested → delivered`, met: perSecond >= TARGET_SMS_PER_SECOND && sentTwice === 0 },
    };
    if (asJson) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    console.log(`\nSMS (${fmtRate(count)} messages: requested → pm-sms-messages → sms-send job → the sandbox provider → its signed receipt → SmsDelivered):\n`);
    console.log(
      renderTable(
        ['figure', 'per second', 'vs the loop'],
        [
          ['requested → delivered, the whole loop', fmtRate(perSecond), '1.00×'],
          [`requests recorded (requestSms, c=${concurrency})`, fmtRate(requestsPerSecond), fmtRatio(requestsPerSecond, perSecond)],
        ],
      ),
    );
    console.log(
      `\none message, request → receipt recorded: p50 ${fmtMs(result.latencyP50Ms)} ms, p95 ${fmtMs(result.latencyP95Ms)} ms (the provider waits ${receiptDelayMs} ms); ` +
        `the platform process: ${cpuMsPerMessage.toFixed(2)} ms CPU per message (one core: ≤ ${fmtRate(1000 / cpuMsPerMessage)}/s); sent twice: ${sentTwice}\n`,
    );
    console.log(
      renderTable(
        ['target', 'wanted', 'got', 'met'],
        [['messages/s requested → delivered', `≥ ${fmtRate(TARGET_SMS_PER_SECOND)}`, fmtRate(perSecond), result.target.met ? 'yes' : 'NO']],
      ),
    );
  } finally {
    await pm.stop();
    await worker.stop({ timeoutMs: 2_000 });
    await sandbox.stop();
    await closeServer(server.server);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await disposeContainer(container);
  }
}

await main();
