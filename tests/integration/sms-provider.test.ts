import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { SmsProviderError } from '../../src/application/ports/sms-provider.js';
import { HttpSmsProvider, decimalToMicros } from '../../src/adapters/sms/client.js';
import { RedisNonceCache } from '../../src/adapters/sms/nonce-cache.js';
import { signSmsProviderMessage, signSmsRequest, verifySmsProviderSignature } from '../../src/adapters/sms/signature.js';
import { generateSmsCredentials, generateSmsProviderKeys } from '../../sandbox/sms-provider/keys.js';
import { startSmsSandbox, type SmsSandbox } from '../../sandbox/sms-provider/server.js';
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
