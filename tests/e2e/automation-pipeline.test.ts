import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { workflowExecutionStream } from '../../src/write-model/workflow-execution/decider.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';

const ofType = (events: RecordedEvent[], type: string) => events.filter((e) => e.type === type);
const collectedIds = (events: RecordedEvent[]) =>
  ofType(events, 'ItemsCollected').flatMap((e) => (e.data as { items: { platformContentId: string }[] }).items.map((i) => i.platformContentId));

/**
 * The automation pipeline, every piece real and running: the API, the projector's
 * consumers (projections and process managers), the worker with Chromium, the
 * fixture sites and local proxies with credentials.
 */
describe('automation pipeline (e2e): request → dispatch → worker → Chromium through a proxy → read model', function () {
  this.timeout(180_000);
  let platform: Platform;
  let admin: string;
  let proxyIds: string[];

  before(async () => {
    platform = await startPlatform({ proxies: 2 });
    admin = await platform.adminToken();
    proxyIds = [];
    for (const p of platform.proxies.proxies) {
      const r = await platform.call('POST', '/api/v1/proxies', {
        token: admin,
        body: {
          host: p.host,
          port: p.port,
          protocol: 'http',
          username: p.username,
          password: p.password,
          country: 'CN',
          region: 'shanghai',
          provider: 'local',
        },
      });
      expect(r.status, r.text).to.equal(201);
      proxyIds.push(r.body.data.id);
    }
  });
  after(async () => {
    await platform?.stop();
  });

  /** A user with a verified Xiaohongshu account and a notes workflow on it. */
  async function userWithWorkflow(name: string, maxItems = 20) {
    const user = await platform.signUp(name);
    const cookies = `a1=${randomBytes(8).toString('hex')}; web_session=${randomBytes(12).toString('hex')}`;
    const connected = await platform.call('POST', '/api/v1/platform-accounts', {
      token: user.token,
      body: { platform: 'xiaohongshu', credentials: { cookies }, display_name: `${name}的号` },
    });
    expect(connected.status, connected.text).to.equal(201);
    const accountId = connected.body.data.id as string;
    const verified = await platform.call('POST', `/api/v1/platform-accounts/${accountId}/verify`, { token: user.token });
    expect(verified.body?.data, verified.text).to.include({ status: 'active' });
    const keyword = platform.sites.manifest.xiaohongshu.keyword;
    const created = await platform.call('POST', '/api/v1/workflows', {
      token: user.token,
      body: { name: `${keyword}笔记`, type: 'xiaohongshu.notes', config: { mode: 'keyword', keyword, maxItems }, platform_account_id: accountId },
    });
    expect(created.status, created.text).to.equal(201);
    return { ...user, accountId, cookies, workflowId: created.body.data.id as string };
  }

  async function execute(user: { token: string; workflowId: string }): Promise<string> {
    const r = await platform.call('POST', `/api/v1/workflows/${user.workflowId}/execute`, { token: user.token });
    expect(r.status, r.text).to.equal(202);
    return r.body.data.execution_id as string;
  }

  const executionEvents = (id: string) => platform.events(workflowExecutionStream(id));
  const untilEvent = (id: string, type: string, timeoutMs = 60_000) =>
    waitFor(`${type} of execution ${id}`, async () => ofType(await executionEvents(id), type).length > 0, timeoutMs, 100);

  it('a manual execution collects the fixture notes through a leased proxy, and they appear in the content query', async () => {
    const alice = await userWithWorkflow('alice');
    const worker = await platform.startWorker();
    try {
      const executionId = await execute(alice);
      await untilEvent(executionId, 'ExecutionCompleted');
      const events = await executionEvents(executionId);
      expect(events.map((e) => e.type)).to.include.members(['ExecutionRequested', 'ProxyAssigned', 'ExecutionStarted', 'ItemsCollected', 'ExecutionCompleted']);
      const ids = collectedIds(events);
      expect(ids).to.have.length(20);
      expect(new Set(ids).size, 'no note twice').to.equal(20);
      // the traffic went through the proxy the execution was assigned, authenticated with its (decrypted) username
      const assigned = (ofType(events, 'ProxyAssigned').at(-1)!.data as { proxyId: string }).proxyId;
      const used = platform.proxies.proxies[proxyIds.indexOf(assigned)]!;
      const site = new URL(platform.sites.origin);
      expect(used.requests.filter((r) => r.hostname === site.hostname && r.port === Number(site.port)).length).to.be.greaterThan(0);
      expect(used.requests.every((r) => r.username === used.username)).to.equal(true);
      // the cookies reached the platform
      expect(platform.sites.requests.some((r) => r.cookies['web_session'] === alice.cookies.split('web_session=')[1])).to.equal(true);

      let shown: any;
      await waitFor(
        'the execution shown completed',
        async () => {
          shown = await platform.call('GET', `/api/v1/workflows/executions/${executionId}`, { token: alice.token });
          return shown.body?.data?.status === 'completed';
        },
        20_000,
        100,
      );
      expect(shown.body.data).to.include({ item_count: 20 });
      let contents: any;
      await waitFor(
        'the notes in the content query',
        async () => {
          contents = await platform.call('GET', '/api/v1/xiaohongshu/contents?per_page=100', { token: alice.token });
          return contents.body?.data?.pagination?.total === 20;
        },
        20_000,
        100,
      );
      expect(contents.body.data.items.map((c: any) => c.id).sort()).to.deep.equal([...ids].sort());
    } finally {
      await worker.stop({ timeoutMs: 2_000 });
    }
  });
});
