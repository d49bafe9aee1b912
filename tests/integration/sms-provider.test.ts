import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { SmsProviderError } from '../../src/application/ports/sms-provider.js';
import { HttpSmsProvider, SMS_BATCH_MAX, decimalToMicros } from '../../src/adapters/sms/client.js';
import { SmsSendBatcher } from '../../src/worker/sms-send-batcher.js';
import { RedisNonceCache } from '../../src/adapters/sms/nonce-cache.js';
import { signSmsProviderMessage, signSmsRequest, verifySmsProviderSignature } from '../../src/adapters/sms/signature.js';
import { generateSmsCredentials, generateSmsProviderKeys } from '../../sandbox/sms-provider/keys.js';
import { MAX_BODY_BYTES, startSmsSandbox, type SmsSandbox } from '../../sandbox/sms-provider/server.js';
import { testRedisUrl } from '../setup/test-env.js';

/**
 * The SMS adapter against the sandbox provider, both directions signed:
 * our requests (HMAC-SHA256 with the API secret) verified by the sandbox,
 * its answers and callbacks (Ed25519) verified by us; forged, altered,
 * stale and replayed ones refused.
 */
describe('sms provider adapter ↔ sandbox (signatures both ways)', function () {
  this.timeout(30_000);
  const credentials = generateSmsCredentials();
  const keys = generateSmsProviderKeys();
  let sandbox: SmsSandbox;
  let receiver: Server;
  let receiverUrl: string;
  const received: { path: string; headers: Record<string, string | string[] | undefined>; body: string }[] = [];

  const client = (overrides: Partial<ConstructorParameters<typeof HttpSmsProvider>[0]> = {}) =>
    new HttpSmsProvider({
      baseUrl: sandbox.url,
      apiKey: credentials.apiKey,
      apiSecret: credentials.apiSecret,
      providerPublicKeyPem: keys.publicKeyPem,
      receiptUrl: `${receiverUrl}/api/v1/sms/callbacks/receipts`,
      timeoutMs: 5_000,
      ...overrides,
    });
  const refusal = async (run: Promise<unknown>): Promise<SmsProviderError> => {
    try {
      await run;
    } catch (error) {
      expect(error).to.be.instanceOf(SmsProviderError);
      return error as SmsProviderError;
    }
    throw new Error('expected an SmsProviderError');
  };

  before(async () => {
    // a stand-in for our callback routes: records what the provider posts, acknowledges it
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"received":true}');
      });
    });
    await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    sandbox = await startSmsSandbox({
      accounts: [credentials],
      keys,
      inboundUrl: `${receiverUrl}/api/v1/sms/callbacks/inbound`,
      settings: { receiptDelayMs: 20 },
      timeScale: 0.001,
    });
  });
  after(async () => {
    await sandbox?.stop();
    await new Promise((done) => receiver?.close(done));
  });
  afterEach(() => {
    Object.assign(sandbox.faults, {
      unavailable: false,
      throttle: false,
      loseAnswers: false,
      tamperAnswers: false,
      tamperCallbacks: false,
      dropReceipts: false,
    });
  });

  it('sends: the sandbox verifies our signature and answers signed; the price comes in micro-units', async () => {
    const messageId = randomUUID();
    const accepted = await client().send({ messageId, to: '+8613800138000', text: '您的验证码是 123456' });
    expect(accepted.providerMessageId).to.match(/^SM[0-9a-f]{24}$/);
    expect(accepted).to.include({ senderNumber: '+8610690000001', priceMicros: 7500, currency: 'USD', segments: 1 });
    expect(sandbox.byClientRef(messageId)).to.include({
      to: '+8613800138000',
      status: 'ACCEPTED',
      callbackUrl: `${receiverUrl}/api/v1/sms/callbacks/receipts`,
    });
    // the receipt comes to our callback URL, signed over its path
    const delivery = await sandbox.waitForDelivery((d) => d.kind === 'receipt' && d.messageId === accepted.providerMessageId);
    expect(delivery.acknowledged).to.equal(true);
    const body = JSON.parse(delivery.request.body);
    expect(body).to.include({ type: 'receipt', client_ref: messageId, message_id: accepted.providerMessageId, status: 'DELIVERED' });
    const check = verifySmsProviderSignature({
      method: 'POST',
      path: '/api/v1/sms/callbacks/receipts',
      headers: delivery.request.headers,
      body: delivery.request.body,
      publicKeyPem: keys.publicKeyPem,
    });
    expect(check.ok, JSON.stringify(check)).to.equal(true);
    const status = await client().status(messageId);
    expect(status).to.include({ state: 'delivered', providerMessageId: accepted.providerMessageId });
    expect(await client().status(randomUUID())).to.deep.equal({ state: 'absent' });
  });

  it('never sends twice: the same idempotency key gives the first answer back; a lost answer retried is the same message', async () => {
    const messageId = randomUUID();
    const first = await client().send({ messageId, to: '+12025550123', text: 'hello' });
    const again = await client().send({ messageId, to: '+12025550123', text: 'hello' });
    expect(again.providerMessageId).to.equal(first.providerMessageId);
    expect(sandbox.acceptedCount(messageId)).to.equal(1);
    // another body under the same key is refused for good
    const reused = await refusal(client().send({ messageId, to: '+12025550123', text: 'other' }));
    expect(reused).to.include({ kind: 'refused', code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(reused.permanent).to.equal('rejected');

    const lost = randomUUID();
    sandbox.faults.loseAnswers = true;
    const unavailable = await refusal(client().send({ messageId: lost, to: '+12025550123', text: 'hello' }));
    expect(unavailable).to.include({ kind: 'unavailable', code: 'HTTP_503' });
    expect(unavailable.permanent).to.equal(null);
    sandbox.faults.loseAnswers = false;
    const retried = await client().send({ messageId: lost, to: '+12025550123', text: 'hello' });
    expect(retried.providerMessageId).to.equal(sandbox.byClientRef(lost)!.id);
    expect(sandbox.acceptedCount(lost)).to.equal(1);
  });

  it('sends a batch in one signed call: each message its own answer, a refusal its own, a repeat the first answer', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    sandbox.rejections.set('+8613722223333', 'CONTENT_REJECTED');
    const outcomes = await client().sendBatch([
      { messageId: a, to: '+8613800138000', text: 'one' },
      { messageId: b, to: '+8613722223333', text: 'two' },
      { messageId: c, to: '+85291234567', text: 'three' },
    ]);
    expect(outcomes.map((o) => o.ok)).to.deep.equal([true, false, true]);
    const [first, refused, third] = outcomes;
    if (!first?.ok || refused?.ok !== false || !third?.ok) throw new Error('unexpected outcomes');
    expect(first.accepted).to.include({ providerMessageId: sandbox.byClientRef(a)!.id, senderNumber: '+8610690000001', priceMicros: 7500 });
    expect(third.accepted).to.include({ providerMessageId: sandbox.byClientRef(c)!.id, senderNumber: '+85258000001' });
    expect(refused.error).to.include({ kind: 'refused', code: 'CONTENT_REJECTED' });
    expect(refused.error.permanent).to.equal('rejected');
    expect(sandbox.byClientRef(b)).to.equal(undefined);

    // again, in a batch or alone: the first answers, no second SMS; another body under a client_ref is refused for good
    const again = await client().sendBatch([
      { messageId: c, to: '+85291234567', text: 'three' },
      { messageId: a, to: '+8613800138000', text: 'changed' },
    ]);
    expect(again[0]).to.deep.include({ ok: true });
    expect(again[0]?.ok && again[0].accepted.providerMessageId).to.equal(third.accepted.providerMessageId);
    expect(again[1]?.ok === false && again[1].error.code).to.equal('IDEMPOTENCY_KEY_REUSED');
    expect((await client().send({ messageId: a, to: '+8613800138000', text: 'one' })).providerMessageId).to.equal(first.accepted.providerMessageId);
    expect([a, c].map((id) => sandbox.acceptedCount(id))).to.deep.equal([1, 1]);

    // the whole call lost: retried, the same messages
    const lost = randomUUID();
    sandbox.faults.loseAnswers = true;
    expect(await refusal(client().sendBatch([{ messageId: lost, to: '+12025550123', text: 'hi' }]))).to.include({ kind: 'unavailable', code: 'HTTP_503' });
    sandbox.faults.loseAnswers = false;
    const retried = await client().sendBatch([{ messageId: lost, to: '+12025550123', text: 'hi' }]);
    expect(retried[0]?.ok && retried[0].accepted.providerMessageId).to.equal(sandbox.byClientRef(lost)!.id);
    expect(sandbox.acceptedCount(lost)).to.equal(1);
    // an altered answer is not believed: the whole call is retried
    sandbox.faults.tamperAnswers = true;
    expect(await refusal(client().sendBatch([{ messageId: randomUUID(), to: '+12025550123', text: 'hi' }]))).to.include({ kind: 'invalid_answer' });
    sandbox.faults.tamperAnswers = false;
    const tooMany = Array.from({ length: SMS_BATCH_MAX + 1 }, () => ({ messageId: randomUUID(), to: '+12025550123', text: 'hi' }));
    try {
      await client().sendBatch(tooMany);
      expect.fail('a batch over the limit was sent');
    } catch (error) {
      expect(error).to.be.instanceOf(RangeError);
    }
  });

  it('the worker’s batcher puts the sends running at once into one call, each job with its own answer or refusal', async () => {
    const calls: string[] = [];
    const counting: typeof fetch = (input, init) => {
      calls.push(new URL(String(input)).pathname);
      return fetch(input, init);
    };
    const batcher = new SmsSendBatcher(client({ fetch: counting }), { maxBatch: 3, lingerMs: 20 });
    sandbox.rejections.set('+8613733334444', 'INVALID_NUMBER');
    const ids = Array.from({ length: 4 }, () => randomUUID());
    const settled = await Promise.allSettled([
      batcher.send({ messageId: ids[0]!, to: '+8613800138000', text: 'a' }),
      batcher.send({ messageId: ids[1]!, to: '+8613733334444', text: 'b' }),
      batcher.send({ messageId: ids[2]!, to: '+12025550123', text: 'c' }),
      batcher.send({ messageId: ids[3]!, to: '+12025550123', text: 'd' }),
    ]);
    // three fill a batch at once; the fourth goes after the linger
    expect(calls).to.deep.equal(['/v1/messages/batch', '/v1/messages/batch']);
    expect(settled.map((s) => s.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(settled[0]?.status === 'fulfilled' && settled[0].value.providerMessageId).to.equal(sandbox.byClientRef(ids[0]!)!.id);
    expect(settled[3]?.status === 'fulfilled' && settled[3].value.providerMessageId).to.equal(sandbox.byClientRef(ids[3]!)!.id);
    const refused = settled[1]?.status === 'rejected' ? settled[1].reason : null;
    expect(refused).to.be.instanceOf(SmsProviderError);
    expect((refused as SmsProviderError).permanent).to.equal('invalid_number');
    // the provider down: every job of the batch gets the call's error (each is retried)
    sandbox.faults.unavailable = true;
    const down = await Promise.allSettled([
      batcher.send({ messageId: randomUUID(), to: '+12025550123', text: 'e' }),
      batcher.send({ messageId: randomUUID(), to: '+12025550123', text: 'f' }),
    ]);
    expect(down.map((s) => s.status === 'rejected' && (s.reason as SmsProviderError).kind)).to.deep.equal(['unavailable', 'unavailable']);
  });

  it('the batcher keeps a batch’s body within what the provider takes: long texts go in several calls', async () => {
    const calls: number[] = [];
    const counting: typeof fetch = (input, init) => {
      calls.push(Buffer.byteLength(String(init?.body ?? '')));
      return fetch(input, init);
    };
    const batcher = new SmsSendBatcher(client({ fetch: counting }));
    // 100 messages of 1,600 Chinese characters: about 480 KB of text, more than the provider takes at once (MAX_BODY_BYTES)
    const text = '长'.repeat(1_600);
    const ids = Array.from({ length: 100 }, () => randomUUID());
    const accepted = await Promise.all(ids.map((messageId) => batcher.send({ messageId, to: '+8613800138000', text })));
    expect(accepted.map((a) => a.providerMessageId)).to.deep.equal(ids.map((id) => sandbox.byClientRef(id)!.id));
    expect(accepted.every((a) => a.segments === 24)).to.equal(true);
    expect(calls.length).to.be.greaterThan(3);
    expect(Math.max(...calls)).to.be.at.most(MAX_BODY_BYTES);
  });

  it('gathers receipts due to one URL into one signed request when told to', async () => {
    sandbox.settings.receiptBatchMax = 10;
    sandbox.settings.receiptBatchWindowMs = 100;
    try {
      // a callback URL of their own: receipts still due from earlier tests are gathered apart
      const outcomes = await client({ receiptUrl: `${receiverUrl}/api/v1/sms/callbacks/receipts?batch=${randomUUID()}` }).sendBatch(
        Array.from({ length: 3 }, (_, i) => ({ messageId: randomUUID(), to: '+8613800138000', text: `gathered ${i}` })),
      );
      const providerIds = outcomes.map((o) => (o.ok ? o.accepted.providerMessageId : ''));
      const deliveries = await Promise.all(providerIds.map((id) => sandbox.waitForDelivery((d) => d.kind === 'receipt' && d.messageId === id)));
      // one request for the three
      expect(new Set(deliveries.map((d) => d.request.body)).size).to.equal(1);
      const body = JSON.parse(deliveries[0]!.request.body);
      expect(body.type).to.equal('receipts');
      expect(body.receipts.map((r: { message_id: string }) => r.message_id)).to.have.members(providerIds);
      expect(body.receipts.every((r: { type: string; status: string }) => r.type === 'receipt' && r.status === 'DELIVERED')).to.equal(true);
      const check = verifySmsProviderSignature({
        method: 'POST',
        path: '/api/v1/sms/callbacks/receipts',
        headers: deliveries[0]!.request.headers,
        body: deliveries[0]!.request.body,
        publicKeyPem: keys.publicKeyPem,
      });
      expect(check.ok).to.equal(true);
    } finally {
      sandbox.settings.receiptBatchMax = 1;
    }
  });

  it('our credentials refused (wrong secret, unknown key) are not the message’s fault: retried, not failed', async () => {
    const wrong = await refusal(client({ apiSecret: 'x'.repeat(43) }).send({ messageId: randomUUID(), to: '+8613800138000', text: 'hi' }));
    expect(wrong).to.include({ kind: 'refused', code: 'BAD_SIGNATURE' });
    expect(wrong.permanent).to.equal(null);
    const unknown = await refusal(client({ apiKey: 'AKnobody' }).send({ messageId: randomUUID(), to: '+8613800138000', text: 'hi' }));
    expect(unknown).to.include({ code: 'BAD_SIGNATURE' });
  });

  it('the sandbox refuses a replayed or stale request of ours', async () => {
    const body = JSON.stringify({ to: '+8613800138000', text: 'hi', client_ref: randomUUID(), callback_url: `${receiverUrl}/x` });
    const headers = {
      ...signSmsRequest({ method: 'POST', pathWithQuery: '/v1/messages', body, ...credentials }),
      'Content-Type': 'application/json',
      'Idempotency-Key': randomUUID(),
    };
    const first = await fetch(`${sandbox.url}/v1/messages`, { method: 'POST', headers, body });
    expect(first.status).to.equal(201);
    const replayed = await fetch(`${sandbox.url}/v1/messages`, { method: 'POST', headers, body });
    expect(replayed.status).to.equal(401);
    expect(((await replayed.json()) as { message: string }).message).to.match(/nonce reused/);
    const staleHeaders = {
      ...signSmsRequest({ method: 'POST', pathWithQuery: '/v1/messages', body, ...credentials, now: new Date(Date.now() - 10 * 60_000) }),
      'Content-Type': 'application/json',
      'Idempotency-Key': randomUUID(),
    };
    const stale = await fetch(`${sandbox.url}/v1/messages`, { method: 'POST', headers: staleHeaders, body });
    expect(stale.status).to.equal(401);
  });

  it('does not believe an answer altered after signing, or one signed by another key', async () => {
    sandbox.faults.tamperAnswers = true;
    const tampered = await refusal(client().send({ messageId: randomUUID(), to: '+8613800138000', text: 'hi' }));
    expect(tampered).to.include({ kind: 'invalid_answer', code: 'BAD_SIGNATURE' });
    sandbox.faults.tamperAnswers = false;
    const foreign = await refusal(client({ providerPublicKeyPem: generateSmsProviderKeys().publicKeyPem }).status(randomUUID()));
    expect(foreign).to.include({ kind: 'invalid_answer', code: 'BAD_SIGNATURE' });
  });

  it('tells the message’s own refusals (permanent) from the provider’s trouble (retried)', async () => {
    sandbox.rejections.set('+8613900000000', 'INVALID_NUMBER');
    const invalid = await refusal(client().send({ messageId: randomUUID(), to: '+8613900000000', text: 'hi' }));
    expect(invalid.permanent).to.equal('invalid_number');
    sandbox.settings.unsupportedCountries.add('KR');
    const country = await refusal(client().send({ messageId: randomUUID(), to: '+821012345678', text: 'hi' }));
    expect(country).to.include({ code: 'COUNTRY_NOT_SUPPORTED' });
    expect(country.permanent).to.equal('country_not_supported');
    sandbox.settings.unsupportedCountries.delete('KR');
    sandbox.faults.throttle = true;
    const throttled = await refusal(client().send({ messageId: randomUUID(), to: '+8613800138000', text: 'hi' }));
    expect(throttled).to.include({ kind: 'unavailable', code: 'THROTTLED', retryAfterMs: 1000 });
    sandbox.faults.throttle = false;
    sandbox.faults.unavailable = true;
    expect((await refusal(client().send({ messageId: randomUUID(), to: '+8613800138000', text: 'hi' }))).kind).to.equal('unavailable');
    sandbox.faults.unavailable = false;
    const down = await refusal(client({ baseUrl: 'http://127.0.0.1:9' }).send({ messageId: randomUUID(), to: '+8613800138000', text: 'hi' }));
    expect(down).to.include({ kind: 'unavailable', code: 'NETWORK' });
  });

  it('sends UNDELIVERED receipts with an error code for numbers given that outcome, and signs inbound messages', async () => {
    sandbox.outcomes.set('+8613711112222', { status: 'UNDELIVERED', errorCode: 'UNKNOWN_SUBSCRIBER' });
    const accepted = await client().send({ messageId: randomUUID(), to: '+8613711112222', text: 'hi' });
    const receipt = await sandbox.waitForDelivery((d) => d.kind === 'receipt' && d.messageId === accepted.providerMessageId);
    expect(JSON.parse(receipt.request.body)).to.include({ status: 'UNDELIVERED', error_code: 'UNKNOWN_SUBSCRIBER' });

    const { messageId } = sandbox.injectInbound({ from: '+8613711112222', to: '+8610690000001', text: '退订' });
    const inbound = await sandbox.waitForDelivery((d) => d.kind === 'inbound' && d.messageId === messageId);
    expect(JSON.parse(inbound.request.body)).to.include({ type: 'inbound', from: '+8613711112222', to: '+8610690000001', text: '退订' });
    const check = verifySmsProviderSignature({
      method: 'POST',
      path: '/api/v1/sms/callbacks/inbound',
      headers: inbound.request.headers,
      body: inbound.request.body,
      publicKeyPem: keys.publicKeyPem,
    });
    expect(check.ok).to.equal(true);
    // signed for the inbound path: the same request is not a receipt
    expect(
      verifySmsProviderSignature({
        method: 'POST',
        path: '/api/v1/sms/callbacks/receipts',
        headers: inbound.request.headers,
        body: inbound.request.body,
        publicKeyPem: keys.publicKeyPem,
      }).ok,
    ).to.equal(false);
  });

  it('refuses unsigned, forged, altered and stale callbacks', async () => {
    const body = JSON.stringify({ type: 'receipt', status: 'DELIVERED' });
    const path = '/api/v1/sms/callbacks/receipts';
    const verify = (headers: Record<string, string>, text = body) =>
      verifySmsProviderSignature({ method: 'POST', path, headers, body: text, publicKeyPem: keys.publicKeyPem });
    const good = signSmsProviderMessage({ method: 'POST', path, body, privateKeyPem: keys.privateKeyPem });
    expect(verify(good).ok).to.equal(true);
    expect(verify({})).to.deep.equal({ ok: false, reason: 'unsigned: X-Sms-Signature missing' });
    const forged = signSmsProviderMessage({ method: 'POST', path, body, privateKeyPem: generateSmsProviderKeys().privateKeyPem });
    expect(verify(forged).ok).to.equal(false);
    expect(verify(good, body.replace('DELIVERED', 'UNDELIVERED')).ok).to.equal(false);
    const stale = signSmsProviderMessage({ method: 'POST', path, body, privateKeyPem: keys.privateKeyPem, now: new Date(Date.now() - 6 * 60_000) });
    expect(verify(stale)).to.deep.include({ ok: false, reason: 'timestamp too far from now (stale)' });
    expect(verify({ ...good, 'X-Sms-Nonce': 'short' }).ok).to.equal(false);

    sandbox.faults.tamperCallbacks = true;
    const accepted = await client().send({ messageId: randomUUID(), to: '+8613800138000', text: 'hi' });
    const delivery = await sandbox.waitForDelivery((d) => d.kind === 'receipt' && d.messageId === accepted.providerMessageId);
    expect(
      verifySmsProviderSignature({ method: 'POST', path, headers: delivery.request.headers, body: delivery.request.body, publicKeyPem: keys.publicKeyPem }).ok,
    ).to.equal(false);
  });

  it('remembers callback nonces in Redis: a replayed request is refused', async () => {
    const redis = new Redis(testRedisUrl, { maxRetriesPerRequest: 1 });
    try {
      const prefix = `test-sms-${randomUUID()}:`;
      const nonces = new RedisNonceCache(redis, { prefix, ttlMs: 5_000 });
      const nonce = randomUUID().replaceAll('-', '');
      expect(await nonces.claim(nonce)).to.equal(true);
      expect(await nonces.claim(nonce)).to.equal(false);
      expect(await new RedisNonceCache(redis, { prefix }).claim(nonce), 'another API process').to.equal(false);
      await redis.del(`${prefix}sms:nonce:${nonce}`);
    } finally {
      redis.disconnect();
    }
  });

  it('reads decimal prices exactly', () => {
    expect(decimalToMicros('0.0075')).to.equal(7500);
    expect(decimalToMicros('1.5')).to.equal(1_500_000);
    expect(decimalToMicros('12')).to.equal(12_000_000);
    expect(decimalToMicros('0.0000001')).to.equal(null);
    expect(decimalToMicros('-1')).to.equal(null);
    expect(decimalToMicros('1e3')).to.equal(null);
    expect(decimalToMicros(undefined)).to.equal(null);
  });
});
