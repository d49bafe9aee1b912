import { expect } from 'chai';
import { fold, type Decider, type DomainEvent } from '../../src/write-model/core/decider.js';

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Given/when/then for deciders:
 *
 *   const spec = deciderSpec(counter);
 *   spec.given([{ type: 'Incremented', data: { by: 2 } }]).when({ type: 'Increment', by: 1 }).then([...]);
 *   spec.given([]).when(command).thenThrows(DomainError, (e) => e.code === 'CONFLICT');
 */
export function deciderSpec<State, Command, Event extends DomainEvent>(decider: Decider<State, Command, Event>) {
  return {
    given(history: Event[]) {
      return {
        when(command: Command) {
          const run = () => decider.decide(command, fold(decider, history));
          return {
            /** the decision is exactly these events, in this order */
            then(expected: Event[]) {
              expect(run()).to.deep.equal(expected);
            },
            /** the decision is refused with this error; `check` may look closer */
            thenThrows<E extends Error>(errorClass: ErrorClass, check?: (error: E) => boolean) {
              let thrown: unknown;
              try {
                const events = run();
                expect.fail(`expected ${errorClass.name}, but the decider returned ${JSON.stringify(events)}`);
              } catch (error) {
                thrown = error;
              }
              expect(thrown).to.be.instanceOf(errorClass);
              if (check) expect(check(thrown as E), `${errorClass.name} did not pass the check: ${(thrown as Error).message}`).to.equal(true);
            },
            /** the state after the decision's events are folded in */
            thenState(expected: State) {
              const state = fold(decider, history);
              expect(fold(decider, decider.decide(command, state), state)).to.deep.equal(expected);
            },
          };
        },
      };
    },
  };
}
