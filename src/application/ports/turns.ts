/** How long a caller waits for a turn, and how long a holder keeps it at most (a crashed holder frees it then). */
export interface TurnOptions {
  waitMs: number;
  /** longer than the work may take */
  holdMs: number;
}

/**
 * One holder at a time per key, across processes (the API and the
 * projector), holding no database transaction. `run` throws when the turn
 * does not come within `waitMs`.
 */
export interface Turns {
  run<T>(key: string, options: TurnOptions, work: () => Promise<T>): Promise<T>;
}
