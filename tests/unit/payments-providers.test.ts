import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import {
  alipayRequestSigningContent,
  beijingTime,
  jsonValueText,
  signAlipayRequest,
  signAlipayResponse,
  verifyAlipayRequest,
  verifyAlipayResponse,
} from '../../src/adapters/payments/alipay.js';
import { AlipayClient } from '../../src/adapters/payments/alipay-client.js';
import { PaymentProviderError } from '../../src/application/ports/payment-providers.js';
import {
  parseWechatAuthorization,
  verifyWechatRequest,
  wechatAuthorization,
  wechatRefund,
  buildWechatEventNotification,
} from '../../src/adapters/payments/wechat.js';
import { WechatPayClient, rfc3339Beijing } from '../../src/adapters/payments/wechat-client.js';
import { orderIdFromTradeRef, tradeRef } from '../../src/application/payments.js';
import { loadConfig } from '../../src/config.js';
import { generateMerchant, generateProviderKeys, platformEnv, registrationOf, rsaPair } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';

describe('payments: signing helpers', () => {
  const app = rsaPair();
  const other = rsaPair();

  it('signs open API requests over every parameter but sign (sign_type included), sorted, empty values left out', () => {
    const params = { method: 'alipay.trade.query', app_id: '2021', biz_content: '{"out_trade_no":"a"}', empty: '', timestamp: '2024-05-01 12:30:00' };
    const signed = signAlipayRequest(params, app.privateKeyPem);
    expect(signed.sign_type).to.equal('RSA2');
    expect(alipayRequestSigningContent(signed)).to.equal(
      'app_id=2021&biz_content={"out_trade_no":"a"}&method=alipay.trade.query&sign_type=RSA2&timestamp=2024-05-01 12:30:00',
    );
    expect(verifyAlipayRequest(signed, app.publicKeyPem)).to.equal(true);
    expect(verifyAlipayRequest(signed, other.publicKeyPem)).to.equal(false);
    expect(verifyAlipayRequest({ ...signed, biz_content: '{"out_trade_no":"b"}' }, app.publicKeyPem)).to.equal(false);
    // sign_type is signed: downgrading it breaks the signature
    expect(verifyAlipayRequest({ ...signed, sign_type: 'RSA' }, app.publicKeyPem)).to.equal(false);
  });

  it('verifies a gateway answer over the exact text of its response object', () => {
    const text = signAlipayResponse(
      'alipay.trade.query',
      { code: '10000', msg: 'Success', trade_status: 'TRADE_SUCCESS', note: 'a "quoted" } brace' },
      app.privateKeyPem,
    );
    expect(jsonValueText(text, 'alipay_trade_query_response')).to.equal(
      '{"code":"10000","msg":"Success","trade_status":"TRADE_SUCCESS","note":"a \\"quoted\\" } brace"}',
    );
    const ok = verifyAlipayResponse(text, 'alipay.trade.query', app.publicKeyPem);
    expect(ok.ok).to.equal(true);
    expect(verifyAlipayResponse(text, 'alipay.trade.query', other.publicKeyPem).ok).to.equal(false);
    expect(verifyAlipayResponse(text.replace('TRADE_SUCCESS', 'TRADE_CLOSED'), 'alipay.trade.query', app.publicKeyPem).ok).to.equal(false);
    // re-serialised with other spacing: not the bytes that were signed
    const spaced = JSON.stringify(JSON.parse(text), null, 1);
    expect(verifyAlipayResponse(spaced, 'alipay.trade.query', app.publicKeyPem).ok).to.equal(false);
    expect(verifyAlipayResponse('{"error_response":{"code":"40002","sub_code":"isv.invalid-app-id"}}', 'alipay.trade.query', app.publicKeyPem)).to.deep.include(
      { ok: false },
    );
    expect(verifyAlipayResponse('not json', 'alipay.trade.query', app.publicKeyPem).ok).to.equal(false);
  });

  it('writes Beijing times', () => {
    expect(beijingTime(new Date('2024-05-01T04:30:00Z'))).to.equal('2024-05-01 12:30:00');
    expect(rfc3339Beijing(new Date('2024-05-01T20:30:00Z'))).to.equal('2024-05-02T04:30:00+08:00');
  });

  it('signs and verifies WeChat Pay v3 request Authorization headers', () => {
    const body = JSON.stringify({ out_trade_no: 'abc123' });
    const authorization = wechatAuthorization({
      method: 'POST',
      pathWithQuery: '/v3/pay/transactions/native',
      body,
      mchid: '1900000001',
      serial: 'SERIAL1',
      merchantPrivateKeyPem: app.privateKeyPem,
    });
    expect(authorization).to.match(
      /^WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="[0-9A-F]{32}",signature="[^"]+",timestamp="\d+",serial_no="SERIAL1"$/,
    );
    expect(parseWechatAuthorization(authorization)).to.include({ mchid: '1900000001', serial_no: 'SERIAL1' });
    const check = (over: Partial<Parameters<typeof verifyWechatRequest>[0]>) =>
      verifyWechatRequest({
        method: 'POST',
        pathWithQuery: '/v3/pay/transactions/native',
        body,
        authorization,
        merchantPublicKeyPem: app.publicKeyPem,
        ...over,
      }).ok;
    expect(check({})).to.equal(true);
    expect(check({ merchantPublicKeyPem: other.publicKeyPem })).to.equal(false);
    expect(check({ body: body.replace('abc', 'abd') })).to.equal(false);
    expect(check({ pathWithQuery: '/v3/refund/domestic/refunds' })).to.equal(false);
    expect(check({ method: 'GET' })).to.equal(false);
    expect(check({ now: new Date(Date.now() + 10 * 60_000) })).to.equal(false);
    expect(check({ authorization: 'Bearer x' })).to.equal(false);
  });

  it('decrypts refund notifications', () => {
    const key = 'k'.repeat(32);
    const { body } = buildWechatEventNotification({
      eventType: 'REFUND.SUCCESS',
      summary: '退款成功',
      originalType: 'refund',
      plaintext: JSON.stringify({ out_trade_no: 'o', out_refund_no: 'r', refund_id: '5030', refund_status: 'SUCCESS', amount: { total: 10, refund: 10 } }),
      apiV3Key: key,
      platformPrivateKeyPem: app.privateKeyPem,
    });
    expect(JSON.parse(body).resource.original_type).to.equal('refund');
    expect(wechatRefund(body, key)).to.include({ out_refund_no: 'r', refund_status: 'SUCCESS' });
    expect(() => wechatRefund(body, 'x'.repeat(32))).to.throw();
  });

  it('names orders at the providers within their limits, and back', () => {
    const id = randomUUID();
    expect(tradeRef('alipay', id)).to.equal(id);
    expect(tradeRef('wechat', id))
      .to.have.length(32)
      .and.match(/^[0-9a-f]+$/);
    expect(orderIdFromTradeRef(tradeRef('wechat', id))).to.equal(id);
    expect(orderIdFromTradeRef(id.toUpperCase())).to.equal(id);
    expect(orderIdFromTradeRef('not-an-order')).to.equal(undefined);
  });

  it('validates the merchant keys in config: one line per problem, never the secret', () => {
    const env = platformEnv({
      merchant: generateMerchant(),
      keys: generateProviderKeys(),
      sandboxUrl: 'http://127.0.0.1:1',
      notifyBaseUrl: 'http://127.0.0.1:2',
    });
    const base = { NODE_ENV: 'test' };
    const config = loadConfig({ ...base, ...env });
    expect(config.ALIPAY_APP_PRIVATE_KEY).to.include('BEGIN PRIVATE KEY');
    expect(config.WECHAT_MCH_SERIAL).to.equal(env.WECHAT_MCH_SERIAL);
    let message = '';
    try {
      loadConfig({ ...base, ALIPAY_APP_PRIVATE_KEY: 'not a key at all', WECHAT_MCH_PRIVATE_KEY: env.WECHAT_MCH_PRIVATE_KEY });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).to.include('ALIPAY_APP_PRIVATE_KEY: must be an RSA private key');
    expect(message).to.not.include('not a key at all');
    expect(message).to.include('WECHAT_MCH_SERIAL: is required when WECHAT_MCH_PRIVATE_KEY is set');
    expect(message).to.include('WECHAT_API_V3_KEY: is required when WECHAT_MCH_PRIVATE_KEY is set');
    expect(message).to.not.include('PRIVATE KEY-----');
    let production = '';
    try {
      loadConfig({ ...env, NODE_ENV: 'production', JWT_SECRET: randomUUID() + randomUUID(), ENCRYPTION_KEYS: `k:${Buffer.alloc(32, 1).toString('base64')}` });
    } catch (error) {
      production = (error as Error).message;
    }
    expect(production).to.include('PAYMENT_NOTIFY_BASE_URL: must be the https:// URL');
    expect(production).to.include('ALIPAY_GATEWAY_URL: must be an https:// URL in production');
  });
});

describe('payments: provider clients against the sandbox', function () {
  this.timeout(30_000);
  const merchant = generateMerchant();
  let sandbox: PaymentSandbox;
  let alipay: AlipayClient;
  let wechat: WechatPayClient;

  before(async () => {
    sandbox = await startPaymentSandbox({ merchant: registrationOf(merchant), timeScale: 0.001, refundSettleMs: 50 });
    alipay = new AlipayClient({
      gatewayUrl: sandbox.alipayGatewayUrl,
      appId: merchant.alipay.appId,
      appPrivateKeyPem: merchant.alipay.app.privateKeyPem,
      alipayPublicKeyPem: sandbox.keys.alipay.publicKeyPem,
      notifyUrl: 'http://127.0.0.1:9/never',
      timeoutMs: 5_000,
    });
    wechat = new WechatPayClient({
      apiUrl: sandbox.wechatApiUrl,
      mchId: merchant.wechat.mchId,
      appId: merchant.wechat.appId,
      merchantPrivateKeyPem: merchant.wechat.merchant.privateKeyPem,
      merchantSerial: merchant.wechat.merchantSerial,
      platformPublicKeyPem: sandbox.keys.wechatPlatform.publicKeyPem,
      platformSerial: sandbox.keys.wechatPlatformSerial,
      notifyUrl: 'http://127.0.0.1:9/never',
      refundNotifyUrl: 'http://127.0.0.1:9/never',
      timeoutMs: 5_000,
    });
  });
  after(async () => {
    sandbox.faults.tamperResponses = false;
    await sandbox?.stop();
  });

  const order = (channel: 'page' | 'wap' | 'native', orderId = randomUUID()) => ({
    orderId,
    amountFen: 3990,
    subject: '小红书基础版',
    expiresAt: new Date(Date.now() + 30 * 60_000).toISOString(),
    channel,
  });

  it('Alipay: the signed pay URL opens the cashier; query, pay, refund (idempotent by out_request_no)', async () => {
    const o = order('page');
    const placed = await alipay.place(o);
    expect(placed.codeUrl).to.equal(null);
    expect(await alipay.query(o.orderId)).to.deep.equal({ state: 'absent' });
    const cashier = await fetch(placed.payUrl!);
    expect(cashier.status).to.equal(200);
    expect(await cashier.text()).to.include('39.90');
    expect(await alipay.query(o.orderId)).to.deep.include({ state: 'pending', detail: 'WAIT_BUYER_PAY' });
    // a pay URL altered by anyone but us is refused by the gateway
    const forged = new URL(placed.payUrl!);
    forged.searchParams.set('biz_content', forged.searchParams.get('biz_content')!.replace('39.90', '0.01'));
    expect((await fetch(forged)).status).to.equal(400);

    const { tradeNo } = await sandbox.pay('alipay', o.orderId);
    expect(await alipay.query(o.orderId)).to.deep.include({ state: 'paid', providerTradeNo: tradeNo, paidAmountFen: 3990 });
    const refund = { orderId: o.orderId, refundId: randomUUID(), amountFen: 1000, totalFen: 3990, reason: 'test' };
    expect(await alipay.refund(refund)).to.deep.include({ state: 'succeeded' });
    expect(await alipay.refund(refund)).to.deep.include({ state: 'succeeded' });
    expect(sandbox.trade('alipay', o.orderId)).to.include({ refundedFen: 1000 });
    expect(await alipay.refund({ ...refund, refundId: randomUUID(), amountFen: 5000 })).to.deep.include({ state: 'failed' });
  });

  it('WeChat Pay: native answers a code_url; query, pay, refund PROCESSING then SUCCESS', async () => {
    const o = order('native');
    const placed = await wechat.place({ ...o, orderId: tradeRef('wechat', o.orderId) });
    expect(placed.codeUrl).to.match(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);
    const ref = tradeRef('wechat', o.orderId);
    expect(await wechat.query(ref)).to.deep.include({ state: 'pending', detail: 'NOTPAY' });
    expect(await wechat.query('0123456789abcdef')).to.deep.equal({ state: 'absent' });
    // the sandbox keeps WeChat's limit on out_trade_no: a dashed uuid is too long
    const refused = await wechat.place(o).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(PaymentProviderError).and.include({ kind: 'refused', code: 'PARAM_ERROR' });

    const { tradeNo } = await sandbox.pay('wechat', ref);
    expect(await wechat.query(ref)).to.deep.include({ state: 'paid', providerTradeNo: tradeNo, paidAmountFen: 3990 });
    const refund = { orderId: ref, refundId: randomUUID(), amountFen: 3990, totalFen: 3990, reason: 'test' };
    expect(await wechat.refund(refund)).to.deep.include({ state: 'processing' });
    await new Promise((r) => setTimeout(r, 150));
    expect(await wechat.refundStatus(refund)).to.deep.include({ state: 'succeeded' });
    expect(await wechat.refund({ ...refund, refundId: randomUUID(), amountFen: 1 })).to.deep.include({ state: 'failed' });
  });

  it('answers that do not verify, and a provider that is down, are told apart', async () => {
    sandbox.faults.tamperResponses = true;
    try {
      const wrong = await wechat.place({ ...order('native'), orderId: randomUUID().replaceAll('-', '') }).catch((e: unknown) => e);
      expect(wrong).to.be.instanceOf(PaymentProviderError).and.include({ kind: 'invalid_answer', code: 'BAD_SIGNATURE' });
      const wrongAlipay = await alipay.query(randomUUID()).catch((e: unknown) => e);
      expect(wrongAlipay).to.be.instanceOf(PaymentProviderError).and.include({ kind: 'invalid_answer' });
    } finally {
      sandbox.faults.tamperResponses = false;
    }
    sandbox.faults.unavailable = true;
    try {
      expect(await wechat.query('0123456789abcdef').catch((e: unknown) => e)).to.include({ kind: 'unavailable', code: 'HTTP_500' });
      expect(await alipay.query(randomUUID()).catch((e: unknown) => e)).to.include({ kind: 'unavailable', code: 'HTTP_503' });
    } finally {
      sandbox.faults.unavailable = false;
    }
    const nowhere = new AlipayClient({
      gatewayUrl: 'http://127.0.0.1:9/gateway.do',
      appId: merchant.alipay.appId,
      appPrivateKeyPem: merchant.alipay.app.privateKeyPem,
      alipayPublicKeyPem: sandbox.keys.alipay.publicKeyPem,
      notifyUrl: 'http://x',
      timeoutMs: 2_000,
    });
    expect(await nowhere.query(randomUUID()).catch((e: unknown) => e)).to.include({ kind: 'unavailable', code: 'NETWORK' });
    // a merchant key the sandbox does not know: its signature is refused
    const stranger = new WechatPayClient({
      apiUrl: sandbox.wechatApiUrl,
      mchId: merchant.wechat.mchId,
      appId: merchant.wechat.appId,
      merchantPrivateKeyPem: rsaPair().privateKeyPem,
      merchantSerial: merchant.wechat.merchantSerial,
      platformPublicKeyPem: sandbox.keys.wechatPlatform.publicKeyPem,
      notifyUrl: 'http://x',
      refundNotifyUrl: 'http://x',
      timeoutMs: 5_000,
    });
    expect(await stranger.query('0123456789abcdef').catch((e: unknown) => e)).to.include({ kind: 'refused', code: 'SIGN_ERROR' });
  });
});
