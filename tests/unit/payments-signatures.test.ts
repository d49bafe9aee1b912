import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import {
  alipayPayment,
  alipaySigningContent,
  beijingTimeToIso,
  parseAlipayForm,
  signAlipayParams,
  verifyAlipayParams,
} from '../../src/adapters/payments/alipay.js';
import { fenToYuan, yuanToFen } from '../../src/adapters/payments/money.js';
import {
  WechatDecryptError,
  buildWechatNotification,
  decryptWechatResource,
  encryptWechatResource,
  verifyWechatSignature,
  wechatTransaction,
  type WechatTransaction,
} from '../../src/adapters/payments/wechat.js';
import { loadConfig } from '../../src/config.js';

function rsaPair() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

const provider = rsaPair();
const stranger = rsaPair();
const API_V3_KEY = 'abcdefghijklmnopqrstuvwxyz012345';

describe('payments: Alipay RSA2 notifications', () => {
  const params = {
    out_trade_no: '7f8e1c2a-0000-4000-8000-000000000001',
    trade_no: '2024050122001400000000000001',
    trade_status: 'TRADE_SUCCESS',
    total_amount: '39.90',
    gmt_payment: '2024-05-01 12:30:00',
    subject: '小红书基础版 & more=things',
    app_id: '2021000000000000',
    empty: '',
  };

  it('signs over the sorted key=value pairs without sign, sign_type and empty values', () => {
    expect(alipaySigningContent({ b: '2', a: '1', sign: 'x', sign_type: 'RSA2', c: '' })).to.equal('a=1&b=2');
  });

  it('verifies a valid signature, also after a form round trip', () => {
    const signed = signAlipayParams(params, provider.privatePem);
    expect(signed.sign_type).to.equal('RSA2');
    expect(verifyAlipayParams(signed, provider.publicPem)).to.equal(true);
    const form = new URLSearchParams(signed).toString();
    expect(verifyAlipayParams(parseAlipayForm(form), provider.publicPem)).to.equal(true);
  });

  it('refuses tampered params, a wrong key, a missing or garbage signature and sign_type RSA', () => {
    const signed = signAlipayParams(params, provider.privatePem);
    expect(verifyAlipayParams({ ...signed, total_amount: '0.01' }, provider.publicPem)).to.equal(false);
    expect(verifyAlipayParams({ ...signed, extra: 'x' }, provider.publicPem)).to.equal(false);
    expect(verifyAlipayParams(signed, stranger.publicPem)).to.equal(false);
    expect(verifyAlipayParams(signAlipayParams(params, stranger.privatePem), provider.publicPem)).to.equal(false);
    const { sign: _sign, ...unsigned } = signed;
    expect(verifyAlipayParams(unsigned, provider.publicPem)).to.equal(false);
    expect(verifyAlipayParams({ ...signed, sign: 'not base64 !!' }, provider.publicPem)).to.equal(false);
    expect(verifyAlipayParams({ ...signed, sign_type: 'RSA' }, provider.publicPem)).to.equal(false);
    expect(verifyAlipayParams(signed, 'not a key')).to.equal(false);
  });

  it('reads the payment: amount in fen without floats, Beijing time with its offset', () => {
    expect(alipayPayment(params)).to.deep.equal({
      orderId: params.out_trade_no,
      providerTradeNo: params.trade_no,
      tradeStatus: 'TRADE_SUCCESS',
      amountFen: 3990,
      paidAt: '2024-05-01T12:30:00+08:00',
    });
    expect(yuanToFen('0.1')).to.equal(10);
    expect(yuanToFen('1.005')).to.equal(undefined);
    expect(yuanToFen('-1')).to.equal(undefined);
    expect(yuanToFen('129.90')).to.equal(12990);
    expect(fenToYuan(12990)).to.equal('129.90');
    expect(beijingTimeToIso('2024/05/01')).to.equal(undefined);
  });
});

describe('payments: WeChat Pay v3 notifications', () => {
  const transaction: WechatTransaction = {
    out_trade_no: '7f8e1c2a-0000-4000-8000-000000000002',
    transaction_id: '4200000000000000000000000001',
    trade_state: 'SUCCESS',
    success_time: '2024-05-01T12:30:00+08:00',
    amount: { total: 3990, payer_total: 3990, currency: 'CNY' },
  };
  const build = (timestamp?: number) =>
    buildWechatNotification({ transaction, apiV3Key: API_V3_KEY, platformPrivateKeyPem: provider.privatePem, ...(timestamp ? { timestamp } : {}) });
  const check = (n: { body: string; headers: Record<string, string> }, key = provider.publicPem, now = new Date()) =>
    verifyWechatSignature({ headers: n.headers, body: n.body, platformPublicKeyPem: key, now });

  it('verifies the signature over the exact body and decrypts the transaction', () => {
    const n = build();
    expect(check(n)).to.deep.equal({ ok: true });
    // Node lower-cases header names
    const lower = Object.fromEntries(Object.entries(n.headers).map(([k, v]) => [k.toLowerCase(), v]));
    expect(check({ body: n.body, headers: lower })).to.deep.equal({ ok: true });
    expect(wechatTransaction(n.body, API_V3_KEY)).to.deep.equal(transaction);
  });

  it('refuses a changed body (even whitespace), a wrong key and missing headers', () => {
    const n = build();
    expect(check({ ...n, body: n.body.replace('"', ' "') }).ok).to.equal(false);
    expect(check({ ...n, body: `${n.body} ` }).ok).to.equal(false);
    expect(check(n, stranger.publicPem).ok).to.equal(false);
    const { 'Wechatpay-Serial': _serial, ...noSerial } = n.headers;
    expect(check({ ...n, headers: noSerial })).to.deep.equal({ ok: false, reason: 'missing Wechatpay-* signature headers' });
    expect(check({ ...n, headers: { ...n.headers, 'Wechatpay-Nonce': 'other' } }).ok).to.equal(false);
  });

  it('refuses a replay: a timestamp older (or newer) than 5 minutes, even correctly signed', () => {
    const now = new Date();
    const old = build(Math.floor(now.getTime() / 1000) - 301);
    expect(check(old, provider.publicPem, now)).to.deep.equal({ ok: false, reason: 'Wechatpay-Timestamp too far from now (replay?)' });
    const future = build(Math.floor(now.getTime() / 1000) + 301);
    expect(check(future, provider.publicPem, now).ok).to.equal(false);
    const recent = build(Math.floor(now.getTime() / 1000) - 240);
    expect(check(recent, provider.publicPem, now).ok).to.equal(true);
  });

  it('refuses a tampered ciphertext, tag, nonce or associated data, and a wrong APIv3 key', () => {
    const resource = encryptWechatResource('{"a":1}', API_V3_KEY);
    expect(decryptWechatResource(resource, API_V3_KEY)).to.equal('{"a":1}');
    const bytes = Buffer.from(resource.ciphertext, 'base64');
    const flip = (i: number) => {
      const copy = Buffer.from(bytes);
      copy[i] = copy[i]! ^ 1;
      return copy.toString('base64');
    };
    const attempts = [
      { ...resource, ciphertext: flip(0) },
      { ...resource, ciphertext: flip(bytes.length - 1) }, // the tag
      { ...resource, nonce: 'aaaaaaaaaaaa' },
      { ...resource, associated_data: 'other' },
      { ...resource, ciphertext: bytes.subarray(0, 10).toString('base64') },
      { ...resource, algorithm: 'AES_128' },
    ];
    for (const attempt of attempts) expect(() => decryptWechatResource(attempt, API_V3_KEY)).to.throw(WechatDecryptError);
    expect(() => decryptWechatResource(resource, 'x'.repeat(32))).to.throw(WechatDecryptError);
    expect(() => wechatTransaction('{"resource":null}', API_V3_KEY)).to.throw(WechatDecryptError);
    expect(() => wechatTransaction('not json', API_V3_KEY)).to.throw(WechatDecryptError);
  });
});

describe('payments: configuration', () => {
  it('takes PEM or bare base64 public keys (also with \\n escapes) and refuses others; the APIv3 key is 32 characters', () => {
    const base64 = provider.publicPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    const escaped = provider.publicPem.replace(/\n/g, '\\n');
    for (const value of [provider.publicPem, base64, escaped]) {
      expect(loadConfig({ ALIPAY_PUBLIC_KEY: value }).ALIPAY_PUBLIC_KEY).to.equal(provider.publicPem);
    }
    expect(() => loadConfig({ WECHAT_PLATFORM_PUBLIC_KEY: 'nonsense' })).to.throw(/WECHAT_PLATFORM_PUBLIC_KEY: must be an RSA public key/);
    expect(() => loadConfig({ WECHAT_API_V3_KEY: 'short' })).to.throw(/WECHAT_API_V3_KEY: must be exactly 32 characters \(got a value of 5 characters\)/);
    expect(loadConfig({ WECHAT_API_V3_KEY: API_V3_KEY, PAYMENT_ORDER_TTL_MINUTES: '15' })).to.include({
      WECHAT_API_V3_KEY: API_V3_KEY,
      PAYMENT_ORDER_TTL_MINUTES: 15,
    });
  });
});
