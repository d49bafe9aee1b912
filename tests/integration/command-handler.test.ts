import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { WrongExpectedVersionError } from '../../src/event-store/errors.js';
import { contextFromEvent, contextFromRequest } from '../../src/write-model/core/command-context.js';
import { handleCommand, NO_RETRY } from '../../src/write-model/core/command-handler.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { eventIdsFrom } from '../../src/write-model/core/event-ids.js';
import { counter } from '../support/counter-decider.js';
import { testDatabaseUrl } from '../setup/test-env.js';

describe('command handling core (on the Postgres event store)', () => {
  let store: PostgresEventStore;
  let stream: string;
  const context = contextFromRequest({ requestId: 'req-1', userId: 'user-1' });

  before(() => {
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 10 });
  });
  after(() => store.close());
  beforeEach(() => {
    stream = `counter-${randomUUID()}`;
  });

  it('loads, decides and appends, carrying correlation, causation, actor and request into the metadata', async () => {
    const opened = await handleCommand(store, stream, counter, { type: 'Open', limit: 10 }, { context });
    expect(opened.revision).to.equal(0n);
    expect(opened.position).to.not.equal(undefined);
    const incremented = await handleCommand(store, stream, counter, { type: 'Increment', by: 3 }, { context });
    expect(incremented.state).to.deep.equal({ open: true, value: 3, limit: 10 });

    const [first] = await store.readStream(stream);
    expect(first!.metadata).to.deep.equal({ $correlationId: 'req-1', $causationId: 'req-1', userId: 'user-1', requestId: 'req-1' });

    // a reaction to that event continues the correlation and names the event as its cause
    const reaction = contextFromEvent(first!, 'quota');
    expect(reaction).to.deep.include({ correlationId: 'req-1', causationId: first!.id, actor: 'pm:quota' });
  });

  it('appends nothing when the decision is to do nothing, and nothing when the command is refused', async () => {
    await handleCommand(store, stream, counter, { type: 'Open', limit: 1 }, { context });
    const touched = await handleCommand(store, stream, counter, { type: 'Touch' }, { context });
    expect(touched.events).to.deep.equal([]);
    expect(touched.position).to.equal(undefined);
    let refused: unknown;
    await handleCommand(store, stream, counter, { type: 'Increment', by: 2 }, { context }).catch((e) => (refused = e));
    expect(refused).to.be.instanceOf(DomainError).with.property('code', 'QUOTA_EXCEEDED');
    expect(await store.readStream(stream)).to.have.length(1);
  });

  it('retries conflicts on fresh state, so concurrent commands all land and the invariant holds', async () => {
    await handleCommand(store, stream, counter, { type: 'Open', limit: 6 }, { context });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => handleCommand(store, stream, counter, { type: 'Increment', by: 1 }, { context, retry: { maxAttempts: 20, baseDelayMs: 2 } })),
    );
    const landed = results.filter((r) => r.status === 'fulfilled').length;
    const overLimit = results.filter((r) => r.status === 'rejected' && r.reason instanceof DomainError).length;
    expect([landed, overLimit]).to.deep.equal([6, 2]);
    const events = await store.readStream(stream);
    expect(events.filter((e) => e.type === 'CounterIncremented')).to.have.length(6);
  });

  it('gives up after the bounded number of attempts', async () => {
    await handleCommand(store, stream, counter, { type: 'Open', limit: 100 }, { context });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => handleCommand(store, stream, counter, { type: 'Increment', by: 1 }, { context, retry: NO_RETRY })),
    );
    const conflicts = results.filter((r) => r.status === 'rejected' && r.reason instanceof WrongExpectedVersionError).length;
    const landed = results.filter((r) => r.status === 'fulfilled').length;
    expect(conflicts).to.be.greaterThan(0);
    expect((await store.readStream(stream)).length).to.equal(1 + landed);
  });

  it("refuses, without retrying, a command whose caller saw an older revision (If-Match)", async () => {
    await handleCommand(store, stream, counter, { type: 'Open', limit: 10 }, { context });
    await handleCommand(store, stream, counter, { type: 'Increment', by: 1 }, { context });
    let error: unknown;
    await handleCommand(store, stream, counter, { type: 'Increment', by: 1 }, { context, expectedRevision: 0n }).catch((e) => (error = e));
    expect(error).to.be.instanceOf(WrongExpectedVersionError).with.property('actual', 1n);
    const ok = await handleCommand(store, stream, counter, { type: 'Increment', by: 1 }, { context, expectedRevision: 1n });
    expect(ok.revision).to.equal(2n);
  });

  it('makes a reaction handled twice a no-op when its event ids derive from the trigger', async () => {
    await handleCommand(store, stream, counter, { type: 'Open', limit: 10 }, { context });
    const ids = eventIdsFrom(`trigger-${randomUUID()}`);
    await handleCommand(store, stream, counter, { type: 'Increment', by: 1 }, { context, eventIds: ids });
    await handleCommand(store, stream, counter, { type: 'Increment', by: 1 }, { context, eventIds: ids });
    expect(await store.readStream(stream)).to.have.length(2);
  });
});
