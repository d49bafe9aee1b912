import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { opsTokenCheck } from './ops-token.js';
import { closeServer, listen } from './server.js';

export interface MetricsListener {
  /** with the port actually bound (METRICS_PORT=0 picks a free one) */
  url: string;
  /** stops listening once the scrapes in flight are answered */
  close(): Promise<void>;
}

/**
 * `GET /metrics` of a process without an HTTP API of its own (the
 * projector), so Prometheus can scrape what only that process counts. Behind
 * the ops token like the API's /metrics; every other request is 404.
 */
export async function startMetricsListener(
  registry: Registry,
  options: { host: string; port: number; opsToken?: string | undefined },
): Promise<MetricsListener> {
  const hasOpsToken = opsTokenCheck(options.opsToken);
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return answerError(res, 404, 'NOT_FOUND', 'only GET /metrics is served here');
    if (!hasOpsToken(req.headers.authorization)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return answerError(res, 401, 'UNAUTHENTICATED', 'this endpoint wants the ops token (Authorization: Bearer <OPS_TOKEN>)');
    }
    registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'Content-Type': registry.contentType });
        res.end(body);
      },
      () => answerError(res, 500, 'INTERNAL', 'the metrics could not be collected'),
    );
  };
  try {
    const { server, url } = await listen(handler, options.host, options.port);
    return { url, close: () => closeServer(server) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'the port is taken (another process on this machine, such as the API on PORT?)' : (code ?? String(error));
    throw new Error(`METRICS_PORT: cannot listen on ${options.host}:${options.port}: ${why}`, { cause: error });
  }
}

/** The API's error shape, so a scraper's 401 reads the same from every process. */
function answerError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ success: false, error: { code, message, details: {} }, timestamp: new Date().toISOString(), request_id: randomUUID() }));
}
