import { expect } from 'chai';
import { mapError } from '../../src/adapters/http/error-mapping.js';
import { HttpError } from '../../src/adapters/http/http-error.js';
import type { AppContext } from '../../src/adapters/http/state.js';
import { AppendTooLargeError, ConditionFailedError, StreamTombstonedError } from '../../src/event-store/errors.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';

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

describe('HTTP error mapping of validation refusals', () => {
  it("a decider's VALIDATION_ERROR gets details.issues from its field (snake_case) and message, keeping its other details", () => {
    const mapped = mapError(new DomainError('VALIDATION_ERROR', 'periodEnd must be after now', { field: 'periodEnd', currentPeriodEnd: 'x' }), ctx);
    expect(mapped?.error).to.include({ status: 422, code: 'VALIDATION_ERROR' });
    expect(mapped?.error.details).to.deep.equal({
      field: 'periodEnd',
      currentPeriodEnd: 'x',
      issues: [{ path: ['period_end'], message: 'periodEnd must be after now', code: 'invalid' }],
    });
  });

  it('a dotted field is a path of segments, array indexes as numbers', () => {
    const mapped = mapError(new DomainError('VALIDATION_ERROR', 'no such role', { field: 'roles.2' }), ctx);
    expect((mapped!.error.details as { issues: unknown[] }).issues).to.deep.equal([{ path: ['roles', 2], message: 'no such role', code: 'invalid' }]);
    const nested = mapError(new DomainError('VALIDATION_ERROR', 'a weekday 1-7', { field: 'schedule.weekDay' }), ctx);
    expect((nested!.error.details as { issues: { path: unknown[] }[] }).issues[0]!.path).to.deep.equal(['schedule', 'week_day']);
  });

  it("a route's 422 without issues gets one with an empty path; one with issues and other codes stay as they are", () => {
    expect(mapError(new HttpError(422, 'VALIDATION_ERROR', 'no such provider'), ctx)?.error.details).to.deep.equal({
      issues: [{ path: [], message: 'no such provider', code: 'invalid' }],
    });
    const issues = [{ in: 'body', path: ['plan'], message: 'required', code: 'invalid_type' }];
    expect(mapError(new HttpError(422, 'VALIDATION_ERROR', 'bad', { issues }), ctx)?.error.details).to.deep.equal({ issues });
    expect(mapError(new DomainError('CONFLICT', 'taken', { field: 'email' }), ctx)?.error.details).to.deep.equal({ field: 'email' });
    expect(mapError(new HttpError(422, 'IDEMPOTENCY_KEY_REUSED', 'other body'), ctx)?.error.details).to.equal(undefined);
  });
});
