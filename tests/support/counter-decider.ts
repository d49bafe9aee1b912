import { DomainError } from '../../src/write-model/core/domain-error.js';
import type { Decider, DomainEvent } from '../../src/write-model/core/decider.js';

/** A minimal aggregate for testing the command-handling core and the spec helper. */
export type CounterEvent =
  | DomainEvent<'CounterOpened', { limit: number }>
  | DomainEvent<'CounterIncremented', { by: number }>;

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
