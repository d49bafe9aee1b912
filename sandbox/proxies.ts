import net from 'node:net';
import { Server as ProxyServer } from 'proxy-chain';

/**
 * Real proxies on loopback, for the sandbox (`npm run demo` registers them in
 * the pool) and the tests (tests/support/local-proxies.ts re-exports this):
 * proxy-chain HTTP proxies (CONNECT and plain forwarding) and a minimal
 * SOCKS5 proxy, each on 127.0.0.1 (a free port unless `port` is given), each
 * recording the requests it forwarded, so a test can prove which proxy the
 * traffic went through. `kill(i)` stops one (closing its connections) to
 * simulate a dead proxy; its port then refuses connections.
 */

export interface ForwardedRequest {
  /** CONNECT for a tunnel, else the forwarded method */
  method: string;
  hostname: string;
  port: number;
  /** the username the client authenticated with ('' when none) */
  username: string;
  at: number;
}

export interface LocalProxy {
  protocol: 'http' | 'socks5';
  host: '127.0.0.1';
  port: number;
  username?: string;
  password?: string;
  /** forwarded requests (authenticated ones only) */
  requests: ForwardedRequest[];
  /** requests refused for bad or missing credentials */
  refused: number;
  alive: boolean;
  /** `http://user:pass@127.0.0.1:port` (or socks5://) */
  url: string;
  stop(): Promise<void>;
}

export interface LocalProxyOptions {
  username?: string;
  password?: string;
  /** port on 127.0.0.1; default 0 (a free one) */
  port?: number;
  /** keep only the newest this many entries in `requests` (default: all, as tests want) */
  maxRecorded?: number;
}

function record(proxy: LocalProxy, request: ForwardedRequest, options: LocalProxyOptions): void {
  proxy.requests.push(request);
  if (options.maxRecorded !== undefined && proxy.requests.length > options.maxRecorded) proxy.requests.splice(0, proxy.requests.length - options.maxRecorded);
}

function proxyUrl(protocol: string, port: number, options: LocalProxyOptions): string {
  const auth = options.username ? `${encodeURIComponent(options.username)}:${encodeURIComponent(options.password ?? '')}@` : '';
  return `${protocol}://${auth}127.0.0.1:${port}`;
}

export async function startHttpProxy(options: LocalProxyOptions = {}): Promise<LocalProxy> {
  let proxy!: LocalProxy;
  const server = new ProxyServer({
    host: '127.0.0.1',
    port: options.port ?? 0,
    verbose: false,
    prepareRequestFunction: ({ request, username, password, hostname, port }) => {
      if (options.username !== undefined && (username !== options.username || password !== (options.password ?? ''))) {
        proxy.refused += 1;
        return { requestAuthentication: true };
      }
      record(proxy, { method: request.method ?? 'GET', hostname, port, username, at: Date.now() }, options);
      return {};
    },
  });
  await server.listen();
  proxy = {
    protocol: 'http',
    host: '127.0.0.1',
    port: server.port,
    ...(options.username !== undefined ? { username: options.username, password: options.password ?? '' } : {}),
    requests: [],
    refused: 0,
    alive: true,
    url: proxyUrl('http', server.port, options),
    async stop() {
      if (!proxy.alive) return;
      proxy.alive = false;
      await server.close(true);
    },
  };
  return proxy;
}

/** RFC 1928 CONNECT only, no-auth or username/password (RFC 1929). */
export async function startSocks5Proxy(options: LocalProxyOptions = {}): Promise<LocalProxy> {
  const sockets = new Set<net.Socket>();
  let proxy!: LocalProxy;
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let buffer = Buffer.alloc(0);
    let stage: 'greeting' | 'auth' | 'request' | 'piping' = 'greeting';
    let username = '';
    const wantAuth = options.username !== undefined;
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (stage === 'greeting') {
          if (buffer.length < 2 || buffer.length < 2 + buffer[1]!) return;
          const methods = [...buffer.subarray(2, 2 + buffer[1]!)];
          buffer = buffer.subarray(2 + buffer[1]!);
          const method = wantAuth ? (methods.includes(2) ? 2 : 0xff) : methods.includes(0) ? 0 : 0xff;
          client.write(Buffer.from([5, method]));
          if (method === 0xff) return void client.end();
          stage = method === 2 ? 'auth' : 'request';
        } else if (stage === 'auth') {
          if (buffer.length < 2) return;
          const ulen = buffer[1]!;
          if (buffer.length < 3 + ulen) return;
          const plen = buffer[2 + ulen]!;
          if (buffer.length < 3 + ulen + plen) return;
          username = buffer.subarray(2, 2 + ulen).toString();
          const password = buffer.subarray(3 + ulen, 3 + ulen + plen).toString();
          buffer = buffer.subarray(3 + ulen + plen);
          const good = username === options.username && password === (options.password ?? '');
          client.write(Buffer.from([1, good ? 0 : 1]));
          if (!good) {
            proxy.refused += 1;
            return void client.end();
          }
          stage = 'request';
        } else if (stage === 'request') {
          if (buffer.length < 5) return;
          const atyp = buffer[3]!;
          const addrLen = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + buffer[4]!;
          if (buffer.length < 4 + addrLen + 2) return;
          const addr = buffer.subarray(4, 4 + addrLen);
          const hostname = atyp === 1 ? [...addr].join('.') : atyp === 3 ? addr.subarray(1).toString() : (addr.toString('hex').match(/.{4}/g) ?? []).join(':');
          const port = buffer.readUInt16BE(4 + addrLen);
          const rest = buffer.subarray(4 + addrLen + 2);
          buffer = Buffer.alloc(0);
          stage = 'piping';
          client.off('data', onData);
          client.pause();
          const upstream = net.connect({ host: hostname, port }, () => {
            record(proxy, { method: 'CONNECT', hostname, port, username, at: Date.now() }, options);
            client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
            if (rest.length > 0) upstream.write(rest);
            client.pipe(upstream).pipe(client);
            client.resume();
          });
          sockets.add(upstream);
          upstream.on('close', () => sockets.delete(upstream));
          upstream.on('error', () => {
            if (!client.destroyed) client.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]));
          });
          return;
        } else return;
      }
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  proxy = {
    protocol: 'socks5',
    host: '127.0.0.1',
    port,
    ...(options.username !== undefined ? { username: options.username, password: options.password ?? '' } : {}),
    requests: [],
    refused: 0,
    alive: true,
    url: proxyUrl('socks5', port, options),
    async stop() {
      if (!proxy.alive) return;
      proxy.alive = false;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}

/** N proxies of one kind. */
export class LocalProxies {
  private constructor(readonly proxies: LocalProxy[]) {}

  static async start(count: number, options: LocalProxyOptions & { protocol?: 'http' | 'socks5' } = {}): Promise<LocalProxies> {
    const start = options.protocol === 'socks5' ? startSocks5Proxy : startHttpProxy;
    const proxies = await Promise.all(Array.from({ length: count }, () => start(options)));
    return new LocalProxies(proxies);
  }

  at(index: number): LocalProxy {
    const proxy = this.proxies[index];
    if (!proxy) throw new Error(`no local proxy #${index}`);
    return proxy;
  }

  /** Stops one proxy: it is dead from now on. */
  kill(index: number): Promise<void> {
    return this.at(index).stop();
  }

  /** The proxies whose recorded requests went to host:port. */
  usedFor(hostname: string, port: number): LocalProxy[] {
    return this.proxies.filter((p) => p.requests.some((r) => r.hostname === hostname && r.port === port));
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.proxies.map((p) => p.stop()));
  }
}
