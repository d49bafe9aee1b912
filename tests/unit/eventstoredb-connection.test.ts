import { EventStoreDBClient } from '@eventstore/db-client';
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secureConnectionString, securityProblems } from '../../src/adapters/event-store/eventstoredb/connection-string.js';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('EventStoreDB adapter: secured clusters (TLS, a user, a CA)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'esdb-ca-'));
  const caFile = join(dir, 'ca & root.crt');
  writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

  it('folds the user and the CA file into the connection string, percent-encoded', () => {
    const text = secureConnectionString('esdb://node1:2113,node2:2113?tls=true&nodePreference=leader', {
      username: 'ops@collector',
      password: 'p:ss/w@rd',
      tlsCAFile: caFile,
    });
    expect(text).to.equal(
      `esdb://ops%40collector:p%3Ass%2Fw%40rd@node1:2113,node2:2113?tls=true&nodePreference=leader&tlsCAFile=${encodeURIComponent(caFile)}`,
    );
    expect(secureConnectionString('esdb+discover://cluster.internal:2113', { username: 'a', password: 'b' })).to.equal(
      'esdb+discover://a:b@cluster.internal:2113',
    );
    expect(secureConnectionString('esdb://localhost:2113?tls=false', {})).to.equal('esdb://localhost:2113?tls=false');
  });

  it('gives the client a string it accepts (it reads the CA file when it is built)', async () => {
    const client = EventStoreDBClient.connectionString(
      secureConnectionString('esdb://127.0.0.1:1?tls=true', { username: 'u', password: 'p:w', tlsCAFile: caFile }),
    );
    await client.dispose();
    expect(() => EventStoreDBClient.connectionString(secureConnectionString('esdb://127.0.0.1:1', { tlsCAFile: join(dir, 'missing.crt') }))).to.throw(
      /not found/,
    );
  });

  it('names what does not fit together', () => {
    expect(securityProblems('esdb://h:2113', { username: 'u' })).to.have.length(1);
    expect(securityProblems('esdb://u:p@h:2113', { username: 'u', password: 'p' })[0]).to.match(/one place/);
    expect(securityProblems('esdb://h:2113?tls=false', { username: 'u', password: 'p' })[0]).to.match(/need TLS/);
    expect(securityProblems('esdb://h:2113?tls=false', { tlsCAFile: caFile })[0]).to.match(/needs TLS/);
    expect(securityProblems('esdb://h:2113?tls=true', { username: 'u', password: 'p', tlsCAFile: caFile })).to.deep.equal([]);
  });

  it('reads EVENTSTORE_USERNAME / _PASSWORD / _TLS_CA_FILE through the config, refusing bad combinations', () => {
    const config = loadConfig({
      EVENTSTORE_CONNECTION_STRING: 'esdb://es1:2113?tls=true',
      EVENTSTORE_USERNAME: 'collector',
      EVENTSTORE_PASSWORD: 'secret',
      EVENTSTORE_TLS_CA_FILE: caFile,
    });
    expect(config.EVENTSTORE_CONNECTION_STRING).to.equal(`esdb://collector:secret@es1:2113?tls=true&tlsCAFile=${encodeURIComponent(caFile)}`);
    expect(loadConfig({ EVENTSTORE_CONNECTION_STRING: 'esdb://es1:2113?tls=false' }).EVENTSTORE_CONNECTION_STRING).to.equal('esdb://es1:2113?tls=false');

    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        if (error instanceof ConfigError) return error.message;
        throw error;
      }
      return '';
    };
    expect(problems({ EVENTSTORE_CONNECTION_STRING: 'esdb://es1:2113?tls=false', EVENTSTORE_USERNAME: 'u', EVENTSTORE_PASSWORD: 'p' })).to.match(
      /EVENTSTORE_CONNECTION_STRING: credentials need TLS/,
    );
    expect(problems({ EVENTSTORE_USERNAME: 'u', EVENTSTORE_PASSWORD: 'p' })).to.match(/EVENTSTORE_USERNAME: needs EVENTSTORE_CONNECTION_STRING/);
    expect(problems({ EVENTSTORE_CONNECTION_STRING: 'esdb://es1:2113', EVENTSTORE_TLS_CA_FILE: join(dir, 'missing.crt') })).to.match(
      /EVENTSTORE_TLS_CA_FILE: must name a readable file/,
    );
    // the password never shows in an error
    expect(problems({ EVENTSTORE_CONNECTION_STRING: 'esdb://es1:2113', EVENTSTORE_USERNAME: 'u', EVENTSTORE_PASSWORD: 'hunter2-secret' })).to.not.include(
      'hunter2',
    );
  });
});
