import type { Config } from '../../config.js';
import type { Publisher } from '../publishing/port.js';
import { OPEN_PLATFORMS, type OpenPlatformId } from './platforms.js';
import { OpenPlatformPublisher } from './publisher.js';
import type { OpenPlatformClient } from './transport.js';

/** The variables the open platforms are configured with (src/config.ts). */
export type OpenPlatformConfig = Pick<
  Config,
  | 'OPEN_PLATFORM_URL'
  | 'OAUTH_REDIRECT_BASE_URL'
  | 'OAUTH_CLIENT_BAIDU_ID'
  | 'OAUTH_CLIENT_BAIDU_SECRET'
  | 'OAUTH_CLIENT_BAIDU_PUBLIC_KEY'
  | 'OAUTH_CLIENT_SOHU_ID'
  | 'OAUTH_CLIENT_SOHU_SECRET'
  | 'OAUTH_CLIENT_SOHU_PUBLIC_KEY'
  | 'OAUTH_CLIENT_NETEASE_ID'
  | 'OAUTH_CLIENT_NETEASE_SECRET'
  | 'OAUTH_CLIENT_NETEASE_PUBLIC_KEY'
>;

const VARIABLES: Record<OpenPlatformId, { id: keyof OpenPlatformConfig; secret: keyof OpenPlatformConfig; key: keyof OpenPlatformConfig }> = {
  baidu: { id: 'OAUTH_CLIENT_BAIDU_ID', secret: 'OAUTH_CLIENT_BAIDU_SECRET', key: 'OAUTH_CLIENT_BAIDU_PUBLIC_KEY' },
  sohu: { id: 'OAUTH_CLIENT_SOHU_ID', secret: 'OAUTH_CLIENT_SOHU_SECRET', key: 'OAUTH_CLIENT_SOHU_PUBLIC_KEY' },
  netease: { id: 'OAUTH_CLIENT_NETEASE_ID', secret: 'OAUTH_CLIENT_NETEASE_SECRET', key: 'OAUTH_CLIENT_NETEASE_PUBLIC_KEY' },
};

/** Our callback for a platform: what is registered with it as the redirect URI. */
export function oauthRedirectUri(config: Pick<Config, 'OAUTH_REDIRECT_BASE_URL'>, platform: string): string {
  return `${config.OAUTH_REDIRECT_BASE_URL.replace(/\/+$/, '')}/api/v1/platform-accounts/oauth/${platform}/callback`;
}

/**
 * The OAuth platforms configured here: those with a client id, secret and
 * answer-signing key (config refuses a partial set), in OPEN_PLATFORMS order.
 * A platform without them is not offered anywhere.
 */
export function oauthPlatforms(config: OpenPlatformConfig): OpenPlatformClient[] {
  const base = config.OPEN_PLATFORM_URL?.replace(/\/+$/, '');
  if (!base) return [];
  return OPEN_PLATFORMS.flatMap((spec) => {
    const v = VARIABLES[spec.id];
    const clientId = config[v.id];
    const clientSecret = config[v.secret];
    const publicKey = config[v.key];
    if (!clientId || !clientSecret || !publicKey) return [];
    return [
      {
        platform: spec.id,
        clientId,
        clientSecret,
        publicKey,
        baseUrl: `${base}/${spec.id}`,
        pkce: spec.pkce,
        scopes: spec.scopes,
        redirectUri: oauthRedirectUri(config, spec.id),
      },
    ];
  });
}

/** The configured client of one platform, or undefined when it is not offered. */
export function oauthPlatform(config: OpenPlatformConfig, platform: string): OpenPlatformClient | undefined {
  return oauthPlatforms(config).find((c) => c.platform === platform);
}

/** One Publisher per configured open platform (the publish job's registry takes them). */
export function openPlatformPublishers(config: OpenPlatformConfig): Publisher[] {
  return oauthPlatforms(config).map((client) => new OpenPlatformPublisher(client));
}
