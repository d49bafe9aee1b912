import type { ExpectedRevision } from './port.js';

/** The stream was not at the revision the writer expected. */
export class WrongExpectedVersionError extends Error {
  override readonly name = 'WrongExpectedVersionError';
  constructor(
    readonly streamName: string,
    readonly expected: ExpectedRevision,
    /** the stream's revision when the append was refused; 'no_stream' if it does not exist */
    readonly actual: bigint | 'no_stream',
  ) {
    super(`stream ${streamName}: expected revision ${String(expected)}, actual ${String(actual)}`);
  }
}

/**
 * An append refused because a stream its decision read has moved on (an
 * AppendCondition): the caller reads that stream again and decides afresh.
 * Not a WrongExpectedVersionError: reading the appended stream again would
 * not help.
 */
export class ConditionFailedError extends Error {
  override readonly name = 'ConditionFailedError';
  constructor(
    /** the stream whose revision no longer holds */
    readonly streamName: string,
    readonly expected: bigint | 'no_stream',
    readonly actual: bigint | 'no_stream',
  ) {
    super(`stream ${streamName}: the append depended on revision ${String(expected)}, it is now at ${String(actual)}`);
  }
}

/** Reading a stream that does not exist or was deleted. */
export class StreamNotFoundError extends Error {
  override readonly name = 'StreamNotFoundError';
  constructor(readonly streamName: string) {
    super(`stream ${streamName} not found`);
  }
}

/** Some but not all of an append's event ids were already written: neither a retry nor new work. */
export class IdempotencyConflictError extends Error {
  override readonly name = 'IdempotencyConflictError';
  constructor(
    readonly streamName: string,
    readonly eventIds: readonly string[],
  ) {
    super(`stream ${streamName}: events ${eventIds.join(', ')} were already appended in another way`);
  }
}

/**
 * The append is larger than the store takes in one write (EventStoreDB's
 * MaxAppendSize, 1 MiB by default). Nothing was written; split the events.
 */
export class AppendTooLargeError extends Error {
  override readonly name = 'AppendTooLargeError';
  constructor(
    readonly streamName: string,
    /** the store's limit in bytes, when it said */
    readonly maxBytes: number | undefined,
  ) {
    super(`append to ${streamName} is larger than the event store takes in one write${maxBytes ? ` (${maxBytes} bytes)` : ''}`);
  }
}

/**
 * The stream was deleted for good (EventStoreDB's hard delete, a tombstone):
 * it can never be written again. Postgres has no hard delete.
 */
export class StreamTombstonedError extends Error {
  override readonly name = 'StreamTombstonedError';
  constructor(readonly streamName: string) {
    super(`stream ${streamName} was deleted for good and cannot be written again`);
  }
}
