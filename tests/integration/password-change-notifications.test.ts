import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { Argon2idPasswordHasher } from '../../src/adapters/crypto/password-hasher.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { registerUser } from '../../src/application/register-user.js';
import { createPasswordChangeNotifications, PASSWORD_CHANGE_NOTICE_MS } from '../../src/process-managers/password-change-notifications.js';
import { notificationIdOf } from '../../src/process-managers/user-notifications.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { notificationStream } from '../../src/write-model/notification/decider.js';
import { userAggregate } from '../../src/write-model/user/decider.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

describe('pm-password-change-notifications: a changed password is told to its user', function () {
  this.timeout(30_000);
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let store: PostgresEventStore;
  let knex: Knex;
  const names: string[] = [];
  const hasher = new Argon2idPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    // a schema of its own: "from the start" means only this test's events
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 4 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(async () => {
    await knex('consumer_checkpoints').whereIn('consumer', names).delete();
    await store?.close();
    await knex?.destroy();
    await iso?.drop();
  });

  const notificationsOf = async (eventId: string) =>
    (await store.readStream(notificationStream(notificationIdOf(`password_changed:${eventId}`))).catch(() => [])).map((e) => e.type);

  it('tells a change made now once, however often it is read; a change a day old when first read is not told', async () => {
    const { userId } = await registerUser(
      { store, passwordHasher: hasher },
      { email: `pw-${randomUUID()}@example.test`, password: 'first password', displayName: 'pw', role: 'user', context },
    );
    const changeAt = async (at: Date) =>
      handle(
        store,
        userAggregate,
        userId,
        { type: 'ChangePassword', userId, newPasswordHash: await hasher.hash(randomUUID()), now: at.toISOString() },
        { context },
      );
    const now = Date.now();
    await changeAt(new Date(now - PASSWORD_CHANGE_NOTICE_MS - 60_000));
    await changeAt(new Date(now - 60_000));
    const [oldId, freshId] = (await store.readStream(userAggregate.streamName(userId))).filter((e) => e.type === 'PasswordChanged').map((e) => e.id);
    expect(freshId).to.be.a('string');

    for (let run = 0; run < 2; run++) {
      // a fresh consumer name each run: the whole history is read again, as after a reset
      const name = `pm-password-change-notifications-test-${randomUUID().slice(0, 8)}`;
      names.push(name);
      await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, createPasswordChangeNotifications({ store, now: () => new Date(now) }, name));
      expect(await notificationsOf(freshId!), `run ${run}`).to.deep.equal(['NotificationSent']);
      expect(await notificationsOf(oldId!), `run ${run}`).to.deep.equal([]);
    }
  });
});
