import { expect } from 'chai';
import { FLAG_GATES, flagFeatures, hasFeature, requireFeature, requirePlanExportFormat, requireRanking } from '../../src/application/plan-gates.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { plan } from '../../src/write-model/subscription/plans.js';

function refusal(run: () => void): DomainError {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('plan gates: every on/off feature checked in one place', () => {
  it('names every on/off feature of the catalogue', () => {
    expect(Object.keys(FLAG_GATES).sort()).to.deep.equal(flagFeatures().sort());
  });

  it('lets a plan with the feature through and refuses one without it, naming feature and plan', () => {
    expect(() => requireFeature(plan('xiaohongshu', 'pro'), 'data_analytics')).not.to.throw();
    const refused = refusal(() => requireFeature(plan('xiaohongshu', 'free'), 'advanced_filters', { filters: ['author'] }));
    expect(refused.code).to.equal('PERMISSION_DENIED');
    expect(refused.details).to.deep.equal({ feature: 'advanced_filters', plan: 'free', filters: ['author'] });
    expect(refused.message).to.include('小红书免费版').and.to.include('advanced filters');
  });

  it("treats the other service's feature as not in the plan", () => {
    expect(hasFeature(plan('xiaohongshu', 'enterprise'), 'market_insights')).to.equal(false);
    expect(hasFeature(plan('qidian', 'pro'), 'market_insights')).to.equal(true);
  });

  it('checks rankings and export formats', () => {
    expect(() => requireRanking(plan('qidian', 'free'), '热销榜')).not.to.throw();
    expect(refusal(() => requireRanking(plan('qidian', 'free'), '收藏榜')).details).to.include({ feature: 'ranking_access', ranking: '收藏榜' });
    expect(() => requireRanking(plan('qidian', 'pro'), '推荐榜')).not.to.throw();
    expect(() => requirePlanExportFormat(plan('qidian', 'pro'), 'pdf')).not.to.throw();
    expect(refusal(() => requirePlanExportFormat(plan('qidian', 'basic'), 'pdf')).details).to.include({ feature: 'export_formats', requires: 'pdf' });
  });
});
