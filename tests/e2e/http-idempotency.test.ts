import { expect } from 'chai';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { TEST_IDEMPOTENCY_KEY } from '../setup/test-env.js';
import { counterStream, post, startTestApi, type TestApi } from './http-test-api.js';

describe('Idempotency-Key on POST commands (e2e)', () => {
  let t: TestApi;
  let base: string;
  before(async () => {
    t = await startTestApi();
    base = `${t.url}/api/v1/test`;
  });
  after(async () => {
    await t?.stop();
  });

  it('a repeat with the same key and body answers the stored response and appends no second event', async () => {
    const id = randomUUID();
    const key = randomUUID();
    await post(`${base}/counters/${id}/open`, { limit: 10 });

    const first = await post(`${base}/counters/${id}/increment`, { by: 2 }, { 'Idempotency-Key': key });
    expect(first.res.status).to.equal(200);
    expect(first.res.headers.get('idempotent-replayed')).to.equal(null);

    // same body with other formatting and key order still counts as the same
    const again = await post(`${base}/counters/${id}/increment`, '{ "by" : 2 }', { 'Idempotency-Key': key });
    expect(again.res.status).to.equal(200);
    expect(again.res.headers.get('idempotent-replayed')).to.equal('true');
    expect(again.res.headers.get('etag')).to.equal(first.res.headers.get('etag'));
    expect(again.body).to.deep.equal(first.body);

    const events = await t.store.readStream(counterStream(id));
    expect(events.map((e) => e.type)).to.deep.equal(['CounterOpened', 'CounterIncremented']);
  });

  it('stores the body as a keyed HMAC fingerprint: never the body, never a plain hash of it (a body may hold a password)', async () => {
    const id = randomUUID();
    const key = randomUUID();
    await post(`${base}/counters/${id}/open`, { limit: 10 });
    await post(`${base}/counters/${id}/increment`, { by: 3 }, { 'Idempotency-Key': key });
    const row = await t.knex('http_idempotency_keys').where({ key }).first();
    const canonical = '{"by":3}';
    expect(row.request_hash).to.equal(createHmac('sha256', TEST_IDEMPOTENCY_KEY).update(canonical).digest('hex'));
    expect(row.request_hash).to.not.equal(createHash('sha256').update(canonical).digest('hex'));
    expect(JSON.stringify(row)).to.not.include(canonical);
  });

  it('the same key with another body → 422 IDEMPOTENCY_KEY_REUSED, nothing runs', async () => {
    const id = randomUUID();
    const key = randomUUID();
    await post(`${base}/counters/${id}/open`, { limit: 10 });
    await post(`${base}/counters/${id}/increment`, { by: 1 }, { 'Idempotency-Key': key });

    const other = await post(`${base}/counters/${id}/increment`, { by: 3 }, { 'Idempotency-Key': key });
    expect(other.res.status).to.equal(422);
    expect(other.body.error?.code).to.equal('IDEMPOTENCY_KEY_REUSED');
    // another path is another request too
    const elsewhere = await post(`${base}/counters/${randomUUID()}/open`, { by: 1 }, { 'Idempotency-Key': key });
    expect(elsewhere.res.status).to.equal(422);
    expect((await t.store.readStream(counterStream(id))).length).to.equal(2);
  });

  it('a duplicate while the first is still running → 409 IDEMPOTENCY_IN_PROGRESS', async () => {
    const key = randomUUID();
    t.gate.reset();
    const first = post(`${base}/slow`, { n: 1 }, { 'Idempotency-Key': key });
    await t.gate.entered;
    const duplicate = await post(`${base}/slow`, { n: 1 }, { 'Idempotency-Key': key });
    expect(duplicate.res.status).to.equal(409);
    expect(duplicate.body.error?.code).to.equal('IDEMPOTENCY_IN_PROGRESS');
    t.gate.release();
    expect((await first).res.status).to.equal(200);
    const replay = await post(`${base}/slow`, { n: 1 }, { 'Idempotency-Key': key });
    expect(replay.res.headers.get('idempotent-replayed')).to.equal('true');
    expect(replay.body.data).to.deep.equal({ n: 1 });
  });

  it('a failed command releases its key: the retry runs', async () => {
    const id = randomUUID();
    const key = randomUUID();
    const missing = await post(`${base}/counters/${id}/increment`, { by: 1 }, { 'Idempotency-Key': key });
    expect(missing.res.status).to.equal(404);
    await post(`${base}/counters/${id}/open`, { limit: 10 });
    const retried = await post(`${base}/counters/${id}/increment`, { by: 1 }, { 'Idempotency-Key': key });
    expect(retried.res.status).to.equal(200);
    expect(retried.res.headers.get('idempotent-replayed')).to.equal(null);
  });

  it('keys are per owner, bounded and expire after 24 h', async () => {
    const bad = await post(`${base}/slow`, { n: 1 }, { 'Idempotency-Key': 'k'.repeat(256) });
    expect(bad.res.status).to.equal(400);
    expect(bad.body.error?.code).to.equal('INVALID_IDEMPOTENCY_KEY');

    const key = randomUUID();
    t.gate.reset();
    t.gate.release();
    await post(`${base}/slow`, { n: 5 }, { 'Idempotency-Key': key });
    const row = await t.knex('http_idempotency_keys').where({ key }).first();
    expect(row.owner).to.equal('anonymous');
    expect(row.response_status).to.equal(200);
    const ttlHours = (new Date(row.expires_at).getTime() - new Date(row.created_at).getTime()) / 3_600_000;
    expect(ttlHours).to.be.closeTo(24, 0.01);

    // once expired, the key is free for a new request
    await t
      .knex('http_idempotency_keys')
      .where({ key })
      .update({ expires_at: t.knex.raw("now() - interval '1 second'") });
    const reused = await post(`${base}/slow`, { n: 6 }, { 'Idempotency-Key': key });
    expect(reused.res.status).to.equal(200);
    expect(reused.body.data).to.deep.equal({ n: 6 });
  });
});
