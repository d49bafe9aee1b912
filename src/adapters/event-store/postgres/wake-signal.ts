import pg from 'pg';

export const APPEND_CHANNEL = 'es_appended';
/** at most one NOTIFY per this many ms per store instance */
const NOTIFY_INTERVAL_MS = 5;

/** The event types appended since the last signal; undefined: unknown (anything may have arrived). */
export type AppendedTypes = ReadonlySet<string> | undefined;
type Listener = (types: AppendedTypes) => void;

/** Past this many characters a NOTIFY says "something" instead of naming types (its payload limit is 8000 bytes). */
const MAX_PAYLOAD = 4000;

/**
 * Wakes idle subscriptions when events may have arrived: at once for appends
 * made through this store instance, and through LISTEN/NOTIFY for appends
 * made by other processes.
 *
 * NOTIFY is deliberately not sent inside the append transaction: Postgres
 * serialises the commits of notifying transactions on one lock, which would
 * cost appends their group commit. Each instance sends at most one NOTIFY per
 * NOTIFY_INTERVAL_MS, covering every append made meanwhile, so a busy writer
 * pays for a few hundred notifications a second, not one per append.
 *
 * A signal names the event types appended (the NOTIFY payload, comma
 * separated), so a subscription whose filter wants none of them can stay
 * asleep: a projector runs twenty consumers, and most appends concern one
 * or two of them.
 */
export class WakeSignal {
  private readonly listeners = new Set<Listener>();
  private listenClient: pg.Client | undefined;
  private listenStarting: Promise<void> | undefined;
  private notifyBusy = false; // a NOTIFY is in flight or the interval has not passed
  private notifyOwed = false;
  /** types appended since the last NOTIFY; undefined once they are too many to name */
  private owedTypes: Set<string> | undefined = new Set();
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly connectionString: string,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Called after an append of events of these types committed. */
  appended(types: readonly string[]): void {
    this.fire(new Set(types));
    if (this.owedTypes) for (const type of types) this.owedTypes.add(type);
    if (this.notifyBusy) {
      this.notifyOwed = true;
      return;
    }
    void this.notify();
  }

  /** Registers a listener; the returned function removes it. Starts LISTEN on first use. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    void this.ensureListening();
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    const client = this.listenClient;
    this.listenClient = undefined;
    await client?.end().catch(() => undefined);
  }

  private fire(types: AppendedTypes): void {
    for (const listener of this.listeners) listener(types);
  }

  private async notify(): Promise<void> {
    this.notifyBusy = true;
    this.notifyOwed = false;
    const named = this.owedTypes ? [...this.owedTypes].join(',') : '';
    this.owedTypes = new Set();
    try {
      if (!this.closed) await this.pool.query(`SELECT pg_notify('${APPEND_CHANNEL}', $1)`, [named.length <= MAX_PAYLOAD ? named : '']);
    } catch (error) {
      // subscribers fall back to polling with back-off; nothing is lost
      this.onError(error);
    }
    setTimeout(() => {
      this.notifyBusy = false;
      if (this.notifyOwed) void this.notify();
    }, NOTIFY_INTERVAL_MS).unref();
  }

  private ensureListening(): Promise<void> {
    if (this.listenClient || this.closed) return Promise.resolve();
    this.listenStarting ??= this.startListening().finally(() => {
      this.listenStarting = undefined;
    });
    return this.listenStarting;
  }

  private async startListening(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    const lost = (error?: unknown) => {
      if (this.listenClient !== client) return;
      this.listenClient = undefined;
      if (error) this.onError(error);
      client.end().catch(() => undefined);
      // wake everyone so they poll, then listen again shortly
      this.fire(undefined);
      if (!this.closed && this.listeners.size > 0) setTimeout(() => void this.ensureListening(), 1000).unref();
    };
    // listening before connecting: the server's goodbye may come in the same packet as its welcome
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      client.on('notification', (message) => this.fire(message.payload ? new Set(message.payload.split(',')) : undefined));
      await client.query(`LISTEN ${APPEND_CHANNEL}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.listenClient = client;
    } catch (error) {
      this.onError(error);
      await client.end().catch(() => undefined);
      if (!this.closed) setTimeout(() => void this.ensureListening(), 1000).unref();
    }
  }
}
