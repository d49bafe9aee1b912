import { CALLBACK_PATHS, type PaymentsConfig } from '../../application/payments.js';
import type { PaymentProviders } from '../../application/ports/payment-providers.js';
import { AlipayClient } from './alipay-client.js';
import { WechatPayClient } from './wechat-client.js';

/** The providers this deployment can place orders with (a provider whose merchant key is not configured is not offered). */
export function paymentProvidersFromConfig(config: PaymentsConfig, options: { fetch?: typeof fetch } = {}): PaymentProviders {
  const base = config.PAYMENT_NOTIFY_BASE_URL.replace(/\/+$/, '');
  const providers: PaymentProviders = {};
  if (config.ALIPAY_APP_PRIVATE_KEY && config.ALIPAY_APP_ID && config.ALIPAY_PUBLIC_KEY) {
    providers.alipay = new AlipayClient({
      gatewayUrl: config.ALIPAY_GATEWAY_URL,
      appId: config.ALIPAY_APP_ID,
      appPrivateKeyPem: config.ALIPAY_APP_PRIVATE_KEY,
      alipayPublicKeyPem: config.ALIPAY_PUBLIC_KEY,
      notifyUrl: `${base}${CALLBACK_PATHS.alipay}`,
      returnUrl: `${config.PUBLIC_WEB_URL.replace(/\/+$/, '')}/billing`,
      timeoutMs: config.PAYMENT_PROVIDER_TIMEOUT_MS,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  }
  if (config.WECHAT_MCH_PRIVATE_KEY && config.WECHAT_MCH_SERIAL && config.WECHAT_MCH_ID && config.WECHAT_APP_ID && config.WECHAT_PLATFORM_PUBLIC_KEY) {
    providers.wechat = new WechatPayClient({
      apiUrl: config.WECHAT_API_URL.replace(/\/+$/, ''),
      mchId: config.WECHAT_MCH_ID,
      appId: config.WECHAT_APP_ID,
      merchantPrivateKeyPem: config.WECHAT_MCH_PRIVATE_KEY,
      merchantSerial: config.WECHAT_MCH_SERIAL,
      platformPublicKeyPem: config.WECHAT_PLATFORM_PUBLIC_KEY,
      ...(config.WECHAT_PLATFORM_SERIAL ? { platformSerial: config.WECHAT_PLATFORM_SERIAL } : {}),
      notifyUrl: `${base}${CALLBACK_PATHS.wechat}`,
      refundNotifyUrl: `${base}${CALLBACK_PATHS.wechatRefund}`,
      timeoutMs: config.PAYMENT_PROVIDER_TIMEOUT_MS,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  }
  return providers;
}
