import { expect } from 'chai';
import { parkEvent } from '../../src/consumers/dead-letters.js';
import { userStream } from '../../src/write-model/user/decider.js';
import { startPlatform, type Platform } from '../support/platform.js';

/**
 * The console's dead-letter routes, /api/v1/admin/dead-letters, against the
 * whole platform: a parked UserRegistered of users-v1 (parked as the runner
 * parks, in a transaction) is listed, retried through the real users
 * projection (the api builds the projector's consumers for it), and refused
 * a second time; another is skipped.
 */
describe('admin API (e2e): /api/v1/admin/dead-letters', function () {
  this.timeout(120_000);
  let platform: Platform;
  let admin: string;
  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };
  const ids: string[] = [];

  before(async () => {
    platform = await startPlatform({ proxies: 0 });
    admin = await platform.adminToken();
    alice = await platform.signUp('alice');
    bob = await platform.signUp('bob');
    for (const user of [alice, bob]) {
      const [registered] = await platform.events(userStream(user.userId));
      const now = new Date();
      ids.push(
        await platform.knex.transaction((tx) =>
          parkEvent(tx, { consumer: 'users-v1', event: registered!, error: new Error('projection bug'), attempts: 5, firstFailedAt: now, lastFailedAt: now }),
        ),
      );
    }
  });
  after(async () => {
    await platform?.stop();
  });

  const call = (method: string, path: string, token: string | null = admin) => platform.call(method, `/api/v1/admin${path}`, token ? { token } : {});

  it('is for admins only', async () => {
    expect((await call('GET', '/dead-letters', null)).status).to.equal(401);
    expect((await call('GET', '/dead-letters', alice.token)).status).to.equal(403);
    expect((await call('POST', `/dead-letters/${ids[0]}/retry`, alice.token)).status).to.equal(403);
    expect((await call('POST', `/dead-letters/${ids[0]}/skip`, alice.token)).status).to.equal(403);
  });

  it('lists, retries through the consumer, skips, and refuses what is not parked', async () => {
    const listed = await call('GET', '/dead-letters?consumer=users-v1');
    expect(listed.status, listed.text).to.equal(200);
    expect(listed.body.data.map((l: { id: string }) => l.id)).to.deep.equal(ids);
    expect(listed.body.data[0]).to.include({
      consumer: 'users-v1',
      type: 'UserRegistered',
      stream: userStream(alice.userId),
      revision: '0',
      status: 'parked',
      attempts: 5,
    });
    expect(listed.body.data[0].error).to.contain('projection bug');

    const retried = await call('POST', `/dead-letters/${ids[0]}/retry`);
    expect(retried.status, retried.text).to.equal(200);
    expect(retried.body.data).to.deep.include({ ok: true, error: null });
    expect(retried.body.data.dead_letter.status).to.equal('retried');
    const again = await call('POST', `/dead-letters/${ids[0]}/retry`);
    expect(again.status).to.equal(409);
    expect(again.body.error.code).to.equal('CONFLICT');

    const skipped = await call('POST', `/dead-letters/${ids[1]}/skip`);
    expect(skipped.status, skipped.text).to.equal(200);
    expect(skipped.body.data.status).to.equal('skipped');
    expect((await call('POST', `/dead-letters/${ids[1]}/skip`)).status).to.equal(409);

    expect((await call('GET', '/dead-letters')).body.data.filter((l: { consumer: string }) => l.consumer === 'users-v1')).to.deep.equal([]);
    const all = await call('GET', '/dead-letters?status=all&consumer=users-v1');
    expect(all.body.data.map((l: { status: string }) => l.status)).to.deep.equal(['retried', 'skipped']);
    expect((await call('GET', '/dead-letters/999999999')).status).to.equal(404);
    expect((await call('GET', `/dead-letters/${ids[0]}`)).body.data.status).to.equal('retried');

    // the api's /metrics counts parked events from the table
    const metrics = await platform.call('GET', '/metrics');
    expect(metrics.text).to.contain('consumer_dead_letters_parked');
  });

  it('refuses a malformed id (422), an unknown one (404) and a limit outside 1–1000 (422); limit cuts the list', async () => {
    for (const [method, path] of [
      ['GET', '/dead-letters/abc'],
      ['POST', '/dead-letters/abc/retry'],
      ['POST', '/dead-letters/abc/skip'],
    ] as const) {
      const malformed = await call(method, path);
      expect(malformed.status, `${method} ${path}`).to.equal(422);
      expect(malformed.body.error.code).to.equal('VALIDATION_ERROR');
    }
    for (const [method, path] of [
      ['POST', '/dead-letters/999999999/retry'],
      ['POST', '/dead-letters/999999999/skip'],
    ] as const) {
      const unknown = await call(method, path);
      expect(unknown.status, `${method} ${path}`).to.equal(404);
      expect(unknown.body.error.code).to.equal('NOT_FOUND');
    }
    expect((await call('GET', '/dead-letters?limit=0')).status).to.equal(422);
    expect((await call('GET', '/dead-letters?limit=1001')).status).to.equal(422);
    const one = await call('GET', '/dead-letters?status=all&consumer=users-v1&limit=1');
    expect(one.status, one.text).to.equal(200);
    expect(one.body.data.map((l: { id: string }) => l.id)).to.deep.equal([ids[0]]);
  });

  it('is in the OpenAPI document', async () => {
    const doc = await platform.call('GET', '/api/v1/openapi.json');
    expect(Object.keys(doc.body.paths)).to.include.members([
      '/api/v1/admin/dead-letters',
      '/api/v1/admin/dead-letters/{id}',
      '/api/v1/admin/dead-letters/{id}/retry',
      '/api/v1/admin/dead-letters/{id}/skip',
    ]);
  });
});
