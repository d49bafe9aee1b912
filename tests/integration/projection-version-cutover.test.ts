import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { ensureDatabase } from '../../src/adapters/db/ensure-database.js';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { comparePositions } from '../../src/event-store/position.js';
import { awaitingRebuild, projectionDefinitions, rebuildProjection, type ProjectionDefinition } from '../../src/operations/projections.js';
import type { OpsDeps } from '../../src/operations/types.js';
import { USERS_PROJECTION, usersProjection } from '../../src/projections/users.js';
import { readCheckpoint } from '../../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { userAggregate } from '../../src/write-model/user/decider.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { waitFor } from '../support/wait-for.js';

/**
 * A version bump without downtime: `users-v1` serves; the new code is
 * `users-v2`. The projector must not run v2 live yet (it has no tables of its
 * own); `projections rebuild users-v2` builds it in the shadow schema while v1
 * keeps serving and following, then swaps: v2's checkpoint takes over and v1
 * is retired, so an instance still running the old code stops.
 */
describe('projection version cutover (users-v1 → users-v2, fresh database)', function () {
  this.timeout(120_000);
  let databaseUrl: string;
  let knex: Knex;
  let store: PostgresEventStore;
  let deps: OpsDeps;
  const id = randomUUID().replaceAll('-', '').slice(0, 10);
  const V2 = 'users-v2';
  const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    const url = new URL(testDatabaseUrl);
    url.pathname = `/collector_cutover_${id}`;
    databaseUrl = url.toString();
    await ensureDatabase(databaseUrl);
    knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 6 } });
    await runMigrations(knex);
    store = createPostgresEventStore({ connectionString: databaseUrl, poolSize: 5 });
    deps = { store, knex, databaseUrl, timeZone: 'Asia/Shanghai' };
  });
  after(async () => {
    await store?.close();
    await knex?.destroy();
    const admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    await admin.raw(`DROP DATABASE IF EXISTS "collector_cutover_${id}" WITH (FORCE)`);
    await admin.destroy();
  });

  const register = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const userId = randomUUID();
      await handle(
        store,
        userAggregate,
        userId,
        {
          type: 'RegisterUser',
          userId,
          email: `${userId}@example.test`,
          passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
          displayName: `User ${i}`,
          role: 'user',
          now: new Date().toISOString(),
        },
        { context },
      );
    }
  };
  const runner = (consumer = usersProjection) =>
    new ConsumerRunner({ store, knex, databaseUrl }, consumer, { idleCheckpointMs: 50, lockRetryMs: 50, minBackoffMs: 20, maxBackoffMs: 200 });
  const count = async () => Number((await knex('users').count<{ n: string }[]>({ n: '*' }))[0]!.n);

  it('builds v2 beside the serving v1, swaps it in, and retires v1 (whose old instance stops)', async () => {
    await register(40);
    const v1 = runner();
    v1.start();
    await waitFor('v1 serving 40 users', async () => (await count()) === 40);

    // the new code: the same projection under its next version
    const base = projectionDefinitions('Asia/Shanghai').find((d) => d.name === USERS_PROJECTION)!;
    const v2Def: ProjectionDefinition = { ...base, name: V2, version: 2, consumer: { ...usersProjection, name: V2 } };
    expect(await awaitingRebuild(knex, V2), 'the projector must not run v2 live before its rebuild').to.equal(USERS_PROJECTION);
    expect(await awaitingRebuild(knex, USERS_PROJECTION)).to.equal(null);

    // writes go on while v2 is built; v1 keeps following them
    let writing = true;
    const writer = (async () => {
      while (writing) await register(1);
    })();
    const done = await rebuildProjection(deps, V2, { definition: v2Def });
    writing = false;
    await writer;
    expect(done.phase).to.equal('done');

    // v2 owns the tables now; v1 is retired and its still-running instance stops itself
    const rows = await knex('consumer_checkpoints').whereIn('consumer', [USERS_PROJECTION, V2]).select('consumer', 'retired_by');
    expect(Object.fromEntries(rows.map((r: any) => [r.consumer, r.retired_by]))).to.deep.equal({ [USERS_PROJECTION]: V2, [V2]: null });
    await waitFor('the old v1 instance stops', async () => v1.status().state === 'retired');
    expect(await awaitingRebuild(knex, V2)).to.equal(null);

    // the projector (new code) runs v2 from the swapped checkpoint: every user, none twice
    const v2 = runner({ ...usersProjection, name: V2 });
    v2.start();
    try {
      await register(3);
      const head = await store.headPosition();
      await waitFor('v2 at the head', async () => comparePositions(await readCheckpoint(knex, V2), head) >= 0);
      const users = Number((await knex('users').countDistinct<{ n: string }[]>({ n: 'id' }))[0]!.n);
      const registered = (await store.readAll({ maxCount: 100_000 })).filter((e) => e.type === 'UserRegistered').length;
      expect(await count()).to.equal(registered);
      expect(users).to.equal(registered);
    } finally {
      await v2.stop();
      await v1.stop();
    }
  });
});
