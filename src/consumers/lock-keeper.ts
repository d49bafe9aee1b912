import { hostname } from 'node:os';
import type { Knex } from 'knex';
import pg from 'pg';
import type { Logger } from 'pino';

/**
 * Every session-level advisory lock a process holds, on one keep-alive
 * connection of its own.
 *
 * - A lock lives as long as that connection: a crashed process frees all of
 *   its locks at once, and another process's standby takes them.
 * - When the connection dies (terminated, network gone, probe unanswered),
 *   every holder learns at once that it lost its lock (its `onLost`), and the
 *   next request reconnects.
 * - Waiting for a lock costs no connection: every key this process waits for
 *   is tried in one query on the same connection, every `retryMs`.
 * - Session advisory locks are re-entrant per connection, so the keeper
 *   itself makes sure one key has at most one holder in the process.
 *
 * Keys are hashed as `hashtext(key)` (the same space as AdvisoryLock).
 */

export interface LockLease {
  readonly key: string;
  /** false once released, or once the connection that held it was lost */
  readonly held: boolean;
  release(): Promise<void>;
}

export interface LockKeeperOptions {
  /** shows in pg_stat_activity (an application_name in the URL wins) */
  applicationName: string;
  /** how often a waiter's key is tried when the waiter does not say */
  retryMs: number;
  /** while it holds locks, the connection answers a `SELECT 1` this often… */
  probeIntervalMs: number;
  /** …within this long, or it is taken for dead */
  probeTimeoutMs: number;
  /** TCP keep-alive on the connection, first probe after this long idle */
  keepAliveMs: number;
  /**
   * Processes of one group (e.g. every projector) share the keys out: each
   * member holds at most its fair share, ceil(keys / members), and hands the
   * rest over (see balance); members are the connections holding the group's
   * shared lock. None: take whatever is free.
   */
  group?: string;
  /** a lock is handed over only after it was held this long (no ping-pong) */
  minHoldMs: number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export interface AcquireOptions {
  onLost: () => void;
  /** try once: resolve undefined instead of waiting */
  once?: boolean;
  retryMs?: number;
  /** called once, when the first try finds the lock taken */
  onWaiting?: () => void;
  /** gives up waiting: resolves undefined */
  signal?: AbortSignal;
  /** in a group, asks the holder to let the lock go (another member has room for it): release it when convenient */
  onYield?: () => void;
}

const DEFAULTS: LockKeeperOptions = {
  applicationName: `locks ${hostname()} ${process.pid}`,
  retryMs: 1_000,
  probeIntervalMs: 2_000,
  probeTimeoutMs: 5_000,
  keepAliveMs: 5_000,
  minHoldMs: 5_000,
};

interface Waiter {
  key: string;
  options: AcquireOptions;
  told: boolean;
  onAbort?: () => void;
  resolve: (lease: LockLease | undefined) => void;
  reject: (error: unknown) => void;
}

class Lease implements LockLease {
  released = false;
  yielding = false;
  readonly acquiredAt = Date.now();
  constructor(
    private readonly keeper: LockKeeper,
    readonly key: string,
    readonly client: pg.Client,
    readonly onLost: () => void,
    readonly onYield: (() => void) | undefined,
  ) {}

  get held(): boolean {
    return !this.released && this.keeper.holds(this);
  }

  release(): Promise<void> {
    return this.keeper.releaseLease(this);
  }
}

const shared = new Map<string, LockKeeper>();

export class LockKeeper {
  private readonly options: LockKeeperOptions;
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly leases = new Map<string, Lease>();
  private waiters: Waiter[] = [];
  private flushing = false;
  private flushAgain = false;
  private flushScheduled = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private users = 0;
  /** one query at a time per connection (pg no longer queues them for us); a hung one holds up only its own connection */
  private readonly chains = new WeakMap<pg.Client, Promise<unknown>>();

  constructor(
    private readonly connectionString: string,
    options: Partial<LockKeeperOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** The keeper of this process for a database: what runners use unless given one. */
  static forDatabase(connectionString: string): LockKeeper {
    let keeper = shared.get(connectionString);
    if (!keeper) {
      keeper = new LockKeeper(connectionString);
      shared.set(connectionString, keeper);
    }
    return keeper;
  }

  /** Counts a user; the connection is closed when the last one lets go and nothing is held. */
  retain(): () => Promise<void> {
    this.users++;
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      this.users--;
      await this.closeIfIdle();
    };
  }

  /** The keys this process holds now. */
  heldKeys(): string[] {
    return [...this.leases.keys()];
  }

  /** The server process id of the connection (null while there is none): pg_terminate_backend ends every lock. */
  async backendPid(): Promise<number | null> {
    const client = this.client;
    if (!client) return null;
    const { rows } = await this.query<{ pid: number }>(client, 'SELECT pg_backend_pid() AS pid');
    return rows[0]?.pid ?? null;
  }

  holds(lease: Lease): boolean {
    return this.leases.get(lease.key) === lease;
  }

  /**
   * The lock on `key`, once it is free (or undefined: `once` and taken,
   * aborted, or the keeper closed). Rejects only for a `once` try that could
   * not reach the database; a waiter rides out connection trouble.
   */
  acquire(key: string, options: AcquireOptions): Promise<LockLease | undefined> {
    if (options.signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { key, options, told: false, resolve, reject };
      this.waiters.push(waiter);
      if (options.signal) {
        waiter.onAbort = () => this.settle(waiter, undefined);
        options.signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.scheduleFlush();
    });
  }

  /** One try; undefined when another session (or another holder here) has it. */
  tryAcquire(key: string, onLost: () => void): Promise<LockLease | undefined> {
    return this.acquire(key, { onLost, once: true });
  }

  async releaseLease(lease: Lease): Promise<void> {
    if (lease.released) return;
    lease.released = true;
    if (this.leases.get(lease.key) !== lease) return;
    this.leases.delete(lease.key);
    // a lock of a connection that is gone went with it
    if (this.client === lease.client) {
      await this.query(lease.client, 'SELECT pg_advisory_unlock(hashtext($1))', [lease.key]).catch(() => undefined);
    }
    // someone here may be waiting for it
    if (this.waiters.some((w) => w.key === lease.key)) this.scheduleFlush();
    await this.closeIfIdle();
  }

  /** Ends every lock and wait; the connection closes. */
  async close(): Promise<void> {
    for (const waiter of [...this.waiters]) this.settle(waiter, undefined);
    for (const lease of this.leases.values()) lease.released = true;
    this.leases.clear();
    await this.disconnect();
  }

  // ---------------------------------------------------------------------------

  private async closeIfIdle(): Promise<void> {
    if (this.users <= 0 && this.leases.size === 0 && this.waiters.length === 0) await this.disconnect();
  }

  private async disconnect(): Promise<void> {
    clearTimeout(this.pollTimer);
    clearInterval(this.probeTimer);
    this.pollTimer = undefined;
    this.probeTimer = undefined;
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  private connection(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const client = new pg.Client({
        connectionString: this.connectionString,
        application_name: this.options.applicationName.slice(0, 63),
        keepAlive: true,
        keepAliveInitialDelayMillis: this.options.keepAliveMs,
        connectionTimeoutMillis: this.options.probeTimeoutMs * 2,
        // the server's side too: a session whose client the network cut off ends (and its locks with it) once
        // three probes a second apart go unanswered after the idle time, not after the system's two hours
        options: `-c tcp_keepalives_idle=${serverKeepAliveIdleSeconds(this.options.keepAliveMs)} -c tcp_keepalives_interval=1 -c tcp_keepalives_count=3`,
      });
      client.on('error', (error) => this.lost(client, error));
      client.on('end', () => this.lost(client));
      try {
        await client.connect();
        // membership of the group lives and dies with this connection, like its locks
        if (this.options.group) await client.query('SELECT pg_advisory_lock_shared(hashtext($1))', [groupKey(this.options.group)]);
      } catch (error) {
        await client.end().catch(() => undefined);
        throw error;
      }
      this.client = client;
      this.startProbe(client);
      return client;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** The connection is gone: every lock it held is gone with it. */
  private lost(client: pg.Client, error?: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    const lost = [...this.leases.values()].filter((lease) => lease.client === client);
    for (const lease of lost) this.leases.delete(lease.key);
    if (lost.length > 0) {
      this.options.logger?.warn({ err: error, locks: lost.map((l) => l.key) }, 'advisory lock connection lost; its locks are gone');
    }
    // make sure the socket is closed (a probe that timed out leaves it open)
    void client.end().catch(() => undefined);
    for (const lease of lost) {
      try {
        lease.onLost();
      } catch (err) {
        this.options.logger?.error({ err, lock: lease.key }, 'lock loss handler failed');
      }
    }
    if (this.waiters.length > 0) this.schedulePoll();
  }

  private startProbe(client: pg.Client): void {
    clearInterval(this.probeTimer);
    this.probeTimer = setInterval(() => {
      if (this.client !== client || this.leases.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`lock connection did not answer within ${this.options.probeTimeoutMs} ms`)), this.options.probeTimeoutMs);
      });
      // in a group the probe is the member count, and what it says is acted on
      const probe = this.options.group ? this.members(client).then((members) => this.balance(members)) : this.query(client, 'SELECT 1');
      Promise.race([probe, timeout])
        .catch((error: unknown) => this.lost(client, error))
        .finally(() => clearTimeout(timer));
    }, this.options.probeIntervalMs);
    this.probeTimer.unref();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // the tries asked for in the same turn of the event loop go in one query
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  private schedulePoll(): void {
    if (this.pollTimer || this.waiters.length === 0) return;
    const every = Math.min(...this.waiters.map((w) => w.options.retryMs ?? this.options.retryMs));
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      void this.flush();
    }, every);
  }

  private async flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = true;
    try {
      // a key another holder here has: a single try fails at once, a waiter waits
      for (const waiter of this.waiters.filter((w) => this.leases.has(w.key))) {
        if (waiter.options.once) this.settle(waiter, undefined);
        else this.tellWaiting(waiter);
      }
      // never ask again for a key this connection holds: its locks are re-entrant, the answer would be yes
      const keys = [...new Set(this.waiters.filter((w) => !this.leases.has(w.key)).map((w) => w.key))];
      if (keys.length === 0) return;
      let rows: { key: string; locked: boolean }[];
      let client: pg.Client;
      try {
        client = await this.connection();
        // in a group: only up to the fair share (single tries are not counted)
        const room = this.options.group ? this.fairShare(await this.members(client)) - this.leases.size : keys.length;
        const wanted = this.options.group ? keys.filter((k) => this.waiters.some((w) => w.key === k && !w.options.once)) : keys;
        const once = keys.filter((k) => !wanted.includes(k));
        rows = once.length > 0 ? (await this.tryKeys(client, once, once.length)).rows : [];
        if (wanted.length > 0) {
          const taken = room > 0 ? new Set((await this.tryKeys(client, wanted, room)).rows.filter((r) => r.locked).map((r) => r.key)) : new Set<string>();
          rows.push(...wanted.map((key) => ({ key, locked: taken.has(key) })));
        }
      } catch (error) {
        for (const waiter of this.waiters.filter((w) => w.options.once)) this.settle(waiter, undefined, error);
        if (this.waiters.length > 0) this.options.logger?.warn({ err: error }, 'could not try advisory locks; trying again');
        return;
      }
      for (const { key, locked } of rows) {
        const [first, ...rest] = this.waiters.filter((w) => w.key === key);
        // the connection died since: whatever it took is gone again
        const granted = locked && this.client === client;
        if (granted && !first) {
          // nobody wants it any more (aborted meanwhile)
          await this.query(client, 'SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
          continue;
        }
        if (granted && first) {
          const lease = new Lease(this, key, client, first.options.onLost, first.options.onYield);
          this.leases.set(key, lease);
          this.settle(first, lease);
          for (const waiter of rest) {
            if (waiter.options.once) this.settle(waiter, undefined);
            else this.tellWaiting(waiter);
          }
        } else {
          for (const waiter of [first, ...rest]) {
            if (!waiter) continue;
            if (waiter.options.once) this.settle(waiter, undefined);
            else this.tellWaiting(waiter);
          }
        }
      }
    } finally {
      this.flushing = false;
      if (this.flushAgain) {
        this.flushAgain = false;
        this.scheduleFlush();
      } else {
        this.schedulePoll();
      }
    }
  }

  /** Takes free keys, in order, at most `limit` of them (the filter stops being evaluated at the limit). */
  private tryKeys(client: pg.Client, keys: string[], limit: number): Promise<pg.QueryResult<{ key: string; locked: boolean }>> {
    if (limit >= keys.length) {
      return this.query(client, 'SELECT k AS key, pg_try_advisory_lock(hashtext(k)) AS locked FROM unnest($1::text[]) AS k', [keys]);
    }
    return this.query(
      client,
      'SELECT k AS key, true AS locked FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) WHERE pg_try_advisory_lock(hashtext(k)) LIMIT $2',
      [keys, limit],
    );
  }

  /** The live members of the group (at least this one). */
  private async members(client: pg.Client): Promise<number> {
    const { rows } = await this.query<{ n: number }>(
      client,
      `SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND mode = 'ShareLock' AND granted AND objsubid = 1
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid::bigint = ((hashtext($1)::bigint >> 32) & 4294967295) AND objid::bigint = (hashtext($1)::bigint & 4294967295)`,
      [groupKey(this.options.group!)],
    );
    return Math.max(1, rows[0]?.n ?? 1);
  }

  /** ceil(keys this process runs or waits for / members) */
  private fairShare(members: number): number {
    const keys = new Set([...this.leases.keys(), ...this.waiters.filter((w) => !w.options.once).map((w) => w.key)]);
    return Math.ceil(keys.size / members);
  }

  /**
   * Over its fair share (another member came up), a member asks the holders
   * of its newest locks (held at least minHoldMs) to let go; the members
   * under their share take them at their next try.
   */
  private balance(members: number): void {
    const excess = this.leases.size - this.fairShare(members);
    if (excess <= 0) return;
    const candidates = [...this.leases.values()]
      .filter((l) => l.onYield && !l.yielding && Date.now() - l.acquiredAt >= this.options.minHoldMs)
      .sort((a, b) => b.acquiredAt - a.acquiredAt)
      .slice(0, excess);
    if (candidates.length === 0) return;
    this.options.logger?.info(
      { members, held: this.leases.size, handingOver: candidates.map((l) => l.key) },
      'more than a fair share of the locks: handing some over',
    );
    for (const lease of candidates) {
      lease.yielding = true;
      lease.onYield!();
    }
  }

  private query<R extends pg.QueryResultRow = pg.QueryResultRow>(client: pg.Client, text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const result = (this.chains.get(client) ?? Promise.resolve()).then(() => client.query<R>(text, values));
    this.chains.set(
      client,
      result.catch(() => undefined),
    );
    return result;
  }

  private settle(waiter: Waiter, lease: LockLease | undefined, error?: unknown): void {
    if (!this.waiters.includes(waiter)) return;
    this.waiters = this.waiters.filter((w) => w !== waiter);
    if (waiter.onAbort) waiter.options.signal?.removeEventListener('abort', waiter.onAbort);
    if (error !== undefined) waiter.reject(error);
    else waiter.resolve(lease);
  }

  private tellWaiting(waiter: Waiter): void {
    if (waiter.told) return;
    waiter.told = true;
    waiter.options.onWaiting?.();
  }
}

const groupKey = (group: string) => `group:${group}`;

export interface LockHolder {
  key: string;
  /** the server process of the holding connection */
  pid: number;
  /** the holder's application_name (a projector's says its host and process id) */
  applicationName: string;
  clientAddress: string | null;
  since: Date | null;
}

/** Who holds each of these advisory locks in this database now (from pg_locks); keys nobody holds are left out. */
export async function lockHolders(db: Knex, keys: readonly string[]): Promise<Map<string, LockHolder>> {
  if (keys.length === 0) return new Map();
  const { rows } = await db.raw<{ rows: { key: string; pid: number; application_name: string; client_addr: string | null; backend_start: Date | null }[] }>(
    `WITH wanted AS (SELECT k AS key, hashtext(k)::bigint AS h FROM unnest(?::text[]) AS k)
     SELECT w.key, l.pid, a.application_name, a.client_addr::text AS client_addr, a.backend_start
       FROM wanted w
       JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                      AND l.classid::bigint = ((w.h >> 32) & 4294967295) AND l.objid::bigint = (w.h & 4294967295)
       LEFT JOIN pg_stat_activity a ON a.pid = l.pid`,
    [[...keys]],
  );
  return new Map(
    rows.map((r) => [r.key, { key: r.key, pid: r.pid, applicationName: r.application_name ?? '', clientAddress: r.client_addr, since: r.backend_start }]),
  );
}

/** The server's keep-alive idle time in whole seconds (at least one: 0 would mean the system default). */
function serverKeepAliveIdleSeconds(keepAliveMs: number): number {
  return Math.max(1, Math.round(keepAliveMs / 1000));
}
