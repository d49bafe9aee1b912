import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** The provider's signing key pair (Ed25519): it signs answers, receipts and inbound messages; the platform holds the public half. */
export interface SmsProviderKeys {
  privateKeyPem: string;
  publicKeyPem: string;
}

/** Our account at the provider: the API key that names it and the secret our requests are signed with. */
export interface SmsCredentials {
  apiKey: string;
  apiSecret: string;
}

export function generateSmsProviderKeys(): SmsProviderKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function generateSmsCredentials(): SmsCredentials {
  return { apiKey: `AK${randomBytes(10).toString('hex')}`, apiSecret: randomBytes(32).toString('base64url') };
}

/** The platform's environment for a sandbox (src/config.ts names). */
export function smsPlatformEnv(input: {
  credentials: SmsCredentials;
  keys: SmsProviderKeys;
  sandboxUrl: string;
  callbackBaseUrl: string;
}): Record<string, string> {
  return {
    SMS_PROVIDER_URL: input.sandboxUrl,
    SMS_API_KEY: input.credentials.apiKey,
    SMS_API_SECRET: input.credentials.apiSecret,
    SMS_PROVIDER_PUBLIC_KEY: input.keys.publicKeyPem.replace(/\n/g, '\\n'),
    SMS_CALLBACK_BASE_URL: input.callbackBaseUrl,
  };
}
