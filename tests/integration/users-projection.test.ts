import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { usersProjection } from '../../src/projections/users.js';
import { testDatabaseUrl } from '../setup/test-env.js';

/** Recorded events of one user's stream, revisions from 0, as the projection gets them from $all. */
function userStream(userId: string, events: { type: string; data: Record<string, unknown> }[]): RecordedEvent[] {
  return events.map((event, revision) => ({
    id: randomUUID(),
    type: event.type,
    streamName: `user-${userId}`,
    revision: BigInt(revision),
    position: { commit: 1n, prepare: BigInt(revision) },
    data: { userId, ...event.data } as RecordedEvent['data'],
    metadata: { schemaVersion: 1 },
    created: new Date(),
  }));
}

describe('users-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const row = (id: string) => knex('users').where({ id }).first('display_name', 'avatar_url', 'timezone', 'role', 'status', 'revision', 'updated_at');
  // every test runs in a transaction it rolls back: nothing is left behind
  async function rolledBack(work: (tx: Knex.Transaction) => Promise<void>): Promise<void> {
    await knex
      .transaction(async (tx) => {
        await work(tx);
        await tx.rollback();
      })
      .catch((error: unknown) => {
        if (!(error instanceof Error && error.message.includes('Transaction rejected with non-error: undefined'))) throw error;
      });
  }

  it('folds a batch of profile changes into the row they leave, around a role change, and a redelivery changes nothing', async () => {
    const userId = randomUUID();
    const at = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m)).toISOString();
    const events = userStream(userId, [
      {
        type: 'UserRegistered',
        data: { email: `${userId}@x.test`, passwordHash: '$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA', displayName: 'A', role: 'user', registeredAt: at(0) },
      },
      { type: 'ProfileUpdated', data: { displayName: 'B', avatarUrl: 'https://x.test/1.png', updatedAt: at(1) } },
      { type: 'ProfileUpdated', data: { timezone: 'Asia/Shanghai', updatedAt: at(2) } },
      { type: 'RoleChanged', data: { role: 'admin', previousRole: 'user', changedAt: at(3) } },
      { type: 'ProfileUpdated', data: { avatarUrl: null, updatedAt: at(4) } },
      { type: 'ProfileUpdated', data: { displayName: 'C', updatedAt: at(5) } },
    ]);
    const expected = { display_name: 'C', avatar_url: null, timezone: 'Asia/Shanghai', role: 'admin', status: 'active', revision: '5' };

    await rolledBack(async (tx) => {
      await usersProjection.handle(events, { tx });
      expect(await row(userId).transacting(tx)).to.deep.include(expected);
      // the whole batch again, an older part of it, and overlapping parts: the row stays
      await usersProjection.handle(events, { tx });
      await usersProjection.handle(events.slice(1, 3), { tx });
      await usersProjection.handle(events.slice(2, 5), { tx });
      expect(await row(userId).transacting(tx)).to.deep.include(expected);
    });
  });

  it('gives the same row event by event as in one batch', async () => {
    const userId = randomUUID();
    const at = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m)).toISOString();
    const events = userStream(userId, [
      {
        type: 'UserRegistered',
        data: { email: `${userId}@x.test`, passwordHash: '$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA', displayName: 'A', role: 'user', registeredAt: at(0) },
      },
      ...Array.from({ length: 30 }, (_, i) => ({
        type: 'ProfileUpdated',
        data: { displayName: `N${i}`, ...(i % 7 === 0 ? { avatarUrl: i % 2 ? null : `https://x.test/${i}` } : {}), updatedAt: at(i + 1) },
      })),
    ]);
    let batched: unknown;
    await rolledBack(async (tx) => {
      await usersProjection.handle(events, { tx });
      batched = await row(userId).transacting(tx);
    });
    await rolledBack(async (tx) => {
      for (const event of events) await usersProjection.handle([event], { tx });
      expect(await row(userId).transacting(tx)).to.deep.equal(batched);
    });
  });
});
