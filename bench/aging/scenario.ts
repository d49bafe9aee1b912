import type { EventStore } from '../../src/event-store/index.js';

/** What a scenario needs: the store, a clock for "now", and room to keep its own ids. */
export interface AgingContext {
  store: EventStore;
  /** the benchmark's "today": histories end the day before */
  now: Date;
}

/**
 * One aggregate's growth path: `prepare` builds a fresh target and one
 * carrying a year of history; `command` runs the command a user would run
 * against either, the way the application runs it (load, decide, append).
 */
export interface Scenario<Target = unknown> {
  aggregate: string;
  command: string;
  /** what a year of history holds, for the printed table */
  history: string;
  prepare(context: AgingContext, aged: boolean): Promise<{ target: Target; events: number }>;
  run(context: AgingContext, target: Target, iteration: number): Promise<void>;
}
