import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/**
 * docker-compose.yml is what users run in production (NODE_ENV: production):
 * a data store published on every interface with a default password, or
 * none, lets anyone who reaches the host append events or forge sessions.
 */
interface Service {
  ports?: (string | { host_ip?: string; published?: string | number })[];
  environment?: Record<string, string>;
  command?: string[];
}

const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as {
  services: Record<string, Service>;
  'x-platform': { environment: Record<string, string> };
};

const DATA_STORES = ['postgres', 'redis', 'eventstore'];

describe('docker-compose.yml', () => {
  it('publishes the data stores on the host loopback only (or not at all); only the API on every interface', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const port of service.ports ?? []) {
        const text = typeof port === 'string' ? port : `${port.host_ip ?? ''}:${String(port.published ?? '')}`;
        if (DATA_STORES.includes(name)) expect(text, `${name} publishes ${text}`).to.match(/^127\.0\.0\.1:/);
        else expect(name, `${name} publishes ${text}`).to.equal('api');
      }
    }
  });

  it('takes the Postgres and Redis passwords from required variables, never a default', () => {
    expect(compose.services.postgres!.environment!.POSTGRES_PASSWORD).to.match(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(compose['x-platform'].environment.DATABASE_URL).to.include('${POSTGRES_PASSWORD:?').and.not.include('postgres:postgres@');
    expect(compose.services.redis!.command!.join(' ')).to.include('--requirepass ${REDIS_PASSWORD:?');
    expect(compose['x-platform'].environment.REDIS_URL).to.match(/^redis:\/\/:\$\{REDIS_PASSWORD:\?[^}]*\}@redis:6379$/);
  });

  it('runs EventStoreDB without AtomPub over HTTP', () => {
    expect(compose.services.eventstore!.environment!.EVENTSTORE_ENABLE_ATOM_PUB_OVER_HTTP).to.equal('false');
  });
});
