import {
  MaxAppendSizeExceededError,
  StreamDeletedError,
  StreamNotFoundError as ClientStreamNotFoundError,
  WrongExpectedVersionError as ClientWrongExpectedVersionError,
} from '@eventstore/db-client';
import { expect } from 'chai';
import { toPortReadError, toPortWriteError } from '../../src/adapters/event-store/eventstoredb/errors.js';
import { AppendTooLargeError, StreamNotFoundError, StreamTombstonedError, WrongExpectedVersionError } from '../../src/event-store/errors.js';

describe("EventStoreDB adapter: the client's errors in the port's terms", () => {
  it("maps the server's MaxAppendSize refusal to AppendTooLargeError, with the limit", () => {
    const mapped = toPortWriteError(MaxAppendSizeExceededError.fromMaxAppendSize(1_048_576), 'workflow_execution-1', 5n);
    expect(mapped).to.be.instanceOf(AppendTooLargeError);
    expect(mapped).to.include({ streamName: 'workflow_execution-1', maxBytes: 1_048_576 });
  });

  it('maps "stream deleted": no stream for an expectation that needs one, a tombstone otherwise', () => {
    const deleted = () => StreamDeletedError.fromStreamName('user-1');
    for (const expected of ['stream_exists', 3n] as const) {
      const mapped = toPortWriteError(deleted(), 'user-1', expected);
      expect(mapped, String(expected)).to.be.instanceOf(WrongExpectedVersionError);
      expect((mapped as WrongExpectedVersionError).actual).to.equal('no_stream');
    }
    for (const expected of ['any', 'no_stream'] as const) {
      const mapped = toPortWriteError(deleted(), 'user-1', expected);
      expect(mapped, expected).to.be.instanceOf(StreamTombstonedError);
      expect(mapped).to.include({ streamName: 'user-1' });
    }
  });

  it('maps wrong expected versions, "no stream" reading -1', () => {
    const error = new ClientWrongExpectedVersionError(undefined, { streamName: 's-1', expected: 0n, current: -1n as unknown as bigint });
    const mapped = toPortWriteError(error, 's-1', 0n);
    expect(mapped).to.be.instanceOf(WrongExpectedVersionError);
    expect((mapped as WrongExpectedVersionError).actual).to.equal('no_stream');
  });

  it('reads a deleted or missing stream as not found, and leaves other errors alone', () => {
    expect(toPortReadError(StreamDeletedError.fromStreamName('s-1'), 's-1')).to.be.instanceOf(StreamNotFoundError);
    expect(toPortReadError(new ClientStreamNotFoundError(undefined, 's-1'), 's-1')).to.be.instanceOf(StreamNotFoundError);
    const other = new Error('boom');
    expect(toPortWriteError(other, 's-1', 'any')).to.equal(other);
  });
});
