import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { EventStoreMembershipDirectory } from '../../src/adapters/auth/membership-directory.js';
import { createPasswordHasher } from '../../src/adapters/crypto/password-hasher.js';
import { createSecretBox } from '../../src/adapters/crypto/secret-box.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { acceptInvitation, inviteMember, type InvitationMailJob } from '../../src/application/organization-invitations.js';
import { actOnOrganization, createOrganization, removeMember } from '../../src/application/organizations.js';
import { registerUser } from '../../src/application/register-user.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { membershipClaimAggregate, organizationStream } from '../../src/write-model/organization/index.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';

/**
 * The MembershipDirectory over a real Postgres event store, fed by the real
 * use cases (founding, inviting, accepting, removing), and the one-organization
 * rule under concurrent requests.
 */
describe('EventStoreMembershipDirectory and the one-organization claim (Postgres)', function () {
  this.timeout(60_000);
  const config = testConfig();
  const secretBox = createSecretBox(config);
  const passwordHasher = createPasswordHasher(config);
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let store: PostgresEventStore;
  let knex: Knex;
  const mails: InvitationMailJob[] = [];
  const outbox = { enqueueInvitationMail: async (job: InvitationMailJob) => void mails.push(job) };
  const context = (actor: string): CommandContext => ({ correlationId: randomUUID(), causationId: randomUUID(), actor });

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(async () => {
    await store.close();
    await knex.destroy();
    await iso.drop();
  });

  const user = async (name: string) => {
    const email = `${name}-${randomUUID()}@example.test`;
    const { userId } = await registerUser(
      { store, passwordHasher },
      { email, password: 'a good password', displayName: name, role: 'user', context: context('test') },
    );
    return { userId, email };
  };
  /** invites by mail and reads the token back from the queued job, as the mail worker would */
  const invite = async (organizationId: string, by: string, email: string, roles: string[], team: string | null = null) => {
    const invited = await inviteMember({ store, knex, outbox, secretBox, ttlHours: 168 }, { organizationId, by, email, roles, team, context: context(by) });
    const job = mails.find((m) => m.invitationId === invited.invitationId)!;
    return secretBox.decrypt(job.token, `organization-invitation:${invited.invitationId}`);
  };

  it('answers null outside any organization, then the membership with roles, team, custom roles and members', async () => {
    const directory = new EventStoreMembershipDirectory(store, { ttlMs: 0 });
    const owner = await user('owner');
    const ann = await user('ann');
    expect(await directory.of(owner.userId)).to.equal(null);

    const { organizationId } = await createOrganization({ store }, { userId: owner.userId, name: 'Acme', context: context(owner.userId) });
    const roleId = randomUUID();
    await actOnOrganization({ store }, organizationId, { userId: owner.userId, context: context(owner.userId) }, (_s, now) => ({
      type: 'DefineCustomRole',
      roleId,
      name: 'Editor',
      grants: { 'publishing.articles.*': 'team' },
      by: owner.userId,
      now,
    }));
    const token = await invite(organizationId, owner.userId, ann.email, ['operator', roleId], 'north');
    const joined = await acceptInvitation({ store }, { userId: ann.userId, token, context: context(ann.userId) });
    expect(joined).to.include({ organizationId });
    expect(joined.roles).to.deep.equal(['operator', roleId]);

    const membership = await directory.of(ann.userId);
    expect(membership).to.deep.equal({
      organizationId,
      roles: ['operator', roleId],
      team: 'north',
      customRoles: { [roleId]: { 'publishing.articles.*': 'team' } },
      mfaRequired: false,
      members: [
        { userId: owner.userId, team: null },
        { userId: ann.userId, team: 'north' },
      ],
    });
    expect((await directory.of(owner.userId))?.roles).to.deep.equal(['owner']);

    await removeMember({ store }, organizationId, { userId: owner.userId, context: context(owner.userId) }, ann.userId, 'removed');
    expect(await directory.of(ann.userId)).to.equal(null);
    expect((await load(store, membershipClaimAggregate, ann.userId)).state.organizationId).to.equal(null);
  });

  it('keeps an answer for ttlMs per user, then reads again', async () => {
    const directory = new EventStoreMembershipDirectory(store, { ttlMs: 300 });
    const owner = await user('owner');
    expect(await directory.of(owner.userId)).to.equal(null);
    await createOrganization({ store }, { userId: owner.userId, name: 'Cached', context: context(owner.userId) });
    expect(await directory.of(owner.userId), 'within the second: the answer kept').to.equal(null);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await directory.of(owner.userId))?.roles).to.deep.equal(['owner']);
  });

  it('of two concurrent foundings by one user exactly one lands, and the other leaves nothing behind', async () => {
    const owner = await user('racer');
    const results = await Promise.allSettled(
      [1, 2, 3].map((n) => createOrganization({ store }, { userId: owner.userId, name: `Org ${n}`, context: context(owner.userId) })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).to.have.length(1);
    expect(lost).to.have.length(2);
    for (const r of lost) expect(r.reason).to.be.instanceOf(DomainError).and.to.have.property('code', 'CONFLICT');
    const organizationId = (won[0] as PromiseFulfilledResult<{ organizationId: string }>).value.organizationId;
    expect((await load(store, membershipClaimAggregate, owner.userId)).state.organizationId).to.equal(organizationId);
    expect((await new EventStoreMembershipDirectory(store).of(owner.userId))?.organizationId).to.equal(organizationId);
  });

  it('a user invited by two organizations joins only one, even accepting both at once', async () => {
    const [a, b, ann] = [await user('a'), await user('b'), await user('ann')];
    const orgA = (await createOrganization({ store }, { userId: a.userId, name: 'A', context: context(a.userId) })).organizationId;
    const orgB = (await createOrganization({ store }, { userId: b.userId, name: 'B', context: context(b.userId) })).organizationId;
    const tokens = [await invite(orgA, a.userId, ann.email, ['operator']), await invite(orgB, b.userId, ann.email, ['analyst'])];
    const results = await Promise.allSettled(tokens.map((token) => acceptInvitation({ store }, { userId: ann.userId, token, context: context(ann.userId) })));
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
    const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
    expect(refused.reason).to.be.instanceOf(DomainError).and.to.have.property('code', 'CONFLICT');
    const membership = await new EventStoreMembershipDirectory(store).of(ann.userId);
    const other = membership?.organizationId === orgA ? orgB : orgA;
    expect([orgA, orgB]).to.include(membership?.organizationId);
    const otherEvents = await store.readStream(organizationStream(other));
    expect(otherEvents.map((e) => e.type)).to.deep.equal(['OrganizationCreated']);
  });

  it('a claim whose organization never listed the user counts as none (a join in flight is refused, not lost)', async () => {
    const ann = await user('ann');
    await handle(
      store,
      membershipClaimAggregate,
      ann.userId,
      { type: 'ClaimMembership', userId: ann.userId, organizationId: randomUUID() },
      { context: context('test') },
    );
    expect(await new EventStoreMembershipDirectory(store).of(ann.userId)).to.equal(null);
    try {
      await createOrganization({ store }, { userId: ann.userId, name: 'Mine', context: context(ann.userId) });
      expect.fail('a fresh claim may be a join on its way: refused for now');
    } catch (error) {
      expect(error).to.be.instanceOf(DomainError).and.to.have.nested.property('details.reason', 'membership_in_progress');
    }
  });

  it('the owner cannot leave; nobody can be invited as owner or with an unknown role', async () => {
    const owner = await user('owner');
    const { organizationId } = await createOrganization({ store }, { userId: owner.userId, name: 'Acme', context: context(owner.userId) });
    const me = { userId: owner.userId, context: context(owner.userId) };
    await expectRefused(() => removeMember({ store }, organizationId, me, owner.userId, 'left'), 'CONFLICT');
    await expectRefused(() => invite(organizationId, owner.userId, 'x@example.test', ['owner']), 'VALIDATION_ERROR');
    await expectRefused(() => invite(organizationId, owner.userId, 'x@example.test', ['nope']), 'VALIDATION_ERROR');
    const stranger = await user('stranger');
    await expectRefused(() => invite(organizationId, stranger.userId, 'x@example.test', ['operator']), 'NOT_FOUND');
    expect((await store.readStream(organizationStream(organizationId))).map((e) => e.type)).to.deep.equal(['OrganizationCreated']);
  });
});

async function expectRefused(run: () => Promise<unknown>, code: string): Promise<void> {
  try {
    await run();
  } catch (error) {
    expect(error).to.be.instanceOf(DomainError).and.to.have.property('code', code);
    return;
  }
  expect.fail(`expected ${code}`);
}
