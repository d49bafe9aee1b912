import { expect } from 'chai';
import { mapError } from '../../src/adapters/http/error-mapping.js';
import type { AppContext } from '../../src/adapters/http/state.js';
import { AppendTooLargeError, ConditionFailedError, StreamTombstonedError } from '../../src/event-store/errors.js';

const ctx = { get: () => '' } as unknown as AppContext;

describe('HTTP error mapping of event store refusals', () => {
  it('an append larger than the store takes in one write is 413 PAYLOAD_TOO_LARGE, not a 500', () => {
    const mapped = mapError(new AppendTooLargeError('workflow_execution-1', 1_048_576), ctx);
    expect(mapped?.error).to.include({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
  });

  it('a stream deleted for good is 410 GONE', () => {
    const mapped = mapError(new StreamTombstonedError('workflow-1'), ctx);
    expect(mapped?.error).to.include({ status: 410, code: 'GONE' });
  });

  it('a stream the decision depended on that kept changing is 409 CONFLICT, not a 500', () => {
    const mapped = mapError(new ConditionFailedError('subscription-u_xiaohongshu', 3n, 4n), ctx);
    expect(mapped?.error).to.include({ status: 409, code: 'CONFLICT' });
  });
});
