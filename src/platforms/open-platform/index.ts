export { OPEN_PLATFORMS, OPEN_PLATFORM_IDS, isOpenPlatformId, openPlatformSpec, type OpenPlatformId, type OpenPlatformSpec } from './platforms.js';
export { oauthPlatform, oauthPlatforms, oauthRedirectUri, openPlatformPublishers, type OpenPlatformConfig } from './clients.js';
export { OpenPlatformPublisher } from './publisher.js';
export { authorizeUrl, exchangeCode, fetchPlatformUser, OAuthError, refreshTokens, type PlatformUser, type TokenSet } from './oauth-client.js';
export { callOpenPlatform, OpenPlatformUnavailableError, type OpenPlatformClient, type TransportProblem } from './transport.js';
