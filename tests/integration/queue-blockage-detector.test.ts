import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { LockKeeper } from '../../src/consumers/lock-keeper.js';
import { startQueueBlockageDetector } from '../../src/main/queue-blockage.js';
import { testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';

/**
 * The detector as the projector runs it (behind its advisory lock, real
 * Postgres and Redis): a stop that comes while it is starting, as a SIGTERM
 * just after the projector started does, ends it at once rather than at the
 * shutdown timeout.
 */
describe('queue blockage detector: stopping', function () {
  this.timeout(30_000);
  let store: PostgresEventStore;
  let redis: Redis;
  let locks: LockKeeper;
  const config = { REDIS_URL: testRedisUrl, QUEUE_PREFIX: `qbd-${randomUUID().slice(0, 8)}`, QUEUE_BLOCKAGE_SECONDS: 300 };

  before(async () => {
    store = createPostgresEventStore({ connectionString: testDatabaseUrl });
    redis = new Redis(testRedisUrl);
    locks = new LockKeeper(testDatabaseUrl, { applicationName: 'queue-blockage-detector test', retryMs: 50 });
  });
  after(async () => {
    await locks?.close();
    redis?.disconnect();
    await store?.close();
  });

  const within = async (what: string, ms: number, done: Promise<void>) => {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), ms);
    });
    const outcome = await Promise.race([done.then(() => 'done' as const), late]);
    clearTimeout(timer);
    expect(outcome, `${what} (${Date.now() - started} ms)`).to.equal('done');
  };

  it('a stop asked for just as it starts running ends it at once', async () => {
    let stopped: Promise<void> | undefined;
    let detector: { stop(): Promise<void> } | undefined;
    const logger = {
      // the moment between its start and its wait for the end: the stop comes exactly there
      info: (_: unknown, message?: string) => {
        if (message === 'queue blockage detector running in this process') stopped = detector!.stop();
      },
      warn: () => {},
      error: () => {},
    };
    detector = startQueueBlockageDetector({ config, store, redis, locks, logger, names: ['reports'] });
    for (let i = 0; i < 200 && stopped === undefined; i++) await new Promise((r) => setTimeout(r, 25));
    expect(stopped, 'the detector started').to.not.equal(undefined);
    await within('stopped', 3_000, stopped!);
  });

  it('a stop before it holds its lock, and one while it runs, end it too', async () => {
    const quiet = { info: () => {}, warn: () => {}, error: () => {} };
    const early = startQueueBlockageDetector({ config, store, redis, locks, logger: quiet, names: ['reports'] });
    await within('stopped before its lock', 3_000, early.stop());
    let running = false;
    const later = startQueueBlockageDetector({
      config,
      store,
      redis,
      locks,
      logger: { ...quiet, info: () => void (running = true) },
      names: ['reports'],
    });
    for (let i = 0; i < 200 && !running; i++) await new Promise((r) => setTimeout(r, 25));
    expect(running, 'the detector started').to.equal(true);
    await within('stopped while running', 3_000, later.stop());
  });
});
