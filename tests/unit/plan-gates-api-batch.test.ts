import { expect } from 'chai';
import { allowsBatchOperations, includesApiAccess, requireApiAccess, requireBatchOperations } from '../../src/application/plan-gates.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { plan, PLAN_CODES } from '../../src/write-model/subscription/plans.js';

function refusal(run: () => void): DomainError {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('plan gates: API access and batch operations (docs/plans.md)', () => {
  it('API access: qidian by api_access, xiaohongshu by the api export format — enterprise of each, nothing below', () => {
    const allowed = (service: 'xiaohongshu' | 'qidian') => PLAN_CODES.filter((code) => includesApiAccess(plan(service, code)));
    expect(allowed('qidian')).to.deep.equal(['enterprise']);
    expect(allowed('xiaohongshu')).to.deep.equal(['enterprise']);
  });

  it('a user needs one plan with API access; the refusal names api_access and every plan', () => {
    expect(() => requireApiAccess([plan('xiaohongshu', 'free'), plan('qidian', 'enterprise')])).not.to.throw();
    expect(() => requireApiAccess([plan('xiaohongshu', 'enterprise'), plan('qidian', 'free')])).not.to.throw();
    const refused = refusal(() => requireApiAccess([plan('xiaohongshu', 'pro'), plan('qidian', 'pro')]));
    expect(refused.code).to.equal('PERMISSION_DENIED');
    expect(refused.details).to.deep.equal({ feature: 'api_access', plans: { xiaohongshu: 'pro', qidian: 'pro' } });
  });

  it('batch operations: xiaohongshu by its flag, qidian at the same tiers (pro, enterprise)', () => {
    const allowed = (service: 'xiaohongshu' | 'qidian') => PLAN_CODES.filter((code) => allowsBatchOperations(plan(service, code)));
    expect(allowed('xiaohongshu')).to.deep.equal(['pro', 'enterprise']);
    expect(allowed('qidian')).to.deep.equal(['pro', 'enterprise']);
    expect(refusal(() => requireBatchOperations(plan('qidian', 'basic'))).details).to.deep.equal({
      feature: 'batch_operations',
      service: 'qidian',
      plan: 'basic',
    });
    expect(refusal(() => requireBatchOperations(plan('xiaohongshu', 'basic'), { platform: 'xiaohongshu' })).details).to.include({
      feature: 'batch_operations',
      platform: 'xiaohongshu',
    });
  });
});
