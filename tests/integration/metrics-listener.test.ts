import { expect } from 'chai';
import { Gauge, Registry } from 'prom-client';
import { startMetricsListener, type MetricsListener } from '../../src/adapters/http/metrics-listener.js';

/**
 * The projector's metrics listener on a real socket (the projector process
 * itself, with OPS_TOKEN, is in tests/e2e/projector-metrics.test.ts).
 */
describe('metrics listener', () => {
  const listeners: MetricsListener[] = [];
  const registry = new Registry();
  new Gauge({ name: 'test_listener_gauge', help: 'a test gauge', registers: [registry] }).set(7);

  afterEach(async () => {
    await Promise.allSettled(listeners.splice(0).map((l) => l.close()));
  });

  it('without an ops token (development) serves /metrics to anyone, as the API does', async () => {
    const listener = await startMetricsListener(registry, { host: '127.0.0.1', port: 0 });
    listeners.push(listener);
    const res = await fetch(`${listener.url}/metrics?name[]=x`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal(registry.contentType);
    expect(await res.text()).to.include('test_listener_gauge 7');
    expect((await fetch(`${listener.url}/metrics`, { method: 'HEAD' })).status).to.equal(200);
    expect((await fetch(`${listener.url}/readyz`)).status).to.equal(404);
  });

  it('stops listening on close()', async () => {
    const listener = await startMetricsListener(registry, { host: '127.0.0.1', port: 0 });
    await listener.close();
    const outcome = await fetch(`${listener.url}/metrics`).then(
      (res) => res.status,
      () => 'refused',
    );
    expect(outcome).to.equal('refused');
  });

  it('names METRICS_PORT and the address when the port is taken', async () => {
    const first = await startMetricsListener(registry, { host: '127.0.0.1', port: 0 });
    listeners.push(first);
    const port = Number(new URL(first.url).port);
    let message = '';
    await startMetricsListener(registry, { host: '127.0.0.1', port }).then(
      (second) => listeners.push(second),
      (error: unknown) => (message = (error as Error).message),
    );
    expect(message).to.equal(`METRICS_PORT: cannot listen on 127.0.0.1:${port}: the port is taken (another process on this machine, such as the API on PORT?)`);
  });
});
