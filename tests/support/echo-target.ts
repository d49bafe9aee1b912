import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny HTTP server on 127.0.0.1 for probes: answers `200 ok` (or the
 * status in `?status=`; `?delay=ms` waits first) and records every request.
 */

export interface EchoRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  remotePort: number;
}

export interface EchoTarget {
  host: '127.0.0.1';
  port: number;
  /** `http://127.0.0.1:{port}` */
  origin: string;
  requests: EchoRequest[];
  close(): Promise<void>;
}

export async function startEchoTarget(): Promise<EchoTarget> {
  const requests: EchoRequest[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, remotePort: req.socket.remotePort ?? 0 });
    const url = new URL(req.url ?? '/', 'http://localhost');
    const status = Number(url.searchParams.get('status') ?? 200);
    const delay = Number(url.searchParams.get('delay') ?? 0);
    const answer = () => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end('ok');
    };
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
