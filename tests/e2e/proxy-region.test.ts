import { expect } from 'chai';
import { workflowExecutionStream } from '../../src/write-model/workflow-execution/decider.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';

/** A workflow may ask for a proxy region: its runs go through proxies of that region (or country) only. */
describe('workflows with a proxy region (e2e)', function () {
  this.timeout(120_000);
  let platform: Platform;
  const proxyIds: string[] = [];
  const REGIONS = ['shanghai', 'guangdong'];

  before(async () => {
    platform = await startPlatform({ proxies: 2 });
    const admin = await platform.adminToken();
    for (const [i, p] of platform.proxies.proxies.entries()) {
      const r = await platform.call('POST', '/api/v1/proxies', {
        token: admin,
        body: { host: p.host, port: p.port, protocol: 'http', username: p.username, password: p.password, country: 'CN', region: REGIONS[i] },
      });
      expect(r.status, r.text).to.equal(201);
      proxyIds.push(r.body.data.id);
    }
  });
  after(async () => {
    await platform?.stop();
  });

  it('keeps the region on the workflow, and runs it through a proxy of that region only', async () => {
    const user = await platform.signUp('regional');
    const created = await platform.call('POST', '/api/v1/workflows', {
      token: user.token,
      body: { name: '热销榜', type: 'qidian.rankings', config: { rankings: ['热销榜'], maxRank: 20 }, proxy_region: 'guangdong' },
    });
    expect(created.status, created.text).to.equal(201);
    const workflowId = created.body.data.id as string;
    const shown = await platform.call('GET', `/api/v1/workflows/${workflowId}?after_position=${created.body.data.position}`, { token: user.token });
    expect(shown.body.data).to.include({ proxy_region: 'guangdong' });

    const worker = await platform.startWorker();
    try {
      // several runs: each one through the guangdong proxy, never the other
      for (let run = 0; run < 2; run++) {
        const executed = await platform.call('POST', `/api/v1/workflows/${workflowId}/execute`, { token: user.token });
        expect(executed.status, executed.text).to.equal(202);
        const executionId = executed.body.data.execution_id as string;
        let events = await platform.events(workflowExecutionStream(executionId));
        await waitFor(
          'the run to complete',
          async () => (events = await platform.events(workflowExecutionStream(executionId))).some((e) => e.type === 'ExecutionCompleted'),
          60_000,
          100,
        );
        expect(events[0]!.data).to.include({ proxyRegion: 'guangdong' });
        const assigned = events.filter((e) => e.type === 'ProxyAssigned').map((e) => (e.data as { proxyId: string }).proxyId);
        expect(assigned.length).to.be.greaterThan(0);
        expect(new Set(assigned)).to.deep.equal(new Set([proxyIds[1]]));
      }
      // the worker's start-up health probe goes through every proxy once; the runs' pages only through guangdong
      expect(platform.proxies.at(0).requests.length, 'the shanghai proxy carried no run').to.be.at.most(1);
      expect(platform.proxies.at(1).requests.length).to.be.at.least(3);
    } finally {
      await worker.stop({ timeoutMs: 2_000 });
    }

    const cleared = await platform.call('PUT', `/api/v1/workflows/${workflowId}`, { token: user.token, body: { proxy_region: null } });
    expect(cleared.status, cleared.text).to.equal(200);
    const after = await platform.call('GET', `/api/v1/workflows/${workflowId}?after_position=${cleared.body.data.position}`, { token: user.token });
    expect(after.body.data).to.include({ proxy_region: null });
    const bad = await platform.call('PUT', `/api/v1/workflows/${workflowId}`, { token: user.token, body: { proxy_region: 'no/region' } });
    expect(bad.status).to.equal(422);
  });
});
