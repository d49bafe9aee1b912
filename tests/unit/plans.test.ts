import { expect } from 'chai';
import {
  CATALOGUE,
  FEATURE_KINDS,
  PLAN_CODES,
  SERVICES,
  allowsCollectionFrequency,
  allowsExportFormat,
  allowsRanking,
  compareRank,
  dailyCountersOf,
  featureKind,
  featureLimit,
  featuresOf,
  hasFeature,
  isFeatureOf,
  plan,
  planRank,
  plansOf,
  resourceLimitsOf,
} from '../../src/write-model/subscription/plans.js';

describe('plan catalogue (阶梯式服务计费模型)', () => {
  it('has four plans for each of the two services', () => {
    expect(SERVICES).to.deep.equal(['xiaohongshu', 'qidian']);
    for (const service of SERVICES) {
      expect(plansOf(service).map((p) => p.code)).to.deep.equal(['free', 'basic', 'pro', 'enterprise']);
      for (const p of plansOf(service)) {
        expect(p.service).to.equal(service);
        expect(p.id).to.equal(`${service}_${p.code}`);
        // every plan of a service lists the same features
        expect(Object.keys(p.features).sort()).to.deep.equal(featuresOf(service).sort());
      }
    }
  });

  it('has the catalogue names and monthly prices in fen, and no yearly price', () => {
    const names = (service: 'xiaohongshu' | 'qidian') => plansOf(service).map((p) => p.name);
    const prices = (service: 'xiaohongshu' | 'qidian') => plansOf(service).map((p) => p.priceMonthlyFen);
    expect(names('xiaohongshu')).to.deep.equal(['小红书免费版', '小红书基础版', '小红书专业版', '小红书企业版']);
    expect(names('qidian')).to.deep.equal(['起点免费版', '起点基础版', '起点专业版', '起点企业版']);
    expect(prices('xiaohongshu')).to.deep.equal([0, 3990, 12990, 39990]);
    expect(prices('qidian')).to.deep.equal([0, 2990, 8990, 29990]);
    for (const service of SERVICES) for (const p of plansOf(service)) expect(p.priceYearlyFen).to.equal(null);
  });

  it('has the xiaohongshu features of every plan as in the catalogue', () => {
    expect(plan('xiaohongshu', 'free').features).to.deep.equal({
      account_limit: 1,
      daily_api_calls: 50,
      daily_publications: 5,
      content_collection: true,
      private_messaging: false,
      data_analytics: false,
      export_formats: ['json'],
      data_retention_days: 7,
      automation_workflows: 1,
      advanced_filters: false,
      ai_insights: false,
      batch_operations: false,
      custom_integration: false,
      dedicated_support: false,
    });
    const basic = plan('xiaohongshu', 'basic').features;
    expect([basic.account_limit, basic.daily_api_calls, basic.automation_workflows, basic.data_retention_days]).to.deep.equal([5, 500, 3, 30]);
    expect(basic.private_messaging).to.equal(true);
    expect(basic.data_analytics).to.equal(false);
    expect(basic.advanced_filters).to.equal(true);
    expect(basic.export_formats).to.deep.equal(['json', 'excel']);
    const pro = plan('xiaohongshu', 'pro').features;
    expect([pro.account_limit, pro.daily_api_calls, pro.automation_workflows, pro.data_retention_days]).to.deep.equal([20, 5000, 10, 90]);
    expect(pro.export_formats).to.deep.equal(['json', 'excel', 'pdf']);
    expect([pro.data_analytics, pro.ai_insights, pro.batch_operations, pro.custom_integration]).to.deep.equal([true, true, true, false]);
    const enterprise = plan('xiaohongshu', 'enterprise').features;
    expect([enterprise.account_limit, enterprise.daily_api_calls, enterprise.automation_workflows]).to.deep.equal([-1, -1, -1]);
    expect(enterprise.data_retention_days).to.equal(365);
    expect(enterprise.export_formats).to.deep.equal(['json', 'excel', 'pdf', 'api']);
    expect([enterprise.custom_integration, enterprise.dedicated_support]).to.deep.equal([true, true]);
    // not in the original catalogue: our numbers (docs/plans.md)
    expect(plansOf('xiaohongshu').map((p) => p.features.daily_publications)).to.deep.equal([5, 50, 300, 2000]);
  });

  it('has the qidian features of every plan as in the catalogue', () => {
    expect(plan('qidian', 'free').features).to.deep.equal({
      novel_tracking_limit: 10,
      ranking_access: ['热销榜'],
      data_collection_frequency: 'daily',
      author_info: false,
      trend_analysis: false,
      export_formats: ['json'],
      data_retention_days: 7,
      alert_notifications: 1,
      custom_keywords: false,
      competitor_analysis: false,
      market_insights: false,
      custom_reports: false,
      api_access: false,
    });
    const basic = plan('qidian', 'basic').features;
    expect(basic.novel_tracking_limit).to.equal(100);
    expect(basic.ranking_access).to.deep.equal(['热销榜', '收藏榜', '推荐榜']);
    expect(basic.data_collection_frequency).to.equal('hourly');
    expect([basic.author_info, basic.trend_analysis, basic.custom_keywords]).to.deep.equal([true, false, true]);
    expect([basic.alert_notifications, basic.data_retention_days]).to.deep.equal([5, 30]);
    const pro = plan('qidian', 'pro').features;
    expect([pro.novel_tracking_limit, pro.alert_notifications, pro.data_retention_days]).to.deep.equal([1000, 20, 90]);
    expect(pro.ranking_access).to.equal('all');
    expect(pro.data_collection_frequency).to.equal('realtime');
    expect([pro.competitor_analysis, pro.market_insights, pro.custom_reports, pro.api_access]).to.deep.equal([true, true, false, false]);
    const enterprise = plan('qidian', 'enterprise').features;
    expect([enterprise.novel_tracking_limit, enterprise.alert_notifications, enterprise.data_retention_days]).to.deep.equal([-1, -1, 365]);
    expect(enterprise.export_formats).to.deep.equal(['json', 'excel', 'pdf', 'api']);
    expect([enterprise.custom_reports, enterprise.api_access]).to.deep.equal([true, true]);
  });

  it('ranks plans free < basic < pro < enterprise', () => {
    expect(PLAN_CODES.map(planRank)).to.deep.equal([0, 1, 2, 3]);
    expect(compareRank('pro', 'basic')).to.be.greaterThan(0);
    expect(compareRank('free', 'enterprise')).to.be.lessThan(0);
    expect(compareRank('basic', 'basic')).to.equal(0);
  });

  it('gives the limit of a counted feature: limited, unlimited (-1) or not in plan', () => {
    expect(featureLimit(plan('xiaohongshu', 'free'), 'daily_api_calls')).to.deep.equal({ kind: 'limited', limit: 50 });
    expect(featureLimit(plan('xiaohongshu', 'pro'), 'account_limit')).to.deep.equal({ kind: 'limited', limit: 20 });
    expect(featureLimit(plan('xiaohongshu', 'enterprise'), 'daily_api_calls')).to.deep.equal({ kind: 'unlimited' });
    expect(featureLimit(plan('qidian', 'basic'), 'novel_tracking_limit')).to.deep.equal({ kind: 'limited', limit: 100 });
    expect(featureLimit(plan('qidian', 'enterprise'), 'alert_notifications')).to.deep.equal({ kind: 'unlimited' });
    // a feature the plan's service does not have is not in the plan
    expect(featureLimit(plan('qidian', 'enterprise'), 'daily_api_calls')).to.deep.equal({ kind: 'not_in_plan' });
    expect(featureLimit(plan('xiaohongshu', 'free'), 'novel_tracking_limit')).to.deep.equal({ kind: 'not_in_plan' });
  });

  it('classifies every feature of the catalogue', () => {
    for (const service of SERVICES) for (const feature of featuresOf(service)) expect(FEATURE_KINDS[feature], feature).to.be.a('string');
    expect(featureKind('daily_api_calls')).to.equal('daily_counter');
    for (const f of ['account_limit', 'automation_workflows', 'novel_tracking_limit', 'alert_notifications'] as const) {
      expect(featureKind(f)).to.equal('resource_limit');
    }
    expect(featureKind('data_retention_days')).to.equal('retention');
    expect(featureKind('export_formats')).to.equal('list');
    expect(featureKind('ranking_access')).to.equal('list');
    expect(featureKind('data_collection_frequency')).to.equal('frequency');
    expect(featureKind('private_messaging')).to.equal('flag');
    expect(dailyCountersOf('xiaohongshu')).to.deep.equal(['daily_api_calls', 'daily_publications']);
    expect(dailyCountersOf('qidian')).to.deep.equal([]);
    expect(resourceLimitsOf('xiaohongshu')).to.deep.equal(['account_limit', 'automation_workflows']);
    expect(resourceLimitsOf('qidian')).to.deep.equal(['novel_tracking_limit', 'alert_notifications']);
    expect(isFeatureOf('qidian', 'ranking_access')).to.equal(true);
    expect(isFeatureOf('xiaohongshu', 'ranking_access')).to.equal(false);
    expect(isFeatureOf('xiaohongshu', 'toString')).to.equal(false);
  });

  it('answers whether a plan includes a feature, an export format, a ranking, a frequency', () => {
    expect(hasFeature(plan('xiaohongshu', 'free'), 'private_messaging')).to.equal(false);
    expect(hasFeature(plan('xiaohongshu', 'basic'), 'private_messaging')).to.equal(true);
    expect(hasFeature(plan('xiaohongshu', 'enterprise'), 'account_limit')).to.equal(true);
    expect(hasFeature(plan('xiaohongshu', 'enterprise'), 'author_info')).to.equal(false);
    expect(allowsExportFormat(plan('qidian', 'basic'), 'excel')).to.equal(true);
    expect(allowsExportFormat(plan('qidian', 'pro'), 'api')).to.equal(false);
    expect(allowsRanking(plan('qidian', 'free'), '热销榜')).to.equal(true);
    expect(allowsRanking(plan('qidian', 'free'), '收藏榜')).to.equal(false);
    expect(allowsRanking(plan('qidian', 'pro'), '推荐榜')).to.equal(true);
    expect(allowsCollectionFrequency(plan('qidian', 'free'), 'daily')).to.equal(true);
    expect(allowsCollectionFrequency(plan('qidian', 'free'), 'hourly')).to.equal(false);
    expect(allowsCollectionFrequency(plan('qidian', 'basic'), 'hourly')).to.equal(true);
    expect(allowsCollectionFrequency(plan('qidian', 'basic'), 'realtime')).to.equal(false);
    expect(allowsCollectionFrequency(plan('qidian', 'enterprise'), 'realtime')).to.equal(true);
  });

  it('is the same object through plan() and the catalogue', () => {
    expect(plan('qidian', 'pro')).to.equal(CATALOGUE.qidian.pro);
  });
});
