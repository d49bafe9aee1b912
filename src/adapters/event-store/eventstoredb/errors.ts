import { ErrorType, isCommandError, type CommandError } from '@eventstore/db-client';
import { AppendTooLargeError, StreamNotFoundError, StreamTombstonedError, WrongExpectedVersionError } from '../../../event-store/errors.js';
import type { ExpectedRevision } from '../../../event-store/port.js';

/** Narrows to the client's error of one type; by `type`, which survives a duplicated client copy better than instanceof. */
export function isClientError<T extends ErrorType>(error: unknown, type: T): error is Extract<CommandError, { type: T }> {
  return error instanceof Error && isCommandError(error) && error.type === type;
}

export function isStreamGone(error: unknown): boolean {
  // soft-deleted streams read as not found; tombstoned ones as deleted: the port has one answer for both
  return isClientError(error, ErrorType.STREAM_NOT_FOUND) || isClientError(error, ErrorType.STREAM_DELETED);
}

/** Errors of appends and deletes, in the port's terms; anything else is returned as it came. */
export function toPortWriteError(error: unknown, streamName: string, expected: ExpectedRevision): unknown {
  if (isClientError(error, ErrorType.WRONG_EXPECTED_VERSION)) {
    const actual = error.actualVersion;
    // errors built from gRPC trailers carry -1 for "no stream"
    return new WrongExpectedVersionError(streamName, expected, typeof actual === 'bigint' && actual < 0n ? 'no_stream' : actual);
  }
  if (isClientError(error, ErrorType.STREAM_DELETED)) {
    // the server answers StreamExists (or a revision) on a soft-deleted stream with "deleted"; the port counts deleted as no stream
    if (expected === 'stream_exists' || typeof expected === 'bigint') return new WrongExpectedVersionError(streamName, expected, 'no_stream');
    // `any` and `no_stream` recreate a soft-deleted stream: only a tombstone refuses them, for good
    return new StreamTombstonedError(streamName);
  }
  if (isClientError(error, ErrorType.MAXIMUM_APPEND_SIZE_EXCEEDED)) {
    return new AppendTooLargeError(streamName, error.maxAppendSize > 0 ? error.maxAppendSize : undefined);
  }
  return error;
}

export function toPortReadError(error: unknown, streamName: string): unknown {
  return isStreamGone(error) ? new StreamNotFoundError(streamName) : error;
}
