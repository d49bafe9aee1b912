/** A domain event as deciders see it: a type and its data, nothing of storage. */
export interface DomainEvent<Type extends string = string, Data extends object = object> {
  type: Type;
  data: Data;
}

/**
 * An aggregate as a pure decider: `decide` turns a command and the current
 * state into new events (or throws a DomainError), `evolve` folds one event
 * into the state. No I/O, no clocks: time and ids come in with the command.
 */
export interface Decider<State, Command, Event extends DomainEvent> {
  initialState(): State;
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
}

export function fold<State, Event extends DomainEvent>(
  decider: Pick<Decider<State, unknown, Event>, 'initialState' | 'evolve'>,
  events: Iterable<Event>,
  state: State = decider.initialState(),
): State {
  for (const event of events) state = decider.evolve(state, event);
  return state;
}
