import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createSecretBox } from '../../src/adapters/crypto/secret-box.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { verifyPlatformAccount } from '../../src/application/platform-accounts.js';
import type { EventStore } from '../../src/event-store/port.js';
import { createAccountVerifiers } from '../../src/platforms/account-verifier.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import { platformAccountAggregate, platformAccountStream } from '../../src/write-model/platform-account/index.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { startFixturePlatformServer, xhsId, type FixturePlatformServer } from '../support/fixture-platform-server.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { connectPlatformAccount } from '../support/platform-accounts.js';

/**
 * Recording a verification's verdict while pm-account-health appends its
 * health records to the same account: those leave the credentials and the
 * status alone, so the verdict still holds and is recorded, however many land
 * in between (a lagging PM appends them in a burst).
 */
describe('verifying a platform account beside a burst of health records', function () {
  this.timeout(30_000);
  const config = testConfig();
  const secretBox = createSecretBox(config);
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  let fixture: FixturePlatformServer;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;

  before(async () => {
    fixture = await startFixturePlatformServer();
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
  });
  after(async () => {
    await store?.close();
    await iso?.drop();
    await fixture?.close();
  });

  /** The real store, but every append of the verdict to `accountId` first meets `burst` health records, one before each try. */
  function withHealthBurst(accountId: string, burst: number): EventStore {
    let left = burst;
    return new Proxy(store, {
      get(target, property, receiver) {
        if (property !== 'append') return Reflect.get(target, property, receiver);
        return async (...args: Parameters<EventStore['append']>) => {
          const [streamName, events] = args;
          if (left > 0 && streamName === platformAccountStream(accountId) && events.some((e) => e.type === 'AccountVerified')) {
            left--;
            const { state } = await load(target, platformAccountAggregate, accountId);
            const score = state.status === 'none' ? 0 : (state.healthScore + 1) % 100;
            await handle(
              target,
              platformAccountAggregate,
              accountId,
              { type: 'RecordAccountHealth', accountId, score, now: new Date().toISOString() },
              { context },
            );
          }
          return target.append(...args);
        };
      },
    }) as EventStore;
  }

  it('records the verdict after ten health records landed, one before each try', async () => {
    const session = `040069${xhsId()}`;
    fixture.xiaohongshu.sessions.set(session, { user_id: xhsId(), nickname: '薯' });
    const accountId = randomUUID();
    const credentials = secretBox.encrypt(JSON.stringify({ cookies: `a1=18c2f3e4a5b0000; webId=${xhsId()}; web_session=${session}` }), accountId);
    await connectPlatformAccount(store, context, { accountId, ownerId: 'owner-1', credentials, displayName: 'mine' });
    const verifiers = createAccountVerifiers({ XIAOHONGSHU_API_URL: fixture.url, QIDIAN_WEB_URL: fixture.url }, { timeoutMs: 2_000 });
    const deps = { store: withHealthBurst(accountId, 10), secretBox, verifiers, timeZone: 'UTC' };
    const { outcome } = await verifyPlatformAccount(deps, { userId: 'owner-1', context }, accountId);
    expect(outcome).to.include({ ok: true });
    const events = await store.readStream(platformAccountStream(accountId));
    expect(events.filter((e) => e.type === 'AccountHealthChanged').length).to.equal(10);
    expect((await load(store, platformAccountAggregate, accountId)).state).to.include({ status: 'active' });
  });
});
