import type { Decider, DomainEvent } from './decider.js';
import type { EventCodec } from './event-codec.js';

/**
 * An aggregate as the command handler sees it: how its streams are named,
 * its decider, the decoder of its events and, for streams that stay long,
 * when to snapshot. One binding per aggregate, exported from its folder.
 */
export interface Aggregate<State, Command, Event extends DomainEvent> {
  /** short name for logs and the CLI, e.g. `user` */
  readonly name: string;
  streamName(id: string): string;
  readonly decider: Decider<State, Command, Event>;
  readonly events: EventCodec<Event>;
  /**
   * For aggregates whose streams stay long (their history is kept whole):
   * a snapshot is written once `every` events have been folded since the
   * last one. Bump `version` whenever the state's shape or the fold changes:
   * snapshots of another version are ignored. The state must be plain JSON.
   */
  readonly snapshot?: { readonly version: number; readonly every: number };
}

export type AggregateState<A> = A extends Aggregate<infer State, unknown, DomainEvent> ? State : never;

/**
 * Snapshot thresholds. A long-lived entity's stream is read far more than it
 * is written (every login reads the user, every quota use the subscription):
 * a short tail keeps those reads as cheap on a stream with years of history as
 * on a new one. A busy short-lived stream (a day of quota use, a session) is
 * appended by most commands that read it, so its tail cycles anyway; a longer
 * threshold saves snapshot writes.
 */
export const SNAPSHOT_EVERY = { lifecycle: 10, busy: 50 } as const;
