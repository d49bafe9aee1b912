import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** An RSA-2048 key pair as PEM: SPKI public, PKCS#8 private. */
export interface RsaPair {
  publicKeyPem: string;
  privateKeyPem: string;
}

export function rsaPair(): RsaPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** The provider side's own keys: what Alipay and WeChat Pay sign their answers and notifications with. */
export interface ProviderKeys {
  alipay: RsaPair;
  wechatPlatform: RsaPair;
  /** the platform certificate's serial (the `Wechatpay-Serial` header) */
  wechatPlatformSerial: string;
}

export function generateProviderKeys(): ProviderKeys {
  return { alipay: rsaPair(), wechatPlatform: rsaPair(), wechatPlatformSerial: randomBytes(20).toString('hex').toUpperCase() };
}

/**
 * A merchant as registered with the providers: the public halves of the keys
 * it signs requests with (the sandbox verifies with them), its ids, and the
 * WeChat APIv3 key (a shared secret: notifications' resources are encrypted with it).
 */
export interface MerchantRegistration {
  alipay?: { appId: string; sellerId: string; appPublicKeyPem: string };
  wechat?: { mchId: string; appId: string; merchantPublicKeyPem: string; merchantSerial: string; apiV3Key: string };
}

/** A whole merchant with its private keys (the CLI and tests make one; the platform's env is printed from it). */
export interface SandboxMerchant {
  alipay: { appId: string; sellerId: string; app: RsaPair };
  wechat: { mchId: string; appId: string; merchant: RsaPair; merchantSerial: string; apiV3Key: string };
}

export function generateMerchant(): SandboxMerchant {
  return {
    alipay: {
      appId: `2021${randomBytes(6).readUIntBE(0, 6).toString().padStart(12, '0').slice(0, 12)}`,
      sellerId: `2088${randomBytes(6).readUIntBE(0, 6).toString().padStart(12, '0').slice(0, 12)}`,
      app: rsaPair(),
    },
    wechat: {
      mchId: `19${randomBytes(4).readUInt32BE(0).toString().padStart(8, '0').slice(0, 8)}`,
      appId: `wx${randomBytes(8).toString('hex')}`,
      merchant: rsaPair(),
      merchantSerial: randomBytes(20).toString('hex').toUpperCase(),
      apiV3Key: randomBytes(16).toString('hex'),
    },
  };
}

export function registrationOf(merchant: SandboxMerchant): MerchantRegistration {
  return {
    alipay: { appId: merchant.alipay.appId, sellerId: merchant.alipay.sellerId, appPublicKeyPem: merchant.alipay.app.publicKeyPem },
    wechat: {
      mchId: merchant.wechat.mchId,
      appId: merchant.wechat.appId,
      merchantPublicKeyPem: merchant.wechat.merchant.publicKeyPem,
      merchantSerial: merchant.wechat.merchantSerial,
      apiV3Key: merchant.wechat.apiV3Key,
    },
  };
}

/**
 * The platform's environment for this merchant and sandbox (src/config.ts
 * names): both providers' URLs at the sandbox, our private keys, their
 * public keys. Values are PEM with literal `\n` (one line each).
 */
export function platformEnv(input: { merchant: SandboxMerchant; keys: ProviderKeys; sandboxUrl: string; notifyBaseUrl: string }): Record<string, string> {
  const oneLine = (pem: string) => pem.trim().replace(/\n/g, '\\n');
  const { merchant, keys } = input;
  return {
    ALIPAY_GATEWAY_URL: `${input.sandboxUrl}/gateway.do`,
    ALIPAY_APP_ID: merchant.alipay.appId,
    ALIPAY_SELLER_ID: merchant.alipay.sellerId,
    ALIPAY_APP_PRIVATE_KEY: oneLine(merchant.alipay.app.privateKeyPem),
    ALIPAY_PUBLIC_KEY: oneLine(keys.alipay.publicKeyPem),
    WECHAT_API_URL: input.sandboxUrl,
    WECHAT_MCH_ID: merchant.wechat.mchId,
    WECHAT_APP_ID: merchant.wechat.appId,
    WECHAT_MCH_PRIVATE_KEY: oneLine(merchant.wechat.merchant.privateKeyPem),
    WECHAT_MCH_SERIAL: merchant.wechat.merchantSerial,
    WECHAT_PLATFORM_PUBLIC_KEY: oneLine(keys.wechatPlatform.publicKeyPem),
    WECHAT_PLATFORM_SERIAL: keys.wechatPlatformSerial,
    WECHAT_API_V3_KEY: merchant.wechat.apiV3Key,
    PAYMENT_NOTIFY_BASE_URL: input.notifyBaseUrl,
  };
}
