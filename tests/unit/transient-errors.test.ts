import { expect } from 'chai';
import { MailDeliveryError } from '../../src/application/ports/mail-errors.js';
import { LostOwnershipError } from '../../src/consumers/checkpoints.js';
import { isTransientError } from '../../src/consumers/transient-errors.js';

/** What the consumer runner never counts toward parking an event. */
describe('transient errors (consumer runner)', () => {
  const pg = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it('counts connection trouble, serialization failures, deadlocks, timeouts and a lost epoch as transient', () => {
    for (const code of ['40001', '40P01', '55P03', '57014', '57P01', '08006', '08003', '53300']) expect(isTransientError(pg(code)), code).to.equal(true);
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']) expect(isTransientError(pg(code)), code).to.equal(true);
    expect(isTransientError(new Error('Connection terminated unexpectedly'))).to.equal(true);
    expect(isTransientError(Object.assign(new Error('Knex: Timeout acquiring a connection'), { name: 'KnexTimeoutError' }))).to.equal(true);
    expect(isTransientError(new LostOwnershipError('users-v1'))).to.equal(true);
    expect(isTransientError(new Error('wrapped', { cause: pg('40P01') }))).to.equal(true);
    expect(isTransientError(new AggregateError([pg('ECONNREFUSED'), pg('ECONNREFUSED')]))).to.equal(true);
  });

  it("counts everything else as the event's own failure", () => {
    for (const code of ['23505', '23502', '22P02', '42703', '25P02']) expect(isTransientError(pg(code)), code).to.equal(false);
    expect(isTransientError(new TypeError("Cannot read properties of undefined (reading 'id')"))).to.equal(false);
    expect(isTransientError('a string')).to.equal(false);
    expect(isTransientError(undefined)).to.equal(false);
    expect(isTransientError(new AggregateError([pg('ECONNREFUSED'), new Error('bug')]))).to.equal(false);
  });

  it("takes a mail relay that is down, busy or misconfigured as transient (a mail is never parked for it), a refused message as the event's own", () => {
    for (const kind of ['connection', 'auth', 'config', 'unknown'] as const) {
      expect(isTransientError(new MailDeliveryError('relay', { kind, retryable: kind === 'connection' })), kind).to.equal(true);
    }
    expect(isTransientError(new MailDeliveryError('refused', { kind: 'rejected', retryable: false, responseCode: 550 }))).to.equal(false);
  });
});
