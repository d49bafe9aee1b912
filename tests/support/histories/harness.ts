import fc from 'fast-check';
import type { Aggregate } from '../../../src/write-model/core/aggregate.js';
import type { DomainEvent } from '../../../src/write-model/core/decider.js';
import { DomainError } from '../../../src/write-model/core/domain-error.js';

/**
 * Generated histories for property tests: an aggregate and an arbitrary of
 * command sequences. The decider itself turns the commands into events (a
 * command it refuses is skipped), so every history is one the real code could
 * have written — including the refusals' paths it did not take.
 */
export interface HistorySource<State = unknown, Command = unknown, Event extends DomainEvent = DomainEvent> {
  aggregate: Aggregate<State, Command, Event>;
  commands: fc.Arbitrary<Command[]>;
}

export function historySource<State, Command, Event extends DomainEvent>(
  aggregate: Aggregate<State, Command, Event>,
  commands: fc.Arbitrary<Command[]>,
): HistorySource {
  return { aggregate, commands } as unknown as HistorySource;
}

/** The events the decider decides for these commands, in order, refusals skipped. */
export function decideAll<State, Command, Event extends DomainEvent>(aggregate: Aggregate<State, Command, Event>, commands: readonly Command[]): Event[] {
  return decideTimed(aggregate, commands).map(({ event }) => event);
}

/** decideAll, each event with its command's `now` (when the command has one): when it would have been appended. */
export function decideTimed<State, Command, Event extends DomainEvent>(
  aggregate: Aggregate<State, Command, Event>,
  commands: readonly Command[],
): { event: Event; now: string | undefined }[] {
  const { decider } = aggregate;
  let state = decider.initialState();
  const events: { event: Event; now: string | undefined }[] = [];
  for (const command of commands) {
    let decided: Event[];
    try {
      decided = decider.decide(command, state);
    } catch (error) {
      if (error instanceof DomainError) continue;
      throw error;
    }
    for (const event of decided) state = decider.evolve(state, event);
    const now = (command as { now?: unknown }).now;
    for (const event of decided) events.push({ event, now: typeof now === 'string' ? now : undefined });
  }
  return events;
}

/** A time `minutes` after a fixed start, as commands carry it. */
export function minutesAfterStart(minutes: number): string {
  return new Date(Date.UTC(2026, 0, 1) + minutes * 60_000).toISOString();
}

/** Increasing times for a sequence of n commands (each 1–600 minutes after the previous one). */
export function times(n: number): fc.Arbitrary<string[]> {
  return fc.array(fc.integer({ min: 1, max: 600 }), { minLength: n, maxLength: n }).map((gaps) => {
    let t = 0;
    return gaps.map((gap) => minutesAfterStart((t += gap)));
  });
}

/** Commands built from generated choices, each stamped with an increasing `now`. */
export function sequence<Choice, Command>(
  choice: fc.Arbitrary<Choice>,
  build: (choice: Choice, now: string, index: number) => Command,
  max = 60,
): fc.Arbitrary<Command[]> {
  return fc
    .array(choice, { minLength: 1, maxLength: max })
    .chain((choices) => times(choices.length).map((nows) => choices.map((c, i) => build(c, nows[i]!, i))));
}
