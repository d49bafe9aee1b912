import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as ConfigError).message.split('\n');
  }
  expect.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives every variable its default when the environment is empty', () => {
    expect(loadConfig({})).to.deep.equal({
      NODE_ENV: 'development',
      HOST: '0.0.0.0',
      PORT: 3000,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/collector',
      REDIS_URL: 'redis://127.0.0.1:6379',
      EVENTSTORE_CONNECTION_STRING: undefined,
      LOG_LEVEL: 'info',
      DB_POOL_SIZE: 10,
      SHUTDOWN_TIMEOUT_MS: 10000,
    });
  });

  it('takes values from the environment, converting numbers', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: 'postgresql://app:pw@db:5432/collector',
      REDIS_URL: 'rediss://cache:6380/2',
      EVENTSTORE_CONNECTION_STRING: 'esdb://eventstore:2113?tls=false',
      LOG_LEVEL: 'debug',
      DB_POOL_SIZE: '25',
      SHUTDOWN_TIMEOUT_MS: '500',
    });
    expect(config).to.include({
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: 0,
      DATABASE_URL: 'postgresql://app:pw@db:5432/collector',
      REDIS_URL: 'rediss://cache:6380/2',
      EVENTSTORE_CONNECTION_STRING: 'esdb://eventstore:2113?tls=false',
      LOG_LEVEL: 'debug',
      DB_POOL_SIZE: 25,
      SHUTDOWN_TIMEOUT_MS: 500,
    });
  });

  it('reads process.env by default and ignores unrelated variables', () => {
    expect(loadConfig()).to.not.have.property('PATH');
  });

  it('treats an empty value as unset', () => {
    const config = loadConfig({ PORT: '', EVENTSTORE_CONNECTION_STRING: '' });
    expect(config.PORT).to.equal(3000);
    expect(config.EVENTSTORE_CONNECTION_STRING).to.equal(undefined);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(loadConfig({}))).to.equal(true);
  });

  it('reports one line per bad variable, naming it and what it got', () => {
    expect(
      problemsOf({
        PORT: 'abc',
        NODE_ENV: 'prod',
        LOG_LEVEL: 'loud',
        DB_POOL_SIZE: '1',
        SHUTDOWN_TIMEOUT_MS: '1.5',
        REDIS_URL: 'http://cache',
        EVENTSTORE_CONNECTION_STRING: 'localhost:2113',
      }),
    ).to.deep.equal([
      'NODE_ENV: must be one of development, test, production (got "prod")',
      'PORT: must be an integer between 0 and 65535 (got "abc")',
      'REDIS_URL: must be a redis:// or rediss:// URL (got "http://cache")',
      'EVENTSTORE_CONNECTION_STRING: must look like esdb://host:2113?tls=false (got "localhost:2113")',
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
      'DB_POOL_SIZE: must be an integer between 2 and 100 (got "1")',
      'SHUTDOWN_TIMEOUT_MS: must be an integer between 100 and 600000 (got "1.5")',
    ]);
  });

  it('rejects out-of-range ports', () => {
    expect(problemsOf({ PORT: '65536' })).to.deep.equal(['PORT: must be an integer between 0 and 65535 (got "65536")']);
  });

  it('never echoes the password of a bad URL', () => {
    const [line] = problemsOf({ DATABASE_URL: 'mysql://app:hunter2@db/collector' });
    expect(line).to.equal('DATABASE_URL: must be a postgres:// or postgresql:// URL (got "mysql://app:***@db/collector")');
  });
});
