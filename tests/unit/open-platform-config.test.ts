import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, loadConfig } from '../../src/config.js';
import { oauthPlatforms, oauthRedirectUri, openPlatformPublishers } from '../../src/platforms/open-platform/clients.js';

const ed25519 = () => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig({ NODE_ENV: 'test', ...env });
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
};

/** The open platforms' configuration: a client is all three variables or none, and only a whole one is offered. */
describe('config: open platforms (OAuth clients)', () => {
  const sohu = {
    OPEN_PLATFORM_URL: 'https://open.example.test/',
    OAUTH_CLIENT_SOHU_ID: 'sohu-app-1',
    OAUTH_CLIENT_SOHU_SECRET: 'a-secret-of-enough-length',
    OAUTH_CLIENT_SOHU_PUBLIC_KEY: ed25519().trim().replace(/\n/g, '\\n'),
  };

  it('offers nothing by default, and a configured platform with its redirect URI', () => {
    expect(oauthPlatforms(loadConfig({ NODE_ENV: 'test' }))).to.deep.equal([]);
    const config = loadConfig({ NODE_ENV: 'test', ...sohu, OAUTH_REDIRECT_BASE_URL: 'https://api.example.test/' });
    const [client, ...rest] = oauthPlatforms(config);
    expect(rest).to.deep.equal([]);
    expect(client).to.include({
      platform: 'sohu',
      clientId: 'sohu-app-1',
      baseUrl: 'https://open.example.test/sohu',
      pkce: false,
      redirectUri: 'https://api.example.test/api/v1/platform-accounts/oauth/sohu/callback',
    });
    expect(client!.publicKey).to.match(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(openPlatformPublishers(config).map((p) => p.platform)).to.deep.equal(['sohu']);
    expect(oauthRedirectUri(config, 'baidu')).to.equal('https://api.example.test/api/v1/platform-accounts/oauth/baidu/callback');
    expect(config.OAUTH_REFRESH_LEAD_SECONDS).to.equal(600);
  });

  it('fails fast on a partial client, naming what is missing', () => {
    expect(problemsOf({ OAUTH_CLIENT_BAIDU_ID: 'baidu-app' })).to.deep.equal([
      'OPEN_PLATFORM_URL: is required when OAUTH_CLIENT_BAIDU_ID is set',
      'OAUTH_CLIENT_BAIDU_SECRET: is required when OAUTH_CLIENT_BAIDU_ID is set',
      'OAUTH_CLIENT_BAIDU_PUBLIC_KEY: is required when OAUTH_CLIENT_BAIDU_ID is set',
    ]);
  });

  it('refuses a key that is not Ed25519, a short secret (never echoed) and a lead out of range', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const problems = problemsOf({ ...sohu, OAUTH_CLIENT_SOHU_PUBLIC_KEY: rsa, OAUTH_CLIENT_SOHU_SECRET: 'short', OAUTH_REFRESH_LEAD_SECONDS: '0' });
    expect(problems).to.deep.equal([
      'OAUTH_CLIENT_SOHU_SECRET: must be at least 16 characters (got a value of 5 characters)',
      `OAUTH_CLIENT_SOHU_PUBLIC_KEY: must be an Ed25519 public key (PEM or base64 SPKI) (got a value of ${rsa.length} characters)`,
      'OAUTH_REFRESH_LEAD_SECONDS: must be an integer between 1 and 86400 (got "0")',
    ]);
  });
});
