import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { counter } from '../support/counter-decider.js';
import { deciderSpec } from '../support/decider-spec.js';

describe('given/when/then for deciders', () => {
  const spec = deciderSpec(counter);

  it('passes when the decision matches', () => {
    spec
      .given([])
      .when({ type: 'Open', limit: 3 })
      .then([{ type: 'CounterOpened', data: { limit: 3 } }]);
    spec
      .given([{ type: 'CounterOpened', data: { limit: 3 } }])
      .when({ type: 'Increment', by: 2 })
      .thenState({ open: true, value: 2, limit: 3 });
  });

  it('passes when the refusal matches', () => {
    spec
      .given([
        { type: 'CounterOpened', data: { limit: 3 } },
        { type: 'CounterIncremented', data: { by: 3 } },
      ])
      .when({ type: 'Increment', by: 1 })
      .thenThrows<DomainError>(DomainError, (e) => e.code === 'QUOTA_EXCEEDED' && e.details.limit === 3);
  });

  it('fails when the decision differs, is refused, or is not refused', () => {
    expect(() =>
      spec
        .given([])
        .when({ type: 'Open', limit: 3 })
        .then([{ type: 'CounterOpened', data: { limit: 4 } }]),
    ).to.throw();
    expect(() => spec.given([]).when({ type: 'Increment', by: 1 }).then([])).to.throw(DomainError);
    expect(() => spec.given([]).when({ type: 'Open', limit: 1 }).thenThrows(DomainError)).to.throw(/expected DomainError/);
    expect(() =>
      spec
        .given([])
        .when({ type: 'Increment', by: 1 })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT'),
    ).to.throw(/did not pass the check/);
  });
});
