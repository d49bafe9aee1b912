import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { inTurn, TurnTimeoutError } from '../../src/adapters/redis/turns.js';
import { testRedisUrl } from '../setup/test-env.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Turns on one key in a real Redis: never two holders at once, a waiter that gives up, an expired turn its old holder cannot free. */
describe('inTurn (Redis, integration)', () => {
  let redis: Redis;
  before(() => {
    redis = new Redis(testRedisUrl, { maxRetriesPerRequest: 1 });
  });
  after(() => redis.quit());

  const key = () => `test:turns:${randomUUID()}`;

  it('runs one holder at a time: twelve racing works never overlap, and each runs once', async () => {
    const k = key();
    let inside = 0;
    let most = 0;
    const ran: number[] = [];
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        inTurn(redis, k, { waitMs: 10_000, holdMs: 5_000 }, async () => {
          inside++;
          most = Math.max(most, inside);
          await sleep(15);
          ran.push(i);
          inside--;
        }),
      ),
    );
    expect(most).to.equal(1);
    expect([...ran].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 12 }, (_, i) => i));
    expect(await redis.exists(k)).to.equal(0);
  });

  it('frees the turn when the work throws', async () => {
    const k = key();
    const failed = await inTurn(redis, k, { waitMs: 1_000, holdMs: 5_000 }, async () => {
      throw new Error('boom');
    }).catch((e: Error) => e.message);
    expect(failed).to.equal('boom');
    expect(await redis.exists(k)).to.equal(0);
    expect(await inTurn(redis, k, { waitMs: 100, holdMs: 5_000 }, async () => 'next')).to.equal('next');
  });

  it('a waiter gives up with TurnTimeoutError while another holds the turn', async () => {
    const k = key();
    let release!: () => void;
    const holding = inTurn(redis, k, { waitMs: 1_000, holdMs: 5_000 }, () => new Promise<void>((resolve) => (release = resolve)));
    await sleep(20);
    const started = Date.now();
    const error = await inTurn(redis, k, { waitMs: 150, holdMs: 5_000 }, async () => 'ran').catch((e: unknown) => e);
    expect(error).to.be.instanceOf(TurnTimeoutError);
    expect(Date.now() - started).to.be.at.least(150);
    release();
    await holding;
  });

  it('a turn that outlived its hold is taken by the next, and its old holder does not free the new one', async () => {
    const k = key();
    let release!: () => void;
    const slow = inTurn(redis, k, { waitMs: 1_000, holdMs: 50 }, () => new Promise<void>((resolve) => (release = resolve)));
    await sleep(20);
    let releaseNext!: () => void;
    let nextStarted = false;
    const next = inTurn(redis, k, { waitMs: 2_000, holdMs: 5_000 }, async () => {
      nextStarted = true;
      await new Promise<void>((resolve) => (releaseNext = resolve));
    });
    for (let i = 0; i < 100 && !nextStarted; i++) await sleep(10);
    expect(nextStarted, 'the next holder got the expired turn').to.equal(true);
    release();
    await slow;
    // the old holder's release left the new turn in place
    expect(await redis.exists(k)).to.equal(1);
    releaseNext();
    await next;
    expect(await redis.exists(k)).to.equal(0);
  });
});
