import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisSmsSendWindows } from '../../src/adapters/sms/send-windows.js';
import { testRedisUrl } from '../setup/test-env.js';

/** The per-organization SMS send windows in a real Redis: single sends refused past the limit, a batch's sends delayed into later minutes. */
describe('RedisSmsSendWindows (integration)', () => {
  let redis: Redis;
  before(() => {
    redis = new Redis(testRedisUrl, { maxRetriesPerRequest: 1 });
  });
  after(() => redis.quit());

  // 20 s into a minute: the current window has 40 s left
  const minute = Math.floor(Date.now() / 60_000) * 60_000 + 5 * 60_000;
  const now = minute + 20_000;
  const windows = (limit: number, prefix = `test:sms-windows:${randomUUID()}`, at = now) => new RedisSmsSendWindows(redis, { prefix, limit, now: () => at });

  it('allows `limit` single sends a minute, then refuses with the seconds to the next minute', async () => {
    const w = windows(3);
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await w.hit('org:a'));
    expect(decisions.map((d) => d.allowed)).to.deep.equal([true, true, true, false]);
    expect(decisions[3]).to.include({ limit: 3, retryAfterSeconds: 40 });
    // another organization has its own windows
    expect((await w.hit('org:b')).allowed).to.equal(true);
  });

  it('gives a place back once (a send refused after taking it), never below nothing, and in the minute it was taken', async () => {
    const prefix = `test:sms-windows:${randomUUID()}`;
    const w = windows(2, prefix);
    const first = await w.hit('org:a');
    const second = await w.hit('org:a');
    expect((await w.hit('org:a')).allowed).to.equal(false);
    await second.release!();
    await second.release!();
    expect((await w.hit('org:a')).allowed).to.equal(true);
    expect((await w.hit('org:a')).allowed).to.equal(false);
    // released in the next minute: the place goes back to the minute it was taken in, the next one stays full
    const later = windows(1, prefix, now + 60_000);
    expect((await later.hit('org:a')).allowed).to.equal(true);
    await first.release!();
    expect((await later.hit('org:a')).allowed).to.equal(false);
    expect((await w.hit('org:a')).allowed).to.equal(true);
    // a window that has expired is left alone: no negative count, no room made
    const gone = await w.hit('org:b');
    await redis.del(`${prefix}:org:b:${Math.floor(now / 60_000)}`);
    await gone.release!();
    expect(await redis.get(`${prefix}:org:b:${Math.floor(now / 60_000)}`)).to.equal(null);
  });

  it('spreads a batch over the minutes with room, never refusing, and single sends find those minutes taken', async () => {
    const prefix = `test:sms-windows:${randomUUID()}`;
    const w = windows(4, prefix);
    expect((await w.hit('org:a')).allowed).to.equal(true);
    const delays = await w.schedule('org:a', 10);
    // 3 places left now, then 4 in the next minute (40 s away), 3 in the one after (100 s away)
    expect(delays).to.deep.equal([0, 0, 0, 40_000, 40_000, 40_000, 40_000, 100_000, 100_000, 100_000]);
    expect((await w.hit('org:a')).allowed).to.equal(false);
    // the next minute is full with the batch's places too
    expect((await windows(4, prefix, now + 60_000).hit('org:a')).allowed).to.equal(false);
    expect(await w.schedule('org:a', 0)).to.deep.equal([]);
  });
});
