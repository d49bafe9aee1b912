import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { claimMembership, createOrganization, removeMember } from '../../src/application/organizations.js';
import { holdersEverOf, planHolderIn, usersOfHolder, usersOfHolderId } from '../../src/application/plan-holder.js';
import { consumeQuota, currentPlan, releaseResource, reserveResource, type QuotaCall } from '../../src/application/subscription-quotas.js';
import { createFreePlansOnOrganization } from '../../src/process-managers/index.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import { organizationAggregate } from '../../src/write-model/organization/decider.js';
import { inUse, subscriptionAggregate, subscriptionKey, subscriptionStream } from '../../src/write-model/subscription/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';

const ZONE = 'Asia/Shanghai';
const NOW = new Date('2026-03-20T01:00:00.000Z');

/**
 * The plan holder on the event store: a member's usage and reservations
 * count on the organization's subscription, a slot is given back where it
 * was taken even after the member left (or joined), and the organization's
 * free plans start once on OrganizationCreated.
 */
describe('organization plan holder (application, process managers)', function () {
  this.timeout(30_000);
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 4 });
  });
  after(async () => {
    await store.close();
    await iso.drop();
  });

  const call = (userId: string): QuotaCall => ({ store, userId, service: 'xiaohongshu', now: NOW, timeZone: ZONE, context });
  /** accounts held on the holder's xiaohongshu subscription */
  const held = async (holderId: string) => {
    const { state } = await load(store, subscriptionAggregate, subscriptionKey(holderId, 'xiaohongshu'));
    return state.status === 'active' ? inUse(state, 'account_limit') : null;
  };
  async function startOwn(userId: string): Promise<void> {
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(userId, 'xiaohongshu'),
      { type: 'StartSubscription', subscriptionId: randomUUID(), userId, service: 'xiaohongshu', plan: 'free', now: NOW.toISOString() },
      { context },
    );
  }
  async function join(userId: string, organizationId: string): Promise<void> {
    const claim = await claimMembership(store, userId, organizationId, context);
    await handle(
      store,
      organizationAggregate,
      organizationId,
      { type: 'AddMember', userId, roles: ['operator'], team: null, invitationId: null, now: NOW.toISOString() },
      { context, conditions: [{ streamName: `organization_member-${userId}`, revision: claim }] },
    );
  }

  it("starts the organization's free plans once (a redelivery is a no-op), held by the organization", async () => {
    const founder = randomUUID();
    const { organizationId } = await createOrganization({ store }, { userId: founder, name: 'Acme', context });
    const pm = createFreePlansOnOrganization({ store }, `pm-org-plans-${randomUUID().slice(0, 8)}`);
    const events = (await store.readStream(`organization-${organizationId}`)).filter((e) => e.type === 'OrganizationCreated');
    for (let i = 0; i < 2; i++) await pm.handle(events, {} as never);
    for (const service of ['xiaohongshu', 'qidian']) {
      const stream = await store.readStream(subscriptionStream(organizationId, service));
      expect(stream.map((e) => e.type)).to.deep.equal(['SubscriptionStarted']);
      expect(stream[0]!.data).to.include({ userId: organizationId, holderKind: 'organization', plan: 'free' });
    }
    expect(await planHolderIn(store, founder)).to.deep.equal({ kind: 'organization', id: organizationId });
    expect((await currentPlan(store, founder, 'xiaohongshu')).code).to.equal('free');
  });

  it("a member's reservation takes the organization's slot; after they leave, releasing gives it back there", async () => {
    const founder = randomUUID();
    const member = randomUUID();
    await startOwn(member);
    const { organizationId } = await createOrganization({ store }, { userId: founder, name: 'Beta', context });
    await startOrgPlans(organizationId);
    await join(member, organizationId);

    await reserveResource(call(member), 'account_limit', 'acct-1');
    expect(await held(organizationId)).to.equal(1);
    expect(await held(member)).to.equal(0);
    // the organization's one free slot is taken: the founder is refused
    await reserveResource(call(founder), 'account_limit', 'acct-2').then(
      () => expect.fail('expected QUOTA_EXCEEDED'),
      (error) => expect(error.code).to.equal('QUOTA_EXCEEDED'),
    );

    await removeMember({ store }, organizationId, { userId: member, context }, member, 'left');
    expect(await planHolderIn(store, member)).to.deep.equal({ kind: 'user', id: member });
    expect(await holdersEverOf(store, member)).to.deep.equal([
      { kind: 'user', id: member },
      { kind: 'organization', id: organizationId },
    ]);
    const released = await releaseResource(call(member), 'account_limit', 'acct-1');
    expect(released.events.map((e) => [e.type, e.data.userId])).to.deep.equal([['ResourceReleased', organizationId]]);
    expect(await held(organizationId)).to.equal(0);
    // the slot is free again for the founder; the member counts on their own subscription again
    await reserveResource(call(founder), 'account_limit', 'acct-2');
    await reserveResource(call(member), 'account_limit', 'acct-3');
    expect(await held(member)).to.equal(1);
  });

  it("a slot taken before joining is given back on the user's own subscription", async () => {
    const founder = randomUUID();
    const user = randomUUID();
    await startOwn(user);
    await reserveResource(call(user), 'account_limit', 'acct-own');
    const { organizationId } = await createOrganization({ store }, { userId: founder, name: 'Gamma', context });
    await startOrgPlans(organizationId);
    await join(user, organizationId);
    const released = await releaseResource(call(user), 'account_limit', 'acct-own');
    expect(released.events.map((e) => [e.type, e.data.userId])).to.deep.equal([['ResourceReleased', user]]);
    expect(await held(user)).to.equal(0);
    // releasing what nobody holds is a no-op
    expect((await releaseResource(call(user), 'account_limit', 'acct-none')).events).to.deep.equal([]);
  });

  it("a member's daily use counts on the organization's day; a user outside counts on their own", async () => {
    const founder = randomUUID();
    const member = randomUUID();
    const outsider = randomUUID();
    await Promise.all([startOwn(member), startOwn(outsider)]);
    const { organizationId } = await createOrganization({ store }, { userId: founder, name: 'Delta', context });
    await startOrgPlans(organizationId);
    await join(member, organizationId);
    await consumeQuota(call(founder), 'daily_api_calls', 30);
    const used = await consumeQuota(call(member), 'daily_api_calls', 20);
    expect(used.events[0]!.type === 'UsageRecorded' && used.events[0]!.data).to.include({ userId: organizationId, usedToday: 50 });
    const own = await consumeQuota(call(outsider), 'daily_api_calls', 1);
    expect(own.events[0]!.type === 'UsageRecorded' && own.events[0]!.data).to.include({ userId: outsider, usedToday: 1 });
  });

  it("the organization's own resources are held on its own subscription, and its usage counts its own with its members'", async () => {
    const founder = randomUUID();
    const { organizationId } = await createOrganization({ store }, { userId: founder, name: 'Epsilon', context });
    await startOrgPlans(organizationId);
    expect(await planHolderIn(store, organizationId)).to.deep.equal({ kind: 'organization', id: organizationId });
    expect(await holdersEverOf(store, organizationId)).to.deep.equal([{ kind: 'organization', id: organizationId }]);
    expect(await usersOfHolder(store, { kind: 'organization', id: organizationId })).to.deep.equal([founder, organizationId]);
    expect(await usersOfHolderId(store, organizationId)).to.deep.equal([founder, organizationId]);

    await reserveResource(call(organizationId), 'account_limit', 'acct-org');
    expect(await held(organizationId)).to.equal(1);
    const released = await releaseResource(call(organizationId), 'account_limit', 'acct-org');
    expect(released.events.map((e) => [e.type, e.data.userId])).to.deep.equal([['ResourceReleased', organizationId]]);
    const used = await consumeQuota(call(organizationId), 'daily_api_calls', 3);
    expect(used.events[0]!.type === 'UsageRecorded' && used.events[0]!.data).to.include({ userId: organizationId, usedToday: 3 });
    // a user id is not taken for an organization's
    expect(await planHolderIn(store, founder)).to.deep.equal({ kind: 'organization', id: organizationId });
    const loner = randomUUID();
    expect(await planHolderIn(store, loner)).to.deep.equal({ kind: 'user', id: loner });
  });

  async function startOrgPlans(organizationId: string): Promise<void> {
    const pm = createFreePlansOnOrganization({ store }, `pm-org-plans-${randomUUID().slice(0, 8)}`);
    await pm.handle(await store.readStream(`organization-${organizationId}`), {} as never);
  }
});
