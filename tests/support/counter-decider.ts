import { z } from 'zod';
import type { Aggregate } from '../../src/write-model/core/aggregate.js';
import { eventCodec } from '../../src/write-model/core/event-codec.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import type { Decider, DomainEvent } from '../../src/write-model/core/decider.js';

/** A minimal aggregate for testing the command-handling core and the spec helper. */
export type CounterEvent = DomainEvent<'CounterOpened', { limit: number }> | DomainEvent<'CounterIncremented', { by: number }>;

export type CounterCommand = { type: 'Open'; limit: number } | { type: 'Increment'; by: number } | { type: 'Touch' };

export interface CounterState {
  open: boolean;
  value: number;
  limit: number;
}

export const counter: Decider<CounterState, CounterCommand, CounterEvent> = {
  initialState: () => ({ open: false, value: 0, limit: 0 }),
  decide(command, state) {
    switch (command.type) {
      case 'Open':
        if (state.open) throw new DomainError('CONFLICT', 'counter is already open');
        return [{ type: 'CounterOpened', data: { limit: command.limit } }];
      case 'Increment':
        if (!state.open) throw new DomainError('NOT_FOUND', 'counter is not open');
        if (state.value + command.by > state.limit) {
          throw new DomainError('QUOTA_EXCEEDED', 'over the limit', { limit: state.limit });
        }
        return [{ type: 'CounterIncremented', data: { by: command.by } }];
      case 'Touch':
        return [];
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'CounterOpened':
        return { ...state, open: true, limit: event.data.limit };
      case 'CounterIncremented':
        return { ...state, value: state.value + event.data.by };
    }
  },
};

export const counterEvents = eventCodec<CounterEvent>({
  CounterOpened: { schema: z.object({ limit: z.number().int() }) },
  // version 2: `by` was `amount` in version 1
  CounterIncremented: {
    schema: z.object({ by: z.number().int() }),
    version: 2,
    upcasters: { 1: ({ amount, ...rest }) => ({ ...rest, by: amount }) },
  },
});

/** The counter as the command handler sees it; snapshots every 5 events so tests reach the threshold quickly (null: none). */
export function counterAggregate(
  snapshot: { version: number; every: number } | null = { version: 1, every: 5 },
): Aggregate<CounterState, CounterCommand, CounterEvent> {
  return { name: 'counter', streamName: (id) => `counter-${id}`, decider: counter, events: counterEvents, ...(snapshot ? { snapshot } : {}) };
}
