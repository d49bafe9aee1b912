import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';
import { testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';

/** `npm start` as an operator runs it: a separate process, configured by its environment. */
function startApiProcess(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/api.ts'], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', DATABASE_URL: testDatabaseUrl, REDIS_URL: testRedisUrl, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the api process (e2e)', () => {
  it('prints where it listens (PORT=0 gives the bound port) and exits 0 on SIGTERM', async () => {
    const { child, output } = startApiProcess({ HOST: '127.0.0.1', PORT: '0' });
    try {
      await waitFor(() => /API listening on http:\/\/127\.0\.0\.1:\d+/.test(output()), 'the listening line');
      const url = /API listening on (\S+)/.exec(output())![1]!;
      expect(url).to.not.match(/:0$/);
      expect((await fetch(`${url}/healthz`)).status).to.equal(200);
      // development defaults: a banner says the secrets are public
      expect(output()).to.include('DEVELOPMENT MODE (NODE_ENV=development)').and.include('anyone can forge tokens');

      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code, output()).to.equal(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('production refuses to start on development secrets under another key id, one line per problem', async () => {
    const devKey = Buffer.alloc(32, 'dev-only-encryption-key').toString('base64');
    const { child, output } = startApiProcess({
      NODE_ENV: 'production',
      JWT_SECRET: 'dev-only-jwt-secret-never-use-in-production ',
      ENCRYPTION_KEYS: `prod:${devKey}`,
      SMTP_URL: 'smtps://mail.example.test',
      PUBLIC_WEB_URL: 'https://app.example.test',
      OPS_TOKEN: 'an-ops-token-of-at-least-thirty-two-chars',
    });
    const [code] = await once(child, 'exit');
    expect(code).to.equal(1);
    expect(output()).to.equal(
      [
        'Invalid configuration:',
        '  JWT_SECRET: must not be the development default (or a variant of it) in production',
        '  ENCRYPTION_KEYS: key "prod" is the development default; every key in production must be random (`openssl rand -base64 32`)',
        '',
      ].join('\n'),
    );
  });

  it('exits 1 with one line per bad variable when the configuration is invalid', async () => {
    const { child, output } = startApiProcess({ PORT: 'abc', LOG_LEVEL: 'loud' });
    const [code] = await once(child, 'exit');
    expect(code).to.equal(1);
    expect(output()).to.equal(
      [
        'Invalid configuration:',
        '  PORT: must be an integer between 0 and 65535 (got "abc")',
        '  LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
        '',
      ].join('\n'),
    );
  });
});
