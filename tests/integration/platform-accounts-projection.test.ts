import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { createSecretBox } from '../../src/adapters/crypto/secret-box.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import type { Position } from '../../src/event-store/position.js';
import { createPlatformAccountsProjection, PLATFORM_ACCOUNTS_PROJECTION, platformAccountsProjection } from '../../src/projections/platform-accounts.js';
import { resetCheckpoint, waitForCheckpoint } from '../../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { platformAccountAggregate, platformAccountStream, type PlatformAccountCommand } from '../../src/write-model/platform-account/index.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';

const at = (hhmm: string) => `2026-05-01T${hhmm}:00.000Z`;

describe('platform-accounts-v1 projection (platform_accounts)', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let name: string;
  const runners: ConsumerRunner[] = [];
  const secretBox = createSecretBox(testConfig());
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 5 });
  });
  after(async () => {
    await store.close();
    await knex.destroy();
  });
  beforeEach(() => {
    // a checkpoint of its own: never contends with a projector running on this database
    name = `${PLATFORM_ACCOUNTS_PROJECTION}-test-${randomUUID().slice(0, 8)}`;
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
    await knex('consumer_checkpoints').where({ consumer: name }).delete();
  });

  const runner = (consumer: Consumer) => {
    const r = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, consumer, { lockRetryMs: 50, minBackoffMs: 20, maxBackoffMs: 200 });
    runners.push(r);
    return r;
  };

  const send = async (accountId: string, commands: PlatformAccountCommand[]): Promise<Position> => {
    let last: Position | undefined;
    for (const command of commands) {
      const result = await handle(store, platformAccountAggregate, accountId, command, { context });
      last = result.position ?? last;
    }
    return last!;
  };

  const COOKIE = () => `a1=${randomUUID()}; web_session=040069${randomUUID().replace(/-/g, '')}`;

  const scenario = (accountId: string, ownerId: string, cookies: string[]): PlatformAccountCommand[] => [
    {
      type: 'ConnectPlatformAccount',
      accountId,
      ownerId,
      platform: 'xiaohongshu',
      platformUserId: null,
      displayName: '工作号',
      credentials: secretBox.encrypt(JSON.stringify({ cookies: cookies[0] }), accountId),
      now: at('01:00'),
    },
    { type: 'VerifyAccount', accountId, requestedBy: ownerId, outcome: { ok: true, platformUserId: 'u-5f1a', nickname: '小红薯' }, now: at('02:00') },
    { type: 'RecordAccountHealth', accountId, score: 40, now: at('03:00') },
    { type: 'VerifyAccount', accountId, requestedBy: null, outcome: { ok: false, reason: 'captcha', detail: 'HTTP 461' }, now: at('04:00') },
    {
      type: 'RotateAccountCredentials',
      accountId,
      requestedBy: ownerId,
      credentials: secretBox.encrypt(JSON.stringify({ cookies: cookies[1] }), accountId),
      now: at('05:00'),
    },
  ];

  const row = (id: string) => knex('platform_accounts').where({ id }).first();

  it('projects connect, verify, health, invalidation and rotation, stores no credentials, and a replay changes nothing', async () => {
    const ownerId = randomUUID();
    const accountId = randomUUID();
    const cookies = [COOKIE(), COOKIE()];
    const last = await send(accountId, scenario(accountId, ownerId, cookies));

    const first = runner(createPlatformAccountsProjection(name));
    first.start();
    expect(await waitForCheckpoint(knex, name, last, 20_000), 'projection caught up').to.equal(true);

    const before = await row(accountId);
    expect(before).to.include({
      id: accountId,
      owner_id: ownerId,
      platform: 'xiaohongshu',
      platform_user_id: 'u-5f1a',
      display_name: '工作号',
      nickname: '小红薯',
      // the rotation is the reconnect: back to pending, the last invalidation kept as history
      status: 'pending_verification',
      health_score: 40,
      health_level: 'degraded',
      last_invalidation_reason: 'captcha',
      disconnected_at: null,
      last_revision: '4',
    });
    expect(before.connected_at.toISOString()).to.equal(at('01:00'));
    expect(before.verified_at.toISOString()).to.equal(at('02:00'));
    expect(before.invalidated_at.toISOString()).to.equal(at('04:00'));
    expect(before.updated_at.toISOString()).to.equal(at('05:00'));
    // nothing of the credentials: neither clear nor sealed
    const events = await store.readStream(platformAccountStream(accountId));
    const sealed = (events[0]!.data as any).credentials;
    const text = JSON.stringify(before);
    for (const secret of [...cookies, sealed.ciphertext, sealed.tag, sealed.iv]) expect(text).to.not.include(secret);
    expect(Object.keys(before).some((column) => /credential|cookie|secret/.test(column))).to.equal(false);

    // replay from the start: every event again
    await first.stop();
    await resetCheckpoint(knex, name);
    const second = runner(createPlatformAccountsProjection(name));
    second.start();
    expect(await waitForCheckpoint(knex, name, last, 20_000), 'replay caught up').to.equal(true);
    expect(await row(accountId)).to.deep.equal(before);

    // disconnect: kept, with its status and time
    const gone = await send(accountId, [{ type: 'DisconnectPlatformAccount', accountId, requestedBy: ownerId, now: at('06:00') }]);
    expect(await waitForCheckpoint(knex, name, gone, 20_000)).to.equal(true);
    const after = await row(accountId);
    expect(after).to.include({ status: 'disconnected', last_revision: '5' });
    expect(after.disconnected_at.toISOString()).to.equal(at('06:00'));
  });

  it('ignores events delivered again after later ones (the revision guard), also within one transaction', async () => {
    const ownerId = randomUUID();
    const accountId = randomUUID();
    await send(accountId, scenario(accountId, ownerId, [COOKIE(), COOKIE()]));
    const events = await store.readStream(platformAccountStream(accountId));
    expect(events).to.have.length(5);

    const consumer = createPlatformAccountsProjection(name);
    await knex.transaction(async (tx) => consumer.handle(events, { tx }));
    const once = await row(accountId);
    expect(once).to.include({ status: 'pending_verification', health_score: 40, last_revision: '4' });

    // Connected and AccountVerified again: without the guard the status would go back to active and the health to 100
    await knex.transaction(async (tx) => consumer.handle(events.slice(0, 2), { tx }));
    expect(await row(accountId)).to.deep.equal(once);
    await knex.transaction(async (tx) => {
      await consumer.handle(events, { tx });
      await consumer.handle(events.slice(1, 3), { tx });
    });
    expect(await row(accountId)).to.deep.equal(once);
  });

  it('is named platform-accounts-v1 and reads only platform account streams', () => {
    expect(platformAccountsProjection.name).to.equal('platform-accounts-v1');
    expect(platformAccountsProjection.filter).to.deep.equal({ streamPrefixes: ['platform_account-'] });
  });
});
