import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { consumeQuota, currentPlan, loadQuotaSubject, reserveResource, usageOfDay, type QuotaCall } from '../../src/application/subscription-quotas.js';
import { StreamNotFoundError } from '../../src/event-store/errors.js';
import type { EventStore } from '../../src/event-store/port.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { eventIdsFrom } from '../../src/write-model/core/event-ids.js';
import { subscriptionAggregate, subscriptionKey, subscriptionStream } from '../../src/write-model/subscription/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';

const ZONE = 'Asia/Shanghai';
const MORNING = new Date('2026-03-20T01:00:00.000Z'); // 09:00 in Shanghai, day 2026-03-20
const NOON = new Date('2026-03-20T04:00:00.000Z');
const NEXT_DAY = new Date('2026-03-20T16:30:00.000Z'); // 00:30 on 2026-03-21 in Shanghai
const DAY = '2026-03-20';

describe('subscription quotas (application): daily usage streams, one read of the subscription', function () {
  this.timeout(30_000);
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  /** subscription stream reads, by stream */
  const reads = new Map<string, number>();
  let counted: EventStore;

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 4 });
    // the real store, its stream reads counted
    counted = new Proxy(store, {
      get(target, key, receiver) {
        if (key === 'readStream') {
          return (name: string, options?: unknown) => {
            reads.set(name, (reads.get(name) ?? 0) + 1);
            return target.readStream(name, options as never);
          };
        }
        if (key === 'readStreamFromSnapshot') {
          return (name: string, version: number) => {
            reads.set(name, (reads.get(name) ?? 0) + 1);
            return target.readStreamFromSnapshot(name, version);
          };
        }
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  });
  after(async () => {
    await store.close();
    await iso.drop();
  });

  const call = (userId: string, now = MORNING): QuotaCall => ({ store: counted, userId, service: 'xiaohongshu', now, timeZone: ZONE, context });

  async function onFree(): Promise<string> {
    const userId = randomUUID();
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(userId, 'xiaohongshu'),
      {
        type: 'StartSubscription',
        subscriptionId: randomUUID(),
        userId,
        service: 'xiaohongshu',
        plan: 'free',
        now: MORNING.toISOString(),
      },
      { context },
    );
    return userId;
  }

  const types = async (stream: string) => {
    try {
      return (await store.readStream(stream)).map((e) => e.type);
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
  };
  const refusal =
    (check: (e: DomainError) => boolean = () => true) =>
    (error: unknown) => {
      expect(error).to.be.instanceOf(DomainError);
      expect((error as DomainError).code).to.equal('QUOTA_EXCEEDED');
      expect(check(error as DomainError), (error as Error).message).to.equal(true);
    };
  const rejects = async (promise: Promise<unknown>, check: (error: unknown) => void) => {
    let thrown: unknown;
    try {
      await promise;
    } catch (error) {
      thrown = error;
    }
    expect(thrown, 'refused').to.not.equal(undefined);
    check(thrown);
  };

  it("counts in the day's stream; with the subject read once, a use reads the subscription's stream no more", async () => {
    const userId = await onFree();
    const subscription = subscriptionStream(userId, 'xiaohongshu');
    reads.clear();
    const subject = await loadQuotaSubject(counted, userId, 'xiaohongshu');
    expect(subject.plan.code).to.equal('free');
    const result = await consumeQuota(call(userId), 'daily_api_calls', 20, { subject });
    expect(result.events.map((e) => e.data)).to.deep.include.members([
      { ...subject.terms!, feature: 'daily_api_calls', amount: 20, day: DAY, usedToday: 20, limit: 50, recordedAt: MORNING.toISOString() },
    ]);
    expect(reads.get(subscription), 'the subscription read once').to.equal(1);
    // without a subject it reads it itself, once
    await consumeQuota(call(userId), 'daily_api_calls', 5);
    expect(reads.get(subscription)).to.equal(2);

    expect(await types(subscription)).to.deep.equal(['SubscriptionStarted']);
    expect((await usageOfDay(store, userId, 'xiaohongshu', DAY)).map((e) => e.type === 'UsageRecorded' && e.data.usedToday)).to.deep.equal([20, 25]);
  });

  it('refuses over the limit, records QuotaExceeded once a day, and again under a plan upgraded that day (the count carries over)', async () => {
    const userId = await onFree();
    await consumeQuota(call(userId), 'daily_api_calls', 45);
    await rejects(
      consumeQuota(call(userId), 'daily_api_calls', 10),
      refusal((e) => e.details.limit === 50 && e.details.used === 45),
    );
    await rejects(consumeQuota(call(userId), 'daily_api_calls', 10), refusal());
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(userId, 'xiaohongshu'),
      {
        type: 'ChangePlan',
        plan: 'basic',
        orderId: randomUUID(),
        periodEnd: '2026-04-20T00:00:00.000Z',
        now: NOON.toISOString(),
      },
      { context },
    );
    expect((await currentPlan(store, userId, 'xiaohongshu')).code).to.equal('basic');
    const more = await consumeQuota(call(userId, NOON), 'daily_api_calls', 10);
    expect(more.events[0]!.data).to.include({ usedToday: 55, limit: 500, plan: 'basic', planChange: 1 });
    await rejects(
      consumeQuota(call(userId, NOON), 'daily_api_calls', 500),
      refusal((e) => e.details.limit === 500),
    );
    await rejects(consumeQuota(call(userId, NOON), 'daily_api_calls', 500), refusal());

    const day = await usageOfDay(store, userId, 'xiaohongshu', DAY);
    expect(day.map((e) => [e.type, e.data.plan])).to.deep.equal([
      ['UsageRecorded', 'free'],
      ['QuotaExceeded', 'free'],
      ['UsageRecorded', 'basic'],
      ['QuotaExceeded', 'basic'],
    ]);
  });

  it('decides on the subscription this process keeps, reading it once; a plan changed by another process is seen at the next use', async () => {
    const userId = await onFree();
    const subscription = subscriptionStream(userId, 'xiaohongshu');
    reads.clear();
    for (let i = 0; i < 3; i++) await consumeQuota(call(userId), 'daily_api_calls', 1);
    expect(reads.get(subscription), 'read once, then kept').to.equal(1);
    // `store` is another process: `counted` still keeps the free plan, and its next use depends on it
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(userId, 'xiaohongshu'),
      {
        type: 'ChangePlan',
        plan: 'basic',
        orderId: randomUUID(),
        periodEnd: '2026-04-20T00:00:00.000Z',
        now: NOON.toISOString(),
      },
      { context },
    );
    const after = await consumeQuota(call(userId, NOON), 'daily_api_calls', 1);
    expect(after.events[0]!.data).to.include({ usedToday: 4, limit: 500, plan: 'basic' });
    expect(reads.get(subscription), 'read again once the append found it moved').to.equal(2);
    expect((await usageOfDay(store, userId, 'xiaohongshu', DAY)).map((e) => e.type === 'UsageRecorded' && e.data.plan)).to.deep.equal([
      'free',
      'free',
      'free',
      'basic',
    ]);
  });

  it('never refuses a use on the kept subscription alone: a refusal is checked on a fresh read', async () => {
    const userId = await onFree();
    await consumeQuota(call(userId), 'daily_api_calls', 50);
    await rejects(
      consumeQuota(call(userId), 'daily_api_calls', 1),
      refusal((e) => e.details.limit === 50),
    ); // QuotaExceeded recorded
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(userId, 'xiaohongshu'),
      {
        type: 'ChangePlan',
        plan: 'basic',
        orderId: randomUUID(),
        periodEnd: '2026-04-20T00:00:00.000Z',
        now: NOON.toISOString(),
      },
      { context },
    );
    // kept: free, over its limit, already recorded (a refusal with nothing to append, so no condition checks it)
    const counted = await consumeQuota(call(userId, NOON), 'daily_api_calls', 1);
    expect(counted.events[0]!.data).to.include({ usedToday: 51, limit: 500, plan: 'basic' });
  });

  it('with name-based ids a use is counted once and its verdict repeats, also after the day has changed', async () => {
    const userId = await onFree();
    const ids = eventIdsFrom(`test:${randomUUID()}`);
    await consumeQuota(call(userId), 'daily_api_calls', 30, { eventIds: ids });
    const again = await consumeQuota(call(userId), 'daily_api_calls', 30, { eventIds: ids });
    expect(again.events, 'nothing appended the second time').to.deep.equal([]);
    // the repeat would now go over the limit: still the first verdict (counted), not a refusal
    await consumeQuota(call(userId), 'daily_api_calls', 30, { eventIds: ids });
    // redelivered after midnight: the use was counted on the day before
    await consumeQuota(call(userId, NEXT_DAY), 'daily_api_calls', 30, { eventIds: ids });
    expect((await usageOfDay(store, userId, 'xiaohongshu', DAY)).map((e) => e.type)).to.deep.equal(['UsageRecorded']);
    expect(await usageOfDay(store, userId, 'xiaohongshu', '2026-03-21')).to.deep.equal([]);

    // a refused use stays refused when repeated
    const refusedIds = eventIdsFrom(`test:${randomUUID()}`);
    await rejects(consumeQuota(call(userId), 'daily_api_calls', 30, { eventIds: refusedIds }), refusal());
    await rejects(
      consumeQuota(call(userId), 'daily_api_calls', 30, { eventIds: refusedIds }),
      refusal((e) => e.details.used === 30),
    );
    expect((await usageOfDay(store, userId, 'xiaohongshu', DAY)).map((e) => e.type)).to.deep.equal(['UsageRecorded', 'QuotaExceeded']);
  });

  it("a refused reservation is recorded once a day in the day's stream, never in the subscription's", async () => {
    const userId = await onFree();
    await reserveResource(call(userId), 'account_limit', 'acc-1');
    await rejects(
      reserveResource(call(userId), 'account_limit', 'acc-2'),
      refusal((e) => e.details.feature === 'account_limit' && e.details.limit === 1),
    );
    await rejects(reserveResource(call(userId, NOON), 'account_limit', 'acc-3'), refusal());
    const day = await usageOfDay(store, userId, 'xiaohongshu', DAY);
    expect(day.map((e) => e.data)).to.deep.equal([
      {
        subscriptionId: day[0]!.data.subscriptionId,
        userId,
        service: 'xiaohongshu',
        plan: 'free',
        planChange: 0,
        feature: 'account_limit',
        kind: 'resource_limit',
        limit: 1,
        used: 1,
        requested: 1,
        resourceId: 'acc-2',
        day: DAY,
        resetsAt: '2026-03-20T16:00:00.000Z',
        exceededAt: MORNING.toISOString(),
      },
    ]);
    expect(await types(subscriptionStream(userId, 'xiaohongshu'))).to.deep.equal(['SubscriptionStarted', 'ResourceReserved']);
  });

  it('without a subscription: free as the plan, NOT_FOUND for a use', async () => {
    const userId = randomUUID();
    expect((await currentPlan(store, userId, 'qidian')).code).to.equal('free');
    await rejects(consumeQuota(call(userId), 'daily_api_calls', 1), (error) => expect((error as DomainError).code).to.equal('NOT_FOUND'));
  });
});
