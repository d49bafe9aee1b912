import { expect } from 'chai';
import type { Container } from 'inversify';
import { createApp } from '../../src/adapters/http/app.js';
import { createHttpApi } from '../../src/adapters/http/define-route.js';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { servicesRouter } from '../../src/adapters/http/routes/services.js';
import { TOKENS } from '../../src/tokens.js';
import { TEST_IDEMPOTENCY_KEY, testConfig } from '../setup/test-env.js';

describe('GET /api/v1/services (public plan catalogue)', function () {
  this.timeout(30_000);
  let container: Container;
  let running: RunningServer;
  let url: string;

  before(async () => {
    container = await buildContainer(testConfig());
    const knex = container.get(TOKENS.Knex);
    const api = createHttpApi({ knex, idempotency: { hashKey: TEST_IDEMPOTENCY_KEY } });
    const app = createApp({
      logger: container.get(TOKENS.Logger),
      metrics: container.get(TOKENS.Metrics),
      knex,
      store: container.get(TOKENS.EventStore),
      redis: container.get(TOKENS.Redis),
      api,
      routers: [servicesRouter(api)],
    });
    running = await listen(app.callback(), '127.0.0.1', 0);
    url = running.url;
  });
  after(async () => {
    await closeServer(running.server);
    await disposeContainer(container);
  });

  const get = async (path: string) => {
    const res = await fetch(`${url}${path}`);
    return { res, body: (await res.json()) as any };
  };

  it('lists both services with their display names and plan codes, without auth', async () => {
    const { res, body } = await get('/api/v1/services');
    expect(res.status).to.equal(200);
    expect(body.success).to.equal(true);
    expect(body.request_id).to.be.a('string');
    expect(body.data).to.deep.equal([
      { service: 'xiaohongshu', display_name: '小红书', plans: ['free', 'basic', 'pro', 'enterprise'] },
      { service: 'qidian', display_name: '起点', plans: ['free', 'basic', 'pro', 'enterprise'] },
    ]);
  });

  it("answers a service's plans with the catalogue's prices and feature values", async () => {
    const { res, body } = await get('/api/v1/services/xiaohongshu/plans');
    expect(res.status).to.equal(200);
    const plans = body.data.plans as any[];
    expect(body.data.service).to.equal('xiaohongshu');
    expect(plans.map((p) => p.code)).to.deep.equal(['free', 'basic', 'pro', 'enterprise']);
    const basic = plans.find((p) => p.code === 'basic');
    expect(basic).to.include({ id: 'xiaohongshu_basic', name: '小红书基础版', price_monthly_fen: 3990, price_monthly: '39.90', currency: 'CNY' });
    expect(basic.features).to.include({ account_limit: 5, daily_api_calls: 500, private_messaging: true, data_analytics: false, data_retention_days: 30 });
    expect(basic.features.export_formats).to.deep.equal(['json', 'excel']);
    // every feature of the service is there, in every plan
    expect(Object.keys(basic.features)).to.have.length(14);
    expect(basic.features).to.include({ daily_publications: 50 });
    for (const p of plans) expect(Object.keys(p.features).sort()).to.deep.equal([...body.data.features].sort());
    const enterprise = plans.find((p) => p.code === 'enterprise');
    expect(enterprise).to.include({ price_monthly_fen: 39990, price_monthly: '399.90' });
    expect(enterprise.features).to.include({ account_limit: -1, daily_api_calls: -1, dedicated_support: true });
    expect(plans.find((p) => p.code === 'free')).to.include({ price_monthly_fen: 0, price_monthly: '0.00' });

    const qidian = await get('/api/v1/services/qidian/plans');
    expect(qidian.res.status).to.equal(200);
    const pro = (qidian.body.data.plans as any[]).find((p) => p.code === 'pro');
    expect(pro).to.include({ name: '起点专业版', price_monthly_fen: 8990, price_monthly: '89.90' });
    expect(pro.features).to.include({ novel_tracking_limit: 1000, ranking_access: 'all', data_collection_frequency: 'realtime', custom_reports: false });
    const qFree = (qidian.body.data.plans as any[]).find((p) => p.code === 'free');
    expect(qFree.features.ranking_access).to.deep.equal(['热销榜']);
  });

  it('answers 404 NOT_FOUND for an unknown service', async () => {
    const { res, body } = await get('/api/v1/services/douyin/plans');
    expect(res.status).to.equal(404);
    expect(body.success).to.equal(false);
    expect(body.error.code).to.equal('NOT_FOUND');
  });

  it('documents both routes in /api/v1/openapi.json', async () => {
    const res = await fetch(`${url}/api/v1/openapi.json`);
    expect(res.status).to.equal(200);
    const doc = (await res.json()) as any;
    expect(doc.paths['/api/v1/services'].get.operationId).to.equal('listServices');
    expect(doc.paths['/api/v1/services'].get.security).to.equal(undefined);
    const plans = doc.paths['/api/v1/services/{service}/plans'].get;
    expect(plans.operationId).to.equal('listServicePlans');
    expect(plans.responses).to.have.keys('200', '404', '422', '500', '503');
    expect(doc.components.schemas).to.have.property('ServicePlan');
  });
});
