import { smsChannelFromConfig } from '../adapters/sms/from-config.js';
import { QUEUE_NAMES } from '../adapters/queue/queues.js';
import { WorkerRuntime } from '../adapters/queue/worker-runtime.js';
import type { SmsSendJobData } from '../process-managers/sms-ports.js';
import { TOKENS } from '../tokens.js';
import { createSmsSendDeadLetter, createSmsSendJobHandler, type SmsSendJobDeps, type SmsSendOutcome } from '../worker/sms-send-job.js';
// types only: worker.ts imports this module
import type { ProcessorFactory } from './worker.js';

/**
 * The `sms-send` queue in the worker: SMS sent through the provider
 * (src/worker/sms-send-job.ts), SMS_WORKER_CONCURRENCY at once per process
 * (HTTP calls, no browser). Where the provider is not configured the
 * processor takes no jobs (and nothing queues any: the API answers 503).
 */
export function smsSendProcessor(options: { lockDurationMs?: number; stalledIntervalMs?: number } = {}): ProcessorFactory {
  return (ctx) => {
    const { container, config, logger } = ctx;
    const channel = smsChannelFromConfig(config);
    if (!channel) {
      return {
        name: QUEUE_NAMES.smsSend,
        start: async () => logger.info('sms-send: SMS is not configured here; no jobs taken'),
        stop: async () => undefined,
      };
    }
    const deps: SmsSendJobDeps = {
      store: container.get(TOKENS.EventStore),
      provider: channel.provider,
      // opens the sealed body of one-time code messages
      secretBox: container.get(TOKENS.SecretBox),
      workerName: ctx.workerName,
      logger,
    };
    const runtime = new WorkerRuntime<SmsSendJobData, SmsSendOutcome>({
      factory: ctx.factory,
      queue: QUEUE_NAMES.smsSend,
      handler: createSmsSendJobHandler(deps),
      concurrency: config.SMS_WORKER_CONCURRENCY,
      onDeadLetter: createSmsSendDeadLetter(deps),
      logger,
      redis: container.get(TOKENS.Redis),
      ...(options.lockDurationMs ? { lockDurationMs: options.lockDurationMs } : {}),
      ...(options.stalledIntervalMs ? { stalledIntervalMs: options.stalledIntervalMs } : {}),
    });
    return {
      name: QUEUE_NAMES.smsSend,
      start: () => runtime.start(),
      async stop(graceMs) {
        const report = await runtime.stop({ timeoutMs: graceMs });
        if (report.released.length > 0) logger.info({ released: report.released }, 'sms-send jobs released');
      },
    };
  };
}
