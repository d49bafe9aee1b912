import type { Json } from './port.js';

/**
 * A folded state saved beside its stream, so loading a long stream reads the
 * snapshot and the events after it instead of the whole history. `version`
 * is the decider's snapshot version: a snapshot of another version is not
 * used (the state's shape or the fold changed) and is overwritten.
 */
export interface Snapshot {
  streamName: string;
  /** the revision of the last event folded into `state` */
  revision: bigint;
  version: number;
  state: Json;
}

/**
 * One snapshot per stream, the newest. Both event store adapters keep them
 * in Postgres (the platform always has it for its read tables).
 */
export interface SnapshotStore {
  /** the stream's snapshot if it has one of this version */
  read(streamName: string, version: number): Promise<Snapshot | undefined>;
  /** keeps the newer of this and the stored one (a different version replaces it) */
  write(snapshot: Snapshot): Promise<void>;
  /** forgets the stream's snapshot (the stream was deleted, scavenged or rewritten) */
  delete(streamName: string): Promise<void>;
}

/** For stores without a snapshot table: nothing is kept, every load folds the whole stream. */
export const noSnapshots: SnapshotStore = {
  async read() {
    return undefined;
  },
  async write() {},
  async delete() {},
};
