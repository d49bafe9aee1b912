import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { StreamNotFoundError } from '../../src/event-store/errors.js';
import { TOKENS } from '../../src/tokens.js';
import { testConfig } from '../setup/test-env.js';

describe('container', () => {
  it('uses the Postgres event store when no EventStoreDB connection string is set', async () => {
    const container = await buildContainer(testConfig());
    try {
      expect(container.get(TOKENS.EventStore).kind).to.equal('postgres');
    } finally {
      await disposeContainer(container);
    }
  });

  it('uses EventStoreDB when EVENTSTORE_CONNECTION_STRING is set', async () => {
    // nothing listens there: building and closing the adapter must not need a server
    const container = await buildContainer(testConfig({ EVENTSTORE_CONNECTION_STRING: 'esdb://127.0.0.1:1?tls=false' }));
    try {
      expect(container.get(TOKENS.EventStore).kind).to.equal('eventstoredb');
    } finally {
      await disposeContainer(container);
    }
  });

  it('hands out one instance per token and the config it was built from', async () => {
    const config = testConfig();
    const container = await buildContainer(config);
    try {
      expect(container.get(TOKENS.Config)).to.equal(config);
      expect(container.get(TOKENS.Knex)).to.equal(container.get(TOKENS.Knex));
      expect(container.get(TOKENS.Metrics)).to.equal(container.get(TOKENS.Metrics));
    } finally {
      await disposeContainer(container);
    }
  });

  // The adapter is imported lazily; under a loader that gave it a module graph of its own,
  // `instanceof` on the port's errors would fail and command handling would misread them.
  it("wires the adapter into the same module graph: its errors are the port's own classes", async () => {
    const container = await buildContainer(testConfig());
    try {
      const error = await container
        .get(TOKENS.EventStore)
        .readStream(`missing-${randomUUID()}`)
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(StreamNotFoundError);
    } finally {
      await disposeContainer(container);
    }
  });
});
