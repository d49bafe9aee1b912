import { expect } from 'chai';
import type { Knex } from 'knex';
import type { EventStore } from '../../src/event-store/port.js';
import { readCheckpoint } from '../../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import { waitFor } from './wait-for.js';

/**
 * Runs a consumer with the real runner until its checkpoint reaches the
 * store's head and the head stays there — a process manager's own appends
 * (a reaction to its reaction) move the head on, and are run too — then
 * stops it; fails if the consumer ever failed a batch.
 */
export async function runConsumerToHead(deps: { store: EventStore; knex: Knex; databaseUrl: string }, consumer: Consumer): Promise<void> {
  const runner = new ConsumerRunner(deps, consumer, { lockRetryMs: 50, minBackoffMs: 20, maxBackoffMs: 200, idleCheckpointMs: 20 });
  runner.start();
  try {
    for (let round = 0; round < 20; round += 1) {
      const head = await deps.store.headPosition();
      await waitFor(`${consumer.name} at the head`, async () => {
        const at = await readCheckpoint(deps.knex, consumer.name);
        return at.commit > head.commit || (at.commit === head.commit && at.prepare >= head.prepare);
      });
      const now = await deps.store.headPosition();
      if (now.commit === head.commit && now.prepare === head.prepare) break;
    }
  } finally {
    await runner.stop();
  }
  expect(runner.status().lastError, `${consumer.name} never failed`).to.equal(undefined);
}
