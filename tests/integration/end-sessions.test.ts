import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { createHash, randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { START } from '../../src/event-store/position.js';
import { createEndSessions, SESSION_INDEX_TABLE, SESSION_REVOCATIONS_TABLE } from '../../src/process-managers/end-sessions.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { sessionAggregate, sessionStream } from '../../src/write-model/session/index.js';
import { userAggregate, userStanding } from '../../src/write-model/user/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

const sha = (name: string) => createHash('sha256').update(name).digest('hex');
const PW1 = '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$Zmlyc3Q';
const PW2 = '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$c2Vjb25k';

const T0 = '2026-03-01T01:00:00.000Z';
const T1 = '2026-03-01T03:00:00.000Z';
const T2 = '2026-03-02T01:00:00.000Z';
const EXPIRES = '2026-03-08T01:00:00.000Z';
const SOON = '2026-03-01T02:00:00.000Z';

describe('process manager: end sessions on suspension and password change', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  const names: string[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
  });
  after(async () => {
    await knex('consumer_checkpoints').whereIn('consumer', names).delete();
    await knex(SESSION_INDEX_TABLE).whereIn('consumer', names).delete();
    await knex(SESSION_REVOCATIONS_TABLE).whereIn('consumer', names).delete();
    await store.close();
    await knex.destroy();
    await iso.drop();
  });

  const uniqueName = () => {
    const name = `pm-end-sessions-test-${randomUUID().slice(0, 8)}`;
    names.push(name);
    return name;
  };
  const runToHead = (name: string) => runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, createEndSessions({ store }, name));

  async function register(): Promise<string> {
    const userId = randomUUID();
    await handle(
      store,
      userAggregate,
      userId,
      { type: 'RegisterUser', userId, email: `${userId}@example.test`, passwordHash: PW1, displayName: 'Ada', role: 'user', now: T0 },
      { context },
    );
    return userId;
  }

  /** A login as the HTTP adapter does it: the user's standing read first. */
  async function login(userId: string, expiresAt = EXPIRES, now = T0): Promise<string> {
    const sessionId = randomUUID();
    const user = (await load(store, userAggregate, userId)).state;
    await handle(
      store,
      sessionAggregate,
      sessionId,
      { type: 'StartSession', userId, sessionId, refreshTokenHash: sha(`${sessionId}-0`), expiresAt, user: userStanding(user), now },
      { context },
    );
    return sessionId;
  }

  async function ends(sessionId: string): Promise<string[]> {
    return (await store.readStream(sessionStream(sessionId))).filter((e) => e.type === 'SessionEnded').map((e) => (e.data as { reason: string }).reason);
  }

  it('suspension: every live session ended once (user_suspended); expired and ended ones untouched; redelivery appends nothing', async () => {
    const userId = await register();
    const [s1, s2] = [await login(userId), await login(userId)];
    const expired = await login(userId, SOON);
    const loggedOut = await login(userId);
    await handle(store, sessionAggregate, loggedOut, { type: 'EndSession', userId, sessionId: loggedOut, reason: 'logout', now: T1 }, { context });
    const other = await register();
    const bystander = await login(other);
    await handle(store, userAggregate, userId, { type: 'SuspendUser', userId, reason: 'abuse', now: T2 }, { context });

    const name = uniqueName();
    await runToHead(name);
    expect(await ends(s1)).to.deep.equal(['user_suspended']);
    expect(await ends(s2)).to.deep.equal(['user_suspended']);
    expect(await ends(expired)).to.deep.equal([]);
    expect(await ends(loggedOut)).to.deep.equal(['logout']);
    expect(await ends(bystander)).to.deep.equal([]);
    const ended = (await store.readStream(sessionStream(s1))).at(-1)!;
    expect(ended.data).to.include({ endedAt: T2, userId, sessionId: s1 });
    expect(ended.metadata).to.include({ userId: `pm:${name}` });
    // the index keeps the bystander's live session only
    expect((await knex(SESSION_INDEX_TABLE).where({ consumer: name }).select('session_id')).map((r) => r.session_id)).to.deep.equal([bystander]);

    // redelivery from the start: nothing new anywhere
    const head = await store.headPosition();
    await resetCheckpoint(knex, name, START);
    await runToHead(name);
    expect(await store.headPosition()).to.deep.equal(head);
    expect(await ends(s1)).to.deep.equal(['user_suspended']);
  });

  it('password change: the other live sessions end (password_changed), the one it came from goes on', async () => {
    const userId = await register();
    const [kept, other] = [await login(userId), await login(userId)];
    await handle(store, userAggregate, userId, { type: 'ChangePassword', userId, newPasswordHash: PW2, keepSessionId: kept, now: T1 }, { context });
    const after = await login(userId, EXPIRES, T2); // started after the change: untouched

    await runToHead(uniqueName());
    expect(await ends(other)).to.deep.equal(['password_changed']);
    expect(await ends(kept)).to.deep.equal([]);
    expect(await ends(after)).to.deep.equal([]);

    // the kept session refreshes; the ended one is refused
    const user = userStanding((await load(store, userAggregate, userId)).state);
    const refresh = (sessionId: string) =>
      handle(
        store,
        sessionAggregate,
        sessionId,
        {
          type: 'RefreshSession',
          userId,
          sessionId,
          presentedTokenHash: sha(`${sessionId}-0`),
          newTokenHash: sha(`${sessionId}-1`),
          newExpiresAt: EXPIRES,
          user,
          now: T2,
        },
        { context },
      );
    expect((await refresh(kept)).events.map((e) => e.type)).to.deep.equal(['SessionRefreshed']);
    let refused: unknown;
    await refresh(other).catch((error: unknown) => (refused = error));
    expect(refused).to.be.instanceOf(DomainError);
    expect((refused as DomainError).details).to.include({ reason: 'session_ended' });
  });

  it('a login that raced a password change (older epoch, started after it) is ended as it is indexed', async () => {
    const userId = await register();
    const before = (await load(store, userAggregate, userId)).state;
    const standingBefore = userStanding(before);
    await handle(store, userAggregate, userId, { type: 'ChangePassword', userId, newPasswordHash: PW2, now: T1 }, { context });
    const raced = randomUUID();
    await handle(
      store,
      sessionAggregate,
      raced,
      { type: 'StartSession', userId, sessionId: raced, refreshTokenHash: sha(raced), expiresAt: EXPIRES, user: standingBefore, now: T1 },
      { context },
    );
    await runToHead(uniqueName());
    expect(await ends(raced)).to.deep.equal(['password_changed']);
  });
});
