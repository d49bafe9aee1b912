import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';

/**
 * Proxy health probes: a real HTTP request to a target URL, through the proxy.
 *
 * - http / https proxies: a CONNECT tunnel to the target (over TLS to the
 *   proxy for `https`), the way a browser reaches a site through a proxy, so
 *   the probe tests what scrapers use. Credentials go in
 *   `Proxy-Authorization: Basic`.
 * - socks5 proxies: the RFC 1928 handshake (no-auth or RFC 1929
 *   username/password), CONNECT by domain name so the proxy resolves it;
 *   no dependency.
 * - then the request (TLS over the tunnel when the target is https; the
 *   target's certificate is checked unless `insecure`).
 *
 * `ok` when the target answered 2xx/3xx in time. `latencyMs` is the time to
 * the response's end (body read up to 64 KiB), or to the failure; null when
 * the probe timed out (the health observation's convention).
 */

export type { ProbeOptions, ProbeProxy, ProbeResult, ProxyProtocol } from '../../application/ports/proxy-prober.js';
import type { ProbeOptions, ProbeProxy, ProbeResult, ProxyProber } from '../../application/ports/proxy-prober.js';

const MAX_BODY = 64 * 1024;

class ProbeError extends Error {}

export async function probe(proxy: ProbeProxy, target: string, timeoutOrOptions: number | ProbeOptions = 10_000): Promise<ProbeResult> {
  const options = typeof timeoutOrOptions === 'number' ? { timeoutMs: timeoutOrOptions } : timeoutOrOptions;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const url = new URL(target);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, latencyMs: 0, error: `unsupported target ${url.protocol}` };
  const targetHost = url.hostname.replace(/^\[|\]$/g, '');
  const targetPort = Number(url.port || (url.protocol === 'https:' ? 443 : 80));

  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const sockets: Duplex[] = [];
  const track = <S extends Duplex>(socket: S): S => {
    sockets.push(socket);
    return socket;
  };

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, latencyMs: null, error: `timed out after ${timeoutMs} ms` }), timeoutMs);
  });
  const attempt = (async (): Promise<ProbeResult> => {
    try {
      let tunnel: Duplex =
        proxy.protocol === 'socks5' ? await socks5Connect(proxy, targetHost, targetPort, track) : await httpConnect(proxy, targetHost, targetPort, track);
      if (url.protocol === 'https:') {
        tunnel = await tlsOver(tunnel, targetHost, options.insecure === true, track);
      }
      const status = await request(tunnel, url, track);
      const ok = status >= 200 && status < 400;
      return { ok, latencyMs: elapsed(), status, ...(ok ? {} : { error: `target answered ${status}` }) };
    } catch (error) {
      return { ok: false, latencyMs: elapsed(), error: error instanceof Error ? error.message : String(error) };
    }
  })();
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
    for (const socket of sockets) socket.destroy();
  }
}

export interface ProbeAllOptions extends ProbeOptions {
  /** probes at once (default 10) */
  concurrency?: number;
}

/** Probes every proxy, at most `concurrency` at a time; results in the input order. */
export async function probeAll<P extends ProbeProxy>(
  proxies: readonly P[],
  target: string,
  options: ProbeAllOptions = {},
): Promise<{ proxy: P; result: ProbeResult }[]> {
  const results: { proxy: P; result: ProbeResult }[] = new Array(proxies.length);
  let next = 0;
  const lane = async () => {
    while (next < proxies.length) {
      const index = next++;
      const proxy = proxies[index]!;
      results[index] = { proxy, result: await probe(proxy, target, options) };
    }
  };
  const lanes = Math.max(1, Math.min(options.concurrency ?? 10, proxies.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  return results;
}

// ---------------------------------------------------------------- transports

type Track = <S extends Duplex>(socket: S) => S;

function connectTcp(host: string, port: number, track: Track): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = track(net.connect({ host, port }));
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (error) => reject(new ProbeError(`proxy unreachable: ${error.message}`)));
  });
}

function tlsOver(socket: Duplex | null, servername: string, insecure: boolean, track: Track, host?: string, port?: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const options: tls.ConnectionOptions = { servername: net.isIP(servername) ? undefined : servername, rejectUnauthorized: !insecure };
    socket?.resume();
    const secure = track(socket ? tls.connect({ ...options, socket }) : tls.connect({ ...options, host, port }));
    secure.once('secureConnect', () => {
      secure.off('error', reject);
      resolve(secure);
    });
    secure.once('error', (error) => reject(new ProbeError(`TLS to ${servername} failed: ${error.message}`)));
  });
}

function formatAuthority(host: string, port: number): string {
  return `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** CONNECT through an http(s) proxy; resolves with the tunnel. */
async function httpConnect(proxy: ProbeProxy, host: string, port: number, track: Track): Promise<Duplex> {
  const socket: Duplex =
    proxy.protocol === 'https' ? await tlsOver(null, proxy.host, false, track, proxy.host, proxy.port) : await connectTcp(proxy.host, proxy.port, track);
  const authority = formatAuthority(host, port);
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.username) {
    const credentials = Buffer.from(`${proxy.username}:${proxy.password ?? ''}`).toString('base64');
    lines.push(`Proxy-Authorization: Basic ${credentials}`);
  }
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  const head = await readUntil(socket, Buffer.from('\r\n\r\n'), 16 * 1024);
  const statusLine = head.toString('latin1').split('\r\n', 1)[0] ?? '';
  const match = /^HTTP\/1\.[01] (\d{3})\s*(.*)$/.exec(statusLine);
  if (!match) throw new ProbeError(`proxy sent no HTTP answer to CONNECT: ${JSON.stringify(statusLine.slice(0, 80))}`);
  const status = Number(match[1]);
  if (status !== 200) throw new ProbeError(`proxy refused CONNECT: ${status} ${match[2] ?? ''}`.trim());
  return socket;
}

const SOCKS_REPLIES: Record<number, string> = {
  1: 'general failure',
  2: 'connection not allowed by ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};

/** RFC 1928 CONNECT (with RFC 1929 username/password when credentials are given). */
async function socks5Connect(proxy: ProbeProxy, host: string, port: number, track: Track): Promise<Duplex> {
  const socket = await connectTcp(proxy.host, proxy.port, track);
  const reader = new ExactReader(socket);
  const withAuth = Boolean(proxy.username);
  socket.write(Buffer.from(withAuth ? [5, 2, 0, 2] : [5, 1, 0]));
  const [version, method] = await reader.read(2);
  if (version !== 5) throw new ProbeError('not a SOCKS5 proxy');
  if (method === 0xff) throw new ProbeError('SOCKS5 proxy accepts none of our auth methods');
  if (method === 2) {
    if (!withAuth) throw new ProbeError('SOCKS5 proxy wants credentials');
    const user = Buffer.from(proxy.username ?? '');
    const pass = Buffer.from(proxy.password ?? '');
    if (user.length > 255 || pass.length > 255) throw new ProbeError('SOCKS5 credentials too long');
    socket.write(Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]));
    const [, status] = await reader.read(2);
    if (status !== 0) throw new ProbeError('SOCKS5 authentication failed');
  } else if (method !== 0) {
    throw new ProbeError(`SOCKS5 proxy chose unsupported method ${method}`);
  }

  let address: Buffer;
  if (net.isIPv4(host)) address = Buffer.from([1, ...host.split('.').map(Number)]);
  else if (net.isIPv6(host)) address = Buffer.concat([Buffer.from([4]), ipv6Bytes(host)]);
  else {
    const name = Buffer.from(host);
    if (name.length > 255) throw new ProbeError('host name too long for SOCKS5');
    address = Buffer.concat([Buffer.from([3, name.length]), name]);
  }
  const portBytes = Buffer.alloc(2);
  portBytes.writeUInt16BE(port);
  socket.write(Buffer.concat([Buffer.from([5, 1, 0]), address, portBytes]));
  const [, reply, , atyp] = await reader.read(4);
  if (reply !== 0) throw new ProbeError(`SOCKS5 connect failed: ${SOCKS_REPLIES[reply ?? 1] ?? `code ${reply}`}`);
  // skip the bound address and port
  if (atyp === 1) await reader.read(4 + 2);
  else if (atyp === 4) await reader.read(16 + 2);
  else if (atyp === 3) await reader.read((await reader.read(1))[0]! + 2);
  else throw new ProbeError(`SOCKS5 reply with unknown address type ${atyp}`);
  reader.detach();
  return socket;
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail = ''] = address.split('::');
  const parts = (s: string) => (s === '' ? [] : s.split(':'));
  const h = parts(head);
  const t = address.includes('::') ? parts(tail) : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}

/** Reads exact byte counts from a socket during a handshake; unread bytes go back with `detach`. */
class ExactReader {
  private buffer = Buffer.alloc(0);
  private waiting: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private readonly onData = (chunk: Buffer) => {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.pump();
  };
  private readonly onEnd = () => this.fail(new ProbeError('proxy closed the connection during the handshake'));
  private readonly onError = (error: Error) => this.fail(new ProbeError(`proxy connection error: ${error.message}`));

  constructor(private readonly socket: Duplex) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  read(n: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { n, resolve, reject };
      this.pump();
    });
  }

  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.pause();
    if (this.buffer.length > 0) this.socket.unshift(this.buffer);
  }

  private pump(): void {
    if (!this.waiting || this.buffer.length < this.waiting.n) return;
    const { n, resolve } = this.waiting;
    this.waiting = null;
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    resolve(out);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.reject(this.failure);
  }
}

/** Reads until `marker`; what follows stays in the socket. */
async function readUntil(socket: Duplex, marker: Buffer, limit: number): Promise<Buffer> {
  const reader = new ExactReader(socket);
  let head = Buffer.alloc(0);
  try {
    while (head.indexOf(marker) === -1) {
      if (head.length > limit) throw new ProbeError('proxy answer too long');
      head = Buffer.concat([head, await reader.read(1)]);
    }
    return head;
  } finally {
    reader.detach();
  }
}

/** GET over an established tunnel; resolves with the status once the body is read (or capped). */
function request(tunnel: Duplex, url: URL, track: Track): Promise<number> {
  return new Promise((resolve, reject) => {
    tunnel.resume();
    const req = http.request({
      method: 'GET',
      host: url.hostname,
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      headers: { host: url.host, 'user-agent': 'collector-proxy-probe/1', accept: '*/*', connection: 'close' },
      agent: false,
      createConnection: () => tunnel as net.Socket,
    });
    req.once('error', (error) => reject(new ProbeError(`request through proxy failed: ${error.message}`)));
    req.once('response', (res) => {
      track(res.socket);
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= MAX_BODY) {
          resolve(res.statusCode ?? 0);
          res.destroy();
        }
      });
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', (error) => reject(new ProbeError(`reading the answer failed: ${error.message}`)));
    });
    req.end();
  });
}

/** The prober the health checks use: real HTTP requests through each proxy. */
export const httpProxyProber: ProxyProber = { probeAll };
